import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ListToolsResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { TargetSpec } from './target-specs';

/**
 * Puts an operator's own MCP server (Streamable HTTP or stdio) behind the local gateway. The gateway emulation
 * speaks plain JSON-RPC over HTTP POST to its targets, as the managed gateway does after its own handshake; a real
 * server wants the MCP handshake, may answer in SSE, may keep a session, or may only speak stdio. The bridge is a
 * loopback endpoint in front of one MCP SDK client connected to that server, so the gateway (and the guard in it)
 * treats every target the same way.
 *
 * Headers the gateway forwards to the target (the allow-listed identity-assertion header) reach an HTTP server as
 * HTTP headers on the very request that carries the call; a stdio server has no headers, so they travel in the
 * request's `_meta` under {@link STDIO_HEADER_META_KEY}.
 */

/** Where a stdio server finds the headers an HTTP server would have received (`_meta` key, MCP naming rules). */
export const STDIO_HEADER_META_KEY = 'io.mcp-identity/headers';

/** Never passed on, even if allow-listed: the client's credential stays at the gateway. */
const NEVER_FORWARDED = new Set(['authorization', 'proxy-authorization', 'cookie']);

/** At most this many `tools/list` pages are followed before the bridge gives up on a server. */
const MAX_LIST_PAGES = 100;
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const CALL_TIMEOUT_MS = 30_000;

export interface BridgedTarget {
  readonly name: string;
  /** The loopback URL the gateway posts JSON-RPC to. */
  readonly url: string;
  /** What the dev log shows for this target (the command or the server URL). */
  readonly describe: string;
  stop(): Promise<void>;
}

export interface TargetBridgeOptions {
  /** Diagnostic lines (a stdio server's stderr, lost connections). */
  readonly log?: (line: string) => void;
  /**
   * The headers the gateway may send on to this target (its `allowedRequestHeaders`, e.g. the identity-assertion
   * header). Every other header of the gateway's request to the bridge stays on that hop.
   */
  readonly forwardHeaders?: readonly string[];
}

export class TargetBridgeError extends Error {}

type Forwarded = Readonly<Record<string, string>>;

function forwardedHeaders(request: IncomingMessage, allowed: ReadonlySet<string>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (!allowed.has(key) || NEVER_FORWARDED.has(key) || value === undefined) continue;
    headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.once('error', reject);
  });
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

function rpcError(id: unknown, code: number, message: string): Record<string, unknown> {
  return { jsonrpc: '2.0', id: id ?? null, error: { code, message } };
}

function describe(spec: TargetSpec): string {
  return spec.kind === 'http'
    ? `${spec.url.origin}${spec.url.pathname}`
    : `stdio: ${[spec.command, ...spec.args].join(' ')}`;
}

function withHeadersInMeta(params: Record<string, unknown>, headers: Forwarded): Record<string, unknown> {
  if (Object.keys(headers).length === 0) return params;
  const meta =
    params._meta !== null && typeof params._meta === 'object'
      ? (params._meta as Record<string, unknown>)
      : {};
  return { ...params, _meta: { ...meta, [STDIO_HEADER_META_KEY]: headers } };
}

/** Connects to the target's server with the MCP SDK client and serves the bridge on an ephemeral loopback port. */
export async function startTargetBridge(
  spec: TargetSpec,
  options: TargetBridgeOptions = {},
): Promise<BridgedTarget> {
  const log = options.log ?? (() => undefined);
  const allowed = new Set((options.forwardHeaders ?? []).map((name) => name.toLowerCase()));
  const perRequest = new AsyncLocalStorage<Forwarded>();
  let transport: StdioClientTransport | StreamableHTTPClientTransport;
  if (spec.kind === 'http') {
    transport = new StreamableHTTPClientTransport(spec.url, {
      // The SDK client makes its own requests; the headers of the call in progress are merged into them here.
      fetch: (url, init) => {
        const extra = perRequest.getStore() ?? {};
        const headers = new Headers(init?.headers);
        for (const [key, value] of Object.entries(extra)) headers.set(key, value);
        return fetch(url, { ...init, headers });
      },
    });
  } else {
    transport = new StdioClientTransport({ command: spec.command, args: [...spec.args], stderr: 'pipe' });
    let pending = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim().length > 0) log(`[${spec.name}] ${line.slice(0, 500)}`);
    });
  }
  const client = new Client({ name: 'mcp-identity-local-gateway', version: '1.0.0' });
  let closed = false;
  let connected = false;
  client.onclose = () => {
    // Reported once, and only for a server that was up: a failed handshake is reported by the error below.
    if (connected && !closed)
      log(`[${spec.name}] the MCP server closed the connection; calls to ${spec.name}___* now fail`);
    closed = true;
  };
  try {
    await client.connect(transport);
    connected = true;
  } catch (error) {
    await client.close().catch(() => undefined);
    throw new TargetBridgeError(
      `target ${spec.name} (${describe(spec)}) did not complete the MCP handshake: ${(error as Error).message}`,
    );
  }

  async function listAll(headers: Forwarded): Promise<unknown[]> {
    const tools: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const result = await perRequest.run(headers, () =>
        client.request(
          {
            method: 'tools/list',
            params: withHeadersInMeta(
              cursor === undefined ? {} : { cursor },
              spec.kind === 'stdio' ? headers : {},
            ),
          },
          ListToolsResultSchema,
          { timeout: CALL_TIMEOUT_MS },
        ),
      );
      tools.push(...result.tools);
      cursor = result.nextCursor;
      if (cursor === undefined) return tools;
    }
    throw new TargetBridgeError(`${spec.name} returned more than ${MAX_LIST_PAGES} pages of tools`);
  }

  async function answer(
    message: Record<string, unknown>,
    headers: Forwarded,
  ): Promise<Record<string, unknown>> {
    const id = message.id;
    const params =
      message.params !== null && typeof message.params === 'object' && !Array.isArray(message.params)
        ? (message.params as Record<string, unknown>)
        : {};
    if (closed) return rpcError(id, -32603, `The MCP server of target ${spec.name} is not connected`);
    try {
      switch (message.method) {
        case 'tools/list':
          return { jsonrpc: '2.0', id, result: { tools: await listAll(headers) } };
        case 'tools/call': {
          const result = await perRequest.run(headers, () =>
            client.request(
              {
                method: 'tools/call',
                params: spec.kind === 'stdio' ? withHeadersInMeta(params, headers) : params,
              },
              CallToolResultSchema,
              { timeout: CALL_TIMEOUT_MS },
            ),
          );
          return { jsonrpc: '2.0', id, result };
        }
        default:
          return rpcError(id, -32601, `Method not found: ${String(message.method).slice(0, 100)}`);
      }
    } catch (error) {
      if (error instanceof McpError) return rpcError(id, error.code, error.message);
      return rpcError(id, -32603, `Target ${spec.name} failed: ${(error as Error).message.slice(0, 300)}`);
    }
  }

  const server = createServer((request, response) => {
    if (request.method !== 'POST') {
      response.writeHead(405, { Allow: 'POST' }).end();
      return;
    }
    const headers = forwardedHeaders(request, allowed);
    readBody(request)
      .then(async (text) => {
        if (text === undefined) return reply(response, 413, rpcError(null, -32600, 'Request too large'));
        let message: unknown;
        try {
          message = JSON.parse(text);
        } catch {
          return reply(response, 400, rpcError(null, -32700, 'Parse error'));
        }
        if (message === null || typeof message !== 'object' || Array.isArray(message))
          return reply(response, 400, rpcError(null, -32600, 'Invalid Request'));
        const record = message as Record<string, unknown>;
        if (record.id === undefined) {
          response.writeHead(202).end();
          return;
        }
        reply(response, 200, await answer(record, headers));
      })
      .catch((error: Error) => {
        if (!response.headersSent) reply(response, 500, rpcError(null, -32603, error.message.slice(0, 300)));
      });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    name: spec.name,
    url: `http://127.0.0.1:${port}/`,
    describe: describe(spec),
    stop: async () => {
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await client.close().catch(() => undefined);
    },
  };
}
