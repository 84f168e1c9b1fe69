import type { ServerResponse } from 'node:http';
import { type DecisionFeed, type DecisionFilter, matches } from './decision-feed';
import { SECURITY_HEADERS } from './request-checks';

/**
 * The live decision stream as Server-Sent Events: on connect, one `history` event with the recent decisions that
 * match the filter (oldest first), then a `decision` event per new decision that matches and an `outcome` event
 * when a shown call's outcome is recorded. A reconnecting browser gets the history again (the page starts over
 * on `open`), so nothing needs replaying by id.
 *
 * Bounded: at most `maxClients` streams (more get 503), and a client that stops reading (its unsent data passes
 * `maxBufferedBytes`) is dropped rather than buffered without end. While any stream is open, the store is polled
 * every `pollMs`; with none, the console reads nothing, so an unwatched console costs the gateway nothing.
 */
export interface EventStreamOptions {
  /** @default 8 */
  readonly maxClients?: number;
  /** @default 250 */
  readonly pollMs?: number;
  /** @default 15000 */
  readonly heartbeatMs?: number;
  /** @default 1 MiB */
  readonly maxBufferedBytes?: number;
}

interface Client {
  readonly response: ServerResponse;
  readonly filter: DecisionFilter;
  /** Unsent bytes this client may hold: the bound, plus its history while that drains. */
  allowance: number;
}

export class EventStreams {
  private readonly clients = new Set<Client>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly maxClients: number;
  private readonly pollMs: number;
  private readonly heartbeatMs: number;
  private readonly maxBufferedBytes: number;

  constructor(
    private readonly feed: DecisionFeed,
    options: EventStreamOptions = {},
  ) {
    this.maxClients = options.maxClients ?? 8;
    this.pollMs = options.pollMs ?? 250;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    feed.subscribe((change) => {
      for (const client of this.clients) {
        if (!matches(change.decision, client.filter)) continue;
        if (change.kind === 'decision') this.send(client, 'decision', change.decision);
        else this.send(client, 'outcome', { uid: change.decision.uid, outcome: change.decision.outcome });
      }
    });
  }

  get size(): number {
    return this.clients.size;
  }

  /** Opens a stream on this response; false (nothing written) when the console has all the streams it takes. */
  open(response: ServerResponse, filter: DecisionFilter): boolean {
    if (this.clients.size >= this.maxClients) return false;
    this.poll();
    const client: Client = { response, filter, allowance: this.maxBufferedBytes };
    this.clients.add(client);
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      Connection: 'keep-alive',
    });
    response.write('retry: 2000\n\n');
    const history = `event: history\ndata: ${JSON.stringify(this.feed.recent(filter))}\n\n`;
    // The history may be larger than the bound (up to the ring's size): a reader that takes it is not slow.
    client.allowance = this.maxBufferedBytes + Buffer.byteLength(history, 'utf8');
    this.write(client, history);
    response.once('close', () => this.drop(client));
    // Never what keeps the process alive: the stack's stop ends the streams and these with them.
    this.timer ??= setInterval(() => this.poll(), this.pollMs).unref();
    this.heartbeat ??= setInterval(() => {
      for (const each of this.clients) this.write(each, ': keep-alive\n\n');
    }, this.heartbeatMs).unref();
    return true;
  }

  /**
   * One poll. A timer's exception would end the whole local stack (gateway, issuer and all), so nothing a poll
   * meets may escape it: the feed already never throws, and this is the second wall.
   */
  private poll(): void {
    try {
      this.feed.refresh();
    } catch {
      // the next poll tries again
    }
  }

  /** Ends every stream and stops polling (the stack is stopping). */
  close(): void {
    for (const client of [...this.clients]) {
      client.response.end();
      this.drop(client);
    }
  }

  private send(client: Client, event: string, data: unknown): void {
    // JSON.stringify escapes newlines inside strings, so one `data:` line carries any value intact.
    this.write(client, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(client: Client, chunk: string): void {
    if (client.response.writableLength > client.allowance) {
      client.response.destroy();
      this.drop(client);
      return;
    }
    client.response.write(chunk);
  }

  private drop(client: Client): void {
    this.clients.delete(client);
    if (this.clients.size > 0) return;
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    this.timer = undefined;
    this.heartbeat = undefined;
  }
}
