import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { eventsInMessage, redriveDeadLetters } from '../../lambda/adapters/audit-redrive';
import { DynamoDbDeliveryLedger } from '../../lambda/adapters/dynamodb-delivery-ledger';
import { S3ParkedEvents } from '../../lambda/adapters/s3-parked-events';
import { INLINE_MESSAGE_BYTES, SqsDeadLetters } from '../../lambda/adapters/sqs-dead-letters';
import {
  type AuditEventsClient,
  deliverAuditEvents,
  MemoryDeliveryLedger,
  type PutAuditEvent,
  toPutAuditEvent,
} from '../../lambda/core/audit-delivery';
import { buildAuditEvent, requestDigest } from '../../lambda/core/audit-event';
import { dryRunCount, runAuditFaults } from '../helpers/audit-faults';
import { TEST_CREDENTIALS } from '../helpers/fake-cloudtrail-data';
import { type DynamoBehavior, FakeDynamoDb } from '../helpers/fake-dynamodb';
import { FakeS3, FakeSqs } from '../helpers/fake-sqs';

const REGION = 'eu-west-1';
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq';
const noSleep = { maxAttempts: 4, baseDelayMs: 1, sleep: async () => undefined };

const put = (index: number, padding = 0): PutAuditEvent =>
  toPutAuditEvent({
    ...buildAuditEvent(
      {
        time: new Date(0),
        phase: 'request',
        caller: undefined,
        method: 'tools/call',
        decision: 'deny',
        enforced: true,
        requestDigest: requestDigest('x', index),
      },
      { eventSource: 's', recipientAccountId: '123456789012', mode: 'enforce' },
      { newUid: () => `uid-${index}` },
    ),
    ...(padding > 0 ? { additionalEventData: { note: '"'.repeat(padding) } } : {}),
  });

/** A PutAuditEvents stand-in that records how often each id was accepted. */
function recordingClient(): AuditEventsClient & { ingested: Map<string, number> } {
  const ingested = new Map<string, number>();
  return {
    ingested,
    put: async (batch) => {
      for (const event of batch) ingested.set(event.id, (ingested.get(event.id) ?? 0) + 1);
      return { successful: batch.map((event) => ({ id: event.id, eventID: `ev-${event.id}` })), failed: [] };
    },
  };
}

async function withDynamo<T>(
  behavior: (operation: string, request: number) => DynamoBehavior,
  run: (client: DynamoDBClient, fake: FakeDynamoDb) => Promise<T>,
): Promise<T> {
  const fake = await new FakeDynamoDb(REGION, 'delivered', 'uid', behavior).start();
  const previous = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = fake.url;
  // No endpoint here: the SDK's standard AWS_ENDPOINT_URL_DYNAMODB setting points it at the fake.
  const client = new DynamoDBClient({ region: REGION, credentials: TEST_CREDENTIALS, maxAttempts: 2 });
  try {
    return await run(client, fake);
  } finally {
    if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
    else process.env.AWS_ENDPOINT_URL_DYNAMODB = previous;
    client.destroy();
    await fake.stop();
  }
}

describe('the delivered-UID table (DynamoDB, conditional writes)', () => {
  it('claims, skips what is delivered, reports a live claim of another sender as busy and frees it at its lease', async () => {
    await withDynamo(
      () => ({ kind: 'ok' }),
      async (client, fake) => {
        let now = 1_000_000;
        const first = new DynamoDbDeliveryLedger(client, { tableName: 'delivered', now: () => now });
        const second = new DynamoDbDeliveryLedger(client, { tableName: 'delivered', now: () => now });

        expect(Object.fromEntries(await first.claim(['a', 'b', 'c'], now + 60_000))).toEqual({
          a: 'claimed',
          b: 'claimed',
          c: 'claimed',
        });
        expect(await first.markDelivered(['a'])).toEqual([]);
        await second.release(['b']); // not its claim: nothing happens
        expect(Object.fromEntries(await second.claim(['a', 'b', 'd'], now + 60_000))).toEqual({
          a: 'delivered',
          b: 'busy',
          d: 'claimed',
        });
        await first.release(['c']);
        expect((await second.claim(['c'], now + 60_000)).get('c')).toBe('claimed');
        now += 61_000; // first's lease on b is over: it is presumed dead
        expect((await second.claim(['b'], now + 60_000)).get('b')).toBe('claimed');
        expect(Object.fromEntries(await second.delivered(['a', 'b']))).toEqual({ a: true, b: false });

        expect(fake.items.get('a')).toMatchObject({
          state: { S: 'delivered' },
          expiresAt: { N: expect.any(String) },
        });
        expect(Number(fake.items.get('a')?.expiresAt?.N)).toBe(Math.floor(1_000_000 / 1000) + 15 * 86_400);
        expect(fake.violations).toEqual([]);
        expect([...fake.calls.keys()].sort()).toEqual(['DeleteItem', 'GetItem', 'PutItem', 'UpdateItem']);
      },
    );
  });

  it('takes back its own claim when the answer to the put was lost and the SDK sent it again', async () => {
    let puts = 0;
    await withDynamo(
      (operation) => (operation === 'PutItem' && ++puts === 1 ? { kind: 'commit-drop' } : { kind: 'ok' }),
      async (client, fake) => {
        const ledger = new DynamoDbDeliveryLedger(client, { tableName: 'delivered' });
        expect((await ledger.claim(['a'], Date.now() + 60_000)).get('a')).toBe('claimed');
        expect(fake.calls.get('PutItem')).toBe(2);
        expect(fake.violations).toEqual([]);
      },
    );
  });

  it('is checked against the documented request shapes (the check can fail)', async () => {
    await withDynamo(
      () => ({ kind: 'ok' }),
      async (client, fake) => {
        await expect(
          client.send(
            new PutItemCommand({
              TableName: 'delivered',
              Item: { uid: { S: 'a' } },
              ConditionExpression: 'attribute_not_exists(#uid)',
              ExpressionAttributeNames: { '#uid': 'uid' },
              ExpressionAttributeValues: { ':unused': { S: 'x' } },
            }),
          ),
        ).rejects.toThrow(/unused/);
        expect(fake.violations).toEqual([
          'PutItem: Value provided in ExpressionAttributeValues unused in expressions: :unused',
        ]);
      },
    );
  });

  it('never loses an event when the table fails: sent anyway (at least once) and counted', async () => {
    await withDynamo(
      () => ({ kind: 'status', status: 500, code: 'InternalServerError' }),
      async (client) => {
        const ledger = new DynamoDbDeliveryLedger(client, { tableName: 'delivered' });
        const cloudTrail = recordingClient();
        const parked: unknown[] = [];
        const events = Array.from({ length: 5 }, (_, index) => put(index));
        const report = await deliverAuditEvents(
          events,
          cloudTrail,
          { park: async (items) => void parked.push(...items) },
          { ...noSleep, ledger },
        );
        expect(report).toMatchObject({ ingested: 5, parked: 0, ledgerUnavailable: 5, unmarked: 5 });
        expect([...cloudTrail.ingested.values()]).toEqual([1, 1, 1, 1, 1]);
        expect(parked).toEqual([]);
      },
    );
  });
});

describe('delivery with a ledger', () => {
  it('skips on a re-run what an earlier run delivered, and sends the rest once', async () => {
    const ledger = new MemoryDeliveryLedger();
    const cloudTrail = recordingClient();
    const events = Array.from({ length: 30 }, (_, index) => put(index));
    await deliverAuditEvents(
      events.slice(0, 20),
      cloudTrail,
      { park: async () => undefined },
      { ...noSleep, ledger },
    );
    const again = await deliverAuditEvents(
      events,
      cloudTrail,
      { park: async () => undefined },
      { ...noSleep, ledger },
    );
    expect(again).toMatchObject({ ingested: 10, alreadyDelivered: 20 });
    expect([...cloudTrail.ingested.values()].every((count) => count === 1)).toBe(true);
    expect(cloudTrail.ingested.size).toBe(30);
  });

  it('sends an event once when two deliveries carrying it run at the same time', async () => {
    const ledger = new MemoryDeliveryLedger();
    const ingested = new Map<string, number>();
    const slowClient: AuditEventsClient = {
      put: async (batch) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        for (const event of batch) ingested.set(event.id, (ingested.get(event.id) ?? 0) + 1);
        return { successful: batch.map((event) => ({ id: event.id, eventID: event.id })), failed: [] };
      },
    };
    const events = Array.from({ length: 10 }, (_, index) => put(index));
    const options = {
      ...noSleep,
      ledger,
      sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 30))),
    };
    const [first, second] = await Promise.all([
      deliverAuditEvents(events, slowClient, { park: async () => undefined }, options),
      deliverAuditEvents(events, slowClient, { park: async () => undefined }, options),
    ]);
    expect((first?.ingested ?? 0) + (second?.ingested ?? 0)).toBe(10);
    expect((first?.alreadyDelivered ?? 0) + (second?.alreadyDelivered ?? 0)).toBe(10);
    expect([...ingested.values()].every((count) => count === 1)).toBe(true);
  });

  it('counts an event sent again after an answer was lost (the one at-least-once case)', async () => {
    let calls = 0;
    const ingested = new Map<string, number>();
    const losesFirstAnswer: AuditEventsClient = {
      put: async (batch) => {
        for (const event of batch) ingested.set(event.id, (ingested.get(event.id) ?? 0) + 1);
        calls += 1;
        if (calls === 1) throw new Error('socket hang up'); // committed, answer lost
        return { successful: batch.map((event) => ({ id: event.id, eventID: event.id })), failed: [] };
      },
    };
    const report = await deliverAuditEvents(
      [put(1), put(2)],
      losesFirstAnswer,
      { park: async () => undefined },
      { ...noSleep, ledger: new MemoryDeliveryLedger() },
    );
    expect(report).toMatchObject({ ingested: 2, unknownOutcomeResends: 2 });
    expect(ingested.get('uid-1')).toBe(2);
  });

  it('parks an event another sender holds past the wait, instead of sending it or dropping it', async () => {
    const ledger = new MemoryDeliveryLedger(() => 0);
    await ledger.claim(['uid-1'], 10_000);
    let clock = 0;
    const parked: string[] = [];
    const report = await deliverAuditEvents(
      [put(1), put(2)],
      recordingClient(),
      {
        park: async (items) => void parked.push(...items.map((item) => `${item.event.id}:${item.errorCode}`)),
      },
      {
        ...noSleep,
        ledger,
        busyWaitMs: 1_000,
        now: () => clock,
        sleep: async (ms) => {
          clock += ms;
        },
      },
    );
    expect(report).toMatchObject({ ingested: 1, parked: 1 });
    expect(parked).toEqual(['uid-1:InFlightElsewhere']);
  });
});

describe('parking per event', () => {
  it('stores an event too large for a queue message in S3 and parks a pointer; the redrive reads it back', async () => {
    const sqs = new FakeSqs();
    const s3 = new FakeS3();
    const big = put(1, 150_000);
    const small = put(2);
    const dlq = new SqsDeadLetters(
      sqs.client,
      QUEUE,
      () => new Date('2026-11-21T00:00:00Z'),
      new S3ParkedEvents(s3.client, 'parked'),
    );
    await dlq.park([
      { event: big, errorCode: 'Throttling', reason: 'r', attempts: 4, outcomeUnknown: true },
      { event: small, errorCode: 'Throttling', reason: 'r', attempts: 4 },
    ]);
    expect(sqs.violations).toEqual([]);
    const bodies = sqs.bodies();
    expect(bodies.every((body) => Buffer.byteLength(body) <= INLINE_MESSAGE_BYTES)).toBe(true);
    expect(eventsInMessage(bodies[0] ?? '')).toMatchObject({
      events: [],
      outcomeUnknown: true,
      stored: {
        eventId: 'uid-1',
        ref: { bucket: 'parked', key: expect.stringMatching(/^parked\/2026-11-21\/uid-1-/) },
      },
    });
    const cloudTrail = recordingClient();
    const report = await redriveDeadLetters(sqs.client, cloudTrail, {
      queueUrl: QUEUE,
      dryRun: false,
      storedEvents: new S3ParkedEvents(s3.client, 'parked'),
      delivery: { sleep: async () => undefined },
    });
    expect(report).toMatchObject({ messages: 2, stored: 1, redriven: 2, stillFailing: 0 });
    expect(cloudTrail.ingested.get('uid-1')).toBe(1);
    expect(sqs.messages.size).toBe(0);
  });

  it('keeps a pointer message queued when its object cannot be read', async () => {
    const sqs = new FakeSqs();
    const s3 = new FakeS3();
    await new SqsDeadLetters(sqs.client, QUEUE, undefined, new S3ParkedEvents(s3.client, 'parked')).park([
      { event: put(1, 150_000), errorCode: 'Throttling', reason: 'r', attempts: 4 },
    ]);
    s3.objects.clear();
    const report = await redriveDeadLetters(sqs.client, recordingClient(), {
      queueUrl: QUEUE,
      dryRun: false,
      storedEvents: new S3ParkedEvents(s3.client, 'parked'),
    });
    expect(report).toMatchObject({ stillFailing: 1, redriven: 0 });
    expect(sqs.messages.size).toBe(1);
  });

  it('fails the invocation (Lambda then retries) only when an oversized event cannot be stored at all', async () => {
    const sqs = new FakeSqs();
    await expect(
      new SqsDeadLetters(sqs.client, QUEUE).park([
        { event: put(1, 150_000), errorCode: 'Throttling', reason: 'r', attempts: 4 },
      ]),
    ).rejects.toThrow(/no parking bucket/);
  });
});

describe('the redrive', () => {
  it('delivers an event carried by two queue messages once and deletes both (SQS batch re-sent by the SDK)', async () => {
    const sqs = new FakeSqs();
    sqs.sendFault = () => 'resend';
    await new SqsDeadLetters(sqs.client, QUEUE).park(
      [put(1), put(2), put(3)].map((event) => ({ event, errorCode: 'Throttling', reason: 'r', attempts: 4 })),
    );
    expect(sqs.messages.size).toBe(6);
    const cloudTrail = recordingClient();
    const report = await redriveDeadLetters(sqs.client, cloudTrail, { queueUrl: QUEUE, dryRun: false });
    expect(report).toMatchObject({
      messages: 6,
      events: 6,
      uniqueEvents: 3,
      redriven: 3,
      alreadyDelivered: 3,
    });
    expect([...cloudTrail.ingested.values()]).toEqual([1, 1, 1]);
    expect(sqs.messages.size).toBe(0);
  });

  it('skips and deletes what the forwarder already delivered, given the table', async () => {
    const sqs = new FakeSqs();
    const ledger = new MemoryDeliveryLedger();
    await ledger.claim(['uid-1'], Date.now() + 1000);
    await ledger.markDelivered(['uid-1']);
    await new SqsDeadLetters(sqs.client, QUEUE).park([
      { event: put(1), errorCode: 'NetworkError', reason: 'r', attempts: 4, outcomeUnknown: true },
    ]);
    const cloudTrail = recordingClient();
    const report = await redriveDeadLetters(sqs.client, cloudTrail, {
      queueUrl: QUEUE,
      dryRun: false,
      ledger,
    });
    expect(report).toMatchObject({ redriven: 0, alreadyDelivered: 1 });
    expect(cloudTrail.ingested.size).toBe(0);
    expect(sqs.messages.size).toBe(0);
  });

  it('--dry-run reports exactly the 200 queued messages and leaves them in the queue', async () => {
    const { reported, formerScan } = await dryRunCount(200, 11);
    expect(reported).toBe(200);
    // The scan it replaced (visibility timeout 0, stop at the first receive with nothing new) undercounts.
    expect(formerScan).toBeLessThan(200);
  });
});

describe('the pipeline under faults (a small seeded run; the soak is bench/audit-faults.ts)', () => {
  it('loses nothing, breaks no contract, and duplicates only UIDs whose committed answer was lost', async () => {
    const report = await runAuditFaults({
      seed: 5,
      events: 400,
      rates: {
        killAfterCommit: 0.25,
        killMidPark: 0.25,
        duplicateDelivery: 0.3,
        sameUidTwice: 0.05,
        oversized: 0.01,
        poison: 0.005,
        sqsResend: 0.3,
      },
    });
    expect(report.violations).toEqual([]);
    expect(report.lost).toBe(0);
    expect(report.avoidableDuplicates).toBe(0);
    expect(report.duplicatedShare).toBeLessThanOrEqual(report.answerLostShare);
    // The faults were really there.
    expect(report.killed).toBeGreaterThan(0);
    expect(report.deliveries).toBeGreaterThan(report.invocations / 3);
    expect(report.oversizedParkedInS3 + report.redrive.redriven).toBeGreaterThan(0);
  }, 120_000);
});
