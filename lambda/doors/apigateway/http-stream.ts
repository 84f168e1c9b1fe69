/**
 * Lambda response streaming for an API Gateway proxy integration in STREAM mode (CONTRACTS §7c): the function
 * writes a JSON metadata prelude (`statusCode`, `headers`, `multiValueHeaders`, `cookies`), eight NUL bytes,
 * then the raw body. In Lambda, `awslambda.HttpResponseStream.from` writes the prelude on the first `write`;
 * outside Lambda (tests, the local emulation) {@link preludeStream} does the same, byte for byte, and
 * {@link decodeStreamedResponse} reads it back the way API Gateway does.
 */
import { Writable } from 'node:stream';

/** What API Gateway reads before the body. */
export interface StreamMetadata {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[]>>;
  readonly cookies?: readonly string[];
}

/** The content type Lambda gives a response whose body starts with the metadata prelude. */
export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

/** Eight NUL bytes between the prelude and the body (`HttpResponseStream` in the Node.js runtime client). */
export const PRELUDE_DELIMITER: Readonly<Uint8Array> = new Uint8Array(8);

/** The prelude and delimiter exactly as the runtime writes them. */
export function encodePrelude(metadata: StreamMetadata): Buffer {
  return Buffer.concat([Buffer.from(JSON.stringify(metadata), 'utf8'), PRELUDE_DELIMITER]);
}

/**
 * A streamed response read back: the metadata and the body bytes. Undefined when the bytes do not start with a
 * JSON object followed by the delimiter (API Gateway answers 502 then).
 */
export function decodeStreamedResponse(
  bytes: Uint8Array,
): { readonly metadata: StreamMetadata; readonly body: Buffer } | undefined {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = buffer.indexOf(Buffer.from(PRELUDE_DELIMITER));
  if (at < 0) return undefined;
  let metadata: unknown;
  try {
    metadata = JSON.parse(buffer.subarray(0, at).toString('utf8'));
  } catch {
    return undefined;
  }
  if (
    metadata === null ||
    typeof metadata !== 'object' ||
    Array.isArray(metadata) ||
    !Number.isInteger((metadata as { statusCode?: unknown }).statusCode)
  )
    return undefined;
  return { metadata: metadata as StreamMetadata, body: buffer.subarray(at + PRELUDE_DELIMITER.length) };
}

/** The stream Lambda hands a `streamifyResponse` handler (a Writable with `setContentType`). */
export type ResponseStream = Writable & { setContentType?: (contentType: string) => void };

/** Wraps the handler's stream so its first write is preceded by the metadata prelude. */
export type OpenHttpResponse = (stream: ResponseStream, metadata: StreamMetadata) => Writable;

/**
 * Outside Lambda: a Writable that writes the prelude and delimiter into `stream` before the first chunk (even an
 * empty one), as the runtime's `HttpResponseStream.from` does, then passes every chunk through.
 */
export const preludeStream: OpenHttpResponse = (stream, metadata) => {
  stream.setContentType?.(HTTP_INTEGRATION_CONTENT_TYPE);
  let started = false;
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      // Node calls _write for an empty chunk too, so writing '' starts the response, as in Lambda.
      if (!started) {
        started = true;
        stream.write(encodePrelude(metadata));
      }
      if (chunk.length === 0 || stream.write(chunk)) callback();
      else stream.once('drain', () => callback());
    },
    final(callback) {
      stream.end(() => callback());
    },
  });
  return out;
};

interface LambdaStreamingGlobal {
  readonly HttpResponseStream: { from(stream: Writable, metadata: Record<string, unknown>): Writable };
  streamifyResponse<T>(handler: T): T;
}

/** The Node.js runtime's `awslambda` global, when running in Lambda. */
export function lambdaStreaming(): LambdaStreamingGlobal | undefined {
  const global = (globalThis as { awslambda?: LambdaStreamingGlobal }).awslambda;
  return global !== undefined && typeof global.streamifyResponse === 'function' ? global : undefined;
}

/** In Lambda, the runtime's `HttpResponseStream.from`; elsewhere {@link preludeStream}. */
export function httpResponseOpener(): OpenHttpResponse {
  const runtime = lambdaStreaming();
  return runtime === undefined
    ? preludeStream
    : (stream, metadata) => runtime.HttpResponseStream.from(stream, { ...metadata });
}
