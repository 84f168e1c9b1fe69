import { gzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { CloudWatchLogsEvent } from 'aws-lambda';
import { eventsInMessage, redriveDeadLetters } from '../../lambda/adapters/audit-redrive';
import { CloudTrailDataClient } from '../../lambda/adapters/cloudtrail-data-client';
import { DynamoDbDeliveryLedger } from '../../lambda/adapters/dynamodb-delivery-ledger';
import { AUDIT_LOG_KEY } from '../../lambda/adapters/log-audit-sink';
import { S3ParkedEvents } from '../../lambda/adapters/s3-parked-events';
import { SqsDeadLetters } from '../../lambda/adapters/sqs-dead-letters';
import type { AuditEventsClient, DeliveryLedger } from '../../lambda/core/audit-delivery';
import { type AuditEventData, buildAuditEvent, requestDigest } from '../../lambda/core/audit-event';
import { createForwarderHandler } from '../../lambda/handlers/audit-forwarder';
import { type Behavior, FakeCloudTrailData, TEST_CREDENTIALS } from './fake-cloudtrail-data';
import { type DynamoBehavior, FakeDynamoDb } from './fake-dynamodb';
import { FakeS3, FakeSqs } from './fake-sqs';

/**
 * The audit pipeline under injected faults, end to end: the production forwarder handler and redrive, a
 * loopback PutAuditEvents (model + SigV4), a loopback DynamoDB (documented shapes + SigV4) reached through the
 * SDK's AWS_ENDPOINT_URL_DYNAMODB, and in-process SQS and S3. Lambda's asynchronous semantics are emulated:
 * two retries of a failed invocation (a minute, then two, later), then the raw payload in the dead-letter
 * queue; duplicate deliveries (later, or at the same time); processes killed after a commit, before a send,
 * or in the middle of parking. Time is virtual (leases, visibility timeouts, back-off), so a run is fast and a
 * seed replays the same faults. Used by the unit tests (small runs) and bench/audit-faults.ts (the soak).
 */

export interface FaultRates {
  /** Per PutAuditEvents request. */
  readonly serverError: number;
  readonly throttled: number;
  readonly dropped: number;
  readonly slow: number;
  /** Committed, then the answer is lost. */
  readonly answerLost: number;
  /** Per event in a request: a retriable per-event failure. */
  readonly eventThrottled: number;
  /** Per invocation. */
  readonly killAfterCommit: number;
  readonly killMidPark: number;
  readonly duplicateDelivery: number;
  /** Share of duplicate deliveries that run at the same time as the first. */
  readonly concurrentShare: number;
  /** Per event: also carried by a second, later subscription delivery. */
  readonly sameUidTwice: number;
  /** Per event: too large for a queue message (~480 KB parked). */
  readonly oversized: number;
  /** Per event: always refused (InvalidData): parked, never lost. */
  readonly poison: number;
  /** Per SendMessageBatch: accepted, answer lost, sent again by the SDK. */
  readonly sqsResend: number;
  /** Per DynamoDB request (the SDK retries these). */
  readonly dynamoError: number;
  readonly dynamoAnswerLost: number;
}

export const DEFAULT_RATES: FaultRates = {
  serverError: 0.05,
  throttled: 0.03,
  dropped: 0.03,
  slow: 0.01,
  answerLost: 0.02,
  eventThrottled: 0.03,
  killAfterCommit: 0.03,
  killMidPark: 0.05,
  duplicateDelivery: 0.05,
  concurrentShare: 0.5,
  sameUidTwice: 0.02,
  oversized: 0.002,
  poison: 0.001,
  sqsResend: 0.1,
  dynamoError: 0.003,
  dynamoAnswerLost: 0.002,
};

export interface FaultRunOptions {
  readonly seed: number;
  readonly events: number;
  readonly rates?: Partial<FaultRates>;
  /** Redrive runs at most (each after the leases of dead processes have run out). @default 6 */
  readonly redriveRuns?: number;
}

export interface FaultRunReport {
  readonly seed: number;
  readonly events: number;
  readonly deliveries: number;
  readonly invocations: number;
  readonly killed: number;
  readonly lambdaParkedPayloads: number;
  /** UIDs neither ingested nor still parked in the queue. */
  readonly lost: number;
  /** Poison UIDs still parked (expected: all of them). */
  readonly stillParked: number;
  readonly violations: readonly string[];
  readonly duplicatedUids: number;
  /** Duplicated UIDs with no "committed, answer lost" fault behind them (goal: 0). */
  readonly avoidableDuplicates: number;
  /** UIDs that were in a request the service committed while its answer was lost (incl. kills after commit). */
  readonly answerLostUids: number;
  readonly duplicatedShare: number;
  readonly answerLostShare: number;
  readonly unknownOutcomeResends: number;
  readonly ledgerUnavailable: number;
  readonly oversizedParkedInS3: number;
  readonly queueMessagesWithSameUid: number;
  readonly redrive: { runs: number; redriven: number; alreadyDelivered: number; messages: number };
}

/** mulberry32: small, fast, good enough to replay a fault schedule from a seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REGION = 'eu-west-1';
const CHANNEL = 'arn:aws:cloudtrail:eu-west-1:123456789012:channel/0123abcd-0000-1111-2222-333344445555';
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/audit-dlq';
const TABLE = 'delivered-uids';
const BUCKET = 'parked-events';
const never = <T>() => new Promise<T>(() => undefined);

/** One emulated process: once dead, every port it holds hangs (nothing after the kill point happens). */
class Process {
  dead = false;
  puts = 0;
  sends = 0;
  private resolveKilled: (value: 'killed') => void = () => undefined;
  readonly killed = new Promise<'killed'>((resolve) => {
    this.resolveKilled = resolve;
  });
  constructor(
    readonly killAfterPut: number | undefined,
    readonly killAtSend: number | undefined,
  ) {}
  die(): void {
    this.dead = true;
    this.resolveKilled('killed');
  }
  async guard<T>(run: () => Promise<T>): Promise<T> {
    if (this.dead) return never<T>();
    const result = await run();
    if (this.dead) return never<T>();
    return result;
  }
}

export async function runAuditFaults(options: FaultRunOptions): Promise<FaultRunReport> {
  const rates = { ...DEFAULT_RATES, ...options.rates };
  const random = prng(options.seed);
  let clock = Date.UTC(2026, 10, 21, 12, 0, 0);
  const now = () => clock;
  const sleep = async (ms: number) => {
    clock += ms;
    await new Promise((resolve) => setImmediate(resolve));
  };

  // --- the events and their subscription deliveries ---
  const poison = new Set<string>();
  const all: AuditEventData[] = [];
  for (let index = 0; index < options.events; index += 1) {
    const event = buildAuditEvent(
      {
        time: new Date(clock + index * 10),
        phase: 'request',
        caller: {
          subject: `user-${index % 13}`,
          issuer: 'https://idp.example.com',
          roles: ['reader'],
          actors: [],
          expiresAt: 2_000_000_000,
          tokenId: `t-${index}`,
        },
        method: 'tools/call',
        toolName: 'orders___get_order',
        arguments: { order_id: String(index) },
        jsonRpcId: index,
        decision: index % 5 === 0 ? 'deny' : 'allow',
        enforced: true,
        requestDigest: requestDigest('tools/call', { index }),
      },
      { eventSource: 'mcp-identity', recipientAccountId: '123456789012', mode: 'enforce' },
      { newUid: () => `uid-${options.seed}-${index}` },
    );
    // Too large for a queue message once parked: every quote is escaped twice on the way (~480 KB).
    const sized =
      random() < rates.oversized
        ? { ...event, additionalEventData: { ...event.additionalEventData, note: '"'.repeat(120_000) } }
        : event;
    if (random() < rates.poison) poison.add(sized.UID);
    all.push(sized);
  }
  const line = (event: AuditEventData) => JSON.stringify({ level: 'INFO', [AUDIT_LOG_KEY]: event });
  const payloads: AuditEventData[][] = [];
  const later: AuditEventData[] = [];
  for (let at = 0; at < all.length; ) {
    const size = [1, 10, 100, 500][Math.floor(random() * 4)] as number;
    const chunk = all.slice(at, at + size);
    at += size;
    for (const event of chunk) if (random() < rates.sameUidTwice) later.push(event);
    payloads.push(chunk);
    if (later.length >= 50) payloads.push(later.splice(0));
  }
  if (later.length > 0) payloads.push(later.splice(0));
  const subscription = (events: readonly AuditEventData[]): CloudWatchLogsEvent => ({
    awslogs: {
      data: gzipSync(
        JSON.stringify({
          messageType: 'DATA_MESSAGE',
          owner: '123456789012',
          logGroup: '/mcp-identity/audit',
          logStream: 's',
          subscriptionFilters: ['audit'],
          logEvents: events.map((event, index) => ({
            id: String(index),
            timestamp: clock,
            message: line(event),
          })),
        }),
      ).toString('base64'),
    },
  });

  // --- the services ---
  const ctBehavior = (_request: number, ids: string[]): Behavior => {
    const roll = random();
    const faults: [number, Behavior][] = [
      [rates.serverError, { kind: 'status', status: 503, code: 'ServiceUnavailable' }],
      [rates.throttled, { kind: 'status', status: 429, code: 'ThrottlingException' }],
      [rates.dropped, { kind: 'drop' }],
      [rates.slow, { kind: 'slow', ms: 400 }],
      // A poison event is refused as a whole request never commits: keep the answer-lost fault off it.
      [rates.answerLost, ids.some((id) => poison.has(id)) ? { kind: 'drop' } : { kind: 'commit-drop' }],
    ];
    let edge = 0;
    for (const [rate, fault] of faults) {
      edge += rate;
      if (roll < edge) return fault;
    }
    const failures: Record<string, string> = {};
    for (const id of ids) {
      if (poison.has(id)) failures[id] = 'InvalidData';
      else if (random() < rates.eventThrottled) failures[id] = 'Throttling';
    }
    return { kind: 'partial', failures };
  };
  const dynamoBehavior = (): DynamoBehavior => {
    const roll = random();
    if (roll < rates.dynamoError) return { kind: 'status', status: 500, code: 'InternalServerError' };
    if (roll < rates.dynamoError + rates.dynamoAnswerLost) return { kind: 'commit-drop' };
    return { kind: 'ok' };
  };
  const cloudTrail = await new FakeCloudTrailData(REGION, ctBehavior).start();
  const dynamo = await new FakeDynamoDb(REGION, TABLE, 'uid', dynamoBehavior).start();
  const sqs = new FakeSqs(now, random);
  sqs.sendFault = () => (random() < rates.sqsResend ? 'resend' : 'ok');
  const s3 = new FakeS3();
  const previousEndpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  // The ledger's client finds the table the way a deployed one does: the SDK's standard endpoint setting.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.url;
  const dynamoClient = new DynamoDBClient({ region: REGION, credentials: TEST_CREDENTIALS });
  const ctClient = new CloudTrailDataClient({
    region: REGION,
    channelArn: CHANNEL,
    endpoint: cloudTrail.url,
    credentials: TEST_CREDENTIALS,
    timeoutMs: 200,
  });
  const answerLost = new Set<string>();
  /**
   * Successes a sender actually read, per id. An id the service holds more often than that had an answer lost
   * somewhere (a timeout or drop after the commit, whatever caused it, even a slow machine): the one case that
   * may make a copy. Anything beyond is an avoidable duplicate.
   */
  const acknowledged = new Map<string, number>();
  const acknowledge = (ids: readonly { id: string }[]) => {
    for (const { id } of ids) acknowledged.set(id, (acknowledged.get(id) ?? 0) + 1);
  };
  const redriveClient: AuditEventsClient = {
    put: async (events) => {
      const result = await ctClient.put(events);
      acknowledge(result.successful);
      return result;
    },
  };

  let invocations = 0;
  let killed = 0;
  let lambdaParkedPayloads = 0;
  let unknownOutcomeResends = 0;
  let ledgerUnavailable = 0;
  const ledgerFor = (process: Process): DeliveryLedger => {
    const ledger = new DynamoDbDeliveryLedger(dynamoClient, { tableName: TABLE, now });
    return {
      claim: (ids, lease) => process.guard(() => ledger.claim(ids, lease)),
      markDelivered: (ids) => process.guard(() => ledger.markDelivered(ids)),
      release: (ids) => process.guard(() => ledger.release(ids)),
    };
  };

  const invoke = async (payload: CloudWatchLogsEvent): Promise<boolean> => {
    invocations += 1;
    const killAfterPut = random() < rates.killAfterCommit ? 1 + Math.floor(random() * 3) : undefined;
    const killAtSend = random() < rates.killMidPark ? 1 + Math.floor(random() * 2) : undefined;
    const process = new Process(killAfterPut, killAtSend);
    const client: AuditEventsClient = {
      put: (events) =>
        process.guard(async () => {
          const result = await ctClient.put(events);
          process.puts += 1;
          if (process.killAfterPut === process.puts) {
            // Killed after the service committed: the answer never reaches anyone.
            for (const success of result.successful) answerLost.add(success.id);
            process.die();
          } else acknowledge(result.successful);
          return result;
        }),
    };
    const processSqs = {
      send: (command: unknown) =>
        process.guard(async () => {
          if (command instanceof SendMessageBatchCommand) {
            process.sends += 1;
            if (process.killAtSend === process.sends) {
              // Killed in the middle of parking: half the time after this batch was queued.
              if (random() < 0.5) await sqs.send(command);
              process.die();
              return never();
            }
          }
          return sqs.send(command);
        }),
    } as unknown as SQSClient;
    const start = clock;
    const handler = createForwarderHandler({
      client,
      deadLetters: new SqsDeadLetters(
        processSqs,
        QUEUE,
        () => new Date(clock),
        new S3ParkedEvents(s3.client, BUCKET),
      ),
      ledger: ledgerFor(process),
      log: { info: () => undefined, warn: () => undefined, error: () => undefined } as never,
      delivery: {
        maxAttempts: 4,
        baseDelayMs: 200,
        sleep,
        now,
        random,
        deadlineMs: start + 100_000,
        leaseUntilMs: start + 120_000,
      },
    });
    const outcome = await Promise.race([
      handler(payload).then(
        (report) => ({ ok: true as const, report }),
        () => ({ ok: false as const }),
      ),
      process.killed.then(() => ({ ok: false as const, killed: true })),
    ]);
    if ('killed' in outcome) killed += 1;
    if (outcome.ok) {
      unknownOutcomeResends += outcome.report.unknownOutcomeResends;
      ledgerUnavailable += outcome.report.ledgerUnavailable;
    }
    return outcome.ok;
  };

  /** Lambda's asynchronous invocation: two retries, then the raw payload in the DLQ. */
  const lambdaAsync = async (payload: CloudWatchLogsEvent) => {
    const start = clock;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      if (attempt > 0) clock = Math.max(clock, start + attempt * 60_000 + (attempt - 1) * 60_000);
      if (await invoke(payload)) return;
    }
    lambdaParkedPayloads += 1;
    sqs.enqueue(JSON.stringify(payload));
  };

  try {
    let deliveries = 0;
    for (const events of payloads) {
      const payload = subscription(events);
      deliveries += 1;
      if (random() < rates.duplicateDelivery) {
        deliveries += 1;
        if (random() < rates.concurrentShare) await Promise.all([lambdaAsync(payload), lambdaAsync(payload)]);
        else {
          await lambdaAsync(payload);
          clock += 5_000;
          await lambdaAsync(payload);
        }
      } else await lambdaAsync(payload);
      clock += 1_000;
    }

    // --- the redrive, until only poison is left (each run after every dead process's lease is over) ---
    const redrive = { runs: 0, redriven: 0, alreadyDelivered: 0, messages: 0 };
    const parkedIds = () => {
      const ids = new Set<string>();
      for (const body of sqs.bodies()) {
        const content = eventsInMessage(body);
        for (const event of content?.events ?? []) ids.add(event.id);
        if (content?.stored !== undefined) ids.add(content.stored.eventId);
      }
      return ids;
    };
    const queueMessagesWithSameUid = (() => {
      const counts = new Map<string, number>();
      for (const body of sqs.bodies()) {
        const content = eventsInMessage(body);
        const ids = [...(content?.events ?? []).map((event) => event.id), content?.stored?.eventId];
        for (const id of ids) if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return [...counts.values()].filter((count) => count > 1).length;
    })();
    const oversizedParkedInS3 = s3.objects.size;
    for (let run = 0; run < (options.redriveRuns ?? 6); run += 1) {
      if ([...parkedIds()].every((id) => poison.has(id))) break;
      clock += 15 * 60_000;
      redrive.runs += 1;
      const report = await redriveDeadLetters(sqs.client, redriveClient, {
        queueUrl: QUEUE,
        dryRun: false,
        ledger: new DynamoDbDeliveryLedger(dynamoClient, { tableName: TABLE, now }),
        storedEvents: new S3ParkedEvents(s3.client, BUCKET),
        delivery: { sleep, now, random },
      });
      redrive.redriven += report.redriven;
      redrive.alreadyDelivered += report.alreadyDelivered;
      redrive.messages += report.messages;
      unknownOutcomeResends += report.unknownOutcomeResends;
    }

    // --- the count ---
    for (const id of cloudTrail.answerLost) answerLost.add(id);
    for (const [id, count] of cloudTrail.ingested)
      if (count > (acknowledged.get(id) ?? 0)) answerLost.add(id);
    const stillParked = parkedIds();
    const uids = new Set(all.map((event) => event.UID));
    let lost = 0;
    for (const uid of uids) if ((cloudTrail.ingested.get(uid) ?? 0) === 0 && !stillParked.has(uid)) lost += 1;
    const duplicated = [...cloudTrail.ingested].filter(([, count]) => count > 1).map(([id]) => id);
    const avoidable = duplicated.filter((id) => !answerLost.has(id));
    return {
      seed: options.seed,
      events: uids.size,
      deliveries,
      invocations,
      killed,
      lambdaParkedPayloads,
      lost,
      stillParked: [...stillParked].filter((id) => poison.has(id)).length,
      violations: [...cloudTrail.violations, ...dynamo.violations, ...sqs.violations],
      duplicatedUids: duplicated.length,
      avoidableDuplicates: avoidable.length,
      answerLostUids: [...answerLost].filter((id) => uids.has(id)).length,
      duplicatedShare: duplicated.length / uids.size,
      answerLostShare: [...answerLost].filter((id) => uids.has(id)).length / uids.size,
      unknownOutcomeResends,
      ledgerUnavailable,
      oversizedParkedInS3,
      queueMessagesWithSameUid,
      redrive,
    };
  } finally {
    if (previousEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
    else process.env.AWS_ENDPOINT_URL_DYNAMODB = previousEndpoint;
    dynamoClient.destroy();
    await cloudTrail.stop();
    await dynamo.stop();
  }
}

/**
 * `audit redrive --dry-run` against a queue of exactly `queued` parked messages, next to the scan it replaced
 * (receives with visibility timeout 0, stop at the first receive with nothing new).
 */
export async function dryRunCount(
  queued: number,
  seed: number,
): Promise<{ reported: number; formerScan: number }> {
  const random = prng(seed);
  const clock = Date.UTC(2026, 10, 21);
  const body = (index: number) =>
    JSON.stringify({
      kind: 'mcp-identity.parked-audit-event',
      errorCode: 'Throttling',
      reason: 'r',
      attempts: 4,
      parkedAt: 'now',
      event: { id: `uid-${index}`, eventData: '{}', eventDataChecksum: 'x' },
    });
  const fresh = () => {
    const queue = new FakeSqs(() => clock, random);
    for (let index = 0; index < queued; index += 1) queue.enqueue(body(index));
    return queue;
  };
  const queue = fresh();
  const report = await redriveDeadLetters(queue.client, { put: never }, { queueUrl: QUEUE, dryRun: true });
  // The scan it replaced.
  const former = fresh();
  const seen = new Set<string>();
  for (;;) {
    const received = (await former.send(
      new ReceiveMessageCommand({
        QueueUrl: QUEUE,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
      }),
    )) as { Messages?: { MessageId?: string }[] };
    const newOnes = (received.Messages ?? []).filter((message) => !seen.has(message.MessageId ?? ''));
    if (newOnes.length === 0) break;
    for (const message of newOnes) seen.add(message.MessageId ?? '');
  }
  if (queue.messages.size !== queued) throw new Error('the dry run changed the queue');
  return { reported: report.messages, formerScan: seen.size };
}
