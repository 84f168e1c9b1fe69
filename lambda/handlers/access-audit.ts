import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { type AccessItem, grantFromItem, revocationFromItem } from '../adapters/access-items';
import { LogAuditSink } from '../adapters/log-audit-sink';
import type { Revocation, RoleGrant } from '../core/access';
import { accessChange, buildAccessChangeEvent, type StoredWrite } from '../core/access-audit';
import type { AuditSettings, AuditSink } from '../core/audit-event';
import { loadAccessAuditConfig } from '../shared/config';
import { createAuditLogger, type DiagnosticLog, logger } from '../shared/logger';

/**
 * The grants table's stream → the audit trail. Every change to the table (a grant issued or revoked, a
 * revocation issued or lifted), whoever wrote it — the CLI, the console, a script — becomes one audit event in
 * the audit log group, the same trail and pipeline as the decisions (the forwarder takes it on to CloudTrail
 * Lake; `activity` reads it with Logs Insights). Every INSERT, MODIFY and REMOVE is audited with the fields it
 * changed, before and after — none is skipped, or a kill switch could be expired in place or deleted unseen;
 * TTL deletions (the only writer a stream record names) as `ExpireAccessEntry`. The author an entry names is a
 * claim (`claimedBy`): the writer's real identity is in CloudTrail data events for the table.
 *
 * Event UIDs derive from the change (`GrantRole-g-…`), so a batch Lambda retries writes the same UID again and
 * the stores' de-duplication by UID counts it once. A record that cannot be written is reported as a batch item
 * failure (ReportBatchItemFailures) and retried; one that cannot be read is logged and skipped.
 */

type Image = Record<string, unknown> | undefined;

function decode(image: Image): RoleGrant | Revocation | undefined {
  if (image === undefined) return undefined;
  const item = image as AccessItem;
  return grantFromItem(item) ?? revocationFromItem(item);
}

/** Every attribute as text (S and N as they are, anything else as its JSON), to name what a write changed. */
function fields(image: Image): Record<string, string> | undefined {
  if (image === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(image)) {
    const attribute = value as { S?: unknown; N?: unknown } | null;
    out[key] =
      typeof attribute?.S === 'string'
        ? attribute.S
        : typeof attribute?.N === 'string'
          ? attribute.N
          : JSON.stringify(value);
  }
  return out;
}

/** DynamoDB's TTL process marks its deletes so (DynamoDB Streams `Record.userIdentity`); nobody else can. */
function deletedByTtl(record: DynamoDBRecord): boolean {
  return (
    record.eventName === 'REMOVE' &&
    record.userIdentity?.type === 'Service' &&
    record.userIdentity?.principalId === 'dynamodb.amazonaws.com'
  );
}

function storedWrite(record: DynamoDBRecord): StoredWrite | undefined {
  const operation = record.eventName;
  if (operation !== 'INSERT' && operation !== 'MODIFY' && operation !== 'REMOVE') return undefined;
  const oldImage = record.dynamodb?.OldImage as Image;
  const newImage = record.dynamodb?.NewImage as Image;
  const before = decode(oldImage);
  const after = decode(newImage);
  const beforeFields = fields(oldImage);
  const afterFields = fields(newImage);
  return {
    operation,
    ...(before === undefined ? {} : { before }),
    ...(after === undefined ? {} : { after }),
    ...(beforeFields === undefined ? {} : { beforeFields }),
    ...(afterFields === undefined ? {} : { afterFields }),
    byTtl: deletedByTtl(record),
    at: record.dynamodb?.ApproximateCreationDateTime ?? Date.now() / 1000,
    writeId: record.dynamodb?.SequenceNumber ?? record.eventID ?? 'unknown',
  };
}

export function createHandler(deps: {
  readonly sink: AuditSink;
  readonly settings: Pick<AuditSettings, 'eventSource' | 'recipientAccountId'>;
  readonly log: DiagnosticLog;
}): (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse> {
  return async (event) => {
    const batchItemFailures: DynamoDBBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records ?? []) {
      const write = storedWrite(record);
      if (write === undefined) {
        deps.log.error('a grants-table stream record has no INSERT, MODIFY or REMOVE event name; skipped', {
          eventName: String(record.eventName),
        });
        continue;
      }
      try {
        await deps.sink.write(buildAccessChangeEvent(accessChange(write), deps.settings));
      } catch (error) {
        deps.log.error('an access change could not be audited; retrying it', {
          error: error instanceof Error ? error.name : 'unknown',
        });
        const sequence = record.dynamodb?.SequenceNumber;
        if (sequence !== undefined) batchItemFailures.push({ itemIdentifier: sequence });
        // From the first failure on, the rest of the batch is retried in order.
        break;
      }
    }
    return { batchItemFailures };
  };
}

export const handler = createHandler({
  sink: new LogAuditSink(createAuditLogger()),
  settings: loadAccessAuditConfig(process.env),
  log: logger,
});
