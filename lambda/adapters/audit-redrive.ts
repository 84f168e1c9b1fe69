import { gunzipSync } from 'node:zlib';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type AuditEventsClient,
  auditEventsFromLogLines,
  type DeadLetterSink,
  deliverAuditEvents,
  type ParkedEvent,
  type PutAuditEvent,
  toPutAuditEvent,
} from '../core/audit-delivery';
import { AUDIT_LOG_KEY } from './log-audit-sink';
import type { ParkedAuditMessage } from './sqs-dead-letters';

export interface RedriveOptions {
  readonly queueUrl: string;
  /** Report what is parked without sending or deleting anything. */
  readonly dryRun: boolean;
  /** Stop after this many messages. @default unlimited */
  readonly maxMessages?: number;
  readonly onProgress?: (line: string) => void;
}

export interface RedriveReport {
  readonly messages: number;
  readonly events: number;
  readonly redriven: number;
  /** Events that failed again; their messages stay in the queue. */
  readonly stillFailing: number;
  /** Messages that are neither parked events nor subscription payloads; left in the queue. */
  readonly unreadable: number;
  /** Redriven messages SQS failed to delete: they will reappear (re-sending them repeats the same event ids). */
  readonly undeleted: number;
  readonly byErrorCode: Readonly<Record<string, number>>;
}

/**
 * The events a dead-letter message holds: one parked event (written by the forwarder), or a whole CloudWatch
 * Logs subscription payload (parked by Lambda after the forwarder failed on it).
 */
export function eventsInMessage(body: string): { events: PutAuditEvent[]; errorCode: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parked = parsed as Partial<ParkedAuditMessage>;
  if (
    parked.kind === 'mcp-identity.parked-audit-event' &&
    parked.event &&
    typeof parked.event.id === 'string' &&
    typeof parked.event.eventData === 'string'
  ) {
    return { events: [parked.event as PutAuditEvent], errorCode: parked.errorCode ?? 'Unknown' };
  }
  const data = (parsed as { awslogs?: { data?: unknown } }).awslogs?.data;
  if (typeof data === 'string') {
    try {
      const payload = JSON.parse(gunzipSync(Buffer.from(data, 'base64')).toString('utf8')) as {
        logEvents?: { message: string }[];
      };
      const { events } = auditEventsFromLogLines(
        (payload.logEvents ?? []).map((event) => event.message),
        AUDIT_LOG_KEY,
      );
      return { events: events.map(toPutAuditEvent), errorCode: 'ForwarderFailed' };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Replays the audit dead-letter queue into CloudTrail Lake. A message is deleted only once every event in it
 * was ingested; anything that fails again stays in the queue (nothing is re-parked, so a run always ends).
 */
export async function redriveDeadLetters(
  sqs: SQSClient,
  client: AuditEventsClient,
  options: RedriveOptions,
): Promise<RedriveReport> {
  const progress = options.onProgress ?? (() => undefined);
  const seen = new Set<string>();
  const byErrorCode: Record<string, number> = {};
  let messages = 0;
  let events = 0;
  let redriven = 0;
  let stillFailing = 0;
  let unreadable = 0;
  let undeleted = 0;

  for (;;) {
    if (options.maxMessages !== undefined && messages >= options.maxMessages) break;
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        // In a dry run, hand the messages straight back; otherwise hide them while we work on them.
        VisibilityTimeout: options.dryRun ? 0 : 120,
      }),
    );
    const fresh = (received.Messages ?? []).filter(
      (message): message is Message & { MessageId: string; ReceiptHandle: string } => {
        if (
          message.MessageId === undefined ||
          message.ReceiptHandle === undefined ||
          seen.has(message.MessageId)
        )
          return false;
        seen.add(message.MessageId);
        return true;
      },
    );
    if (fresh.length === 0) break;

    const readable: { message: (typeof fresh)[number]; events: PutAuditEvent[] }[] = [];
    for (const message of fresh) {
      messages += 1;
      const content = eventsInMessage(message.Body ?? '');
      if (content === undefined) {
        unreadable += 1;
        continue;
      }
      byErrorCode[content.errorCode] = (byErrorCode[content.errorCode] ?? 0) + content.events.length;
      events += content.events.length;
      readable.push({ message, events: content.events });
    }
    if (options.dryRun) {
      progress(`${messages} message(s) inspected, ${events} event(s) parked`);
      continue;
    }

    const failedIds = new Set<string>();
    const keepFailures: DeadLetterSink = {
      park: async (parked: readonly ParkedEvent[]) => {
        for (const event of parked) failedIds.add(event.event.id);
      },
    };
    const report = await deliverAuditEvents(
      readable.flatMap((item) => item.events),
      client,
      keepFailures,
      { maxAttempts: 3, baseDelayMs: 200 },
    );
    redriven += report.ingested;
    stillFailing += failedIds.size;
    const done = readable.filter((item) => item.events.every((event) => !failedIds.has(event.id)));
    if (done.length > 0) {
      const deleted = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: done.map((item, index) => ({
            Id: String(index),
            ReceiptHandle: item.message.ReceiptHandle,
          })),
        }),
      );
      // A message that could not be deleted comes back later and is sent again (same event ids).
      undeleted += deleted?.Failed?.length ?? 0;
    }
    progress(
      `${messages} message(s): ${redriven} event(s) redriven, ${stillFailing} still failing, ${unreadable} unreadable`,
    );
  }
  return { messages, events, redriven, stillFailing, unreadable, undeleted, byErrorCode };
}
