import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterSink, ParkedEvent, PutAuditEvent } from '../core/audit-delivery';
import type { ParkedEventStore, StoredEventRef } from './s3-parked-events';

/**
 * The message body of one parked audit event: what `mcp-identity audit redrive` reads back. The event is in
 * the message (`event`), or, when that would not fit in a queue message, in S3 (`stored`, with its id).
 */
export type ParkedAuditMessage = {
  readonly kind: 'mcp-identity.parked-audit-event';
  readonly errorCode: string;
  readonly reason: string;
  readonly attempts: number;
  readonly parkedAt: string;
  /** Its last request got no answer: the service may hold it already. */
  readonly outcomeUnknown?: boolean;
} & ({ readonly event: PutAuditEvent } | { readonly eventId: string; readonly stored: StoredEventRef });

const SQS_BATCH = 10;
/** Under SendMessageBatch's total payload limit, with room for attributes. */
const SQS_BATCH_BYTES = 200 * 1024;
/** SQS's message size limit (256 KiB, body and attributes). */
export const SQS_MESSAGE_BYTES = 256 * 1024;
/** A parked message larger than this goes to S3 with a pointer message: 4 KiB left for the attributes. */
export const INLINE_MESSAGE_BYTES = SQS_MESSAGE_BYTES - 4 * 1024;
/** Sends of the entries SendMessageBatch refused as the service's fault (not the sender's). */
const SEND_ATTEMPTS = 3;

/**
 * Parks events in the SQS dead-letter queue, one message per event, in batches of 10. An event too large for a
 * message is stored in S3 and parked as a pointer, so one oversized event never fails the invocation (and so
 * never makes Lambda replay the whole delivery). Throws when an event cannot be parked at all.
 */
export class SqsDeadLetters implements DeadLetterSink {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly now: () => Date = () => new Date(),
    /** Where oversized events go. @default - none: parking one throws */
    private readonly store?: ParkedEventStore,
  ) {}

  async park(events: readonly ParkedEvent[]): Promise<void> {
    const messages: { errorCode: string; body: string }[] = [];
    for (const parked of events) {
      const parkedAt = this.now();
      const header = {
        kind: 'mcp-identity.parked-audit-event' as const,
        errorCode: parked.errorCode,
        reason: parked.reason,
        attempts: parked.attempts,
        parkedAt: parkedAt.toISOString(),
        ...(parked.outcomeUnknown ? { outcomeUnknown: true } : {}),
      };
      let body = JSON.stringify({ ...header, event: parked.event } satisfies ParkedAuditMessage);
      if (Buffer.byteLength(body, 'utf8') > INLINE_MESSAGE_BYTES) {
        if (this.store === undefined)
          throw new Error(
            `parked event ${parked.event.id} exceeds the queue's message size and no parking bucket is configured`,
          );
        const stored = await this.store.put(parked.event, parkedAt);
        body = JSON.stringify({ ...header, eventId: parked.event.id, stored } satisfies ParkedAuditMessage);
      }
      messages.push({ errorCode: parked.errorCode, body });
    }
    // SendMessageBatch takes at most 10 messages and a bounded total size: batch by both.
    let batch: typeof messages = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      let entries = batch.map((message, index) => ({
        Id: String(index),
        MessageBody: message.body,
        MessageAttributes: { errorCode: { DataType: 'String', StringValue: message.errorCode } },
      }));
      for (let attempt = 1; entries.length > 0; attempt += 1) {
        const result = await this.client.send(
          new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }),
        );
        const failed = result.Failed ?? [];
        if (failed.length === 0) break;
        // Entries refused for the service's own reasons are sent again (only those: the rest are queued);
        // anything refused as our fault, or still refused, fails the invocation.
        if (attempt >= SEND_ATTEMPTS || failed.some((entry) => entry.SenderFault)) {
          throw new Error(
            `the dead-letter queue refused ${failed.length} message(s): ${failed[0]?.Code ?? 'unknown'}`,
          );
        }
        const again = new Set(failed.map((entry) => entry.Id));
        entries = entries.filter((entry) => again.has(entry.Id));
      }
      batch = [];
      bytes = 0;
    };
    for (const message of messages) {
      const size = Buffer.byteLength(message.body, 'utf8') + 100;
      if (batch.length >= SQS_BATCH || bytes + size > SQS_BATCH_BYTES) await flush();
      batch.push(message);
      bytes += size;
    }
    await flush();
  }
}
