import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditEventData, AuditSink } from '../core/audit-event';

/** A write after {@link JsonlAuditSink.close}: the stack is stopping, so the record cannot be kept. */
export class AuditSinkClosedError extends Error {}

/**
 * The local audit store: one CloudTrail Lake-shaped `eventData` object per line. Each write is done before
 * the decision is returned, so a failing disk refuses the request instead of losing the record.
 *
 * One append descriptor stays open for the life of the sink: opening and closing the file per event cost a
 * tenth of the local stack's CPU. Each line is one synchronous append of about a kilobyte to the page cache
 * (microseconds; cheaper than a round trip through the thread pool, and lines can never interleave). If the
 * file is removed or replaced while the stack runs (someone clears the audit store), the next write reopens
 * the path rather than appending to a file nobody can read. {@link close} syncs and closes; later writes are
 * refused.
 */
export class JsonlAuditSink implements AuditSink {
  private fd: number | undefined;
  private inode: number | undefined;
  private closed = false;

  constructor(readonly path: string) {}

  async write(event: AuditEventData): Promise<void> {
    if (this.closed) throw new AuditSinkClosedError('the audit store is closed');
    const line = Buffer.from(`${JSON.stringify(event)}\n`, 'utf8');
    try {
      const fd = this.descriptor();
      for (let offset = 0; offset < line.length; )
        offset += writeSync(fd, line, offset, line.length - offset);
    } catch (error) {
      // The descriptor may be what failed (a full or vanished disk): start afresh with the next write.
      this.release();
      throw error;
    }
  }

  /** Syncs the file to disk and releases the descriptor. Later writes are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) return;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** The open descriptor, reopened when the path no longer names the file it appends to. */
  private descriptor(): number {
    if (this.fd !== undefined) {
      if (statSync(this.path, { throwIfNoEntry: false })?.ino === this.inode) return this.fd;
      this.release();
    }
    mkdirSync(dirname(this.path), { recursive: true });
    const fd = openSync(this.path, 'a');
    this.fd = fd;
    this.inode = fstatSync(fd).ino;
    return fd;
  }

  private release(): void {
    const fd = this.fd;
    this.fd = undefined;
    this.inode = undefined;
    if (fd === undefined) return;
    try {
      closeSync(fd);
    } catch {
      // Already unusable; nothing more to release.
    }
  }
}
