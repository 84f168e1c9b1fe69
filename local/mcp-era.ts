import { mirroredHeaderMismatch } from '../lambda/core/mcp-headers';

/**
 * MCP 2026-07-28 (stateless) next to the `initialize` era, for the local stack's MCP endpoints that front
 * legacy-era targets: the AgentCore emulation's gateway (local/gateway.ts) and the API Gateway door's local
 * upstream (local/targets-upstream.ts). CONTRACTS §9: `server/discover` answered in any era; a request carrying
 * `_meta["io.modelcontextprotocol/protocolVersion"]` needs no `initialize`, must mirror that version in
 * `MCP-Protocol-Version` and its method (and name) in `Mcp-Method` / `Mcp-Name` — a server that processes the
 * body rejects what is missing or differs with 400 and -32020 — and its results get `resultType`, the
 * server's `serverInfo` in `_meta` and, for lists, `ttlMs`/`cacheScope`. Targets get the request without the
 * per-request envelope. Pure.
 */

/** The versions AgentCore Gateway documents (CONTRACTS §9), newest first. */
export const DEFAULT_SUPPORTED_VERSIONS: readonly string[] = Object.freeze([
  '2026-07-28',
  '2025-11-25',
  '2025-06-18',
  '2025-03-26',
]);

/** The first revision without `initialize`: requests carry their version in `_meta` and in headers. */
export const STATELESS_VERSION = '2026-07-28';
export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';
/** The 2026-07-28 per-request envelope: meaningful to the server the client talks to, not to a legacy target. */
const MODERN_META_KEYS = new Set([
  META_PROTOCOL_VERSION,
  'io.modelcontextprotocol/clientInfo',
  'io.modelcontextprotocol/clientCapabilities',
  'io.modelcontextprotocol/logLevel',
]);
/** How long a client may reuse the discover answer: it is the same for every caller. */
const DISCOVER_TTL_MS = 300_000;
/**
 * Lists are not to be reused: policies (and so the per-caller view the guard makes of them) change at any time.
 * The unfiltered catalogue is `public`; the guard marks its filtered copy `private`.
 */
const LIST_TTL_MS = 0;
const UNSUPPORTED_PROTOCOL_VERSION_CODE = -32022;
export const HEADER_MISMATCH = -32020;
/** Methods 2026-07-28 removed (or that only make sense with a session). */
export const LEGACY_ONLY_METHODS: ReadonlySet<string> = new Set(['initialize', 'ping', 'logging/setLevel']);

/** The protocol era of one request: the 2026-07-28 stateless flow, or the `initialize` handshake's. */
export type Era = { readonly stateless: false } | { readonly stateless: true; readonly version: string };

/** What refuses a request before it is served: an HTTP status and a JSON-RPC error. */
export interface EraRefusal {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** A JSON-RPC message as these functions read it. */
export interface JsonRpcMessage {
  readonly jsonrpc?: unknown;
  readonly id?: string | number | null;
  readonly method?: string;
  readonly params?: Record<string, unknown>;
}

/** Who answers: the server's name and capabilities, as `server/discover` and `initialize` report them. */
export interface ServerIdentity {
  readonly serverInfo: Readonly<Record<string, unknown>>;
  readonly capabilities: Readonly<Record<string, unknown>>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A 2026-07-28 request as a legacy-era target reads it: the per-request envelope left out of `_meta`. */
export function withoutModernMeta<T extends JsonRpcMessage>(message: T): T {
  const meta = message.params?._meta;
  if (!isRecord(meta)) return message;
  const kept = Object.fromEntries(Object.entries(meta).filter(([key]) => !MODERN_META_KEYS.has(key)));
  const { _meta: _dropped, ...params } = message.params ?? {};
  return { ...message, params: Object.keys(kept).length === 0 ? params : { ...params, _meta: kept } };
}

/**
 * A legacy-era answer body in the 2026-07-28 shape: every result gets `resultType` (legacy servers have none)
 * and the server's `serverInfo` in `_meta`; list results get `ttlMs` and `cacheScope`. Errors pass as they are.
 */
export function liftedBody(body: unknown, method: string, server: ServerIdentity): unknown {
  if (!isRecord(body) || !isRecord(body.result)) return body;
  const fields = body.result;
  const meta = isRecord(fields._meta) ? fields._meta : {};
  const cacheable = method.endsWith('/list') || method === 'resources/read';
  return {
    ...body,
    result: {
      ...fields,
      resultType: typeof fields.resultType === 'string' ? fields.resultType : 'complete',
      _meta: { ...meta, [META_SERVER_INFO]: server.serverInfo },
      ...(cacheable ? { ttlMs: fields.ttlMs ?? LIST_TTL_MS, cacheScope: fields.cacheScope ?? 'public' } : {}),
    },
  };
}

/** The `server/discover` answer (answered in any era: it is how a client finds out which one to speak). */
export function discoverAnswer(
  id: JsonRpcMessage['id'],
  supported: readonly string[],
  server: ServerIdentity,
): Record<string, unknown> {
  return {
    jsonrpc: '2.0',
    id,
    result: {
      resultType: 'complete',
      supportedVersions: [...supported],
      capabilities: server.capabilities,
      _meta: { [META_SERVER_INFO]: server.serverInfo },
      ttlMs: DISCOVER_TTL_MS,
      cacheScope: 'public',
    },
  };
}

function refusal(id: JsonRpcMessage['id'], code: number, message: string, data?: unknown): EraRefusal {
  return {
    status: 400,
    body: {
      jsonrpc: '2.0',
      id: id ?? null,
      error: { code, message, ...(data === undefined ? {} : { data }) },
    },
  };
}

/**
 * The era of a request, or what refuses it: a 2026-07-28 request names a supported stateless version in
 * `_meta` and mirrors it (and its method and name) in headers. `values` reads a header's values by lower-case
 * name.
 */
export function eraOf(
  message: JsonRpcMessage,
  values: (name: string) => readonly string[],
  supported: readonly string[],
): Era | EraRefusal {
  const headerVersions = values('mcp-protocol-version');
  const meta = message.params?._meta;
  const requested = isRecord(meta) ? meta[META_PROTOCOL_VERSION] : undefined;
  const mismatch = (what: string) => refusal(message.id, HEADER_MISMATCH, what);
  if (headerVersions.length > 1) return mismatch('Send exactly one MCP-Protocol-Version header.');
  const headerVersion = headerVersions[0];
  if (requested === undefined) {
    if (headerVersion !== undefined && headerVersion >= STATELESS_VERSION)
      return mismatch(
        `MCP-Protocol-Version ${headerVersion} needs params._meta["${META_PROTOCOL_VERSION}"] in the body.`,
      );
    return { stateless: false };
  }
  if (typeof requested !== 'string' || requested < STATELESS_VERSION || !supported.includes(requested))
    return refusal(message.id, UNSUPPORTED_PROTOCOL_VERSION_CODE, 'Unsupported protocol version', {
      supported,
      requested: typeof requested === 'string' ? requested.slice(0, 64) : null,
    });
  if (headerVersion !== requested)
    return mismatch('The MCP-Protocol-Version header must equal the protocol version in _meta.');
  if (message.method !== undefined && !message.method.startsWith('notifications/')) {
    if (values('mcp-method').length === 0) return mismatch('The Mcp-Method header is required.');
    const named = ['tools/call', 'prompts/get', 'resources/read'].includes(message.method);
    if (named && values('mcp-name').length === 0) return mismatch('The Mcp-Name header is required.');
    // The guard has compared both with the body already; a server that processes the body checks too.
    if (mirroredHeaderMismatch((name) => [...values(name)], message) !== undefined)
      return mismatch('A mirrored header does not match the request body.');
  }
  return { stateless: true, version: requested };
}
