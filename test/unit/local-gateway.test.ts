import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { InterceptorOutput } from '../../lambda/doors/agentcore/contract';
import { type Gateway, startGateway } from '../../local/gateway';

/**
 * The gateway emulation's own plumbing, with a pass-through interceptor: how it reaches targets.
 */

const passThrough = async (event: unknown): Promise<InterceptorOutput> => {
  const { mcp } = event as { mcp: { gatewayRequest: { body: unknown }; gatewayResponse?: unknown } };
  return mcp.gatewayResponse === undefined
    ? {
        interceptorOutputVersion: '1.0',
        mcp: { transformedGatewayRequest: { body: mcp.gatewayRequest.body } },
      }
    : { interceptorOutputVersion: '1.0', mcp: {} };
};

/** A target that drops every second request arriving on a kept-alive connection, as a closing server would. */
async function flakyKeepAliveTarget(): Promise<{ server: Server; url: string; connections: () => number }> {
  const requestsOn = new WeakMap<Socket, number>();
  let connections = 0;
  const server = createServer((request, response) => {
    const seen = (requestsOn.get(request.socket) ?? 0) + 1;
    requestsOn.set(request.socket, seen);
    request.resume();
    request.on('end', () => {
      if (seen > 1) {
        request.socket.destroy();
        return;
      }
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(
        JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'ok' }] } }),
      );
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    connections: () => connections,
  };
}

async function callTool(gateway: Gateway): Promise<{ status: number; body: unknown }> {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'demo___echo', arguments: {} },
    }),
  });
  return { status: response.status, body: await response.json() };
}

describe('local gateway → targets', () => {
  let target: Awaited<ReturnType<typeof flakyKeepAliveTarget>>;
  let gateway: Gateway;
  beforeAll(async () => {
    target = await flakyKeepAliveTarget();
    gateway = await startGateway({
      port: 0,
      interceptor: () => passThrough,
      targets: [{ name: 'demo', url: target.url }],
      authorizationServer: () => 'http://127.0.0.1:1',
    });
  });
  afterAll(async () => {
    await gateway.stop();
    target.server.closeAllConnections();
    await new Promise<void>((resolve) => target.server.close(() => resolve()));
  });

  it('reuses one kept-alive connection per target for consecutive calls', async () => {
    const first = await callTool(gateway);
    expect(first).toEqual({
      status: 200,
      body: { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'ok' }] } },
    });
    expect(target.connections()).toBe(1);
  });

  it('sends a call again on a fresh connection when the target closed the kept-alive one under it', async () => {
    const before = target.connections();
    const answer = await callTool(gateway);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: { content: [{ type: 'text', text: 'ok' }] },
    });
    expect(target.connections()).toBe(before + 1);
  });
});
