import { gunzipSync } from 'node:zlib';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type AuditEventsClient,
  auditEventsFromLogLines,
  type DeadLetterSink,
  type DeliveryLedger,
  type DeliveryOptions,
  deliverAuditEvents,
  MemoryDeliveryLedger,
  type ParkedEvent,
  type PutAuditEvent,
  toPutAuditEvent,
} from '../core/audit-delivery';
import { AUDIT_LOG_KEY } from './log-audit-sink';
import type { ParkedEventReader, StoredEventRef } from './s3-parked-events';

export interface RedriveOptions {
  readonly queueUrl: string;
  /** Report what is parked without sending or deleting anything. */
  readonly dryRun: boolean;
  /** Stop after this many messages. @default unlimited */
  readonly maxMessages?: number;
  readonly onProgress?: (line: string) => void;
  /**
   * The delivered-UID table, so events the forwarder (or an earlier run) delivered are not sent again.
   * @default - an in-memory ledger: events carried by two messages are still sent once per run
   */
  readonly ledger?: DeliveryLedger;
  /** Reads events parked in S3 behind pointer messages. @default - none: such messages stay queued */
  readonly storedEvents?: ParkedEventReader;
  /** Consecutive receives that bring no new message before the run ends. @default 2 */
  readonly emptyReceives?: number;
  /** Overrides for the delivery of each received batch (tests). */
  readonly delivery?: Partial<DeliveryOptions>;
}

export interface RedriveReport {
  readonly messages: number;
  /** Events in those messages (an event carried by two messages counts twice). */
  readonly events: number;
  /** Distinct event ids in those messages. */
  readonly uniqueEvents: number;
  /** Messages that point at an event stored in S3 (too large for a message). */
  readonly stored: number;
  readonly redriven: number;
  /** Events skipped because they were already delivered (by the forwarder, an earlier run or another message). */
  readonly alreadyDelivered: number;
  /** Events sent again after a request whose outcome was unknown: each may have made a copy. */
  readonly unknownOutcomeResends: number;
  /** Events that failed again; their messages stay in the queue. */
  readonly stillFailing: number;
  /** Messages that are neither parked events nor subscription payloads; left in the queue. */
  readonly unreadable: number;
  /** Redriven messages SQS failed to delete: they will reappear (the ledger then skips their events). */
  readonly undeleted: number;
  readonly byErrorCode: Readonly<Record<string, number>>;
}

export interface DeadLetterContent {
  /** The events carried in the message itself. */
  readonly events: PutAuditEvent[];
  readonly errorCode: string;
  /** An event stored in S3 because it was too large for a message. */
  readonly stored?: { readonly eventId: string; readonly ref: StoredEventRef };
  /** The forwarder got no answer for its last request carrying this event. */
  readonly outcomeUnknown?: boolean;
}

/**
 * The events a dead-letter message holds: one parked event (written by the forwarder, in the message or as a
 * pointer to S3), or a whole CloudWatch Logs subscription payload (parked by Lambda after the forwarder failed
 * on it).
 */
export function eventsInMessage(body: string): DeadLetterContent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parked = parsed as {
    kind?: unknown;
    errorCode?: string;
    outcomeUnknown?: unknown;
    event?: Partial<PutAuditEvent>;
    eventId?: unknown;
    stored?: Partial<StoredEventRef>;
  };
  if (parked?.kind === 'mcp-identity.parked-audit-event') {
    const errorCode = parked.errorCode ?? 'Unknown';
    const unknown = parked.outcomeUnknown === true ? { outcomeUnknown: true } : {};
    if (parked.event && typeof parked.event.id === 'string' && typeof parked.event.eventData === 'string')
      return { events: [parked.event as PutAuditEvent], errorCode, ...unknown };
    const stored = parked.stored;
    if (
      typeof parked.eventId === 'string' &&
      typeof stored?.bucket === 'string' &&
      typeof stored.key === 'string'
    )
      return {
        events: [],
        errorCode,
        stored: {
          eventId: parked.eventId,
          ref: { bucket: stored.bucket, key: stored.key, bytes: Number(stored.bytes ?? 0) },
        },
        ...unknown,
      };
    return undefined;
  }
  const data = (parsed as { awslogs?: { data?: unknown } })?.awslogs?.data;
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

/** How long a dry run hides what it has read, so that every receive brings messages it has not counted yet. */
export const DRY_RUN_VISIBILITY_SECONDS = 300;
/** How long a run hides a message while delivering its events. */
export const RUN_VISIBILITY_SECONDS = 120;

type Received = Message & { MessageId: string; ReceiptHandle: string };

/**
 * Replays the audit dead-letter queue into CloudTrail Lake.
 *
 * Counting: every receive hides the messages it returns (visibility timeout), so the next receive brings
 * others; the scan ends after `emptyReceives` receives in a row bring nothing new, and whatever is left in the
 * queue (all of it in a dry run) is made visible again at the end. (A visibility timeout of 0 hands the same
 * messages straight back, and a scan that stops at the first repeat undercounts.)
 *
 * Delivering: a message is deleted once every event in it was ingested or is known delivered (the ledger
 * says so, or another message in this run carried it); events carried by several messages are sent once.
 * Anything that fails again stays in the queue (nothing is re-parked, so a run always ends).
 */
export async function redriveDeadLetters(
  sqs: SQSClient,
  client: AuditEventsClient,
  options: RedriveOptions,
): Promise<RedriveReport> {
  const progress = options.onProgress ?? (() => undefined);
  const ledger = options.ledger ?? new MemoryDeliveryLedger();
  const emptyReceives = options.emptyReceives ?? 2;
  const seen = new Set<string>();
  const ids = new Set<string>();
  /** Messages received and left in the queue: made visible again at the end (latest receipt handle). */
  const leftInQueue = new Map<string, string>();
  const byErrorCode: Record<string, number> = {};
  let messages = 0;
  let events = 0;
  let stored = 0;
  let redriven = 0;
  let alreadyDelivered = 0;
  let unknownOutcomeResends = 0;
  let stillFailing = 0;
  let unreadable = 0;
  let undeleted = 0;

  for (let empty = 0; empty < emptyReceives; ) {
    const remaining = options.maxMessages === undefined ? 10 : options.maxMessages - messages;
    if (remaining <= 0) break;
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: Math.min(10, remaining),
        WaitTimeSeconds: 1,
        VisibilityTimeout: options.dryRun ? DRY_RUN_VISIBILITY_SECONDS : RUN_VISIBILITY_SECONDS,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    const fresh: Received[] = [];
    for (const message of received?.Messages ?? []) {
      if (message.MessageId === undefined || message.ReceiptHandle === undefined) continue;
      if (seen.has(message.MessageId)) {
        // Back already (its visibility ran out): only the newest receipt handle can change it.
        if (leftInQueue.has(message.MessageId)) leftInQueue.set(message.MessageId, message.ReceiptHandle);
        continue;
      }
      seen.add(message.MessageId);
      fresh.push(message as Received);
    }
    if (fresh.length === 0) {
      empty += 1;
      continue;
    }
    empty = 0;

    const readable: { message: Received; content: DeadLetterContent }[] = [];
    for (const message of fresh) {
      messages += 1;
      const content = eventsInMessage(message.Body ?? '');
      if (content === undefined) {
        unreadable += 1;
        leftInQueue.set(message.MessageId, message.ReceiptHandle);
        continue;
      }
      const count = content.events.length + (content.stored === undefined ? 0 : 1);
      byErrorCode[content.errorCode] = (byErrorCode[content.errorCode] ?? 0) + count;
      events += count;
      if (content.stored !== undefined) {
        stored += 1;
        ids.add(content.stored.eventId);
      }
      for (const event of content.events) ids.add(event.id);
      readable.push({ message, content });
    }
    if (options.dryRun) {
      for (const message of fresh) leftInQueue.set(message.MessageId, message.ReceiptHandle);
      progress(`${messages} message(s) inspected, ${events} event(s) parked`);
      continue;
    }

    // Events stored in S3 are read back; a message whose event cannot be read stays queued.
    const work: { message: Received; events: PutAuditEvent[] }[] = [];
    for (const { message, content } of readable) {
      const carried = [...content.events];
      if (content.stored !== undefined) {
        try {
          if (options.storedEvents === undefined) throw new Error('no reader for stored events');
          carried.push(await options.storedEvents.get(content.stored.ref));
        } catch {
          stillFailing += 1;
          leftInQueue.set(message.MessageId, message.ReceiptHandle);
          continue;
        }
      }
      work.push({ message, events: carried });
    }

    const settled = new Set<string>();
    const failedIds = new Set<string>();
    const keepFailures: DeadLetterSink = {
      park: async (parked: readonly ParkedEvent[]) => {
        for (const event of parked) failedIds.add(event.event.id);
      },
    };
    const report = await deliverAuditEvents(
      work.flatMap((item) => item.events),
      client,
      keepFailures,
      {
        maxAttempts: 3,
        baseDelayMs: 200,
        busyWaitMs: 2000,
        ledger,
        onSettled: (done) => {
          for (const id of done) settled.add(id);
        },
        ...options.delivery,
      },
    );
    redriven += report.ingested;
    alreadyDelivered += report.alreadyDelivered + report.duplicates;
    unknownOutcomeResends += report.unknownOutcomeResends;
    stillFailing += failedIds.size;
    const done: typeof work = [];
    for (const item of work) {
      if (item.events.every((event) => settled.has(event.id))) done.push(item);
      else leftInQueue.set(item.message.MessageId, item.message.ReceiptHandle);
    }
    for (let start = 0; start < done.length; start += 10) {
      const chunk = done.slice(start, start + 10);
      const deleted = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: chunk.map((item, index) => ({
            Id: String(index),
            ReceiptHandle: item.message.ReceiptHandle,
          })),
        }),
      );
      // A message that could not be deleted comes back later; the ledger then knows its events delivered.
      undeleted += deleted?.Failed?.length ?? 0;
    }
    progress(
      `${messages} message(s): ${redriven} event(s) redriven, ${alreadyDelivered} already delivered, ${stillFailing} still failing, ${unreadable} unreadable`,
    );
  }

  // Whatever was read and left in the queue is visible again for the next run (or the next dry run).
  const handles = [...leftInQueue.values()];
  for (let start = 0; start < handles.length; start += 10) {
    try {
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: handles.slice(start, start + 10).map((handle, index) => ({
            Id: String(index),
            ReceiptHandle: handle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    } catch {
      // They come back on their own when their visibility timeout ends.
    }
  }
  return {
    messages,
    events,
    uniqueEvents: ids.size,
    stored,
    redriven,
    alreadyDelivered,
    unknownOutcomeResends,
    stillFailing,
    unreadable,
    undeleted,
    byErrorCode,
  };
}
