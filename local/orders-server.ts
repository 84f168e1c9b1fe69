import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/**
 * The demo orders MCP server (DESIGN §6), on the real MCP SDK over Streamable HTTP. It trusts only the
 * identity the gateway injects (`_caller_user`, `_caller_roles`): the gateway denies any client that sends
 * them itself. It never sees the user's token, and counts any Authorization header it receives so tests
 * can prove that.
 */

interface Order {
  readonly id: string;
  readonly owner: string;
  status: string;
  readonly total: number;
}

interface Activity {
  readonly user: string;
  readonly tool: string;
  readonly detail: string;
  readonly at: string;
}

export const ORDER_STATUSES = ['pending', 'shipped', 'cancelled', 'refunded'] as const;
const ADMIN_ROLE = 'order-admin';

function seedOrders(): Map<string, Order> {
  return new Map(
    [
      { id: '1001', owner: 'alice', status: 'pending', total: 120 },
      { id: '1002', owner: 'alice', status: 'shipped', total: 80 },
      { id: '2001', owner: 'bob', status: 'pending', total: 950 },
      { id: '3001', owner: 'carol', status: 'pending', total: 45 },
    ].map((order) => [order.id, order]),
  );
}

const caller = {
  _caller_user: z.string().describe('Set by the gateway from the verified token; never by the client.'),
  _caller_roles: z
    .array(z.string())
    .describe('Set by the gateway from the verified token; never by the client.'),
};

const text = (value: unknown, isError = false): CallToolResult => ({
  content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }],
  ...(isError ? { isError: true } : {}),
});

export interface OrdersServer {
  readonly url: string;
  /** Requests that reached the target carrying an Authorization header (should stay 0). */
  readonly authorizationHeadersSeen: () => number;
  stop(): Promise<void>;
}

function buildServer(orders: Map<string, Order>, activity: Activity[]): McpServer {
  const server = new McpServer({ name: 'orders', version: '1.0.0' });
  const record = (user: string, tool: string, detail: string) => {
    activity.push({ user, tool, detail, at: new Date().toISOString() });
    if (activity.length > 1000) activity.shift();
  };

  server.registerTool(
    'get_order',
    {
      description: 'Get one order. Admins see any order; everyone else only their own.',
      inputSchema: { order_id: z.string().describe('The order id, e.g. 1001'), ...caller },
    },
    async ({ order_id, _caller_user, _caller_roles }) => {
      const order = orders.get(order_id);
      const visible =
        order !== undefined && (order.owner === _caller_user || _caller_roles.includes(ADMIN_ROLE));
      record(_caller_user, 'get_order', `order ${order_id}${visible ? '' : ' (not visible)'}`);
      // The same answer for "absent" and "not yours", so ids of other people's orders do not leak.
      return visible ? text(order) : text(`Order ${order_id} was not found.`, true);
    },
  );

  server.registerTool(
    'update_order',
    {
      description:
        'Change the status of an order (order admins only; refunds above 500 need finance approval).',
      inputSchema: {
        order_id: z.string(),
        status: z.enum(ORDER_STATUSES),
        amount: z.number().int().min(0).optional().describe('Refund amount, for status "refunded"'),
        ...caller,
      },
    },
    async ({ order_id, status, amount, _caller_user }) => {
      const order = orders.get(order_id);
      if (order === undefined) return text(`Order ${order_id} was not found.`, true);
      order.status = status;
      record(
        _caller_user,
        'update_order',
        `order ${order_id} → ${status}${amount === undefined ? '' : ` (${amount})`}`,
      );
      return text({ ...order, updatedBy: _caller_user });
    },
  );

  server.registerTool(
    'get_recent_activity',
    {
      description: 'What have I been working on? Recent order activity of the calling user only.',
      inputSchema: { ...caller },
    },
    async ({ _caller_user }) => {
      const mine = activity.filter((item) => item.user === _caller_user).slice(-20);
      return text({ user: _caller_user, activity: mine });
    },
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
  const orders = seedOrders();
  const activity: Activity[] = [];
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
      const server = buildServer(orders, activity);
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
