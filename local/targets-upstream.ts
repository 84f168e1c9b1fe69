import { Agent, request as httpRequest } from 'node:http';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import {
  type Upstream,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
  upstreamHeaders,
} from '../lambda/doors/apigateway/upstream';
import type { GatewayTarget } from './gateway';
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

/**
 * The MCP server behind the local API Gateway door: one upstream made of the local stack's targets (the demo
 * orders server, or the `dev --target` bridges — the very URLs the AgentCore emulation posts to).
 *
 * A deployed API Gateway door fronts one upstream per API (its proxy's `targetName` prefixes that upstream's
 * tools). Locally, a run may have several targets, so the door's upstream is this aggregator: it answers the
 * MCP handshake itself (`initialize`, `ping`, notifications), lists every target's tools as `target___tool`
 * and routes each `tools/call` by that prefix — as AgentCore Gateway does for its targets — so the API Gateway
 * door runs without a `targetName` and serves the same tool names, policies and audit vocabulary as the
 * AgentCore door. It implements the door's `Upstream` port in process: the door's real proxy code reads its
 * answer exactly as it reads an HTTPS or Lambda upstream's.
 *
 * Only the headers a target allows (`allowedRequestHeaders`: the identity-assertion header) go on to it, as
 * with AgentCore's header allow-list; the client's `Authorization` never does. MCP 2026-07-28 clients are served
 * as the AgentCore emulation serves them (local/mcp-era.ts): `server/discover`, stateless requests, lifted
 * results; the targets stay in the legacy era.
 */

const SEPARATOR = '___';
const SERVER = Object.freeze({
  serverInfo: Object.freeze({ name: 'mcp-identity-local-apigw-upstream', version: '1.0.0' }),
  capabilities: Object.freeze({ tools: { listChanged: false } }),
});
const IDLE_CONNECTION_MS = 4_000;
const MAX_TARGET_ANSWER_BYTES = 6 * 1024 * 1024;

type JsonRpc = {
  readonly jsonrpc?: unknown;
  readonly id?: string | number | null;
  readonly method?: string;
  readonly params?: Record<string, unknown>;
};

/** An answer before it becomes bytes (so a 2026-07-28 result can be lifted first). */
interface Answer {
  readonly status: number;
  readonly body: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function streamed({ status, body }: Answer, extra: [string, string[]][] = []): UpstreamResponse {
  const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body), 'utf8');
  const headers: [string, string[]][] = body === undefined ? [] : [['content-type', ['application/json']]];
  return {
    status,
    headers: new Map([...headers, ...extra]),
    body: {
      async *[Symbol.asyncIterator]() {
        if (bytes.length > 0) yield bytes;
      },
    },
  };
}

function rpcError(id: JsonRpc['id'], code: number, message: string, status = 200): Answer {
  return { status, body: { jsonrpc: '2.0', id: id ?? null, error: { code, message } } };
}

/** POSTs one JSON-RPC message to a target and reads its JSON answer (targets here answer JSON, never SSE). */
function postJson(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
  retried = false,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      {
        method: 'POST',
        agent,
        signal,
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body, 'utf8')) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_TARGET_ANSWER_BYTES) response.destroy(new Error('the target answer is too large'));
          else chunks.push(chunk);
        });
        response.once('end', () =>
          resolve({ status: response.statusCode ?? 502, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.once('error', reject);
      },
    );
    outgoing.once('error', (error: NodeJS.ErrnoException) => {
      // A kept-alive connection the target closed as it was reused: the request never reached it.
      if (!retried && outgoing.reusedSocket && error.code === 'ECONNRESET')
        postJson(agent, url, headers, body, signal, true).then(resolve, reject);
      else reject(error);
    });
    outgoing.end(body);
  });
}

export interface TargetsUpstream extends Upstream {
  /** Closes the kept-alive connections to the targets. */
  close(): void;
}

/** The stack's targets as one upstream for the API Gateway door (see the module comment). */
export function createTargetsUpstream(
  targets: readonly GatewayTarget[],
  supportedVersions: readonly string[] = DEFAULT_SUPPORTED_VERSIONS,
): TargetsUpstream {
  const byName = new Map(targets.map((target) => [target.name, target]));
  const urls = new Map(targets.map((target) => [target.name, new URL(target.url)]));
  const allowed = new Map(
    targets.map((target) => [
      target.name,
      new Set((target.allowedRequestHeaders ?? []).map((name) => name.toLowerCase())),
    ]),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: IDLE_CONNECTION_MS });
  const handshakeVersions = supportedVersions.filter(
    (version) => version < STATELESS_VERSION && SUPPORTED_PROTOCOL_VERSIONS.includes(version),
  );

  async function callTarget(target: GatewayTarget, message: JsonRpc, request: UpstreamRequest, era: Era) {
    // A legacy client's version goes on as it negotiated it; a 2026-07-28 request is bridged to the newest
    // version the targets' SDK speaks, without the per-request envelope.
    const clientVersion = request.clientHeaders.get('mcp-protocol-version')?.[0];
    const version =
      !era.stateless && clientVersion !== undefined && SUPPORTED_PROTOCOL_VERSIONS.includes(clientVersion)
        ? clientVersion
        : LATEST_PROTOCOL_VERSION;
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': version,
    };
    const permitted = allowed.get(target.name) ?? new Set<string>();
    for (const [name, values] of upstreamHeaders(request.clientHeaders, request.intent))
      if (permitted.has(name) && values[0] !== undefined) headers[name] = values[0];
    let response: { status: number; text: string };
    try {
      response = await postJson(
        agent,
        urls.get(target.name) as URL,
        headers,
        JSON.stringify(era.stateless ? withoutModernMeta(message) : message),
        request.signal,
      );
    } catch (error) {
      throw new UpstreamError(`target ${target.name} could not be reached (${(error as Error).message})`, {
        cause: error,
      });
    }
    if (response.text.length === 0) return { status: response.status, body: undefined };
    try {
      return { status: response.status, body: JSON.parse(response.text) as Record<string, unknown> };
    } catch (error) {
      throw new UpstreamError(`target ${target.name} answered something that is not JSON`, { cause: error });
    }
  }

  async function route(message: JsonRpc, request: UpstreamRequest, era: Era): Promise<Answer> {
    switch (message.method) {
      case 'initialize': {
        const requested = message.params?.protocolVersion;
        const protocolVersion =
          typeof requested === 'string' && handshakeVersions.includes(requested)
            ? requested
            : (handshakeVersions[0] ?? LATEST_PROTOCOL_VERSION);
        return {
          status: 200,
          body: {
            jsonrpc: '2.0',
            id: message.id,
            result: { protocolVersion, capabilities: SERVER.capabilities, serverInfo: SERVER.serverInfo },
          },
        };
      }
      case 'ping':
        return { status: 200, body: { jsonrpc: '2.0', id: message.id, result: {} } };
      case 'tools/list': {
        const tools: Record<string, unknown>[] = [];
        for (const target of byName.values()) {
          const listed = await callTarget(
            target,
            { jsonrpc: '2.0', id: message.id ?? null, method: 'tools/list', params: {} },
            request,
            era,
          );
          const result = isRecord(listed.body?.result) ? listed.body.result : {};
          for (const tool of Array.isArray(result.tools) ? result.tools : [])
            if (isRecord(tool))
              tools.push({ ...tool, name: `${target.name}${SEPARATOR}${String(tool.name)}` });
        }
        return { status: 200, body: { jsonrpc: '2.0', id: message.id, result: { tools } } };
      }
      case 'tools/call': {
        const name = String(message.params?.name ?? '');
        const at = name.indexOf(SEPARATOR);
        const target = at > 0 ? byName.get(name.slice(0, at)) : undefined;
        if (target === undefined) return rpcError(message.id, -32602, `Unknown tool: ${name.slice(0, 200)}`);
        const called = await callTarget(
          target,
          { ...message, params: { ...message.params, name: name.slice(at + SEPARATOR.length) } },
          request,
          era,
        );
        return { status: called.status === 202 ? 200 : called.status, body: called.body };
      }
      default:
        return rpcError(
          message.id,
          -32601,
          `Method not found: ${String(message.method).slice(0, 100)}`,
          era.stateless ? 404 : 200,
        );
    }
  }

  async function serve(message: JsonRpc, request: UpstreamRequest): Promise<Answer> {
    // Answered in any era: it is how a client finds out which one to speak.
    if (message.method === 'server/discover' && message.id !== undefined)
      return { status: 200, body: discoverAnswer(message.id, supportedVersions, SERVER) };
    const era = eraOf(message, (name) => request.clientHeaders.get(name) ?? [], supportedVersions);
    if (!('stateless' in era)) return era;
    if (message.id === undefined || message.method?.startsWith('notifications/'))
      return { status: 202, body: undefined };
    if (era.stateless && LEGACY_ONLY_METHODS.has(message.method ?? ''))
      return rpcError(message.id, -32601, `Method not found: ${message.method}`, 404);
    const answer = await route(message, request, era);
    return era.stateless
      ? { ...answer, body: liftedBody(answer.body, message.method ?? '', SERVER) }
      : answer;
  }

  return {
    async send(request) {
      // No sessions here: nothing to terminate (MCP: a server may answer DELETE with 405).
      if (request.httpMethod !== 'POST')
        return streamed({ status: 405, body: undefined }, [['allow', ['POST']]]);
      let message: unknown;
      try {
        message = JSON.parse(request.body ?? '');
      } catch {
        return streamed(rpcError(null, -32700, 'Parse error', 400));
      }
      if (!isRecord(message) || typeof message.method !== 'string')
        return streamed(rpcError(null, -32600, 'Invalid Request', 400));
      return streamed(await serve(message as JsonRpc, request));
    },
    close: () => agent.destroy(),
  };
}
