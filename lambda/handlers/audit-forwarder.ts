import { gunzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { CloudWatchLogsEvent, Context } from 'aws-lambda';
import { CloudTrailDataClient } from '../adapters/cloudtrail-data-client';
import { DynamoDbDeliveryLedger } from '../adapters/dynamodb-delivery-ledger';
import { createMetrics, publishDeliveryMetrics } from '../adapters/emf-metrics';
import { AUDIT_LOG_KEY } from '../adapters/log-audit-sink';
import { S3ParkedEvents } from '../adapters/s3-parked-events';
import { SqsDeadLetters } from '../adapters/sqs-dead-letters';
import {
  type AuditEventsClient,
  auditEventsFromLogLines,
  type DeadLetterSink,
  type DeliveryLedger,
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
  /** The delivered-UID table. @default - none (every event is sent at least once) */
  readonly ledger?: DeliveryLedger;
  /** Per-invocation figures (events delivered, parked) as metrics; never fails the invocation. @default none */
  readonly metrics?: (report: DeliveryReport) => void;
}

const EMPTY_REPORT: DeliveryReport = {
  ingested: 0,
  parked: 0,
  duplicates: 0,
  retries: 0,
  alreadyDelivered: 0,
  unknownOutcomeResends: 0,
  ledgerUnavailable: 0,
  unmarked: 0,
};

/**
 * The audit forwarder: fed by a subscription filter on the audit log group, it sends each audit event to the
 * CloudTrail Lake channel. Each event id is claimed in the delivered-UID table before it is sent and marked
 * once the service accepted it, so Lambda's retries, its duplicate deliveries, the same event in two
 * subscription deliveries and the redrive skip what is already delivered. A payload it cannot read, or a DLQ
 * it cannot write, makes the invocation fail: Lambda retries the asynchronous invocation (the table skips what
 * the failed attempt delivered) and then parks the raw payload in the same DLQ, so nothing is lost either way.
 */
export function createForwarderHandler(deps: ForwarderDeps) {
  return async (
    event: CloudWatchLogsEvent,
    context?: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<DeliveryReport & { readonly skipped: number }> => {
    const payload = decodeSubscription(event);
    if (payload.messageType === 'CONTROL_MESSAGE') return { ...EMPTY_REPORT, skipped: 0 };
    const { events, skipped } = auditEventsFromLogLines(
      payload.logEvents.map((logEvent) => logEvent.message),
      AUDIT_LOG_KEY,
    );
    const end = context === undefined ? undefined : Date.now() + context.getRemainingTimeInMillis();
    const report = await deliverAuditEvents(events.map(toPutAuditEvent), deps.client, deps.deadLetters, {
      ...deps.delivery,
      ...(deps.ledger === undefined ? {} : { ledger: deps.ledger }),
      // Keep time to park what is left: a timed-out invocation would be retried and re-send what was ingested.
      // Claims hold until the invocation's end: past it, this sender is gone and a retry may take them.
      ...(end === undefined ? {} : { deadlineMs: end - PARKING_MARGIN_MS, leaseUntilMs: end }),
    });
    // One line per invocation; `unknownOutcomeResends` feeds a metric filter (events that may now be copies).
    deps.log.info('audit events forwarded', { ...report, skipped, logGroup: payload.logGroup });
    if (report.parked > 0)
      deps.log.warn('audit events parked in the dead-letter queue', { parked: report.parked });
    try {
      deps.metrics?.(report);
    } catch (error) {
      // The events are delivered or parked already: a metric that cannot be written must not make Lambda retry.
      deps.log.warn('forwarder metrics could not be recorded', {
        error: error instanceof Error ? error.message.slice(0, 200) : 'unknown error',
      });
    }
    if (report.ledgerUnavailable > 0 || report.unmarked > 0)
      deps.log.warn('the delivered-UID table did not answer; events were sent at least once', {
        ledgerUnavailable: report.ledgerUnavailable,
        unmarked: report.unmarked,
      });
    return { ...report, skipped };
  };
}

let production: ReturnType<typeof createForwarderHandler> | undefined;

export const handler = async (event: CloudWatchLogsEvent, context: Context) => {
  if (production === undefined) {
    const config = loadForwarderConfig();
    const metrics = createMetrics({ service: config.metricsService });
    production = createForwarderHandler({
      client: new CloudTrailDataClient(config),
      deadLetters: new SqsDeadLetters(
        new SQSClient({}),
        config.dlqUrl,
        undefined,
        config.parkingBucket === undefined
          ? undefined
          : new S3ParkedEvents(new S3Client({}), config.parkingBucket),
      ),
      ...(config.deliveredTable === undefined
        ? {}
        : {
            // Endpoint from the SDK's standard settings (AWS_ENDPOINT_URL_DYNAMODB), like every client here.
            ledger: new DynamoDbDeliveryLedger(new DynamoDBClient({}), { tableName: config.deliveredTable }),
          }),
      log: logger,
      delivery: { maxAttempts: config.maxAttempts, baseDelayMs: 200 },
      metrics: (report) => publishDeliveryMetrics(metrics, report),
    });
  }
  return production(event, context);
};
