import { gunzipSync } from 'node:zlib';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { CloudWatchLogsEvent, Context } from 'aws-lambda';
import { CloudTrailDataClient } from '../adapters/cloudtrail-data-client';
import { AUDIT_LOG_KEY } from '../adapters/log-audit-sink';
import { SqsDeadLetters } from '../adapters/sqs-dead-letters';
import {
  type AuditEventsClient,
  auditEventsFromLogLines,
  type DeadLetterSink,
  type DeliveryOptions,
  type DeliveryReport,
  deliverAuditEvents,
  toPutAuditEvent,
} from '../core/audit-delivery';
import { loadForwarderConfig } from '../shared/config';
import { type DiagnosticLog, logger } from '../shared/logger';

/** Time kept at the end of an invocation to park undelivered events in the DLQ. */
export const PARKING_MARGIN_MS = 20_000;

interface SubscriptionPayload {
  readonly messageType: 'DATA_MESSAGE' | 'CONTROL_MESSAGE';
  readonly logGroup?: string;
  readonly logEvents: readonly {
    readonly id: string;
    readonly timestamp: number;
    readonly message: string;
  }[];
}

/** Decodes a CloudWatch Logs subscription delivery (base64 of gzip of JSON). Throws on anything else. */
export function decodeSubscription(event: CloudWatchLogsEvent): SubscriptionPayload {
  const data = event?.awslogs?.data;
  if (typeof data !== 'string') throw new Error('not a CloudWatch Logs subscription event');
  const payload = JSON.parse(gunzipSync(Buffer.from(data, 'base64')).toString('utf8')) as SubscriptionPayload;
  if (payload.messageType !== 'DATA_MESSAGE' && payload.messageType !== 'CONTROL_MESSAGE')
    throw new Error('unknown subscription message type');
  if (!Array.isArray(payload.logEvents)) throw new Error('subscription payload has no logEvents');
  return payload;
}

export interface ForwarderDeps {
  readonly client: AuditEventsClient;
  readonly deadLetters: DeadLetterSink;
  readonly log: DiagnosticLog;
  readonly delivery: DeliveryOptions;
}

/**
 * The audit forwarder: fed by a subscription filter on the audit log group, it sends each audit event to the
 * CloudTrail Lake channel. A payload it cannot read, or a DLQ it cannot write, makes the invocation fail:
 * Lambda retries the asynchronous invocation and then parks the raw payload in the same DLQ, so nothing is
 * lost either way.
 */
export function createForwarderHandler(deps: ForwarderDeps) {
  return async (
    event: CloudWatchLogsEvent,
    context?: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<DeliveryReport & { readonly skipped: number }> => {
    const payload = decodeSubscription(event);
    if (payload.messageType === 'CONTROL_MESSAGE')
      return { ingested: 0, parked: 0, duplicates: 0, retries: 0, skipped: 0 };
    const { events, skipped } = auditEventsFromLogLines(
      payload.logEvents.map((logEvent) => logEvent.message),
      AUDIT_LOG_KEY,
    );
    const report = await deliverAuditEvents(
      events.map(toPutAuditEvent),
      deps.client,
      deps.deadLetters,
      context === undefined
        ? deps.delivery
        : // Keep time to park what is left: a timed-out invocation would be retried and re-send what was ingested.
          {
            ...deps.delivery,
            deadlineMs: Date.now() + context.getRemainingTimeInMillis() - PARKING_MARGIN_MS,
          },
    );
    deps.log.info('audit events forwarded', { ...report, skipped, logGroup: payload.logGroup });
    if (report.parked > 0)
      deps.log.warn('audit events parked in the dead-letter queue', { parked: report.parked });
    return { ...report, skipped };
  };
}

let production: ReturnType<typeof createForwarderHandler> | undefined;

export const handler = async (event: CloudWatchLogsEvent, context: Context) => {
  if (production === undefined) {
    const config = loadForwarderConfig();
    production = createForwarderHandler({
      client: new CloudTrailDataClient(config),
      deadLetters: new SqsDeadLetters(new SQSClient({}), config.dlqUrl),
      log: logger,
      delivery: { maxAttempts: config.maxAttempts, baseDelayMs: 200 },
    });
  }
  return production(event, context);
};
