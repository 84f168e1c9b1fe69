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

/** Parks events in the SQS dead-letter queue, one message per event, in batches of 10. Throws on any failure. */
export class SqsDeadLetters implements DeadLetterSink {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async park(events: readonly ParkedEvent[]): Promise<void> {
    for (let start = 0; start < events.length; start += SQS_BATCH) {
      const chunk = events.slice(start, start + SQS_BATCH);
      const result = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((parked, index) => ({
            Id: String(index),
            MessageBody: JSON.stringify({
              kind: 'mcp-identity.parked-audit-event',
              errorCode: parked.errorCode,
              reason: parked.reason,
              attempts: parked.attempts,
              parkedAt: this.now().toISOString(),
              event: parked.event,
            } satisfies ParkedAuditMessage),
            MessageAttributes: { errorCode: { DataType: 'String', StringValue: parked.errorCode } },
          })),
        }),
      );
      if ((result.Failed ?? []).length > 0) {
        throw new Error(
          `the dead-letter queue refused ${result.Failed?.length} message(s): ${result.Failed?.[0]?.Code ?? 'unknown'}`,
        );
      }
    }
  }
}
