import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { JwtTokenVerifier } from '../../lambda/adapters/jwt-token-verifier';
import type { AccessStore, AccessSubject, Revocation, SubjectAccess } from '../../lambda/core/access';
import type { AuditEventData } from '../../lambda/core/audit-event';
import { createAgentCoreDoor } from '../../lambda/doors/agentcore/door';
import { createApiGatewayDoor } from '../../lambda/doors/apigateway/door';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../../lambda/doors/apigateway/upstream';
import { GrantingVerifier, revocationGate } from '../../lambda/guard/access-gates';
import { createGuard } from '../../lambda/guard/guard';
import { SESSION_TERMINATION } from '../../lambda/guard/termination-step';
import { DevIssuer } from '../../local/dev-issuer';
import { fixture } from '../helpers/fixtures';
import { AUDIENCE, MemoryAuditSink, policyBundle, settings, silentLog, USERS } from '../helpers/harness';
import { recordingStream, streamedResponse } from '../helpers/response-stream';

/**
 * The kill switch beyond the REQUEST step (hostile review of issue 15): a result or a listing that comes back
 * after a revocation is withheld (and audited as such), and a session termination (`DELETE`) is checked and
 * audited, at both doors.
 */

const REASON = /revoked \(r-1\): laptop stolen/;
const SECRET = 'SECRET ORDER DATA';

let issuer: DevIssuer;
let jwt: JwtTokenVerifier;
beforeAll(async () => {
  issuer = await DevIssuer.start();
  jwt = new JwtTokenVerifier(issuer.verifierSettings(AUDIENCE));
  await jwt.hydrate();
});
afterAll(() => issuer.stop());

class MemoryStore implements AccessStore {
  revocations: Revocation[] = [];
  failing = false;
  async read(subject: AccessSubject): Promise<SubjectAccess> {
    if (this.failing) throw new Error('ProvisionedThroughputExceededException');
    return {
      grants: [],
      revocations: this.revocations.filter(
        (revocation) => revocation.subject.kind === subject.kind && revocation.subject.id === subject.id,
      ),
    };
  }
  revoke(user: string): void {
    this.revocations.push({
      id: 'r-1',
      subject: { kind: 'user', id: user },
      reason: 'laptop stolen',
      issuedBy: 'security@example.com',
      issuedAt: Math.floor(Date.now() / 1000) - 10,
    } as Revocation);
  }
}

function build() {
  const store = new MemoryStore();
  const audit = new MemoryAuditSink();
  const log = silentLog();
  const guard = createGuard({
    verifier: new GrantingVerifier(jwt, store, log),
    pdp: new CedarDecisionPoint(policyBundle()),
    audit,
    log,
    settings: settings(),
    gates: [revocationGate(store)],
  });
  const last = (): AuditEventData => {
    const event = audit.events.at(-1);
    if (event === undefined) throw new Error('no audit event');
    return event;
  };
  return { guard, store, audit, last };
}

const token = (user: keyof typeof USERS) =>
  issuer.sign({ ...USERS[user], aud: AUDIENCE }, { ttlSeconds: 3600 });
const getOrder = {
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'orders___get_order', arguments: { order_id: '42' } },
};
const secretResult = { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: SECRET }] } };

/** The AgentCore RESPONSE interceptor event for this request and the gateway's answer. */
function responseEvent(bearer: string, request: unknown, body: unknown) {
  const event = fixture<any>('agentcore/response-interceptor-input.tools-list.json');
  event.mcp.gatewayRequest.headers.Authorization = `Bearer ${bearer}`;
  event.mcp.gatewayRequest.body = request;
  event.mcp.rawGatewayRequest.body = JSON.stringify(request);
  event.mcp.gatewayResponse.body = body;
  return event;
}

function requestEvent(bearer: string, request: unknown) {
  const event = fixture<any>('agentcore/request-interceptor-input.tools-call.json');
  event.mcp.gatewayRequest.headers.Authorization = `Bearer ${bearer}`;
  event.mcp.gatewayRequest.body = request;
  event.mcp.rawGatewayRequest.body = JSON.stringify(request);
  return event;
}

describe('kill switch at the RESPONSE step: AgentCore door', () => {
  it('withholds a tool result that comes back after a revocation, and audits it as withheld', async () => {
    const { guard, store, last } = build();
    const door = createAgentCoreDoor(guard);
    const bearer = await token('bob');
    store.revoke('bob');

    const out: any = await door(responseEvent(bearer, getOrder, secretResult));

    const response = out.mcp.transformedGatewayResponse;
    expect(JSON.stringify(response)).not.toContain(SECRET);
    expect(response.body.result.isError).toBe(true);
    expect(response.body.result.content[0].text).toMatch(REASON);
    expect(last()).toMatchObject({
      errorCode: 'Revoked',
      responseElements: { decision: 'deny' },
      additionalEventData: { outcome: 'withheld-after-revocation' },
    });
  });

  it("passes the gateway's own refusal of a revoked caller as it is, audited as refused-by-gateway", async () => {
    const { guard, store, last } = build();
    const door = createAgentCoreDoor(guard);
    const bearer = await token('bob');
    store.revoke('bob');
    const refusal: any = await door(requestEvent(bearer, getOrder));
    const ours = refusal.mcp.transformedGatewayResponse.body;
    expect(ours.result.content[0].text).toMatch(REASON);

    const out: any = await door(responseEvent(bearer, getOrder, ours));

    expect(out.mcp.transformedGatewayResponse.body).toEqual(ours);
    expect(last()).toMatchObject({
      errorCode: 'Revoked',
      additionalEventData: { outcome: 'refused-by-gateway' },
    });
  });

  it('delivers the result to a caller who is not revoked', async () => {
    const { guard, store, last } = build();
    const door = createAgentCoreDoor(guard);
    store.revoke('alice');
    const out: any = await door(responseEvent(await token('bob'), getOrder, secretResult));
    expect(JSON.stringify(out.mcp.transformedGatewayResponse)).toContain(SECRET);
    expect(last()).toMatchObject({ additionalEventData: { outcome: 'success' } });
  });

  it('withholds a result when the revocation list cannot be read at the RESPONSE step (fail closed)', async () => {
    const { guard, store, last } = build();
    const door = createAgentCoreDoor(guard);
    const bearer = await token('bob');
    store.failing = true;

    const out: any = await door(responseEvent(bearer, getOrder, secretResult));

    expect(JSON.stringify(out.mcp.transformedGatewayResponse)).not.toContain(SECRET);
    expect(out.mcp.transformedGatewayResponse.body.result.isError).toBe(true);
    expect(last()).toMatchObject({
      errorCode: 'AuthorizationServiceError',
      additionalEventData: { outcome: 'withheld-unchecked' },
    });
  });

  it('withholds a prompt read after a revocation too, audited', async () => {
    const { guard, store, last } = build();
    const bearer = await token('bob');
    store.revoke('bob');
    const get = {
      jsonrpc: '2.0',
      id: 8,
      method: 'prompts/get',
      params: { name: 'refund_policy', arguments: {} },
    };
    const result = await guard.onResponse({
      door: 'agentcore',
      credential: { authorization: [`Bearer ${bearer}`] },
      facts: { headers: new Map() },
      request: get,
      response: {
        status: 200,
        body: {
          jsonrpc: '2.0',
          id: 8,
          result: { messages: [{ role: 'user', content: { type: 'text', text: SECRET } }] },
        },
      },
    });
    expect(result.kind).toBe('answer');
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(JSON.stringify(result)).toMatch(REASON);
    expect(last()).toMatchObject({
      errorCode: 'Revoked',
      responseElements: { decision: 'deny' },
      additionalEventData: { outcome: 'withheld-after-revocation' },
    });
  });
});

describe('kill switch at the RESPONSE step: listings hide every entry', () => {
  it('hides prompts, resources and resource templates from a revoked caller, not only tools', async () => {
    const { guard, store, last } = build();
    const bearer = await token('alice');
    store.revoke('alice');
    const listing = async (method: string, result: Record<string, unknown>) =>
      guard.onResponse({
        door: 'apigw',
        credential: { authorization: [`Bearer ${bearer}`] },
        facts: { headers: new Map() },
        request: { jsonrpc: '2.0', id: 4, method, params: {} },
        response: { status: 200, body: { jsonrpc: '2.0', id: 4, result } },
      });
    const cases: [string, string, Record<string, unknown>][] = [
      ['prompts/list', 'prompts', { prompts: [{ name: 'refund_policy' }] }],
      ['resources/list', 'resources', { resources: [{ uri: 'orders://42', name: 'order 42' }] }],
      [
        'resources/templates/list',
        'resourceTemplates',
        { resourceTemplates: [{ uriTemplate: 'orders://{id}', name: 'order' }] },
      ],
      ['tools/list', 'tools', { tools: [{ name: 'orders___get_order', inputSchema: { type: 'object' } }] }],
    ];
    for (const [method, key, result] of cases) {
      const answer = await listing(method, result);
      if (answer.kind !== 'replace') throw new Error(`expected a filtered ${method}`);
      expect((answer.body as any).result[key]).toEqual([]);
      expect(last()).toMatchObject({ errorCode: 'Revoked' });
    }
  });
});

// ---- the API Gateway door ----

function setHeader(event: any, name: string, value: string | undefined): void {
  for (const map of [event.headers, event.multiValueHeaders])
    for (const key of Object.keys(map)) if (key.toLowerCase() === name.toLowerCase()) delete map[key];
  if (value === undefined) return;
  event.headers[name] = value;
  event.multiValueHeaders[name] = [value];
}

function proxyEvent(bearer: string, body: unknown, method = 'POST') {
  const event = fixture<any>('apigateway/proxy-integration-input.tools-call.json');
  event.httpMethod = method;
  event.body = body === undefined ? null : JSON.stringify(body);
  for (const name of ['Mcp-Name', 'Mcp-Method', 'MCP-Protocol-Version', 'Content-Length'])
    setHeader(event, name, undefined);
  setHeader(event, 'Authorization', `Bearer ${bearer}`);
  return event;
}

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield Buffer.from(part, 'utf8');
}

function proxyWith(
  guard: ReturnType<typeof build>['guard'],
  answer: (request: UpstreamRequest) => UpstreamResponse,
) {
  const requests: UpstreamRequest[] = [];
  const upstream: Upstream = {
    send: async (request) => {
      requests.push(request);
      return answer(request);
    },
  };
  const handler = createApiGatewayDoor({
    guard,
    upstream,
    log: silentLog(),
    settings: { timeoutMs: 5000, maxResponseBytes: 1024 * 1024, keepAliveSeconds: 30, targetName: 'orders' },
  });
  const call = async (event: unknown) => {
    const stream = recordingStream();
    await handler(event, stream);
    await stream.finished;
    return streamedResponse(stream);
  };
  return { call, requests };
}

describe('kill switch at the RESPONSE step: API Gateway door', () => {
  for (const [label, contentType, body] of [
    ['a JSON answer', 'application/json', JSON.stringify(secretResult)],
    ['an SSE answer', 'text/event-stream', `event: message\ndata: ${JSON.stringify(secretResult)}\n\n`],
  ] as const) {
    it(`withholds ${label} that comes back after a revocation (revoked while the call ran)`, async () => {
      const { guard, store, last } = build();
      const { call, requests } = proxyWith(guard, () => {
        store.revoke('bob');
        return { status: 200, headers: new Map([['content-type', [contentType]]]), body: chunks(body) };
      });

      const { body: delivered } = await call(proxyEvent(await token('bob'), getOrder));

      expect(requests).toHaveLength(1);
      expect(delivered).not.toContain(SECRET);
      expect(delivered).toMatch(REASON);
      expect(last()).toMatchObject({
        errorCode: 'Revoked',
        additionalEventData: { outcome: 'withheld-after-revocation' },
      });
    });
  }
});

describe('kill switch on session termination (DELETE /mcp)', () => {
  const ended = (): UpstreamResponse => ({ status: 204, headers: new Map(), body: chunks() });

  it('refuses a revoked caller with the revocation reason, does not forward it, and audits it', async () => {
    const { guard, store, audit, last } = build();
    store.revoke('bob');
    const { call, requests } = proxyWith(guard, ended);
    const event = proxyEvent(await token('bob'), undefined, 'DELETE');
    setHeader(event, 'Mcp-Session-Id', 'session-9');

    const { metadata, body } = await call(event);

    expect(metadata.statusCode).toBe(403);
    expect(body).toMatch(REASON);
    expect(requests).toHaveLength(0);
    expect(audit.events).toHaveLength(1);
    expect(last()).toMatchObject({
      errorCode: 'Revoked',
      requestParameters: { method: SESSION_TERMINATION, mcpSessionId: 'session-9' },
      responseElements: { decision: 'deny' },
    });
  });

  it('forwards and audits the termination of a caller who is not revoked', async () => {
    const { guard, audit, last } = build();
    const { call, requests } = proxyWith(guard, ended);
    const { metadata } = await call(proxyEvent(await token('bob'), undefined, 'DELETE'));
    expect(metadata.statusCode).toBe(204);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.intent.remove).toEqual(['authorization']);
    expect(audit.events).toHaveLength(1);
    expect(last()).toMatchObject({
      requestParameters: { method: SESSION_TERMINATION },
      responseElements: { decision: 'allow' },
    });
    expect(last().errorCode).toBeUndefined();
  });

  it('does not forward a termination it cannot audit', async () => {
    const { guard, audit } = build();
    audit.failing = true;
    const { call, requests } = proxyWith(guard, ended);
    const { metadata } = await call(proxyEvent(await token('bob'), undefined, 'DELETE'));
    expect(metadata.statusCode).toBe(503);
    expect(requests).toHaveLength(0);
  });
});
