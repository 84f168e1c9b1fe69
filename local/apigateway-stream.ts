import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import {
  decodeStreamedResponse,
  PRELUDE_DELIMITER,
  type ResponseStream,
  type StreamMetadata,
} from '../lambda/doors/apigateway/http-stream';

/**
 * The response stream a `streamifyResponse` handler writes to, as API Gateway reads it in STREAM transfer mode
 * (CONTRACTS §7c): bytes up to the first eight NULs are the metadata JSON (status, headers, multi-value headers,
 * cookies); once that is read the status and headers go to the client, and every later byte is passed on as it
 * is written — so an SSE answer reaches the client event by event. Output without a valid prelude is a 502.
 */

/** How much output may precede the delimiter before it is judged not to be a prelude. */
const MAX_PRELUDE_BYTES = 256 * 1024;
const DELIMITER = Buffer.from(PRELUDE_DELIMITER);

export type StreamOutcome =
  | { readonly kind: 'streamed'; readonly status: number }
  /** No valid prelude: nothing was sent, the caller answers 502. */
  | { readonly kind: 'malformed' };

export interface EmulatedStream {
  readonly stream: ResponseStream;
  /** Settles when the handler ends the stream. */
  readonly finished: Promise<StreamOutcome>;
  /** Whether the client has the status and headers already. */
  readonly committed: () => boolean;
}

/** The metadata's headers as Node writes them: multi-value headers win over single ones; cookies as Set-Cookie. */
export function responseHeaders(metadata: StreamMetadata): OutgoingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  const names = new Map<string, string>();
  const put = (name: string, value: string | string[]) => {
    const key = name.toLowerCase();
    const existing = names.get(key);
    if (existing !== undefined) delete headers[existing];
    names.set(key, name);
    headers[name] = value;
  };
  for (const [name, value] of Object.entries(metadata.headers ?? {})) put(name, String(value));
  for (const [name, values] of Object.entries(metadata.multiValueHeaders ?? {}))
    if (Array.isArray(values) && values.length > 0) put(name, values.map(String));
  if (Array.isArray(metadata.cookies) && metadata.cookies.length > 0)
    put('Set-Cookie', [...metadata.cookies]);
  return headers;
}

/** A response stream writing to `response` (see the module comment). Never fails a write: a client that went
 * away makes the rest go nowhere, as in AWS, where the function may keep running after the client left. */
export function emulatedStream(response: ServerResponse): EmulatedStream {
  let prelude: Buffer[] = [];
  let preludeBytes = 0;
  let state: 'prelude' | 'body' | 'malformed' = 'prelude';
  let status = 0;
  let settle: (outcome: StreamOutcome) => void = () => undefined;
  const finished = new Promise<StreamOutcome>((resolve) => {
    settle = resolve;
  });

  const pass = (chunk: Buffer, callback: () => void) => {
    if (chunk.length === 0 || response.destroyed || response.writableEnded) return callback();
    if (response.write(chunk)) return callback();
    // Either the client reads on, or it is gone: the handler is never left waiting.
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      callback();
    };
    response.once('drain', done);
    response.once('close', done);
  };

  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (state === 'body') return pass(chunk, () => callback());
      if (state === 'malformed') return callback();
      prelude.push(chunk);
      preludeBytes += chunk.length;
      const bytes = Buffer.concat(prelude);
      if (bytes.indexOf(DELIMITER) < 0) {
        if (preludeBytes > MAX_PRELUDE_BYTES) state = 'malformed';
        return callback();
      }
      prelude = [];
      const decoded = decodeStreamedResponse(bytes);
      if (decoded === undefined) {
        state = 'malformed';
        return callback();
      }
      try {
        response.writeHead(decoded.metadata.statusCode, responseHeaders(decoded.metadata));
      } catch {
        // A status or header Node (and API Gateway) cannot send.
        state = 'malformed';
        return callback();
      }
      state = 'body';
      status = decoded.metadata.statusCode;
      // The status goes out now, even when the body is still to come (a long tool call on an SSE stream).
      response.flushHeaders();
      pass(decoded.body, () => callback());
    },
    final(callback) {
      if (state !== 'body') {
        settle({ kind: 'malformed' });
        return callback();
      }
      if (response.destroyed || response.writableEnded) {
        settle({ kind: 'streamed', status });
        return callback();
      }
      response.end(() => {
        settle({ kind: 'streamed', status });
        callback();
      });
    },
  }) as ResponseStream;
  stream.setContentType = () => undefined;
  // Writes never fail (see above); an error here would only be a bug, and must not crash the emulation.
  stream.on('error', () => settle({ kind: 'malformed' }));
  return { stream, finished, committed: () => state === 'body' };
}
