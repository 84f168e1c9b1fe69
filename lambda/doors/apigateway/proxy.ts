/**
 * The API Gateway door's MCP proxy codec (CONTRACTS §7b, §7c): a Lambda proxy integration event (payload 1.0)
 * becomes a guard request, and what the door answers becomes a streamed HTTP response (metadata prelude, then
 * the body). Pure; never throws: an event that cannot be read decodes to a request the guard refuses as
 * `invalid` (400, audited).
 */
import { ACCESS_DENIED_CODE, jsonRpcError } from '../../core/mcp-responses';
import type { Answer, GuardRequest } from '../../guard/types';
import { type HeaderMap, headerValues, isRecord, requestFacts, stringField } from './headers';
import type { StreamMetadata } from './http-stream';

export interface ProxyRequest {
  /** Upper case, as API Gateway reports it; `''` when the event names none. */
  readonly httpMethod: string;
  /** What the guard decides on (for POST; other methods use its credential and facts only). */
  readonly guard: GuardRequest;
  /** The client accepts an SSE answer (`Accept: text/event-stream`), so keep-alive comments may be sent. */
  readonly acceptsSse: boolean;
  /** The event as received, for an upstream that takes a proxy event. */
  readonly event: Readonly<Record<string, unknown>>;
}

const UNREADABLE_EVENT = 'The API Gateway event could not be read.';

function undecodable(event: Readonly<Record<string, unknown>>, reason: string, issue: string): ProxyRequest {
  return {
    httpMethod: 'POST',
    guard: {
      door: 'apigw',
      credential: { authorization: [] },
      message: undefined,
      parsed: false,
      facts: { headers: new Map() },
      undecodable: { reason, issues: [issue] },
    },
    acceptsSse: false,
    event,
  };
}

/** The body text: `isBase64Encoded` honoured (CONTRACTS §7b); undefined when it is not UTF-8. */
function bodyText(event: Readonly<Record<string, unknown>>): {
  readonly text?: string;
  readonly ok: boolean;
} {
  const body = event.body;
  if (body === null || body === undefined) return { ok: true };
  if (typeof body !== 'string') return { ok: false };
  if (event.isBase64Encoded !== true) return { ok: true, text: body };
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(body, 'base64')) };
  } catch {
    return { ok: false };
  }
}

/** Decodes a proxy integration event 1.0. Never throws. */
export function decodeProxyEvent(event: unknown): ProxyRequest {
  if (!isRecord(event)) return undecodable({}, UNREADABLE_EVENT, 'the event is not an object');
  const httpMethod = (stringField(event, 'httpMethod') ?? '').toUpperCase();
  if (httpMethod === '') return undecodable(event, UNREADABLE_EVENT, 'the event has no httpMethod');
  const headers: HeaderMap = {
    single: isRecord(event.headers) ? event.headers : undefined,
    multi: isRecord(event.multiValueHeaders) ? event.multiValueHeaders : undefined,
  };
  const body = bodyText(event);
  let message: unknown;
  let parsed = body.ok;
  if (body.text !== undefined && body.text.trim() !== '') {
    try {
      message = JSON.parse(body.text);
    } catch {
      parsed = false;
    }
  }
  const accept = headerValues(headers, 'accept').join(',').toLowerCase();
  return {
    httpMethod,
    guard: {
      door: 'apigw',
      credential: { authorization: headerValues(headers, 'authorization') },
      message,
      parsed,
      ...(body.text === undefined ? {} : { rawBytes: Buffer.byteLength(body.text, 'utf8') }),
      facts: requestFacts(event, headers),
    },
    acceptsSse: /(^|,)\s*(text\/event-stream|text\/\*|\*\/\*)\s*(;|,|$)/.test(accept),
    event,
  };
}

/** Response headers as API Gateway's metadata holds them: one value in `headers`, several in `multiValueHeaders`. */
export function streamMetadata(
  statusCode: number,
  headers: Iterable<[string, readonly string[]]> | Readonly<Record<string, string>>,
): StreamMetadata {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  const entries: Iterable<[string, readonly string[]]> =
    Symbol.iterator in headers
      ? (headers as Iterable<[string, readonly string[]]>)
      : Object.entries(headers as Record<string, string>).map(([name, value]) => [name, [value]] as const);
  for (const [name, values] of entries) {
    if (values.length === 1) single[name] = values[0] as string;
    else if (values.length > 1) multi[name] = [...values];
  }
  return {
    statusCode,
    headers: single,
    ...(Object.keys(multi).length === 0 ? {} : { multiValueHeaders: multi }),
  };
}

/** Headers every answer the door gives itself carries: never cached (per-user, per-request). */
const ANSWER_HEADERS = Object.freeze({ 'Cache-Control': 'no-store' });

/** The guard's answer as a complete HTTP response. */
export function answerResponse(answer: Pick<Answer, 'status' | 'headers' | 'body'>): {
  readonly metadata: StreamMetadata;
  readonly body: string;
} {
  return {
    metadata: streamMetadata(answer.status, { ...ANSWER_HEADERS, ...answer.headers }),
    body: JSON.stringify(answer.body),
  };
}

/** One JSON-RPC message as a Server-Sent Event (single-line JSON, so one `data:` line). */
export function sseMessage(message: unknown): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/** An SSE comment: keeps API Gateway's 5-minute idle timeout (CONTRACTS §7c) from closing a quiet stream. */
export const KEEP_ALIVE = ': keep-alive\n\n';

/** Response headers of an SSE answer the door starts itself (while the upstream is still working). */
export const SSE_HEADERS = Object.freeze({
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-store',
  'X-Accel-Buffering': 'no',
});

/**
 * MCP Streamable HTTP: a server without a standalone SSE stream answers GET with 405 (2025-03-26 … 2025-11-25;
 * 2026-07-28 removed the GET stream). The proxy opens none: server-to-client messages travel in the answer to
 * each POST.
 */
export function methodNotAllowed(httpMethod: string): Answer {
  return {
    status: 405,
    headers: { 'Content-Type': 'application/json', Allow: 'POST, DELETE' },
    body: jsonRpcError(null, ACCESS_DENIED_CODE, `${httpMethod.slice(0, 16)} is not served here; use POST.`),
    cause: 'invalid',
  };
}
