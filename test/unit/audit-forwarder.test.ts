import { gzipSync } from 'node:zlib';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { CloudWatchLogsEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudTrailDataClient } from '../../lambda/adapters/cloudtrail-data-client';
import { AUDIT_LOG_KEY } from '../../lambda/adapters/log-audit-sink';
import { SqsDeadLetters } from '../../lambda/adapters/sqs-dead-letters';
import {
  AuditRequestError,
  batchAuditEvents,
  type DeadLetterSink,
  deliverAuditEvents,
  MAX_BYTES_PER_CALL,
  type ParkedEvent,
  type PutAuditEvent,
  toPutAuditEvent,
} from '../../lambda/core/audit-delivery';
import { buildAuditEvent, requestDigest } from '../../lambda/core/audit-event';
import { createForwarderHandler } from '../../lambda/handlers/audit-forwarder';
import { loadForwarderConfig } from '../../lambda/shared/config';
import { type Behavior, FakeCloudTrailData, TEST_CREDENTIALS } from '../helpers/fake-cloudtrail-data';
import { silentLog } from '../helpers/harness';

const REGION = 'eu-west-1';
const CHANNEL = 'arn:aws:cloudtrail:eu-west-1:123456789012:channel/0123abcd-0000-1111-2222-333344445555';
const settings = {
  eventSource: 'mcp-identity',
  recipientAccountId: '123456789012',
  mode: 'enforce' as const,
};

function auditEvent(index: number, padding = 0) {
  return buildAuditEvent(
    {
      time: new Date(Date.UTC(2026, 10, 21, 12, 0, index % 60)),
      phase: 'request',
      caller: {
        subject: `user-${index % 7}`,
        issuer: 'i',
        roles: [],
        actors: [],
        expiresAt: 2000000000,
        tokenId: `t-${index}`,
      },
      method: 'tools/call',
      toolName: 'orders___get_order',
      arguments: padding > 0 ? { blob: 'x'.repeat(padding) } : { order_id: String(index) },
      jsonRpcId: index,
      decision: 'allow',
      enforced: true,
      requestDigest: requestDigest('tools/call', { index }),
    },
    settings,
    // One UID per event index: the same index stands for the same event (UIDs are random per execution).
    { newUid: () => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}` },
  );
}
const events = (count: number, padding = 0): PutAuditEvent[] =>
  Array.from({ length: count }, (_, index) => toPutAuditEvent(auditEvent(index, padding)));

class MemoryDeadLetters implements DeadLetterSink {
  readonly parked: ParkedEvent[] = [];
  async park(events: readonly ParkedEvent[]): Promise<void> {
    this.parked.push(...events);
  }
}

const noSleep = { maxAttempts: 4, baseDelayMs: 1, sleep: async () => undefined };

describe('batching', () => {
  it('keeps calls within 100 events and 1 MB, and drops duplicate ids', () => {
    const small = events(250);
    const { batches, duplicates } = batchAuditEvents([...small, ...small.slice(0, 10)]);
    expect(batches.map((batch) => batch.length)).toEqual([100, 100, 50]);
    expect(duplicates).toBe(10);

    const large = events(30, 90 * 1024);
    const sized = batchAuditEvents(large);
    for (const batch of sized.batches)
      expect(Buffer.byteLength(JSON.stringify({ auditEvents: batch }))).toBeLessThanOrEqual(
        MAX_BYTES_PER_CALL,
      );
    expect(sized.batches.flat()).toHaveLength(30);
    expect(sized.batches.length).toBeGreaterThan(2);
  });

  it('sets aside an event that cannot fit in a call on its own', () => {
    const huge = { id: 'huge', eventData: 'x'.repeat(MAX_BYTES_PER_CALL + 1), eventDataChecksum: 'c' };
    expect(batchAuditEvents([huge, ...events(2)])).toMatchObject({
      oversized: [huge],
      batches: [[expect.anything(), expect.anything()]],
    });
  });

  it('uses the audit event UID as the id, with the checksum of the exact eventData string', () => {
    const event = auditEvent(1);
    const put = toPutAuditEvent(event);
    expect(put.id).toBe(event.UID);
    expect(JSON.parse(put.eventData)).toEqual(event);
  });
});

describe('CloudTrailDataClient against the service model', () => {
  it('sends a request the model and a SigV4 re-signature accept', async () => {
    const server = await new FakeCloudTrailData(REGION, () => ({ kind: 'ok' })).start();
    try {
      const client = new CloudTrailDataClient({
        region: REGION,
        channelArn: CHANNEL,
        externalId: 'ext-1',
        endpoint: server.url,
        credentials: TEST_CREDENTIALS,
      });
      const result = await client.put(events(3));
      expect(result.successful).toHaveLength(3);
      expect(server.violations).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('notices a signature made with other credentials (the check can fail)', async () => {
    const server = await new FakeCloudTrailData(REGION, () => ({ kind: 'ok' })).start();
    try {
      const client = new CloudTrailDataClient({
        region: REGION,
        channelArn: CHANNEL,
        endpoint: server.url,
        credentials: { ...TEST_CREDENTIALS, secretAccessKey: 'other' },
      });
      await client.put(events(1));
      expect(server.violations).toEqual(['SigV4 signature does not verify']);
    } finally {
      await server.stop();
    }
  });

  it.each([
    [400, 'ChannelNotFound', false],
    [400, 'ChannelInsufficientPermission', false],
    [429, 'ThrottlingException', true],
    [500, 'InternalServerException', true],
    [503, 'ServiceUnavailable', true],
  ])('maps HTTP %i %s to a request error (retriable: %s)', async (status, code, retriable) => {
    const server = await new FakeCloudTrailData(REGION, () => ({ kind: 'status', status, code })).start();
    try {
      const client = new CloudTrailDataClient({
        region: REGION,
        channelArn: CHANNEL,
        endpoint: server.url,
        credentials: TEST_CREDENTIALS,
      });
      const error = await client.put(events(1)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AuditRequestError);
      expect(error).toMatchObject({ code, retriable });
    } finally {
      await server.stop();
    }
  });
});

describe('delivery under faults', () => {
  it('ingests every event exactly once or parks it with its reason: partial failures, throttling, 5xx, slow and dropped responses', async () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const poison = new Set<string>();
    const seen = new Map<string, number>();
    const count = (kind: string) => seen.set(kind, (seen.get(kind) ?? 0) + 1);
    const behavior = (_request: number, ids: string[]): Behavior => {
      const roll = random();
      const fault: Behavior | undefined =
        roll < 0.12
          ? { kind: 'status', status: 503, code: 'ServiceUnavailable' }
          : roll < 0.2
            ? { kind: 'drop' }
            : roll < 0.26
              ? { kind: 'slow', ms: 400 }
              : undefined;
      if (fault !== undefined) {
        count(fault.kind === 'status' ? '5xx' : fault.kind);
        return fault;
      }
      count('partial');
      const failures: Record<string, string> = {};
      for (const id of ids) {
        if (poison.has(id)) failures[id] = 'InvalidData';
        else if (random() < 0.1) failures[id] = random() < 0.5 ? 'Throttling' : 'InternalFailure';
      }
      return { kind: 'partial', failures };
    };
    const server = await new FakeCloudTrailData(REGION, behavior).start();
    const all = events(1000);
    for (const event of all.slice(0, 1000).filter((_, index) => index % 97 === 0)) poison.add(event.id);
    const deadLetters = new MemoryDeadLetters();
    try {
      const client = new CloudTrailDataClient({
        region: REGION,
        channelArn: CHANNEL,
        endpoint: server.url,
        credentials: TEST_CREDENTIALS,
        timeoutMs: 150,
      });
      const report = await deliverAuditEvents(all, client, deadLetters, {
        ...noSleep,
        maxAttempts: 6,
        random,
      });

      const parkedIds = deadLetters.parked.map((parked) => parked.event.id);
      const ingestedIds = [...server.ingested.keys()];
      expect(server.violations).toEqual([]);
      expect([...server.ingested.values()].every((count) => count === 1)).toBe(true);
      expect(new Set([...ingestedIds, ...parkedIds]).size).toBe(all.length);
      expect(ingestedIds.filter((id) => parkedIds.includes(id))).toEqual([]);
      expect(report.ingested + report.parked).toBe(all.length);
      expect(
        deadLetters.parked
          .filter((parked) => parked.errorCode === 'InvalidData')
          .map((parked) => parked.event.id)
          .sort(),
      ).toEqual([...poison].sort());
      for (const parked of deadLetters.parked) expect(parked.reason.length).toBeGreaterThan(0);
      expect(report.retries).toBeGreaterThan(0);
      expect([...seen.keys()].sort()).toEqual(['5xx', 'drop', 'partial', 'slow']);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('parks everything with the reason when the channel is gone (not retriable)', async () => {
    const client = {
      put: async () =>
        Promise.reject(new AuditRequestError('HTTP 400 ChannelNotFound', 'ChannelNotFound', false)),
    };
    const deadLetters = new MemoryDeadLetters();
    const report = await deliverAuditEvents(events(5), client, deadLetters, noSleep);
    expect(report).toMatchObject({ ingested: 0, parked: 5 });
    expect(
      deadLetters.parked.every((parked) => parked.errorCode === 'ChannelNotFound' && parked.attempts === 1),
    ).toBe(true);
  });

  it('retries an event the response does not mention, then parks it', async () => {
    const client = { put: async () => ({ successful: [], failed: [] }) };
    const deadLetters = new MemoryDeadLetters();
    await deliverAuditEvents(events(1), client, deadLetters, noSleep);
    expect(deadLetters.parked).toMatchObject([{ errorCode: 'MissingResult', attempts: 4 }]);
  });

  it('parks what is not yet ingested when the invocation runs out of time, instead of retrying past it', async () => {
    let clock = 0;
    const client = {
      put: async () => {
        clock += 4000;
        throw new AuditRequestError('HTTP 503', 'ServiceUnavailable', true);
      },
    };
    const deadLetters = new MemoryDeadLetters();
    const report = await deliverAuditEvents(events(150), client, deadLetters, {
      ...noSleep,
      maxAttempts: 10,
      deadlineMs: 10_000,
      now: () => clock,
    });
    expect(report).toMatchObject({ ingested: 0, parked: 150 });
    expect(deadLetters.parked.filter((parked) => parked.errorCode === 'OutOfTime')).toHaveLength(150);
    expect(clock).toBeLessThanOrEqual(12_000);
  });

  it('fails loudly when the dead-letter queue fails, so the platform retries the payload', async () => {
    const client = {
      put: async () => Promise.reject(new AuditRequestError('gone', 'ChannelNotFound', false)),
    };
    const broken: DeadLetterSink = { park: async () => Promise.reject(new Error('AccessDenied')) };
    await expect(deliverAuditEvents(events(1), client, broken, noSleep)).rejects.toThrow('AccessDenied');
  });
});

describe('the forwarder handler', () => {
  const subscription = (messages: string[], messageType = 'DATA_MESSAGE'): CloudWatchLogsEvent => ({
    awslogs: {
      data: gzipSync(
        JSON.stringify({
          messageType,
          owner: '123456789012',
          logGroup: '/mcp-identity/audit',
          logStream: 's',
          subscriptionFilters: ['audit'],
          logEvents: messages.map((message, index) => ({ id: String(index), timestamp: 0, message })),
        }),
      ).toString('base64'),
    },
  });

  it('forwards the audit events of a subscription batch and skips other log lines', async () => {
    const sent: PutAuditEvent[][] = [];
    const handler = createForwarderHandler({
      client: {
        put: async (batch) => {
          sent.push([...batch]);
          return { successful: batch.map((event) => ({ id: event.id, eventID: event.id })), failed: [] };
        },
      },
      deadLetters: new MemoryDeadLetters(),
      log: silentLog(),
      delivery: noSleep,
    });
    const event = auditEvent(3);
    const report = await handler(
      subscription([
        JSON.stringify({ level: 'INFO', message: 'mcp-identity audit event', [AUDIT_LOG_KEY]: event }),
        `2026-11-21T12:00:00.000Z\tabc\tINFO\t${JSON.stringify({ [AUDIT_LOG_KEY]: auditEvent(4) })}`,
        JSON.stringify({ level: 'ERROR', message: 'something else' }),
        'START RequestId: abc',
      ]),
    );
    expect(report).toMatchObject({ ingested: 2, skipped: 2 });
    expect(sent[0]?.map((put) => put.id)).toEqual([event.UID, auditEvent(4).UID]);
  });

  it('ignores control messages and refuses payloads it cannot read', async () => {
    const handler = createForwarderHandler({
      client: { put: jest.fn() },
      deadLetters: new MemoryDeadLetters(),
      log: silentLog(),
      delivery: noSleep,
    });
    await expect(handler(subscription([], 'CONTROL_MESSAGE'))).resolves.toMatchObject({ ingested: 0 });
    await expect(handler({ awslogs: { data: 'not gzip' } })).rejects.toThrow();
    await expect(handler({} as CloudWatchLogsEvent)).rejects.toThrow(/not a CloudWatch Logs subscription/);
  });
});

describe('SqsDeadLetters', () => {
  const sqs = mockClient(SQSClient);
  beforeEach(() => sqs.reset());

  it('parks one message per event, with the reason, in batches of 10', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const dlq = new SqsDeadLetters(
      new SQSClient({ region: REGION }),
      'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq',
      () => new Date('2026-11-21T00:00:00Z'),
    );
    const parked = events(12).map((event) => ({
      event,
      errorCode: 'InvalidData',
      reason: 'bad',
      attempts: 1,
    }));
    await dlq.park(parked);
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((call) => call.args[0].input.Entries?.length)).toEqual([10, 2]);
    const body = JSON.parse(calls[0]?.args[0].input.Entries?.[0]?.MessageBody ?? '{}');
    expect(body).toEqual({
      kind: 'mcp-identity.parked-audit-event',
      errorCode: 'InvalidData',
      reason: 'bad',
      attempts: 1,
      parkedAt: '2026-11-21T00:00:00.000Z',
      event: parked[0]?.event,
    });
  });

  it('keeps each SendMessageBatch under the size limit, not only under 10 messages', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const dlq = new SqsDeadLetters(
      new SQSClient({ region: REGION }),
      'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq',
    );
    const big = events(6, 90 * 1024).map((event) => ({
      event,
      errorCode: 'InvalidData',
      reason: 'bad',
      attempts: 1,
    }));
    await dlq.park(big);
    const sizes = sqs
      .commandCalls(SendMessageBatchCommand)
      .map((call) =>
        (call.args[0].input.Entries ?? []).reduce(
          (sum, entry) => sum + Buffer.byteLength(entry.MessageBody ?? ''),
          0,
        ),
      );
    expect(sizes.length).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(200 * 1024);
    expect(
      sqs.commandCalls(SendMessageBatchCommand).flatMap((call) => call.args[0].input.Entries ?? []),
    ).toHaveLength(6);
  });

  it('throws when the queue refuses a message', async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [], Failed: [{ Id: '0', Code: 'KMS.AccessDenied', SenderFault: true }] });
    const dlq = new SqsDeadLetters(
      new SQSClient({ region: REGION }),
      'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq',
    );
    await expect(
      dlq.park([{ event: events(1)[0] as PutAuditEvent, errorCode: 'x', reason: 'y', attempts: 1 }]),
    ).rejects.toThrow(/KMS.AccessDenied/);
  });
});

describe('forwarder configuration', () => {
  it('reads the channel and queue, and names bad keys', () => {
    expect(
      loadForwarderConfig({
        AWS_REGION: REGION,
        MCP_IDENTITY_AUDIT_CHANNEL_ARN: CHANNEL,
        MCP_IDENTITY_AUDIT_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/1/q',
      }),
    ).toMatchObject({
      region: REGION,
      maxAttempts: 4,
    });
    expect(() =>
      loadForwarderConfig({
        AWS_REGION: REGION,
        MCP_IDENTITY_AUDIT_CHANNEL_ARN: 'channel',
        MCP_IDENTITY_AUDIT_DLQ_URL: 'x',
      }),
    ).toThrow(/MCP_IDENTITY_AUDIT_CHANNEL_ARN must be a CloudTrail channel ARN; MCP_IDENTITY_AUDIT_DLQ_URL/);
    expect(() =>
      loadForwarderConfig({
        MCP_IDENTITY_AUDIT_CHANNEL_ARN: CHANNEL,
        MCP_IDENTITY_AUDIT_DLQ_URL: 'https://q',
        MCP_IDENTITY_AUDIT_RETRIES: '3',
      }),
    ).toThrow(/unknown setting\(s\) MCP_IDENTITY_AUDIT_RETRIES; AWS_REGION is required/);
  });
});
