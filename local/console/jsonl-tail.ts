import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

/**
 * Reads a growing JSONL file incrementally: each {@link JsonlTail.read} returns only the lines appended since the
 * previous one, from the last offset — the file is never read again from the top while it grows.
 *
 * Written by hand because what npm offers either follows with `fs.watch` only (unreliable for a file replaced
 * under it) or re-reads from the start; here the caller decides when to read (a poll), and the three things a
 * local audit store really does are handled:
 * - a line still being written (no newline yet) waits for the next read;
 * - the file truncated (someone cleared it: size below the offset) or replaced (new inode: rotated, removed and
 *   recreated) is read again from its start;
 * - a line that is not JSON (hand-edited, cut by a crash) is counted and skipped, never fatal.
 * The tail never reads more than `windowBytes` behind the end of the file: on the first read, and whenever it
 * has fallen further behind (nobody polled while the store grew), it skips ahead to the window, starting at the
 * first whole line within it — a console wants the recent past, and reading megabytes it would drop anyway would
 * block the gateway's event loop. Each read takes at most `maxReadBytes`; the rest comes with the next read.
 */
export interface JsonlTailOptions {
  /** How far behind the end of the file a read may start (the first read takes this much). @default 2 MiB */
  readonly windowBytes?: number;
  /** The most one read takes; bounds memory per read. @default 8 MiB */
  readonly maxReadBytes?: number;
  /** A longer line is skipped (counted as unreadable) rather than buffered. @default 1 MiB */
  readonly maxLineBytes?: number;
}

export interface TailRead {
  /** Each appended line, parsed. */
  readonly values: unknown[];
  /** Lines that were not JSON, or too long, since the previous read. */
  readonly unreadable: number;
  /** True when this read started the file over (first read, truncation, replacement). */
  readonly restarted: boolean;
  /** Bytes passed over because they were more than `windowBytes` behind the end. */
  readonly skippedBytes: number;
}

const NEWLINE = 0x0a;

export class JsonlTail {
  private offset = 0;
  private inode: number | undefined;
  /** The start of a line whose newline has not been written yet. */
  private pending: Buffer = Buffer.alloc(0);
  /** Drop everything up to the next newline (the window began mid-line, or a line grew too long). */
  private skipping = false;
  private readonly windowBytes: number;
  private readonly maxReadBytes: number;
  private readonly maxLineBytes: number;

  constructor(
    readonly path: string,
    options: JsonlTailOptions = {},
  ) {
    this.windowBytes = options.windowBytes ?? 2 * 1024 * 1024;
    this.maxReadBytes = options.maxReadBytes ?? 8 * 1024 * 1024;
    this.maxLineBytes = options.maxLineBytes ?? 1024 * 1024;
  }

  read(): TailRead {
    const stat = statSync(this.path, { throwIfNoEntry: false });
    if (stat === undefined || !stat.isFile()) {
      // Not there (yet): the next file under this name is read from its beginning.
      const restarted = this.inode !== undefined;
      this.inode = undefined;
      this.offset = 0;
      this.pending = Buffer.alloc(0);
      this.skipping = false;
      return { values: [], unreadable: 0, restarted, skippedBytes: 0 };
    }
    let restarted = false;
    if (this.inode !== stat.ino || stat.size < this.offset) {
      restarted = true;
      this.inode = stat.ino;
      this.offset = 0;
      this.pending = Buffer.alloc(0);
      this.skipping = false;
    }
    let skippedBytes = 0;
    const behind = stat.size - this.offset;
    if (behind > this.windowBytes) {
      // Read from the byte before the window and drop up to the first newline, so a window that starts exactly
      // on a line keeps that line.
      const start = stat.size - this.windowBytes - 1;
      skippedBytes = start - this.offset;
      this.offset = start;
      this.pending = Buffer.alloc(0);
      this.skipping = true;
    }
    const chunk = this.readFrom(stat.size);
    return { ...this.lines(chunk), restarted, skippedBytes };
  }

  private readFrom(size: number): Buffer {
    const length = Math.min(size - this.offset, this.maxReadBytes);
    if (length <= 0) return Buffer.alloc(0);
    const fd = openSync(this.path, 'r');
    try {
      // The descriptor may name a newer file than the stat did (replaced in between): read nothing this time.
      if (fstatSync(fd).ino !== this.inode) return Buffer.alloc(0);
      const buffer = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const got = readSync(fd, buffer, filled, length - filled, this.offset + filled);
        if (got === 0) break;
        filled += got;
      }
      this.offset += filled;
      return buffer.subarray(0, filled);
    } finally {
      closeSync(fd);
    }
  }

  private lines(chunk: Buffer): { values: unknown[]; unreadable: number } {
    const values: unknown[] = [];
    let unreadable = 0;
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, end);
      start = end + 1;
      if (this.skipping) {
        this.skipping = false;
        this.pending = Buffer.alloc(0);
        continue;
      }
      const line = this.pending.length === 0 ? piece : Buffer.concat([this.pending, piece]);
      this.pending = Buffer.alloc(0);
      if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) continue;
      if (line.length > this.maxLineBytes) {
        unreadable += 1;
        continue;
      }
      try {
        values.push(JSON.parse(line.toString('utf8')));
      } catch {
        unreadable += 1;
      }
    }
    const rest = chunk.subarray(start);
    if (!this.skipping && rest.length > 0) {
      if (this.pending.length + rest.length > this.maxLineBytes) {
        // Too long to be one of ours: drop it up to its newline instead of buffering without bound.
        unreadable += 1;
        this.pending = Buffer.alloc(0);
        this.skipping = true;
      } else this.pending = Buffer.concat([this.pending, rest]);
    }
    return { values, unreadable };
  }
}
