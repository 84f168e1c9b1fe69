import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterSink, ParkedEvent, PutAuditEvent } from '../core/audit-delivery';

/** The message body of one parked audit event: what `mcp-identity audit redrive` reads back. */
export interface ParkedAuditMessage {
  readonly kind: 'mcp-identity.parked-audit-event';
  readonly errorCode: string;
  readonly reason: string;
  readonly attempts: number;
  readonly parkedAt: string;
  readonly event: PutAuditEvent;
}

const SQS_BATCH = 10;
/** Under SendMessageBatch's total payload limit, with room for attributes. */
const SQS_BATCH_BYTES = 200 * 1024;

/** Parks events in the SQS dead-letter queue, one message per event, in batches of 10. Throws on any failure. */
export class SqsDeadLetters implements DeadLetterSink {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async park(events: readonly ParkedEvent[]): Promise<void> {
    const messages = events.map((parked) => ({
      errorCode: parked.errorCode,
      body: JSON.stringify({
        kind: 'mcp-identity.parked-audit-event',
        errorCode: parked.errorCode,
        reason: parked.reason,
        attempts: parked.attempts,
        parkedAt: this.now().toISOString(),
        event: parked.event,
      } satisfies ParkedAuditMessage),
    }));
    // SendMessageBatch takes at most 10 messages and a bounded total size: batch by both.
    let batch: typeof messages = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const result = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((message, index) => ({
            Id: String(index),
            MessageBody: message.body,
            MessageAttributes: { errorCode: { DataType: 'String', StringValue: message.errorCode } },
          })),
        }),
      );
      if ((result.Failed ?? []).length > 0) {
        throw new Error(
          `the dead-letter queue refused ${result.Failed?.length} message(s): ${result.Failed?.[0]?.Code ?? 'unknown'}`,
        );
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
