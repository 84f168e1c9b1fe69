import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { CachingDecisionPoint } from '../../lambda/adapters/decision-cache';
import { JwtTokenVerifier } from '../../lambda/adapters/jwt-token-verifier';
import { CachingTokenVerifier } from '../../lambda/adapters/verified-caller-cache';
import type { AuditEventData } from '../../lambda/core/audit-event';
import type { GuardDeps } from '../../lambda/guard/deps';
import { createGuard } from '../../lambda/guard/guard';
import { identityDeliveryStep } from '../../lambda/guard/identity-delivery-step';
import type { HeaderMap } from '../../lambda/guard/types';
import { DevIssuer } from '../../local/dev-issuer';
import { type DoorKind, type LocalDoor, startLocalDoor } from '../../local/doors';
import { type OrdersServer, startOrdersServer } from '../../local/orders-server';
import { createTargetsUpstream, type TargetsUpstream } from '../../local/targets-upstream';
import { MemoryAuditSink, policyBundle, settings, silentLog } from '../helpers/harness';

/**
 * One contract, every door: the same JSON-RPC requests, as the same users, through the AgentCore emulation
 * (interceptor at REQUEST and RESPONSE), the API Gateway emulation (authorizer, then the streaming proxy) and
 * the guard called directly ("local": no door codec at all). Each door gets the same guard deps, its own demo
 * orders server (so target state evolves alike) and its own audit sink. Every scenario must end in the same
 * HTTP status and JSON-RPC answer, and leave the same audit records — once the fields that differ by nature
 * are set aside: UID, eventTime, requestKey and session (per request), the door label, and what only API
 * Gateway observes (the source address and the X-Forwarded-For it appends), each asserted on its own below.
 */

const AUDIENCE = 'mcp-identity-door-contract';
const USER_AGENT = 'door-contract/1.0';
const USERS = {
  alice: { email: 'alice@example.com', roles: ['developer', 'db-reader'] },
  bob: { email: 'bob@example.com', roles: ['order-admin'] },
  carol: { email: 'carol@example.com', roles: [] },
} as const;
type User = keyof typeof USERS;

interface Outcome {
  readonly status: number;
  readonly body: unknown;
}

interface DoorUnderTest {
  readonly name: DoorKind | 'local';
  readonly audit: MemoryAuditSink;
  send(token: string | undefined, message: unknown): Promise<Outcome>;
  /** `DELETE` on the MCP endpoint (session termination), for the doors that are HTTP endpoints. */
  terminate?(token: string): Promise<number>;
}

let issuer: DevIssuer;
const tokens = {} as Record<User, string>;
const doors: DoorUnderTest[] = [];
const stops: (() => Promise<void> | void)[] = [];

function guardDeps(audit: MemoryAuditSink, verifier: CachingTokenVerifier, metadataUrl: string): GuardDeps {
  const policies = policyBundle();
  return {
    verifier,
    pdp: new CachingDecisionPoint(new CedarDecisionPoint(policies), { ttlSeconds: 5, maxEntries: 1000 }),
    audit,
    log: silentLog(),
    settings: settings({ resourceMetadataUrl: metadataUrl }),
    // The demo tools read the caller from injected arguments, as in the local stack.
    forwardSteps: [
      identityDeliveryStep(
        {
          targets: new Map([['orders', { arguments: true, assertion: false }]]),
          assertionHeader: 'x-mcp-identity-assertion',
        },
        undefined,
      ),
    ],
  };
}

function parseAnswer(contentType: string | null, text: string): unknown {
  if (text === '') return undefined;
  if (contentType?.startsWith('text/event-stream')) {
    const data = text
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => JSON.parse(line.slice(5)) as unknown);
    return data.length === 1 ? data[0] : data;
  }
  return JSON.parse(text) as unknown;
}

async function httpDoor(
  kind: DoorKind,
  verifier: CachingTokenVerifier,
  orders: OrdersServer,
): Promise<DoorUnderTest> {
  const audit = new MemoryAuditSink();
  const door: LocalDoor = await startLocalDoor(kind, {
    port: 0,
    targets: [{ name: 'orders', url: orders.url }],
    authorizationServer: () => issuer.issuer,
    assertionJwks: () => ({ keys: [] }),
    onRequest: () => undefined,
  });
  stops.push(() => door.stop());
  door.use(guardDeps(audit, verifier, door.resourceMetadataUrl));
  return {
    name: kind,
    audit,
    async send(token, message) {
      const response = await fetch(door.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          'User-Agent': USER_AGENT,
          ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify(message),
      });
      return {
        status: response.status,
        body: parseAnswer(response.headers.get('content-type'), await response.text()),
      };
    },
    async terminate(token) {
      const response = await fetch(door.url, {
        method: 'DELETE',
        headers: {
          Authorization: `Bearer ${token}`,
          'Mcp-Session-Id': 'session-1',
          'User-Agent': USER_AGENT,
        },
      });
      await response.arrayBuffer();
      return response.status;
    },
  };
}

/**
 * The guard with no door: the request step, then (for a forward) the same targets upstream the API Gateway
 * emulation uses, then the response step — on every answer, as both doors run it.
 */
function localDoor(verifier: CachingTokenVerifier, orders: OrdersServer): DoorUnderTest {
  const audit = new MemoryAuditSink();
  // The door label is an audit label only (and set aside below); the guard knows no third value.
  const label = 'agentcore' as const;
  const guard = createGuard(
    guardDeps(audit, verifier, 'http://127.0.0.1/.well-known/oauth-protected-resource/mcp'),
  );
  const upstream: TargetsUpstream = createTargetsUpstream([{ name: 'orders', url: orders.url }]);
  stops.push(() => upstream.close());
  return {
    name: 'local',
    audit,
    async send(token, message) {
      const authorization = token === undefined ? [] : [`Bearer ${token}`];
      const headers: HeaderMap = new Map([
        ['content-type', ['application/json']],
        ['accept', ['application/json, text/event-stream']],
        ['user-agent', [USER_AGENT]],
        ...(token === undefined ? [] : [['authorization', authorization] as [string, string[]]]),
      ]);
      const facts = { headers, userAgent: USER_AGENT };
      const credential = { authorization };
      const text = JSON.stringify(message);
      const respond = async (status: number, body: unknown): Promise<Outcome> => {
        const after = await guard.onResponse({
          door: label,
          credential,
          facts,
          request: message,
          response: { status, body },
        });
        if (after.kind === 'answer') return { status: after.status, body: after.body };
        return { status, body: after.kind === 'replace' ? after.body : body };
      };
      const result = await guard.onRequest({
        door: label,
        credential,
        message,
        parsed: true,
        rawBytes: Buffer.byteLength(text),
        facts,
      });
      if (result.kind === 'answer') return respond(result.status, result.body);
      const answer = await upstream.send({
        httpMethod: 'POST',
        clientHeaders: headers,
        intent: result.headers,
        body: JSON.stringify(result.message),
        event: {},
        signal: AbortSignal.timeout(10_000),
      });
      const chunks: Uint8Array[] = [];
      for await (const chunk of answer.body) chunks.push(chunk);
      return respond(answer.status, parseAnswer(null, Buffer.concat(chunks).toString('utf8')));
    },
  };
}

beforeAll(async () => {
  issuer = await DevIssuer.start({ port: 0 });
  stops.push(() => issuer.stop());
  const jwt = new JwtTokenVerifier(issuer.verifierSettings(AUDIENCE));
  await jwt.hydrate();
  for (const [user, { email, roles }] of Object.entries(USERS))
    tokens[user as User] = await issuer.sign({
      sub: user,
      email,
      roles: [...roles],
      aud: AUDIENCE,
      client_id: 'door-contract-agent',
    });
  for (const kind of ['agentcore', 'apigateway', 'local'] as const) {
    const orders = await startOrdersServer();
    stops.push(() => orders.stop());
    // A verifier cache per door: nothing one door verified is reused by another.
    const verifier = new CachingTokenVerifier(jwt);
    doors.push(kind === 'local' ? localDoor(verifier, orders) : await httpDoor(kind, verifier, orders));
  }
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

/** An audit record with what differs by nature (see the file comment) set aside. */
function comparable(event: AuditEventData): unknown {
  const {
    UID: _uid,
    eventTime: _time,
    sourceIPAddress: _observed,
    additionalEventData = {},
    requestParameters = {},
    ...rest
  } = event;
  const { requestKey: _key, door: _door, forwardedFor: _hops, ...additional } = additionalEventData;
  const { mcpSessionId: _session, ...parameters } = requestParameters;
  return { ...rest, additionalEventData: additional, requestParameters: parameters };
}

/** Sends the request through one door and returns its outcome with the audit records it left. */
async function through(door: DoorUnderTest, user: User | undefined, message: unknown) {
  const before = door.audit.events.length;
  const outcome = await door.send(user === undefined ? undefined : tokens[user], message);
  return { outcome, events: door.audit.events.slice(before) };
}

const call = (id: number, name: string, args: Record<string, unknown>) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});
const list = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });

/** [label, user, request, what the answer must show] — the decisions the AgentCore e2e tests make. */
const SCENARIOS: [string, User, unknown, (outcome: Outcome) => void][] = [
  [
    'alice lists what she may call',
    'alice',
    list(1),
    (o) => expect(listed(o)).toEqual(['orders___get_order', 'orders___get_recent_activity']),
  ],
  ['bob lists the update tool too', 'bob', list(2), (o) => expect(listed(o)).toHaveLength(3)],
  ['carol lists nothing', 'carol', list(3), (o) => expect(listed(o)).toEqual([])],
  [
    'alice reads her order',
    'alice',
    call(4, 'orders___get_order', { order_id: '1001' }),
    (o) => expect(toolText(o)).toMatch(/"owner": "alice"/),
  ],
  [
    'alice gets no one else’s order (the tool filters)',
    'alice',
    call(5, 'orders___get_order', { order_id: '2001' }),
    (o) => expect(toolText(o)).toBe('Order 2001 was not found.'),
  ],
  [
    'alice is denied update_order',
    'alice',
    call(6, 'orders___update_order', { order_id: '1001', status: 'cancelled' }),
    (o) => expect(toolText(o)).toMatch(/^Denied: no policy permits alice@example.com/),
  ],
  [
    'bob updates an order with his identity injected',
    'bob',
    call(7, 'orders___update_order', { order_id: '2001', status: 'shipped' }),
    (o) => expect(toolText(o)).toMatch(/"updatedBy": "bob"/),
  ],
  [
    'bob’s large refund meets the forbid',
    'bob',
    call(8, 'orders___update_order', { order_id: '2001', status: 'refunded', amount: 900 }),
    (o) => expect(toolText(o)).toMatch(/large-refunds-need-finance/),
  ],
  [
    'carol is denied every tool',
    'carol',
    call(9, 'orders___get_order', { order_id: '3001' }),
    (o) => expect(toolText(o)).toMatch(/^Denied: no policy permits carol@example.com/),
  ],
  [
    'a client sending _caller_user is refused',
    'alice',
    call(10, 'orders___get_order', { order_id: '2001', _caller_user: 'bob' }),
    (o) => expect(toolText(o)).toMatch(/reserved identity argument/),
  ],
  [
    'a tool with no schema entry is refused by name',
    'bob',
    call(11, 'orders___drop_table', {}),
    (o) => expect(JSON.stringify(o.body)).toMatch(/orders___drop_table/),
  ],
  [
    'a call without a tool name is invalid',
    'alice',
    { jsonrpc: '2.0', id: 12, method: 'tools/call', params: { name: 42 } },
    (o) =>
      expect(o).toEqual({
        status: 400,
        body: { jsonrpc: '2.0', id: 12, error: { code: -32602, message: 'tools/call needs params.name' } },
      }),
  ],
];

function listed(outcome: Outcome): string[] {
  return ((outcome.body as { result?: { tools?: { name: string }[] } }).result?.tools ?? []).map(
    (tool) => tool.name,
  );
}
function toolText(outcome: Outcome): string {
  return (outcome.body as { result?: { content?: { text?: string }[] } }).result?.content?.[0]?.text ?? '';
}

describe('every door decides and audits alike', () => {
  it.each(SCENARIOS)('%s', async (_label, user, message, shows) => {
    const results = [];
    for (const door of doors) results.push({ door: door.name, ...(await through(door, user, message)) });
    const [reference, ...others] = results;
    if (reference === undefined) throw new Error('no doors');

    shows(reference.outcome);
    expect(reference.events.length).toBeGreaterThan(0);
    for (const other of others) {
      expect({ door: other.door, outcome: other.outcome }).toEqual({
        door: other.door,
        outcome: reference.outcome,
      });
      expect({ door: other.door, events: other.events.map(comparable) }).toEqual({
        door: other.door,
        events: reference.events.map(comparable),
      });
    }
    // The label each door writes, and the facts only API Gateway observes.
    for (const { door, events } of results) {
      for (const event of events) {
        expect(event.additionalEventData?.door).toBe(door === 'apigateway' ? 'apigw' : 'agentcore');
        if (door === 'apigateway') {
          expect(event.sourceIPAddress).toBe('127.0.0.1');
          expect(event.additionalEventData?.forwardedFor).toBe('["127.0.0.1"]');
        } else {
          expect(event.sourceIPAddress).toBeUndefined();
          expect(event.additionalEventData?.forwardedFor).toBeUndefined();
        }
      }
    }
  });
});

describe('authentication: the same refusal, told where each door can tell it', () => {
  const tampered = () => `${tokens.alice.slice(0, tokens.alice.lastIndexOf('.'))}.AAAA`;

  it('refuses a tampered token with 401 everywhere and audits it as InvalidToken, anonymous', async () => {
    const results = [];
    for (const door of doors) {
      const before = door.audit.events.length;
      const outcome = await door.send(tampered(), call(20, 'orders___get_order', { order_id: '1001' }));
      results.push({ door: door.name, outcome, events: door.audit.events.slice(before) });
    }
    for (const { outcome, events } of results) {
      expect(outcome.status).toBe(401);
      expect(events[0]).toMatchObject({
        userIdentity: { type: 'Anonymous', principalId: 'anonymous' },
        errorCode: 'InvalidToken',
        responseElements: { decision: 'deny' },
        additionalEventData: { phase: 'request' },
      });
    }
    const [agentcore, apigateway, local] = results;
    // The guard behind AgentCore (and called directly) sees the body: the call is named, and its outcome too.
    expect(agentcore?.events.map(comparable)).toEqual(local?.events.map(comparable));
    expect(agentcore?.events[0]?.requestParameters).toMatchObject({ method: 'tools/call', jsonRpcId: '20' });
    // API Gateway's authorizer sees no body: it refuses before the call is known, and the proxy never runs.
    expect(apigateway?.events).toHaveLength(1);
    expect(apigateway?.events[0]?.requestParameters).toEqual({ method: 'unknown' });
    expect(apigateway?.outcome.body).toMatchObject({ error: { code: -32001 } });
  });

  it('refuses a request with no token with 401; API Gateway does so before any of our code runs', async () => {
    const results = [];
    for (const door of doors)
      results.push({ door: door.name, ...(await through(door, undefined, list(21))) });
    for (const { outcome } of results) expect(outcome.status).toBe(401);
    const [agentcore, apigateway, local] = results;
    expect(agentcore?.events.map(comparable)).toEqual(local?.events.map(comparable));
    expect(agentcore?.events[0]).toMatchObject({ errorCode: 'InvalidToken' });
    // A missing identity source: API Gateway answers itself (its access log has it, our audit trail cannot).
    expect(apigateway?.events).toEqual([]);
  });
});

describe('session termination (DELETE /mcp): nothing reaches a target unchecked or unaudited at either door', () => {
  it('AgentCore keeps no session (405, nothing forwarded); API Gateway checks the caller and audits it', async () => {
    const agentcore = doors.find((door) => door.name === 'agentcore');
    const apigateway = doors.find((door) => door.name === 'apigateway');
    if (agentcore?.terminate === undefined || apigateway?.terminate === undefined)
      throw new Error('no doors');
    const before = { agentcore: agentcore.audit.events.length, apigateway: apigateway.audit.events.length };

    expect(await agentcore.terminate(tokens.alice)).toBe(405);
    expect(agentcore.audit.events.slice(before.agentcore)).toEqual([]);

    await apigateway.terminate(tokens.alice);
    const events = apigateway.audit.events.slice(before.apigateway);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      userIdentity: { principalId: 'alice' },
      requestParameters: { method: 'session/terminate', mcpSessionId: 'session-1' },
      responseElements: { decision: 'allow' },
      additionalEventData: { phase: 'request', door: 'apigw' },
    });
  });
});
