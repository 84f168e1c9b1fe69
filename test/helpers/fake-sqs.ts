import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/**
 * In-process stand-ins for the SQS queue and S3 bucket the audit pipeline parks events in, at the level of the
 * SDK's `client.send(command)`: they keep real queue semantics (visibility timeouts, receipt handles that change
 * on every receive, receives that sample the visible messages like SQS's distributed servers do), check the
 * documented limits (10 entries, 256 KiB per message and per batch, unique entry ids, timeout ranges), and
 * inject the faults the fault tests need: a batch accepted and then sent again by the SDK (two messages), a
 * request that fails, a kill hook.
 */

export const SQS_LIMIT_BYTES = 256 * 1024;

interface QueuedMessage {
  readonly id: string;
  readonly body: string;
  receipt: string;
  invisibleUntil: number;
  receives: number;
}

export type SqsFault = 'ok' | 'resend' | 'fail';

export class FakeSqs {
  readonly violations: string[] = [];
  readonly messages = new Map<string, QueuedMessage>();
  private sequence = 0;
  /** Called before each SendMessageBatch: the fault to inject. */
  sendFault: (entries: number) => SqsFault = () => 'ok';

  constructor(
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  get client(): SQSClient {
    return { send: (command: unknown) => this.send(command) } as unknown as SQSClient;
  }

  /** The messages in the queue (visible or not). */
  bodies(): string[] {
    return [...this.messages.values()].map((message) => message.body);
  }

  enqueue(body: string): void {
    this.sequence += 1;
    const id = `m-${this.sequence}`;
    this.messages.set(id, { id, body, receipt: '', invisibleUntil: 0, receives: 0 });
  }

  async send(command: unknown): Promise<unknown> {
    if (command instanceof SendMessageBatchCommand) {
      const entries = command.input.Entries ?? [];
      if (entries.length < 1 || entries.length > 10) this.violations.push(`batch of ${entries.length}`);
      if (new Set(entries.map((entry) => entry.Id)).size !== entries.length)
        this.violations.push('duplicate entry ids');
      let total = 0;
      for (const entry of entries) {
        const size =
          Buffer.byteLength(entry.MessageBody ?? '') +
          Object.entries(entry.MessageAttributes ?? {}).reduce(
            (sum, [name, value]) =>
              sum +
              Buffer.byteLength(name) +
              Buffer.byteLength(value.DataType ?? '') +
              Buffer.byteLength(value.StringValue ?? ''),
            0,
          );
        if (size > SQS_LIMIT_BYTES) this.violations.push(`message of ${size} bytes exceeds 256 KiB`);
        total += size;
      }
      if (total > SQS_LIMIT_BYTES) this.violations.push(`batch of ${total} bytes exceeds 256 KiB`);
      const fault = this.sendFault(entries.length);
      if (fault === 'fail') throw Object.assign(new Error('injected SQS failure'), { name: 'InternalError' });
      // 'resend': SQS accepted the batch, the answer was lost, and the SDK sent it again.
      for (let copy = 0; copy < (fault === 'resend' ? 2 : 1); copy += 1)
        for (const entry of entries) this.enqueue(entry.MessageBody ?? '');
      return { Successful: entries.map((entry) => ({ Id: entry.Id })), Failed: [] };
    }
    if (command instanceof ReceiveMessageCommand) {
      const { MaxNumberOfMessages = 1, VisibilityTimeout = 30, WaitTimeSeconds = 0 } = command.input;
      if (MaxNumberOfMessages < 1 || MaxNumberOfMessages > 10) this.violations.push('MaxNumberOfMessages');
      if (VisibilityTimeout < 0 || VisibilityTimeout > 43_200) this.violations.push('VisibilityTimeout');
      if (WaitTimeSeconds < 0 || WaitTimeSeconds > 20) this.violations.push('WaitTimeSeconds');
      const now = this.now();
      const visible = [...this.messages.values()].filter((message) => message.invisibleUntil <= now);
      // Sampled, as SQS's servers do: not necessarily the oldest, and possibly the same ones again.
      const picked: QueuedMessage[] = [];
      while (picked.length < MaxNumberOfMessages && visible.length > 0)
        picked.push(visible.splice(Math.floor(this.random() * visible.length), 1)[0] as QueuedMessage);
      for (const message of picked) {
        message.receives += 1;
        message.receipt = `${message.id}#${message.receives}`;
        message.invisibleUntil = now + VisibilityTimeout * 1000;
      }
      return {
        Messages: picked.map((message) => ({
          MessageId: message.id,
          ReceiptHandle: message.receipt,
          Body: message.body,
        })),
      };
    }
    if (command instanceof DeleteMessageBatchCommand) {
      const entries = command.input.Entries ?? [];
      if (entries.length < 1 || entries.length > 10)
        this.violations.push(`delete batch of ${entries.length}`);
      const failed: { Id: string; Code: string; SenderFault: boolean }[] = [];
      for (const entry of entries) {
        const message = [...this.messages.values()].find((item) => item.receipt === entry.ReceiptHandle);
        if (message === undefined)
          failed.push({ Id: entry.Id ?? '', Code: 'ReceiptHandleIsInvalid', SenderFault: true });
        else this.messages.delete(message.id);
      }
      return { Successful: [], Failed: failed };
    }
    if (command instanceof ChangeMessageVisibilityBatchCommand) {
      for (const entry of command.input.Entries ?? []) {
        const message = [...this.messages.values()].find((item) => item.receipt === entry.ReceiptHandle);
        if (message !== undefined)
          message.invisibleUntil = this.now() + (entry.VisibilityTimeout ?? 0) * 1000;
      }
      return { Successful: [], Failed: [] };
    }
    throw new Error(`FakeSqs does not serve ${(command as object)?.constructor?.name}`);
  }
}

/** An in-process S3 bucket for parked events: PutObject and GetObject, with a fault hook on puts. */
export class FakeS3 {
  readonly objects = new Map<string, string>();
  putFault: () => 'ok' | 'fail' = () => 'ok';

  get client(): S3Client {
    return { send: (command: unknown) => this.send(command) } as unknown as S3Client;
  }

  async send(command: unknown): Promise<unknown> {
    if (command instanceof PutObjectCommand) {
      if (this.putFault() === 'fail')
        throw Object.assign(new Error('injected S3 failure'), { name: 'InternalError' });
      this.objects.set(`${command.input.Bucket}/${command.input.Key}`, String(command.input.Body));
      return {};
    }
    if (command instanceof GetObjectCommand) {
      const body = this.objects.get(`${command.input.Bucket}/${command.input.Key}`);
      if (body === undefined) throw Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey' });
      return { Body: { transformToString: async () => body } };
    }
    throw new Error(`FakeS3 does not serve ${(command as object)?.constructor?.name}`);
  }
}
