import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { LATEST_PROTOCOL_VERSION as TARGET_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import type {
  InterceptorInput,
  InterceptorOutput,
  TransformedResponse,
} from '../lambda/doors/agentcore/contract';
import type { InterceptorHandler } from '../lambda/doors/agentcore/door';
import { refuseNonLoopback } from './loopback-checks';
import {
  DEFAULT_SUPPORTED_VERSIONS,
  discoverAnswer,
  type Era,
  eraOf,
  LEGACY_ONLY_METHODS,
  liftedBody,
  STATELESS_VERSION,
  withoutModernMeta,
} from './mcp-era';
import { logSafe, withRequestLog } from './request-log';

export { DEFAULT_SUPPORTED_VERSIONS, STATELESS_VERSION } from './mcp-era';

/**
 * An emulation of the Amazon Bedrock AgentCore Gateway for MCP targets, on loopback. Each HTTP request
 * becomes the documented REQUEST interceptor event (with headers, as with `passRequestHeaders: true`); the
 * interceptor's output is applied as the gateway would (a `transformedGatewayResponse` short-circuits; else
 * the transformed body goes on, with only allow-listed headers); the gateway answers `initialize`/`ping`
 * itself, aggregates `tools/list` across targets with `target___tool` names and routes `tools/call` by prefix;
 * then the RESPONSE interceptor runs on the answer. The client's `Authorization` header never reaches a target.
 *
 * MCP 2026-07-28 (stateless) clients are served as the gateway documents it (CONTRACTS §9): the gateway itself
 * answers `server/discover`; a request carrying `_meta["io.modelcontextprotocol/protocolVersion"]` needs no
 * `initialize`, must mirror that version in `MCP-Protocol-Version` and its method (and name) in `Mcp-Method` /
 * `Mcp-Name`, and gets `resultType`, the gateway's `serverInfo` in `_meta` and, for lists, `ttlMs`/`cacheScope`.
 * Targets stay in the legacy era: the gateway talks to them in the newest version they speak (the demo server's
 * SDK stops at 2025-11-25) without the 2026 `_meta` envelope, and lifts their answers into the client's era.
 * How the managed gateway orders these checks against the interceptor, and which version it speaks to an
 * `mcpServer` target, are not documented: here the interceptor runs first and the gateway's own checks after.
 */

export interface GatewayTarget {
  /** Target name: the tool prefix (`orders` → `orders___get_order`). */
  readonly name: string;
  /** The target's MCP Streamable HTTP endpoint. */
  readonly url: string;
  /** Headers from the interceptor's output forwarded to this target (`metadataConfiguration.allowedRequestHeaders`). */
  readonly allowedRequestHeaders?: readonly string[];
}

export interface GatewayOptions {
  /** @default 8080 */
  readonly port?: number;
  /** The interceptor in force (a function, so policy reloads swap it without a restart). */
  readonly interceptor: () => InterceptorHandler;
  readonly targets: readonly GatewayTarget[];
  /** The authorization server advertised in the protected resource metadata. */
  readonly authorizationServer: () => string;
  /** Called once per request with a one-line summary (method and tool name scrubbed and bounded). */
  readonly onRequest?: (line: string) => void;
  /**
   * `protocolConfiguration.mcp.supportedVersions` of the gateway. 2026-07-28 and later are served statelessly,
   * the others through `initialize`. @default {@link DEFAULT_SUPPORTED_VERSIONS}
   */
  readonly supportedVersions?: readonly string[];
  /**
   * The JWKS targets verify identity assertions with, served at {@link ASSERTION_JWKS_PATH} (in AWS, the stack's
   * `AssertionJwksUrl` output).
   */
  readonly assertionJwks?: () => unknown;
  /**
   * Other pages served on the gateway's port (the local console): called first for every request; true when it
   * served the request.
   */
  readonly routes?: (request: IncomingMessage, response: ServerResponse) => boolean;
}

/** Where the local gateway serves the identity-assertion JWKS. */
export const ASSERTION_JWKS_PATH = '/.well-known/mcp-identity/assertion-jwks.json';

const SERVER = Object.freeze({
  serverInfo: Object.freeze({ name: 'mcp-identity-local-gateway', version: '1.0.0' }),
  capabilities: Object.freeze({ tools: { listChanged: false } }),
});

/** Bounds for the request log: enough for any real method or tool name, too little for a pasted document. */
const LOG_METHOD_CHARS = 64;
const LOG_TOOL_CHARS = 128;

export { logSafe } from './request-log';

export interface Gateway {
  readonly url: string;
  readonly resourceMetadataUrl: string;
  /** Where targets fetch the identity-assertion JWKS (when the gateway was given one). */
  readonly assertionJwksUrl: string;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 6 * 1024 * 1024; // the Lambda payload limit the real gateway imposes on interceptors
const SEPARATOR = '___';

type JsonRpc = {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
};

class BodyTooLarge extends Error {}

/** The request body as text; event listeners rather than an async iterator (cheaper per request). */
function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.removeAllListeners('data');
        request.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () =>
      resolve(
        chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'),
      ),
    );
    request.once('error', reject);
  });
}

const TARGET_TIMEOUT_MS = 30_000;
const IDLE_CONNECTION_MS = 4_000;

/**
 * POSTs a JSON-RPC message to a target over a kept-alive connection. `fetch` (undici) cost the local gateway
 * more CPU per call than the rest of its own work; a plain request on a keep-alive agent does the same job.
 */
function postJson(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
  retried = false,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body, 'utf8')) },
        timeout: TARGET_TIMEOUT_MS,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () =>
          resolve({ status: response.statusCode ?? 502, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.once('error', reject);
      },
    );
    outgoing.once('timeout', () => outgoing.destroy(new Error('the target did not answer in time')));
    outgoing.once('error', (error: NodeJS.ErrnoException) => {
      // A kept-alive connection the target closed just as it was reused: the request never reached it, so
      // send it once more on a fresh connection (the retry Node's documentation prescribes for reusedSocket).
      if (!retried && outgoing.reusedSocket && error.code === 'ECONNRESET')
        postJson(agent, url, headers, body, true).then(resolve, reject);
      else reject(error);
    });
    outgoing.end(body);
  });
}

/**
 * Every header value as sent. Node folds duplicates of some headers (it keeps the first `Authorization`), so
 * read the distinct values: a repeated header must reach the interceptor as a repeated header.
 */
function requestHeaders(request: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [key, values] of Object.entries(request.headersDistinct)) {
    if (values !== undefined) headers[key] = values.length === 1 ? (values[0] as string) : values;
  }
  return headers;
}

function send(response: ServerResponse, answer: TransformedResponse): void {
  const headers: Record<string, string> = { ...(answer.headers ?? {}) };
  if (answer.body === undefined || answer.body === null) {
    response.writeHead(answer.statusCode, headers).end();
    return;
  }
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  if (!Object.keys(headers).some((key) => key.toLowerCase() === 'content-type'))
    headers['Content-Type'] = 'application/json';
  response.writeHead(answer.statusCode, headers).end(text);
}

function rpcError(id: JsonRpc['id'], code: number, message: string, statusCode = 200): TransformedResponse {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json' },
    body: { jsonrpc: '2.0', id: id ?? null, error: { code, message } },
  };
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  let base = '';
  const targets = new Map(options.targets.map((target) => [target.name, target]));
  const targetUrls = new Map(options.targets.map((target) => [target.name, new URL(target.url)]));
  const allowedHeaders = new Map(
    options.targets.map((target) => [
      target.name,
      new Set((target.allowedRequestHeaders ?? []).map((name) => name.toLowerCase())),
    ]),
  );
  // One pool of kept-alive connections to the targets, as the managed gateway keeps its own.
  // Idle connections are dropped before a Node target's 5 s keep-alive timeout closes them under us (the
  // agent shortens this further to a target's own Keep-Alive hint).
  const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: IDLE_CONNECTION_MS });

  const supported = [...(options.supportedVersions ?? DEFAULT_SUPPORTED_VERSIONS)];
  const handshakeVersions = supported
    .filter((version) => version < STATELESS_VERSION)
    .sort()
    .reverse();

  async function callTarget(
    target: GatewayTarget,
    message: JsonRpc,
    clientHeaders: Record<string, string | string[]>,
    interceptorHeaders: Readonly<Record<string, string>> | undefined,
    era: Era,
  ) {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
    };
    // A legacy client's version goes on as it negotiated it; a 2026-07-28 request is bridged to the newest
    // version the target speaks, without the per-request envelope (the target knows no `server/discover`).
    const version = era.stateless
      ? TARGET_PROTOCOL_VERSION
      : [clientHeaders['mcp-protocol-version']].flat()[0];
    if (version !== undefined) headers['MCP-Protocol-Version'] = version;
    const allowed = allowedHeaders.get(target.name) ?? new Set<string>();
    for (const [key, value] of Object.entries(interceptorHeaders ?? {})) {
      if (allowed.has(key.toLowerCase()) || key.toLowerCase() === 'authorization') headers[key] = value;
    }
    const response = await postJson(
      agent,
      targetUrls.get(target.name) ?? new URL(target.url),
      headers,
      JSON.stringify(era.stateless ? withoutModernMeta(message) : message),
    );
    return {
      status: response.status,
      body: response.text.length === 0 ? undefined : (JSON.parse(response.text) as Record<string, unknown>),
    };
  }

  /** What the gateway itself answers for a request the interceptor let through. */
  async function route(
    message: JsonRpc,
    clientHeaders: Record<string, string | string[]>,
    interceptorHeaders?: Readonly<Record<string, string>>,
  ): Promise<TransformedResponse> {
    // Answered in any era: it is how a client finds out which one to speak.
    if (message.method === 'server/discover')
      return { statusCode: 200, body: discoverAnswer(message.id, supported, SERVER) };
    const era = eraOf(message, (name) => [clientHeaders[name] ?? []].flat(), supported);
    if (!('stateless' in era))
      return { statusCode: era.status, headers: { 'Content-Type': 'application/json' }, body: era.body };
    if (message.method === undefined || message.method.startsWith('notifications/'))
      return { statusCode: 202, body: undefined };
    if (era.stateless && LEGACY_ONLY_METHODS.has(message.method))
      return rpcError(message.id, -32601, `Method not found: ${message.method}`, 404);
    const answer = await routeMethod(message, clientHeaders, interceptorHeaders, era);
    return era.stateless ? { ...answer, body: liftedBody(answer.body, message.method, SERVER) } : answer;
  }

  async function routeMethod(
    message: JsonRpc,
    clientHeaders: Record<string, string | string[]>,
    interceptorHeaders: Readonly<Record<string, string>> | undefined,
    era: Era,
  ): Promise<TransformedResponse> {
    switch (message.method) {
      case 'initialize': {
        const requested = message.params?.protocolVersion;
        const protocolVersion =
          typeof requested === 'string' && handshakeVersions.includes(requested)
            ? requested
            : (handshakeVersions[0] ?? TARGET_PROTOCOL_VERSION);
        return {
          statusCode: 200,
          body: {
            jsonrpc: '2.0',
            id: message.id,
            result: { protocolVersion, capabilities: SERVER.capabilities, serverInfo: SERVER.serverInfo },
          },
        };
      }
      case 'ping':
        return { statusCode: 200, body: { jsonrpc: '2.0', id: message.id, result: {} } };
      case 'tools/list': {
        const tools: Record<string, unknown>[] = [];
        for (const target of targets.values()) {
          const answer = await callTarget(
            target,
            { jsonrpc: '2.0', id: message.id ?? null, method: 'tools/list', params: {} },
            clientHeaders,
            interceptorHeaders,
            era,
          );
          const listed = (
            (answer.body?.result as { tools?: Record<string, unknown>[] } | undefined)?.tools ?? []
          ).map((tool) => ({ ...tool, name: `${target.name}${SEPARATOR}${String(tool.name)}` }));
          tools.push(...listed);
        }
        return { statusCode: 200, body: { jsonrpc: '2.0', id: message.id, result: { tools } } };
      }
      case 'tools/call': {
        const name = String(message.params?.name ?? '');
        const at = name.indexOf(SEPARATOR);
        const target = at > 0 ? targets.get(name.slice(0, at)) : undefined;
        if (target === undefined) return rpcError(message.id, -32602, `Unknown tool: ${name}`);
        const answer = await callTarget(
          target,
          { ...message, params: { ...message.params, name: name.slice(at + SEPARATOR.length) } },
          clientHeaders,
          interceptorHeaders,
          era,
        );
        return { statusCode: answer.status === 202 ? 200 : answer.status, body: answer.body };
      }
      default:
        return rpcError(message.id, -32601, `Method not found: ${message.method}`, era.stateless ? 404 : 200);
    }
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // Before anything, the console included: DNS rebinding and cross-site requests (local/loopback-checks.ts).
    if (refuseNonLoopback(request, response, 'the local gateway')) return;
    if (options.routes?.(request, response)) return;
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (
      request.method === 'GET' &&
      (path === '/.well-known/oauth-protected-resource' ||
        path === '/.well-known/oauth-protected-resource/mcp')
    ) {
      send(response, {
        statusCode: 200,
        body: {
          resource: `${base}/mcp`,
          authorization_servers: [options.authorizationServer()],
          bearer_methods_supported: ['header'],
        },
      });
      return;
    }
    if (request.method === 'GET' && path === ASSERTION_JWKS_PATH && options.assertionJwks !== undefined) {
      send(response, {
        statusCode: 200,
        headers: { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=300' },
        body: options.assertionJwks(),
      });
      return;
    }
    if (path !== '/mcp') return send(response, { statusCode: 404, body: { error: 'not found' } });
    if (request.method !== 'POST') {
      // No server-initiated stream and no session to delete: the gateway is request/response only.
      response.writeHead(405, { Allow: 'POST' }).end();
      return;
    }

    let raw: string;
    try {
      raw = await readBody(request);
    } catch (error) {
      if (error instanceof BodyTooLarge)
        return send(response, rpcError(null, -32600, 'Request body too large', 413));
      throw error;
    }
    const headers = requestHeaders(request);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    // The documented REQUEST event (typed by the AgentCore door's contract, so the two cannot drift apart); the
    // interceptor is that door: its codec decodes the event for the guard and encodes the guard's result.
    const event: InterceptorInput = {
      interceptorInputVersion: '1.0',
      mcp: {
        rawGatewayRequest: { body: raw },
        gatewayRequest: {
          path: '/mcp',
          httpMethod: 'POST',
          headers,
          ...(parsed === undefined ? {} : { body: parsed }),
        },
      },
    };

    const decided: InterceptorOutput = await options.interceptor()(event);
    let answer: TransformedResponse;
    if (decided.mcp.transformedGatewayResponse !== undefined) answer = decided.mcp.transformedGatewayResponse;
    else if (decided.mcp.transformedGatewayRequest !== undefined) {
      const forwarded = decided.mcp.transformedGatewayRequest;
      try {
        answer = await route(forwarded.body as JsonRpc, headers, forwarded.headers);
      } catch {
        answer = rpcError((forwarded.body as JsonRpc).id, -32603, 'The target could not be reached', 502);
      }
    } else answer = rpcError(null, -32603, 'The interceptor returned nothing', 500);

    // Client text in the log is scrubbed and bounded like the audit's: a token sent as a method or tool name
    // must not be printed.
    const rawMethod = (parsed as JsonRpc | undefined)?.method;
    const method = logSafe(rawMethod, LOG_METHOD_CHARS);
    const tool =
      rawMethod === 'tools/call' ? ` ${logSafe((parsed as JsonRpc).params?.name, LOG_TOOL_CHARS)}` : '';
    if (answer.body !== undefined && answer.body !== null) {
      // RESPONSE interceptor: runs for every answer to a request with an id, including short-circuits.
      const responseEvent: InterceptorInput = { ...event, mcp: { ...event.mcp, gatewayResponse: answer } };
      const after = await options.interceptor()(responseEvent);
      answer = after.mcp.transformedGatewayResponse ?? answer;
    }
    // Who, the decision and its reason are added by the stack from the guard's audit of this request.
    options.onRequest?.(`${method}${tool} → ${answer.statusCode}`);
    send(response, answer);
  }

  const server: Server = createServer((request, response) => {
    withRequestLog(() => handle(request, response)).catch(() => {
      if (!response.headersSent) send(response, rpcError(null, -32603, 'Internal gateway error', 500));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, '127.0.0.1', () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/mcp`,
    resourceMetadataUrl: `${base}/.well-known/oauth-protected-resource/mcp`,
    assertionJwksUrl: `${base}${ASSERTION_JWKS_PATH}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
