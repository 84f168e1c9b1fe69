import { statSync } from 'node:fs';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEventData, AuditSink } from '../core/audit-event';

/** A write after {@link JsonlAuditSink.close}: the stack is stopping, so the record cannot be kept. */
export class AuditSinkClosedError extends Error {}

interface PendingLine {
  readonly text: string;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The local audit store: one CloudTrail Lake-shaped `eventData` object per line. Each write is awaited before
 * the decision is returned, so a failing disk refuses the request instead of losing the record.
 *
 * One append handle stays open for the life of the sink (opening and closing the file per event cost a tenth
 * of the local stack's CPU). Lines that arrive while a write is in flight are appended together in the next
 * write, in arrival order, so concurrent requests never interleave partial lines. If the file is removed or
 * replaced while the stack runs (someone clears the audit store), the next write reopens the path rather than
 * appending to a file nobody can read. {@link close} writes everything still queued, syncs and closes.
 */
export class JsonlAuditSink implements AuditSink {
  private handle: FileHandle | undefined;
  private inode: number | undefined;
  private queue: PendingLine[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(readonly path: string) {}

  write(event: AuditEventData): Promise<void> {
    if (this.closed) return Promise.reject(new AuditSinkClosedError('the audit store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ text: `${JSON.stringify(event)}\n`, resolve, reject });
      this.flushing ??= this.drain();
    });
  }

  /** Writes what is queued, syncs the file to disk and releases the handle. Later writes are refused. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing !== undefined) await this.flushing;
    const handle = this.handle;
    this.handle = undefined;
    if (handle === undefined) return;
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          const handle = await this.appendHandle();
          await writeAll(
            handle,
            Buffer.from(
              batch.length === 1 ? (batch[0] as PendingLine).text : batch.map((line) => line.text).join(''),
              'utf8',
            ),
          );
          for (const line of batch) line.resolve();
        } catch (error) {
          // The handle may be what failed (a full or vanished disk): start afresh with the next write.
          await this.release();
          for (const line of batch) line.reject(error);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** The open handle, reopened when the path no longer names the file it appends to. */
  private async appendHandle(): Promise<FileHandle> {
    if (this.handle !== undefined) {
      // One synchronous stat (a microsecond) rather than a round trip through the thread pool.
      if (statSync(this.path, { throwIfNoEntry: false })?.ino === this.inode) return this.handle;
      await this.release();
    }
    await mkdir(dirname(this.path), { recursive: true });
    const handle = await open(this.path, 'a');
    this.handle = handle;
    this.inode = (await handle.stat()).ino;
    return handle;
  }

  private async release(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.inode = undefined;
    await handle?.close().catch(() => undefined);
  }
}

/** One write(2) in practice; loops should the kernel take only part of the buffer (writes are serialised here). */
async function writeAll(handle: FileHandle, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset);
    offset += bytesWritten;
  }
}
