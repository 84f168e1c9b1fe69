import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

/**
 * A loopback MCP server (the SDK's McpServer over stateless Streamable HTTP) that stands in for a gateway in
 * front of several targets: it lists whatever tool definitions the test sets, `pageSize` per page through
 * `nextCursor`, and only to a request carrying `Authorization: Bearer <token>`.
 */

export interface ToolServer {
  readonly url: string;
  /** The definitions listed, in order; replace them between requests to change what the "gateway" exposes. */
  tools: Record<string, unknown>[];
  /** tools/list requests served, and how many carried a cursor. */
  readonly listings: () => { readonly pages: number; readonly withCursor: number };
  /** Every Authorization header value received (to prove which token was sent). */
  readonly authorizations: string[];
  stop(): Promise<void>;
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.length === 0 ? undefined : JSON.parse(text);
}

export async function startToolServer(options: {
  token: string;
  tools: Record<string, unknown>[];
  pageSize?: number;
}): Promise<ToolServer> {
  const pageSize = options.pageSize ?? 2;
  let pages = 0;
  let withCursor = 0;
  const authorizations: string[] = [];
  const state: { tools: Record<string, unknown>[] } = { tools: options.tools };

  const buildServer = () => {
    const mcp = new McpServer({ name: 'gateway-stand-in', version: '1.0.0' });
    mcp.server.registerCapabilities({ tools: {} });
    mcp.server.setRequestHandler(ListToolsRequestSchema, (request) => {
      pages += 1;
      const cursor = request.params?.cursor;
      if (cursor !== undefined) withCursor += 1;
      const start = cursor === undefined ? 0 : Number(cursor);
      const end = start + pageSize;
      return {
        tools: state.tools.slice(start, end) as never,
        ...(end < state.tools.length ? { nextCursor: String(end) } : {}),
      };
    });
    return mcp;
  };

  const http = createServer(async (request, response) => {
    const authorization = request.headers.authorization;
    if (authorization !== undefined) authorizations.push(authorization);
    if (authorization !== `Bearer ${options.token}`) {
      response.writeHead(401, {
        'WWW-Authenticate':
          authorization === undefined
            ? 'Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource"'
            : 'Bearer error="invalid_token", error_description="the access token is invalid or expired"',
        'Content-Type': 'application/json',
      });
      response.end(JSON.stringify({ error: 'invalid_token' }));
      return;
    }
    if (request.method !== 'POST') {
      response.writeHead(405, { Allow: 'POST' }).end();
      return;
    }
    const body = await readJson(request);
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    response.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request, response, body);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    get tools() {
      return state.tools;
    },
    set tools(tools) {
      state.tools = tools;
    },
    listings: () => ({ pages, withCursor }),
    authorizations,
    stop: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
