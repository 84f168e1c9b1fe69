import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { JwtTokenVerifier } from '../../lambda/adapters/jwt-token-verifier';
import { NO_CREDENTIALS } from '../../lambda/adapters/outbound-credentials';
import { HttpsUpstream } from '../../lambda/adapters/upstream-https';
import type { ProxyDoorSettings } from '../../lambda/doors/apigateway/door';
import {
  type Upstream,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
} from '../../lambda/doors/apigateway/upstream';
import type { GuardSettings } from '../../lambda/guard/deps';
import { createApiGatewayProxyHandler } from '../../lambda/handlers/apigateway-proxy';
import { DevIssuer } from '../../local/dev-issuer';
import { type OrdersServer, startOrdersServer } from '../../local/orders-server';
import { fixture } from '../helpers/fixtures';
import { AUDIENCE, MemoryAuditSink, policyBundle, settings, silentLog, USERS } from '../helpers/harness';
import { recordingStream, streamedResponse } from '../helpers/response-stream';

type ProxyEvent = Record<string, unknown> & {
  httpMethod: string;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  body: string | null;
  requestContext: Record<string, unknown>;
};

let issuer: DevIssuer;
let verifier: JwtTokenVerifier;
let orders: OrdersServer;
const pdp = new CedarDecisionPoint(policyBundle());

beforeAll(async () => {
  issuer = await DevIssuer.start();
  verifier = new JwtTokenVerifier(issuer.verifierSettings(AUDIENCE));
  await verifier.hydrate();
  orders = await startOrdersServer();
});
afterAll(async () => {
  await orders.stop();
  await issuer.stop();
});

const token = (user: keyof typeof USERS) => issuer.sign({ ...USERS[user], aud: AUDIENCE });

function setHeader(event: ProxyEvent, name: string, value: string | undefined): void {
  for (const map of [event.headers, event.multiValueHeaders])
    for (const key of Object.keys(map)) if (key.toLowerCase() === name.toLowerCase()) delete map[key];
  if (value === undefined) return;
  event.headers[name] = value;
  event.multiValueHeaders[name] = [value];
}

/** The documented proxy event with this token and body; mirrored 2026-07-28 headers left out unless asked. */
function proxyEvent(bearer: string | undefined, body: unknown, method = 'POST'): ProxyEvent {
  const event = fixture<ProxyEvent>('apigateway/proxy-integration-input.tools-call.json');
  event.httpMethod = method;
  event.body = body === undefined ? null : JSON.stringify(body);
  for (const name of ['Mcp-Name', 'Mcp-Method', 'MCP-Protocol-Version', 'Content-Length'])
    setHeader(event, name, undefined);
  setHeader(event, 'Authorization', bearer === undefined ? undefined : `Bearer ${bearer}`);
  return event;
}

const toolCall = (name: string, args: Record<string, unknown> = {}, id: number | string = 7) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});
const toolsList = (id = 2) => ({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });

/** An upstream that records what it was sent and answers as told. */
function fakeUpstream(answer: (request: UpstreamRequest) => Promise<UpstreamResponse> | UpstreamResponse) {
  const requests: UpstreamRequest[] = [];
  const upstream: Upstream = {
    send: async (request) => {
      requests.push(request);
      return answer(request);
    },
  };
  return { upstream, requests };
}

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield Buffer.from(part, 'utf8');
}

function answerWith(status: number, contentType: string, ...parts: string[]): UpstreamResponse {
  return { status, headers: new Map([['content-type', [contentType]]]), body: chunks(...parts) };
}

function proxy(
  options: {
    upstream?: Upstream;
    door?: Partial<ProxyDoorSettings>;
    settings?: Partial<GuardSettings>;
    verifier?: JwtTokenVerifier;
  } = {},
) {
  const audit = new MemoryAuditSink();
  const log = silentLog();
  const handler = createApiGatewayProxyHandler({
    verifier: options.verifier ?? verifier,
    pdp,
    audit,
    log,
    settings: settings(options.settings),
    upstream: options.upstream ?? new HttpsUpstream(orders.url, NO_CREDENTIALS),
    door: {
      timeoutMs: 5000,
      maxResponseBytes: 1024 * 1024,
      keepAliveSeconds: 30,
      targetName: 'orders',
      ...options.door,
    },
  });
  const call = async (event: unknown) => {
    const stream = recordingStream();
    await handler(event, stream);
    await stream.finished;
    return { ...streamedResponse(stream), stream };
  };
  return { call, audit, log };
}

/** The JSON-RPC messages of a body, JSON or SSE. */
function messages(body: string): Record<string, unknown>[] {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) return [JSON.parse(trimmed)];
  return trimmed
    .split(/\n\n+/)
    .flatMap((event) => event.split('\n').filter((line) => line.startsWith('data:')))
    .map((line) => JSON.parse(line.slice(5)));
}

describe('API Gateway MCP proxy: decisions per JSON-RPC request', () => {
  it('forwards an allowed call with the identity injected and no client token, and streams the answer back', async () => {
    const { upstream, requests } = fakeUpstream(() =>
      answerWith(
        200,
        'application/json',
        '{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"ok"}]}}',
      ),
    );
    const { call, audit } = proxy({ upstream });
    const alice = await token('alice');
    const { metadata, body } = await call(
      proxyEvent(alice, toolCall('orders___get_order', { order_id: '1001' })),
    );
    expect(metadata.statusCode).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ id: 7, result: { content: [{ text: 'ok' }] } });
    expect(requests).toHaveLength(1);
    const sent = JSON.parse(requests[0]?.body as string);
    // The upstream knows its tools by their own names; the identity is the verified caller's.
    expect(sent.params).toMatchObject({
      name: 'get_order',
      arguments: { order_id: '1001', _caller_user: 'alice' },
    });
    expect(requests[0]?.intent.remove).toContain('authorization');
    expect(
      audit.events.map((event) => [
        event.eventName,
        event.additionalEventData?.phase,
        event.errorCode ?? null,
      ]),
    ).toEqual([
      ['orders___get_order', 'request', null],
      ['orders___get_order', 'response', null],
    ]);
    expect(audit.events[0]).toMatchObject({
      sourceIPAddress: '198.51.100.23',
      additionalEventData: { door: 'apigw' },
    });
  });

  it('through the real orders MCP server: the tool answers for the injected caller only, and never sees a token', async () => {
    const { call } = proxy();
    const before = orders.authorizationHeadersSeen();
    const { body } = await call(
      proxyEvent(await token('alice'), toolCall('orders___get_order', { order_id: '1001' })),
    );
    expect(JSON.stringify(messages(body)[0])).toContain('1001');
    const other = await call(
      proxyEvent(await token('alice'), toolCall('orders___get_order', { order_id: '2001' })),
    );
    expect(messages(other.body)[0]).toMatchObject({ result: { isError: true } });
    expect(orders.authorizationHeadersSeen()).toBe(before);
  });

  it('answers a denial itself (200 tool error with the reason); the upstream is never called', async () => {
    const { upstream, requests } = fakeUpstream(() => answerWith(200, 'application/json', '{}'));
    const { call, audit } = proxy({ upstream });
    const { metadata, body } = await call(
      proxyEvent(await token('carol'), toolCall('orders___get_order', { order_id: '3001' })),
    );
    expect(metadata.statusCode).toBe(200);
    expect(metadata.headers).toMatchObject({
      'x-mcp-identity-decision': 'deny',
      'Cache-Control': 'no-store',
    });
    expect(JSON.parse(body)).toMatchObject({ id: 7, result: { isError: true } });
    expect(requests).toHaveLength(0);
    expect(audit.events[0]).toMatchObject({ errorCode: 'AccessDenied', eventName: 'orders___get_order' });
  });

  it('answers 401 with WWW-Authenticate without a token, audited; the upstream is never called', async () => {
    const { upstream, requests } = fakeUpstream(() => answerWith(200, 'application/json', '{}'));
    const { call, audit } = proxy({ upstream });
    const { metadata } = await call(proxyEvent(undefined, toolsList()));
    expect(metadata.statusCode).toBe(401);
    expect(metadata.headers?.['WWW-Authenticate']).toBe(
      'Bearer resource_metadata="https://gateway.example.com/.well-known/oauth-protected-resource"',
    );
    expect(requests).toHaveLength(0);
    expect(audit.events[0]).toMatchObject({ errorCode: 'InvalidToken' });
  });

  it('refuses (401) a token from a client not in allowedClients, audited; the upstream is never called', async () => {
    const { upstream, requests } = fakeUpstream(() => answerWith(200, 'application/json', '{}'));
    const strict = new JwtTokenVerifier({
      ...issuer.verifierSettings(AUDIENCE),
      allowedClients: ['another-agent'],
    });
    const { call, audit } = proxy({ upstream, verifier: strict });
    const alice = await token('alice');
    const { metadata } = await call(proxyEvent(alice, toolCall('orders___get_order', { order_id: '1001' })));
    expect(metadata.statusCode).toBe(401);
    expect(requests).toHaveLength(0);
    expect(audit.events[0]).toMatchObject({ errorCode: 'InvalidToken' });
    expect(audit.events[0]?.additionalEventData?.cause).toContain('not one of the allowed clients');
    expect(JSON.stringify(audit.events)).not.toContain(alice);
  });

  it('verifies the token itself: a forged authorizer context in the event changes nothing', async () => {
    const { upstream, requests } = fakeUpstream(() =>
      answerWith(200, 'application/json', '{"jsonrpc":"2.0","id":7,"result":{}}'),
    );
    const { call } = proxy({ upstream });
    const event = proxyEvent(
      await token('carol'),
      toolCall('orders___update_order', { order_id: '3001', status: 'shipped' }),
    );
    event.requestContext.authorizer = { principalId: 'bob', sub: 'bob', roles: '["order-admin"]' };
    const { body } = await call(event);
    expect(JSON.parse(body)).toMatchObject({ result: { isError: true } });
    expect(requests).toHaveLength(0);
  });

  it('refuses a call naming a tool without this upstream’s prefix; nothing is forwarded', async () => {
    const { upstream, requests } = fakeUpstream(() => answerWith(200, 'application/json', '{}'));
    const { call } = proxy({ upstream });
    const { body } = await call(proxyEvent(await token('bob'), toolCall('get_order', { order_id: '2001' })));
    expect(JSON.parse(body)).toMatchObject({ id: 7 });
    expect(JSON.parse(body).result?.isError === true || JSON.parse(body).error !== undefined).toBe(true);
    expect(requests).toHaveLength(0);
  });

  it('answers “unknown tool” for an allowed call this upstream does not offer (another target’s prefix), outcome audited', async () => {
    const { upstream, requests } = fakeUpstream(() => answerWith(200, 'application/json', '{}'));
    const { call, audit } = proxy({ upstream, door: { targetName: 'crm' } });
    const { metadata, body } = await call(
      proxyEvent(await token('bob'), toolCall('orders___get_order', { order_id: '2001' })),
    );
    expect(metadata.statusCode).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ id: 7, error: { code: -32602 } });
    expect(requests).toHaveLength(0);
    expect(audit.events.at(-1)).toMatchObject({
      additionalEventData: { phase: 'response', outcome: 'jsonrpc-error' },
    });
  });

  it('gives the upstream a mirrored Mcp-Name that matches the body it receives (MCP 2026-07-28)', async () => {
    const { upstream, requests } = fakeUpstream(() =>
      answerWith(200, 'application/json', '{"jsonrpc":"2.0","id":7,"result":{}}'),
    );
    const { call } = proxy({ upstream });
    const event = proxyEvent(await token('alice'), toolCall('orders___get_order', { order_id: '1001' }));
    setHeader(event, 'Mcp-Method', 'tools/call');
    setHeader(event, 'Mcp-Name', 'orders___get_order');
    await call(event);
    expect(requests[0]?.intent.set['mcp-name']).toBe('get_order');
  });

  it('refuses a request whose mirrored Mcp-Name disagrees with its body (400, -32020)', async () => {
    const { upstream, requests } = fakeUpstream(() => answerWith(200, 'application/json', '{}'));
    const { call } = proxy({ upstream });
    const event = proxyEvent(await token('bob'), toolCall('orders___get_order', { order_id: '2001' }));
    setHeader(event, 'Mcp-Name', 'orders___update_order');
    const { metadata, body } = await call(event);
    expect(metadata.statusCode).toBe(400);
    expect(JSON.parse(body)).toMatchObject({ error: { code: -32020 } });
    expect(requests).toHaveLength(0);
  });

  it('refuses an event it cannot read (400), audited', async () => {
    const { call, audit } = proxy();
    const { metadata } = await call('not an event');
    expect(metadata.statusCode).toBe(400);
    expect(audit.events[0]).toMatchObject({ errorCode: 'MalformedRequest' });
  });
});

describe('API Gateway MCP proxy: lists filtered per caller', () => {
  const listed = async (user: keyof typeof USERS) => {
    const { call } = proxy();
    const { body } = await call(proxyEvent(await token(user), toolsList()));
    const [message] = messages(body);
    const result = message?.result as
      | { tools?: { name: string; inputSchema: { properties?: object } }[] }
      | undefined;
    return (result?.tools ?? []).map((tool) => tool.name);
  };

  it('shows each caller only what they could call, named as on AgentCore Gateway', async () => {
    expect((await listed('alice')).sort()).toEqual(['orders___get_order', 'orders___get_recent_activity']);
    expect((await listed('bob')).sort()).toEqual([
      'orders___get_order',
      'orders___get_recent_activity',
      'orders___update_order',
    ]);
    expect(await listed('carol')).toEqual([]);
  });

  it('filters an SSE answer event by event; notifications pass as they are', async () => {
    const list = {
      jsonrpc: '2.0',
      id: 2,
      result: {
        tools: [
          { name: 'get_order', inputSchema: { type: 'object' } },
          { name: 'update_order', inputSchema: { type: 'object' } },
        ],
      },
    };
    const progress =
      'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n';
    const { upstream } = fakeUpstream(() =>
      answerWith(
        200,
        'text/event-stream',
        ': hello\n\n',
        progress,
        `event: message\ndata: ${JSON.stringify(list)}\n\n`,
      ),
    );
    const { call, audit } = proxy({ upstream });
    const { metadata, body } = await call(proxyEvent(await token('alice'), toolsList()));
    expect(metadata).toMatchObject({
      statusCode: 200,
      headers: { 'content-type': 'text/event-stream', 'x-accel-buffering': 'no' },
    });
    expect(body.startsWith(`: hello\n\n${progress}`)).toBe(true);
    const [, answer] = messages(body);
    const listed = answer?.result as { tools: { name: string }[] } | undefined;
    expect(listed?.tools.map((tool) => tool.name)).toEqual(['orders___get_order']);
    expect(audit.events.at(-1)?.additionalEventData).toMatchObject({
      hiddenTools: '["orders___update_order"]',
    });
  });

  it('withholds a listing it cannot read, even after the stream has started (an error event, never the raw list)', async () => {
    const progress =
      'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n';
    const { upstream } = fakeUpstream(() =>
      answerWith(
        200,
        'text/event-stream',
        progress,
        'event: message\ndata: {"tools":[{"name":"update_order"\n\n',
      ),
    );
    const { call } = proxy({ upstream });
    const { body } = await call(proxyEvent(await token('alice'), toolsList()));
    expect(body).not.toContain('update_order');
    expect(messages(body).at(-1)).toMatchObject({
      id: 2,
      error: { message: 'The list could not be checked, so it is not shown.' },
    });
  });

  it('answers an unreadable listing with its own status when nothing was sent yet (502)', async () => {
    const { upstream } = fakeUpstream(() => answerWith(200, 'application/json', 'not json'));
    const { call } = proxy({ upstream });
    const { metadata } = await call(proxyEvent(await token('alice'), toolsList()));
    expect(metadata.statusCode).toBe(502);
  });
});

describe('API Gateway MCP proxy: the upstream answers late, badly or not at all', () => {
  it('keeps a slow answer alive with SSE comments, then sends it as an event (API Gateway’s idle timeout)', async () => {
    const { upstream } = fakeUpstream(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1300));
      return answerWith(200, 'application/json', '{"jsonrpc":"2.0","id":7,"result":{"content":[]}}');
    });
    const { call } = proxy({ upstream, door: { keepAliveSeconds: 1 } });
    const { metadata, body, stream } = await call(
      proxyEvent(await token('alice'), toolCall('orders___get_order', { order_id: '1001' })),
    );
    expect(metadata).toMatchObject({ statusCode: 200, headers: { 'Content-Type': 'text/event-stream' } });
    expect(body).toBe(
      ': keep-alive\n\nevent: message\ndata: {"jsonrpc":"2.0","id":7,"result":{"content":[]}}\n\n',
    );
    // The keep-alive went out while the upstream was still working.
    expect(stream.writes.length).toBeGreaterThan(2);
  });

  it('sends no keep-alive to a client that does not accept SSE', async () => {
    const { upstream } = fakeUpstream(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1300));
      return answerWith(200, 'application/json', '{"jsonrpc":"2.0","id":7,"result":{}}');
    });
    const { call } = proxy({ upstream, door: { keepAliveSeconds: 1 } });
    const event = proxyEvent(await token('alice'), toolCall('orders___get_order', { order_id: '1001' }));
    setHeader(event, 'Accept', 'application/json');
    const { metadata, body } = await call(event);
    expect(metadata.headers).toMatchObject({ 'content-type': 'application/json' });
    expect(JSON.parse(body)).toMatchObject({ id: 7 });
  });

  it('answers 502 when the upstream fails, with the outcome audited', async () => {
    const { upstream } = fakeUpstream(() => {
      throw new UpstreamError('invoking the upstream function failed (ResourceNotFoundException)');
    });
    const { call, audit } = proxy({ upstream });
    const { metadata, body } = await call(
      proxyEvent(await token('alice'), toolCall('orders___get_order', { order_id: '1001' })),
    );
    expect(metadata.statusCode).toBe(502);
    expect(JSON.parse(body)).toMatchObject({ id: 7, error: { code: -32603 } });
    expect(body).not.toContain('ResourceNotFoundException');
    expect(audit.events.at(-1)).toMatchObject({
      additionalEventData: { phase: 'response', outcome: 'http-error' },
    });
  });

  it('gives up at the deadline and says so', async () => {
    const { upstream } = fakeUpstream(
      (request) =>
        new Promise((_resolve, reject) =>
          request.signal.addEventListener('abort', () =>
            reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
          ),
        ),
    );
    const { call } = proxy({ upstream, door: { timeoutMs: 100 } });
    const { metadata, body } = await call(
      proxyEvent(await token('alice'), toolCall('orders___get_order', { order_id: '1001' })),
    );
    expect(metadata.statusCode).toBe(502);
    expect(JSON.parse(body).error.message).toBe('The MCP server behind the gateway did not answer in time.');
  });

  it('refuses an answer larger than the limit rather than passing part of it', async () => {
    const { upstream } = fakeUpstream(() =>
      answerWith(200, 'application/json', `{"jsonrpc":"2.0","id":7,"result":"${'x'.repeat(2000)}"}`),
    );
    const { call } = proxy({ upstream, door: { maxResponseBytes: 1024 } });
    const { metadata, body } = await call(
      proxyEvent(await token('alice'), toolCall('orders___get_order', { order_id: '1001' })),
    );
    expect(metadata.statusCode).toBe(502);
    expect(body).not.toContain('xxxx');
  });

  it('passes the upstream’s status and its session header on, without a stale Content-Length', async () => {
    const { upstream } = fakeUpstream(() => ({
      status: 200,
      headers: new Map([
        ['content-type', ['application/json']],
        ['mcp-session-id', ['session-9']],
      ]),
      body: chunks('{"jsonrpc":"2.0","id":7,"result":{}}'),
    }));
    const { call } = proxy({ upstream });
    const { metadata } = await call(
      proxyEvent(await token('alice'), toolCall('orders___get_order', { order_id: '1001' })),
    );
    expect(metadata.headers).toEqual({ 'content-type': 'application/json', 'mcp-session-id': 'session-9' });
  });

  it('passes a notification’s 202 with no body', async () => {
    const { upstream } = fakeUpstream(() => ({ status: 202, headers: new Map(), body: chunks() }));
    const { call } = proxy({ upstream });
    const { metadata, body } = await call(
      proxyEvent(await token('alice'), { jsonrpc: '2.0', method: 'notifications/initialized' }),
    );
    expect(metadata.statusCode).toBe(202);
    expect(body).toBe('');
  });
});

describe('API Gateway MCP proxy: GET and DELETE on /mcp', () => {
  it('answers GET with 405 (no standalone SSE stream)', async () => {
    const { upstream, requests } = fakeUpstream(() => answerWith(200, 'text/event-stream'));
    const { call } = proxy({ upstream });
    const { metadata } = await call(proxyEvent(await token('alice'), undefined, 'GET'));
    expect(metadata).toMatchObject({ statusCode: 405, headers: { Allow: 'POST, DELETE' } });
    expect(requests).toHaveLength(0);
  });

  it('passes an authenticated DELETE (session termination) upstream, without the token', async () => {
    const { upstream, requests } = fakeUpstream(() => ({ status: 204, headers: new Map(), body: chunks() }));
    const { call } = proxy({ upstream });
    const event = proxyEvent(await token('alice'), undefined, 'DELETE');
    setHeader(event, 'Mcp-Session-Id', 'session-9');
    const { metadata } = await call(event);
    expect(metadata.statusCode).toBe(204);
    expect(requests[0]).toMatchObject({ httpMethod: 'DELETE', body: undefined });
    expect(requests[0]?.intent.remove).toEqual(['authorization']);
  });

  it('refuses an unauthenticated DELETE (401), audited', async () => {
    const { upstream, requests } = fakeUpstream(() => ({ status: 204, headers: new Map(), body: chunks() }));
    const { call, audit } = proxy({ upstream });
    const { metadata } = await call(proxyEvent('not-a-token', undefined, 'DELETE'));
    expect(metadata.statusCode).toBe(401);
    expect(requests).toHaveLength(0);
    expect(audit.events[0]).toMatchObject({ errorCode: 'InvalidToken' });
  });
});
