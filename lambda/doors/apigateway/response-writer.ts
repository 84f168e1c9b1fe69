import type { Writable } from 'node:stream';
import type { OpenHttpResponse, ResponseStream, StreamMetadata } from './http-stream';
import { KEEP_ALIVE, SSE_HEADERS, sseMessage, streamMetadata } from './proxy';

/**
 * One streamed HTTP response, written in order. The metadata (status, headers) is committed by the first write
 * and cannot change after it — so the door writes nothing until it knows what it answers. While the upstream is
 * quiet, keep-alive comments can be sent: before anything is committed that turns the answer into an SSE stream
 * (200, `text/event-stream`), into which the final JSON-RPC message is then written as an event; after an SSE
 * commit they go between events. They never go into a plain JSON body.
 */
export class ResponseWriter {
  private out: Writable | undefined;
  private mode: 'pending' | 'sse' | 'raw' = 'pending';
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private keepAliveMs = 0;
  private failure: Error | undefined;

  constructor(
    private readonly stream: ResponseStream,
    private readonly open: OpenHttpResponse,
  ) {}

  /** Whether the status and headers are already on their way. */
  get committed(): boolean {
    return this.mode !== 'pending';
  }

  /** Whether the answer is an SSE stream (so further messages go as events). */
  get sse(): boolean {
    return this.mode === 'sse';
  }

  /** Sends an SSE comment after every `ms` of silence. */
  keepAlive(ms: number): void {
    this.keepAliveMs = ms;
    this.arm();
  }

  /** Commits the metadata (once) and writes the first chunk: a response's status is set here or never. */
  async begin(metadata: StreamMetadata, chunk: string | Uint8Array, sse: boolean): Promise<void> {
    await this.enqueue(() => {
      if (this.mode === 'pending') {
        this.opened(metadata);
        this.mode = sse ? 'sse' : 'raw';
      }
      return this.raw(chunk);
    });
  }

  /** Writes after {@link begin}. */
  async write(chunk: string | Uint8Array): Promise<void> {
    await this.enqueue(() => this.raw(chunk));
  }

  /**
   * A complete JSON answer: its own status and body when nothing is committed yet; a message event of the SSE
   * stream otherwise (the status is already sent).
   */
  async answer(metadata: StreamMetadata, message: unknown): Promise<void> {
    await this.quiet();
    if (this.committed) {
      if (this.sse) await this.write(sseMessage(message));
      return;
    }
    await this.begin(metadata, JSON.stringify(message), false);
  }

  /** Ends the response; a response with no write still sends its metadata (an empty write starts it). */
  async end(metadata?: StreamMetadata): Promise<void> {
    this.stop();
    await this.enqueue(async () => {
      if (this.mode === 'pending') {
        this.opened(metadata ?? streamMetadata(204, {}));
        this.mode = 'raw';
        await this.raw('');
      }
      const out = this.out as Writable;
      await new Promise<void>((resolve) => out.end(() => resolve()));
    });
  }

  /**
   * Stops keep-alives and waits for one already on its way, so {@link committed} is final: a final answer must
   * know whether it goes as its own body or as an event of a stream a keep-alive just started.
   */
  async quiet(): Promise<void> {
    this.stop();
    await this.queue;
  }

  /** Stops keep-alives (the answer is complete, or failed). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.keepAliveMs = 0;
  }

  private arm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.keepAliveMs <= 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.enqueue(() => {
        if (this.keepAliveMs <= 0 || this.mode === 'raw') return Promise.resolve();
        if (this.mode === 'pending') {
          this.opened(streamMetadata(200, SSE_HEADERS));
          this.mode = 'sse';
        }
        return this.raw(KEEP_ALIVE);
      }).catch(() => {
        // A failed keep-alive surfaces on the next real write.
      });
    }, this.keepAliveMs);
    this.timer.unref();
  }

  private opened(metadata: StreamMetadata): void {
    const out = this.open(this.stream, metadata);
    // A client that went away makes the stream fail: kept, so the next write rejects instead of crashing.
    out.on('error', (error: Error) => {
      this.failure ??= error;
    });
    this.out = out;
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(step);
    // The queue goes on after a failed step; the caller of that step sees the failure.
    this.queue = next.catch(() => {});
    return next;
  }

  private raw(chunk: string | Uint8Array): Promise<void> {
    const out = this.out as Writable;
    if (this.failure !== undefined) return Promise.reject(this.failure);
    this.arm();
    return new Promise<void>((resolve, reject) => {
      const ok = out.write(chunk, (error) => {
        if (error) reject(error);
      });
      if (ok) resolve();
      else out.once('drain', () => resolve());
    });
  }
}
