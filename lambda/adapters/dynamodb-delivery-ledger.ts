import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ClaimState, DeliveryLedger } from '../core/audit-delivery';

/**
 * The delivered-UID store on a DynamoDB table (partition key `uid`, TTL on `expiresAt`). One item per audit
 * event id:
 * - `state = sending`, `leaseUntil` (epoch ms), `claimant`: a sender claimed it (conditional put);
 * - `state = delivered`, `deliveredAt`: the service accepted it (update after the answer).
 *
 * Why not Powertools' Idempotency utility: it makes one function call idempotent, with one record and two
 * writes per call keyed on a hash of the call's payload. Here one `PutAuditEvents` request carries up to 100
 * events, each of which must be skipped, claimed or marked on its own (a delivery can mix new and already
 * delivered ids), and an id another sender holds must be parked rather than fail the call. Wrapping each event
 * would give up batching; the utility would also bring its JMESPath and commons packages at another version
 * than our logger's. So this is the same conditional-write pattern (claim with an expiring in-progress record,
 * complete on success, delete on give-up) by hand, per event.
 *
 * Items live `ttlDays` (default 15): longer than a few days on purpose, because a parked event can be redriven
 * for as long as the dead-letter queue keeps it (14 days), and the redrive must still find it delivered.
 *
 * The client honours the SDK's standard endpoint settings (`AWS_ENDPOINT_URL_DYNAMODB`), which the tests use
 * to point it at a loopback fake. Never throws: a failed claim is `unavailable` (the event is sent anyway, at
 * least once), a failed mark is returned to the caller to count.
 */
export interface DynamoDbDeliveryLedgerSettings {
  readonly tableName: string;
  /** @default 15 */
  readonly ttlDays?: number;
  /** Requests in flight at once. @default 16 */
  readonly concurrency?: number;
  /** Names this sender in its claims (diagnostics; the lease decides). @default a random id */
  readonly claimant?: string;
  readonly now?: () => number;
}

export const DELIVERED_UID_KEY = 'uid';
export const DELIVERED_UID_TTL_ATTRIBUTE = 'expiresAt';

const CLAIM_CONDITION = 'attribute_not_exists(#uid) OR (#state = :sending AND #lease < :now)';

async function eachLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class DynamoDbDeliveryLedger implements DeliveryLedger {
  private readonly ttlSeconds: number;
  private readonly concurrency: number;
  private readonly claimant: string;
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly settings: DynamoDbDeliveryLedgerSettings,
  ) {
    this.ttlSeconds = Math.round((settings.ttlDays ?? 15) * 86_400);
    this.concurrency = settings.concurrency ?? 16;
    this.claimant = settings.claimant ?? `c-${Math.random().toString(36).slice(2, 12)}`;
    this.now = settings.now ?? Date.now;
  }

  private expiresAt(): AttributeValue {
    return { N: String(Math.floor(this.now() / 1000) + this.ttlSeconds) };
  }

  async claim(ids: readonly string[], leaseUntilMs: number): Promise<ReadonlyMap<string, ClaimState>> {
    const states = new Map<string, ClaimState>();
    await eachLimited(ids, this.concurrency, async (id) => {
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.settings.tableName,
            Item: {
              [DELIVERED_UID_KEY]: { S: id },
              state: { S: 'sending' },
              leaseUntil: { N: String(leaseUntilMs) },
              claimant: { S: this.claimant },
              [DELIVERED_UID_TTL_ATTRIBUTE]: this.expiresAt(),
            },
            ConditionExpression: CLAIM_CONDITION,
            ExpressionAttributeNames: {
              '#uid': DELIVERED_UID_KEY,
              '#state': 'state',
              '#lease': 'leaseUntil',
            },
            ExpressionAttributeValues: { ':sending': { S: 'sending' }, ':now': { N: String(this.now()) } },
            // The item that stopped us says why: delivered, or someone else's live claim.
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        states.set(id, 'claimed');
      } catch (error) {
        if (
          error instanceof ConditionalCheckFailedException ||
          (error as Error)?.name === 'ConditionalCheckFailedException'
        ) {
          const item = (error as { Item?: Record<string, AttributeValue> }).Item;
          // Without the item (an old API or proxy) we cannot tell; treat it as busy: parked, never sent twice.
          // Our own live claim is ours: the SDK re-sent a put whose answer was lost after it was applied.
          const ours = item?.claimant?.S === this.claimant && item?.leaseUntil?.N === String(leaseUntilMs);
          states.set(id, item?.state?.S === 'delivered' ? 'delivered' : ours ? 'claimed' : 'busy');
        } else states.set(id, 'unavailable');
      }
    });
    return states;
  }

  async markDelivered(ids: readonly string[]): Promise<readonly string[]> {
    const failed: string[] = [];
    await eachLimited(ids, this.concurrency, async (id) => {
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.settings.tableName,
            Key: { [DELIVERED_UID_KEY]: { S: id } },
            // Unconditional on purpose: "accepted by the service" is a fact whoever holds the claim now.
            UpdateExpression: 'SET #state = :delivered, #at = :at, #ttl = :ttl REMOVE #lease, #claimant',
            ExpressionAttributeNames: {
              '#state': 'state',
              '#at': 'deliveredAt',
              '#ttl': DELIVERED_UID_TTL_ATTRIBUTE,
              '#lease': 'leaseUntil',
              '#claimant': 'claimant',
            },
            ExpressionAttributeValues: {
              ':delivered': { S: 'delivered' },
              ':at': { N: String(this.now()) },
              ':ttl': this.expiresAt(),
            },
          }),
        );
      } catch {
        failed.push(id);
      }
    });
    return failed;
  }

  async release(ids: readonly string[]): Promise<void> {
    await eachLimited(ids, this.concurrency, async (id) => {
      try {
        await this.client.send(
          new DeleteItemCommand({
            TableName: this.settings.tableName,
            Key: { [DELIVERED_UID_KEY]: { S: id } },
            // Only our own, still undelivered claim: never a delivered record or another sender's claim.
            ConditionExpression: '#state = :sending AND #claimant = :me',
            ExpressionAttributeNames: { '#state': 'state', '#claimant': 'claimant' },
            ExpressionAttributeValues: { ':sending': { S: 'sending' }, ':me': { S: this.claimant } },
          }),
        );
      } catch {
        // The claim then simply runs out at its lease.
      }
    });
  }

  /** Whether each id is recorded as delivered (strongly consistent reads); `undefined` when the table did not answer. */
  async delivered(ids: readonly string[]): Promise<ReadonlyMap<string, boolean | undefined>> {
    const known = new Map<string, boolean | undefined>();
    await eachLimited(ids, this.concurrency, async (id) => {
      try {
        const { Item } = await this.client.send(
          new GetItemCommand({
            TableName: this.settings.tableName,
            Key: { [DELIVERED_UID_KEY]: { S: id } },
            ConsistentRead: true,
            ProjectionExpression: '#state',
            ExpressionAttributeNames: { '#state': 'state' },
          }),
        );
        known.set(id, Item?.state?.S === 'delivered');
      } catch {
        known.set(id, undefined);
      }
    });
    return known;
  }
}
