import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyHandler } from '../lambda/doors/apigateway/door';
import type { AuthorizerHandler } from '../lambda/handlers/apigateway-authorizer';
import {
  AuthorizerCache,
  type AuthorizerPolicy,
  policyAllows,
  readAuthorizerResult,
} from './apigateway-authorization';
import {
  type ApiDescription,
  authorizerEvent,
  headerMaps,
  LOCAL_API,
  MCP_RESOURCE,
  methodArn,
  proxyEvent,
  type ReceivedRequest,
  requestContext,
} from './apigateway-events';
import { emulatedStream } from './apigateway-stream';
import { ASSERTION_JWKS_PATH } from './gateway';
import { refuseNonLoopback } from './loopback-checks';
import { logSafe, withRequestLog } from './request-log';

/**
 * An emulation of the API Gateway door — a REST API with a Lambda REQUEST authorizer and a response-streaming
 * MCP proxy integration (CONTRACTS §7) — on loopback, running the door's real handlers in process. For each
 * request to `/mcp` (POST, and GET/DELETE as the MCP transport has them):
 *
 * 1. the identity source (`Authorization`) must be present, else 401 without calling the authorizer;
 * 2. the authorizer result cache is consulted by that value, else the REQUEST authorizer event is built and
 *    `createAuthorizerHandler`'s handler runs; `Unauthorized` is a 401, any other failure a 500, and the policy
 *    it returns is cached for the TTL and evaluated against this request's method ARN (no Allow: 403);
 * 3. the proxy event 1.0 is built with `requestContext.authorizer`, and `createApiGatewayProxyHandler`'s
 *    handler runs on a response stream that reads the metadata prelude and streams the body on (SSE included).
 *
 * Refusals are API Gateway's gateway responses, customised as the door's CDK construct customises them: the
 * 401 carries `WWW-Authenticate: Bearer resource_metadata="…"` and a JSON-RPC body. The RFC 9728 metadata is
 * a public path of the API. Never binds beyond 127.0.0.1.
 */

/** The door's two Lambda handlers. */
export interface ApiGatewayDoorHandlers {
  readonly authorizer: AuthorizerHandler;
  readonly proxy: ProxyHandler;
}

export interface ApiGatewayEmulationOptions {
  /** @default 8080 */
  readonly port?: number;
  /** The handlers in force (a function, so a policy reload swaps them); undefined while starting (503). */
  readonly handlers: () => ApiGatewayDoorHandlers | undefined;
  /** The authorizer's `resultsCacheTtl` (0–3600; 0 turns the cache off). @default 60, as the stack's */
  readonly authorizerCacheTtlSeconds?: number;
  /** The authorization server advertised in the protected resource metadata. */
  readonly authorizationServer: () => string;
  /** The identity-assertion JWKS, served at {@link ASSERTION_JWKS_PATH} as the AgentCore emulation does. */
  readonly assertionJwks?: () => unknown;
  /** One line per request (method and tool scrubbed and bounded). */
  readonly onRequest?: (line: string) => void;
  /** @default {@link LOCAL_API} */
  readonly api?: ApiDescription;
  /** Milliseconds since the epoch (the cache's clock). @default Date.now */
  readonly now?: () => number;
  /** Other pages served on this port (the local console): called first; true when it served the request. */
  readonly routes?: (request: IncomingMessage, response: ServerResponse) => boolean;
}

export interface ApiGatewayEmulation {
  readonly url: string;
  readonly resourceMetadataUrl: string;
  readonly assertionJwksUrl: string;
  /** How many times the authorizer has run (the rest were cache hits or refused before it). */
  readonly authorizerInvocations: () => number;
  /** Empties the authorizer result cache (`FlushStageAuthorizersCache`). */
  flushAuthorizerCache(): void;
  stop(): Promise<void>;
}

const ROOT_METADATA_PATH = '/.well-known/oauth-protected-resource';
export const PROTECTED_RESOURCE_PATH = `${ROOT_METADATA_PATH}${MCP_RESOURCE}`;
/** API Gateway's request payload limit (CONTRACTS §7b: 10 MB). */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const MCP_METHODS = new Set(['POST', 'GET', 'DELETE']);
const LOG_METHOD_CHARS = 64;
const LOG_TOOL_CHARS = 128;

const jsonRpcError = (code: number, message: string) => ({
  jsonrpc: '2.0',
  id: null,
  error: { code, message },
});
const DEFAULT_4XX = jsonRpcError(-32600, 'The request was refused by the gateway.');
const DEFAULT_5XX = jsonRpcError(-32603, 'The gateway could not handle the request.');

/**
 * API Gateway's own answers, customised as the door's construct customises them (lib/constructs/
 * api-gateway-door.ts, `addGatewayResponses`): JSON-RPC bodies an MCP client can read, the RFC 9728 challenge on
 * 401 and 403, a 503 to retry when the authorizer could not verify. Types the construct leaves alone take its
 * DEFAULT_4XX / DEFAULT_5XX body with API Gateway's status. Keep the two in step.
 */
const GATEWAY_RESPONSES = {
  UNAUTHORIZED: {
    status: 401,
    challenge: '',
    body: jsonRpcError(-32001, 'Authentication required: send a valid bearer access token.'),
  },
  MISSING_AUTHENTICATION_TOKEN: {
    status: 403,
    challenge: '',
    body: jsonRpcError(-32000, 'No such resource here; the MCP endpoint is /mcp.'),
  },
  ACCESS_DENIED: {
    status: 403,
    challenge: 'insufficient_scope',
    body: jsonRpcError(-32000, 'Access denied.'),
  },
  AUTHORIZER_FAILURE: {
    status: 503,
    retryAfter: '5',
    body: jsonRpcError(-32000, 'The access token could not be verified now; try again shortly.'),
  },
  /** Which 500 type API Gateway picks for which authorizer failure is UNVERIFIED (CONTRACTS §7a). */
  AUTHORIZER_CONFIGURATION_ERROR: { status: 500, body: DEFAULT_5XX },
  REQUEST_TOO_LARGE: { status: 413, body: DEFAULT_4XX },
  /** A Lambda that failed or streamed no valid prelude (API Gateway: 502). */
  INTEGRATION_FAILURE: { status: 502, body: DEFAULT_5XX },
} as const satisfies Record<
  string,
  {
    readonly status: number;
    readonly body: unknown;
    readonly challenge?: string;
    readonly retryAfter?: string;
  }
>;
type GatewayResponseType = keyof typeof GATEWAY_RESPONSES;

class BodyTooLarge extends Error {}

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
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.once('error', reject);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers = {}): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  response.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** What the request log shows of a body: its JSON-RPC method (and tool), scrubbed and bounded. */
function describeCall(httpMethod: string, body: string | undefined): string {
  if (httpMethod !== 'POST') return `${httpMethod} ${MCP_RESOURCE}`;
  let message: { method?: unknown; params?: { name?: unknown } } | undefined;
  try {
    message = JSON.parse(body ?? '') as typeof message;
  } catch {
    message = undefined;
  }
  const method = logSafe(message?.method, LOG_METHOD_CHARS);
  return message?.method === 'tools/call'
    ? `${method} ${logSafe(message.params?.name, LOG_TOOL_CHARS)}`
    : method;
}

export async function startApiGatewayEmulation(
  options: ApiGatewayEmulationOptions,
): Promise<ApiGatewayEmulation> {
  const api = options.api ?? LOCAL_API;
  const now = options.now ?? Date.now;
  const cache = new AuthorizerCache(options.authorizerCacheTtlSeconds ?? 60, now);
  let base = '';
  let invocations = 0;

  const gatewayResponse = (response: ServerResponse, type: GatewayResponseType, requestId: string) => {
    const answer: { status: number; body: unknown; challenge?: string; retryAfter?: string } =
      GATEWAY_RESPONSES[type];
    const challenge =
      answer.challenge === undefined
        ? {}
        : {
            'WWW-Authenticate': `Bearer ${answer.challenge === '' ? '' : `error="${answer.challenge}", `}resource_metadata="${base}${PROTECTED_RESOURCE_PATH}"`,
          };
    sendJson(response, answer.status, answer.body, {
      'Cache-Control': 'no-store',
      'x-amzn-RequestId': requestId,
      ...challenge,
      ...(answer.retryAfter === undefined ? {} : { 'Retry-After': answer.retryAfter }),
    });
    return answer.status;
  };

  /**
   * The authorizer's policy for this request: from the cache, or from the authorizer (then cached). A refusal
   * is the gateway response type to send.
   */
  async function authorize(
    handlers: ApiGatewayDoorHandlers,
    key: string,
    event: () => Record<string, unknown>,
  ): Promise<
    | { readonly policy: AuthorizerPolicy; readonly latencyMs: number; readonly cached: boolean }
    | { readonly refused: GatewayResponseType }
  > {
    const hit = cache.get(key);
    if (hit !== undefined) return { policy: hit, latencyMs: 0, cached: true };
    const started = now();
    invocations += 1;
    let result: unknown;
    try {
      result = await handlers.authorizer(event());
    } catch (error) {
      return {
        refused:
          error instanceof Error && error.message === 'Unauthorized' ? 'UNAUTHORIZED' : 'AUTHORIZER_FAILURE',
      };
    }
    const policy = readAuthorizerResult(result);
    if (policy === undefined) return { refused: 'AUTHORIZER_CONFIGURATION_ERROR' };
    cache.set(key, policy);
    return { policy, latencyMs: Math.max(0, now() - started), cached: false };
  }

  async function mcp(
    request: IncomingMessage,
    response: ServerResponse,
    httpMethod: string,
  ): Promise<string> {
    const handlers = options.handlers();
    if (handlers === undefined) {
      sendJson(response, 503, jsonRpcError(-32000, 'The local stack is starting.'), { 'Retry-After': '1' });
      return 'starting → 503';
    }
    let body: string;
    try {
      body = await readBody(request);
    } catch (error) {
      if (error instanceof BodyTooLarge) return `→ ${gatewayResponse(response, 'REQUEST_TOO_LARGE', '-')}`;
      throw error;
    }
    const received: ReceivedRequest = {
      httpMethod,
      rawHeaders: request.rawHeaders,
      query: new URL(request.url ?? '/', 'http://127.0.0.1').searchParams,
      sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
      sourcePort: request.socket.remotePort ?? 0,
      body,
      receivedAt: new Date(now()),
    };
    const call = describeCall(httpMethod, body);
    const maps = headerMaps(received);
    const context = requestContext(api, received, maps, request.headers.host ?? '127.0.0.1');
    const identity = (request.headersDistinct.authorization ?? []).filter((value) => value.trim() !== '');
    if (identity.length === 0)
      return `${call} → ${gatewayResponse(response, 'UNAUTHORIZED', context.requestId)}`;

    const authorized = await authorize(handlers, identity.join(','), () =>
      authorizerEvent(api, received, maps, context),
    );
    if ('refused' in authorized)
      return `${call} → ${gatewayResponse(response, authorized.refused, context.requestId)}`;
    if (!policyAllows(authorized.policy, methodArn(api, httpMethod)))
      return `${call} → ${gatewayResponse(response, 'ACCESS_DENIED', context.requestId)}`;

    const event = proxyEvent(received, maps, context, {
      principalId: authorized.policy.principalId,
      context: authorized.policy.context,
      latencyMs: authorized.latencyMs,
    });
    const streamed = emulatedStream(response);
    let failed = false;
    try {
      await handlers.proxy(event, streamed.stream);
    } catch {
      failed = true;
    }
    // As in Lambda: the response ends when the handler returns, ended by it or not.
    if (!streamed.stream.writableEnded) streamed.stream.end();
    const outcome = await streamed.finished;
    const note = authorized.cached ? ' (authorizer cache hit)' : '';
    if (outcome.kind === 'malformed' || (failed && !streamed.committed()))
      return `${call} → ${gatewayResponse(response, 'INTEGRATION_FAILURE', context.requestId)}${note}`;
    if (failed) response.destroy();
    return `${call} → ${outcome.status}${note}`;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // Before anything, the console included: DNS rebinding and cross-site requests (local/loopback-checks.ts).
    if (refuseNonLoopback(request, response, 'the local API Gateway')) return;
    if (options.routes?.(request, response)) return;
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    const httpMethod = (request.method ?? 'GET').toUpperCase();
    if (httpMethod === 'GET' && (path === PROTECTED_RESOURCE_PATH || path === ROOT_METADATA_PATH)) {
      // As the construct's mock integration serves it, at both well-known locations.
      sendJson(
        response,
        200,
        {
          resource: `${base}${MCP_RESOURCE}`,
          authorization_servers: [options.authorizationServer()],
          bearer_methods_supported: ['header'],
          resource_name: 'mcp-identity MCP endpoint',
        },
        { 'Cache-Control': 'public, max-age=300' },
      );
      return;
    }
    if (httpMethod === 'GET' && path === ASSERTION_JWKS_PATH && options.assertionJwks !== undefined) {
      sendJson(response, 200, options.assertionJwks(), { 'Cache-Control': 'max-age=300' });
      return;
    }
    if (path !== MCP_RESOURCE || !MCP_METHODS.has(httpMethod)) {
      // What API Gateway answers for a path or method the API does not have.
      request.resume();
      gatewayResponse(response, 'MISSING_AUTHENTICATION_TOKEN', '-');
      return;
    }
    const line = await mcp(request, response, httpMethod);
    options.onRequest?.(line);
  }

  const server: Server = createServer((request, response) => {
    withRequestLog(() => handle(request, response)).catch(() => {
      if (!response.headersSent) sendJson(response, 500, { message: 'Internal server error' });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, '127.0.0.1', () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}${MCP_RESOURCE}`,
    resourceMetadataUrl: `${base}${PROTECTED_RESOURCE_PATH}`,
    assertionJwksUrl: `${base}${ASSERTION_JWKS_PATH}`,
    authorizerInvocations: () => invocations,
    flushAuthorizerCache: () => cache.flush(),
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
