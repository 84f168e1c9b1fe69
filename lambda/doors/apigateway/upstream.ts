/**
 * The MCP server behind the API Gateway door, as a port: the proxy hands it an allowed request and reads its
 * answer as a byte stream. Adapters: `lambda/adapters/upstream-lambda.ts` (a Lambda function invoked with a
 * proxy event 1.0) and `lambda/adapters/upstream-https.ts` (an HTTPS URL). Also here: which headers go on.
 */

/** Header names in lower case, each with every value, in order. */
export type Headers = ReadonlyMap<string, readonly string[]>;

/** Header changes for what goes upstream, as the guard returns them. */
export interface HeaderIntent {
  readonly set: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

export interface UpstreamRequest {
  readonly httpMethod: 'POST' | 'DELETE';
  /** The client's headers; each adapter composes what goes upstream with {@link upstreamHeaders}. */
  readonly clientHeaders: Headers;
  /** The guard's header changes (its `remove` always holds `authorization`). */
  readonly intent: HeaderIntent;
  /** The JSON-RPC message as text (the guard's transformed body); undefined for DELETE. */
  readonly body: string | undefined;
  /**
   * The proxy event 1.0 the request arrived in, for an upstream that takes one (a Lambda function written for
   * API Gateway): the adapter sends it on with these headers and this body.
   */
  readonly event: Readonly<Record<string, unknown>>;
  /** Aborted at the proxy's deadline. */
  readonly signal: AbortSignal;
}

export interface UpstreamResponse {
  readonly status: number;
  /** Lower-case names; hop-by-hop and length/encoding headers already dropped. */
  readonly headers: Headers;
  readonly body: AsyncIterable<Uint8Array>;
}

export interface Upstream {
  /** Throws {@link UpstreamError} when no usable answer came back (network, function error, bad payload). */
  send(request: UpstreamRequest): Promise<UpstreamResponse>;
}

/** The upstream gave no usable answer. `message` is for diagnostics only; the client gets a fixed text. */
export class UpstreamError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

/**
 * Request headers that never go upstream: credentials (the client's token is for this API only — MCP forbids
 * token passthrough), hop-by-hop headers, and what the body rewrite or the HTTP client sets itself.
 */
export const DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'host',
  'content-length',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'accept-encoding',
]);

/**
 * Response headers that never reach the client: hop-by-hop, length and encoding (the body may be filtered and
 * is re-framed by API Gateway), and an upstream's own challenge (its credentials are ours, not the client's).
 */
export const DROPPED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'content-encoding',
  'www-authenticate',
  'proxy-authenticate',
]);

/**
 * The headers an allowed request goes upstream with, in order of precedence: the client's (less
 * {@link DROPPED_REQUEST_HEADERS}), then the guard's removals, then the outbound credential, then the guard's
 * own headers (an identity assertion) — as on AgentCore Gateway, where interceptor headers win.
 */
export function upstreamHeaders(
  client: Headers,
  intent: HeaderIntent,
  credential: Readonly<Record<string, string>> = {},
): Map<string, string[]> {
  const removed = new Set(intent.remove.map((name) => name.toLowerCase()));
  const headers = new Map<string, string[]>();
  for (const [name, values] of client) {
    if (DROPPED_REQUEST_HEADERS.has(name) || removed.has(name)) continue;
    headers.set(name, [...values]);
  }
  for (const [name, value] of Object.entries(credential)) headers.set(name.toLowerCase(), [value]);
  for (const [name, value] of Object.entries(intent.set)) headers.set(name.toLowerCase(), [value]);
  return headers;
}

/** The upstream's response headers the client may see. */
export function clientResponseHeaders(
  upstream: Iterable<[string, readonly string[]]>,
): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  for (const [name, values] of upstream) {
    const key = name.toLowerCase();
    if (DROPPED_RESPONSE_HEADERS.has(key)) continue;
    headers.set(key, [...(headers.get(key) ?? []), ...values]);
  }
  return headers;
}

/** A header's first value. */
export function firstValue(headers: Headers, name: string): string | undefined {
  return headers.get(name.toLowerCase())?.[0];
}
