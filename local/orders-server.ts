import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ORDER_STATUSES, ORDER_TOOLS, OrdersDemo, type ToolAnswer } from '../lambda/demo/orders';

/**
 * The demo orders tools (lambda/demo/orders.ts) as an MCP server on the real MCP SDK over Streamable HTTP:
 * the local stack's target. It never sees the user's token, and counts any Authorization header it receives
 * so tests can prove that.
 */

const caller = {
  _caller_user: z.string().describe('Set by the gateway from the verified token; never by the client.'),
  _caller_roles: z
    .array(z.string())
    .describe('Set by the gateway from the verified token; never by the client.'),
};

const result = (answer: ToolAnswer): CallToolResult => ({
  content: [{ type: 'text', text: answer.text }],
  ...(answer.isError ? { isError: true } : {}),
});

export interface OrdersServer {
  readonly url: string;
  /** Requests that reached the target carrying an Authorization header (should stay 0). */
  readonly authorizationHeadersSeen: () => number;
  stop(): Promise<void>;
}

function buildServer(demo: OrdersDemo): McpServer {
  const server = new McpServer({ name: 'orders', version: '1.0.0' });
  const [getOrder, updateOrder, recentActivity] = ORDER_TOOLS;
  server.registerTool(
    getOrder.name,
    {
      description: getOrder.description,
      inputSchema: { order_id: z.string().describe('The order id, e.g. 1001'), ...caller },
    },
    async (input) => result(demo.getOrder(input)),
  );
  server.registerTool(
    updateOrder.name,
    {
      description: updateOrder.description,
      inputSchema: {
        order_id: z.string(),
        status: z.enum(ORDER_STATUSES),
        amount: z.number().int().min(0).optional().describe('Refund amount, for status "refunded"'),
        ...caller,
      },
    },
    async (input) => result(demo.updateOrder(input)),
  );
  server.registerTool(
    recentActivity.name,
    { description: recentActivity.description, inputSchema: { ...caller } },
    async (input) => result(demo.recentActivity(input)),
  );
  return server;
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.length === 0 ? undefined : JSON.parse(text);
}

/** Starts the orders target on 127.0.0.1 (stateless Streamable HTTP, JSON responses). */
export async function startOrdersServer(port = 0): Promise<OrdersServer> {
  const demo = new OrdersDemo();
  let authorizationHeaders = 0;
  const http: Server = createServer(async (request, response) => {
    if (request.headers.authorization !== undefined) authorizationHeaders += 1;
    if (request.method !== 'POST' || new URL(request.url ?? '/', 'http://127.0.0.1').pathname !== '/mcp') {
      response.writeHead(405, { Allow: 'POST' }).end();
      return;
    }
    try {
      const body = await readJson(request);
      // Stateless: a fresh server and transport per request, as the SDK recommends without sessions.
      const server = buildServer(demo);
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
    } catch {
      if (!response.headersSent) {
        response.writeHead(400, { 'Content-Type': 'application/json' });
        response.end(
          JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }),
        );
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    authorizationHeadersSeen: () => authorizationHeaders,
    stop: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
