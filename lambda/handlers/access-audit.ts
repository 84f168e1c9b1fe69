import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { type AccessItem, grantFromItem, revocationFromItem } from '../adapters/access-items';
import { LogAuditSink } from '../adapters/log-audit-sink';
import type { Revocation, RoleGrant } from '../core/access';
import { accessChange, buildAccessChangeEvent } from '../core/access-audit';
import type { AuditSettings, AuditSink } from '../core/audit-event';
import { loadAccessAuditConfig } from '../shared/config';
import { createAuditLogger, type DiagnosticLog, logger } from '../shared/logger';

/**
 * The grants table's stream → the audit trail. Every change to the table (a grant issued or revoked, a
 * revocation issued or lifted), whoever wrote it — the CLI, the console, a script — becomes one audit event in
 * the audit log group, the same trail and pipeline as the decisions (the forwarder takes it on to CloudTrail
 * Lake; `activity` reads it with Logs Insights). TTL deletions are not changes of access and are skipped.
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

export function createHandler(deps: {
  readonly sink: AuditSink;
  readonly settings: Pick<AuditSettings, 'eventSource' | 'recipientAccountId'>;
  readonly log: DiagnosticLog;
}): (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse> {
  return async (event) => {
    const batchItemFailures: DynamoDBBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records ?? []) {
      const change = accessChange(
        decode(record.dynamodb?.OldImage as Image),
        decode(record.dynamodb?.NewImage as Image),
      );
      if (change === undefined) continue;
      try {
        await deps.sink.write(buildAccessChangeEvent(change, deps.settings));
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
