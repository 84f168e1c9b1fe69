import type { Logger } from '@aws-lambda-powertools/logger';
import type { AuditEventData, AuditSink } from '../core/audit-event';

/** The key the forwarder's subscription filter selects on (`{ $.auditEvent.UID = * }`). */
export const AUDIT_LOG_KEY = 'auditEvent';

/**
 * Writes each audit event as one structured Powertools log line in the function's (audit) log group. No
 * network call on the hot path: a subscription filter and the forwarder take it to CloudTrail Lake.
 */
export class LogAuditSink implements AuditSink {
  constructor(private readonly log: Pick<Logger, 'info'>) {}

  async write(event: AuditEventData): Promise<void> {
    this.log.info('mcp-identity audit event', { [AUDIT_LOG_KEY]: event });
  }
}
