import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { JwtTokenVerifier } from '../../lambda/adapters/jwt-token-verifier';
import type { AuditEventData } from '../../lambda/core/audit-event';
import type { Caller, TokenVerifier } from '../../lambda/core/caller';
import { AssertionSigningError } from '../../lambda/core/errors';
import type { GuardDeps } from '../../lambda/guard/deps';
import { createGuard } from '../../lambda/guard/guard';
import type { ForwardStep, Gate } from '../../lambda/guard/hooks';
import { identityDeliveryStep } from '../../lambda/guard/identity-delivery-step';
import type { Guard, GuardRequest, GuardResponse, HeaderMap, RequestFacts } from '../../lambda/guard/types';
import { DevIssuer } from '../../local/dev-issuer';
import { AUDIENCE, MemoryAuditSink, policyBundle, settings, silentLog, USERS } from '../helpers/harness';

/**
 * The guard used directly, as any door would: normalised requests in, forward / answer out. No door's event
 * shape appears here.
 */

let issuer: DevIssuer;
let verifier: TokenVerifier;
const pdp = new CedarDecisionPoint(policyBundle());
beforeAll(async () => {
  issuer = await DevIssuer.start();
  const jwt = new JwtTokenVerifier(issuer.verifierSettings(AUDIENCE));
  await jwt.hydrate();
  verifier = jwt;
});
afterAll(() => issuer.stop());

const token = (user: keyof typeof USERS) => issuer.sign({ ...USERS[user], aud: AUDIENCE });

function build(overrides: Partial<GuardDeps> = {}) {
  const audit = new MemoryAuditSink();
  const log = silentLog();
  const guard = createGuard({ verifier, pdp, audit, log, settings: settings(), ...overrides });
  const last = (): AuditEventData => {
    const event = audit.events.at(-1);
    if (event === undefined) throw new Error('no audit event');
    return event;
  };
  return { guard, audit, log, last };
}

function facts(headers: Record<string, string[]> = {}, extra: Partial<RequestFacts> = {}): RequestFacts {
  return {
    headers: new Map(Object.entries(headers)),
    sessionId: 'session-1',
    userAgent: 'guard-test/1',
    ...extra,
  };
}

async function request(
  user: keyof typeof USERS | undefined,
  message: unknown,
  extra: Partial<GuardRequest> = {},
): Promise<GuardRequest> {
  return {
    door: 'apigw',
    credential: { authorization: user === undefined ? [] : [`Bearer ${await token(user)}`] },
    message,
    parsed: true,
    facts: facts(),
    ...extra,
  };
}

const call = (name: string, args: Record<string, unknown>, id = 7) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

const TOOLS = ['orders___get_order', 'orders___update_order', 'orders___get_recent_activity'];
const toolList = (id = 1) => ({
  jsonrpc: '2.0',
  id,
  result: { tools: TOOLS.map((name) => ({ name, inputSchema: { type: 'object' } })) },
});

describe('guard: request step', () => {
  it('forwards an allowed call with identity injected, removes the client Authorization, and audits it under the decision id', async () => {
    const { guard, last } = build();

    const result = await guard.onRequest(
      await request('alice', call('orders___get_order', { order_id: '42' })),
    );

    if (result.kind !== 'forward') throw new Error(`expected a forward, got ${result.kind}`);
    expect(result.message).toMatchObject({
      params: {
        arguments: { order_id: '42', _caller_user: 'alice', _caller_roles: ['developer', 'db-reader'] },
      },
    });
    expect(result.headers).toEqual({ set: {}, remove: ['authorization'] });
    expect(result.decision.kind).toBe('allow');
    expect(last().UID).toBe(result.decisionId);
    expect(last().responseElements).toMatchObject({ decision: 'allow' });
    expect(last().additionalEventData?.door).toBe('apigw');
  });

  it('answers a denied call itself, with what policy decided and the reason', async () => {
    const { guard, last } = build();

    const result = await guard.onRequest(
      await request('alice', call('orders___update_order', { order_id: '42', status: 'shipped' })),
    );

    if (result.kind !== 'answer') throw new Error('expected an answer');
    expect(result.cause).toBe('denied');
    expect(result.status).toBe(200);
    expect(result.decision?.kind).toBe('deny');
    expect(JSON.stringify(result.body)).toMatch(/no policy permits alice@example.com/);
    expect(last()).toMatchObject({ UID: result.decisionId, errorCode: 'AccessDenied' });
  });

  it('answers 401 without a credential and audits the refusal, anonymous', async () => {
    const { guard, last } = build();

    const result = await guard.onRequest(
      await request(undefined, call('orders___get_order', { order_id: '1' })),
    );

    expect(result).toMatchObject({ kind: 'answer', status: 401, cause: 'unauthenticated' });
    expect(result.kind === 'answer' && result.headers['WWW-Authenticate']).toMatch(
      /^Bearer resource_metadata=/,
    );
    expect(last()).toMatchObject({ errorCode: 'InvalidToken', userIdentity: { type: 'Anonymous' } });
  });

  it('refuses two Authorization values, even when both carry valid tokens', async () => {
    const { guard } = build();
    const two = await request('bob', call('orders___get_order', { order_id: '1' }));

    const result = await guard.onRequest({
      ...two,
      credential: { authorization: [...two.credential.authorization, `Bearer ${await token('bob')}`] },
    });

    expect(result).toMatchObject({ kind: 'answer', status: 401, cause: 'unauthenticated' });
  });

  it('answers a body the door could not parse with a parse error', async () => {
    const { guard, last } = build();

    const result = await guard.onRequest(await request('bob', undefined, { parsed: false, rawBytes: 20 }));

    expect(result).toMatchObject({
      kind: 'answer',
      status: 400,
      cause: 'invalid',
      body: { error: { code: -32700 } },
    });
    expect(last().errorCode).toBe('MalformedRequest');
  });

  it('refuses an event its door could not read, without asking the verifier, and audits it', async () => {
    const verify = jest.fn<Promise<Caller>, [string]>();
    const { guard, log, last } = build({ verifier: { verify } });

    const result = await guard.onRequest({
      door: 'apigw',
      credential: { authorization: [] },
      message: undefined,
      parsed: false,
      facts: { headers: new Map() },
      undecodable: { reason: 'The event could not be read.', issues: [{ path: ['body'] }] },
    });

    expect(result).toMatchObject({ kind: 'answer', status: 400, cause: 'invalid' });
    expect(verify).not.toHaveBeenCalled();
    expect(last()).toMatchObject({
      errorCode: 'MalformedRequest',
      errorMessage: 'The event could not be read.',
    });
    expect(JSON.stringify(log.lines)).toContain('apigw');
  });

  it('records the address the door observed as sourceIPAddress, and X-Forwarded-For only as a claim', async () => {
    const { guard, last } = build();
    const observed = await request('bob', call('orders___get_order', { order_id: '1' }), {
      facts: facts({ 'x-forwarded-for': ['198.51.100.9, 10.0.0.1'] }, { sourceIp: '203.0.113.7' }),
    });

    await guard.onRequest(observed);

    expect(last().sourceIPAddress).toBe('203.0.113.7');
    expect(JSON.parse(last().additionalEventData?.forwardedFor as string)).toEqual([
      '198.51.100.9',
      '10.0.0.1',
    ]);
  });

  it('checks mirrored MCP headers against the body from the normalised header map', async () => {
    const { guard } = build();
    const mismatched = await request('bob', call('orders___get_order', { order_id: '1' }), {
      facts: facts({ 'mcp-method': ['tools/list'] }),
    });

    const result = await guard.onRequest(mismatched);

    expect(result).toMatchObject({ kind: 'answer', status: 400, cause: 'invalid' });
  });

  it('does not forward a request whose decision cannot be recorded', async () => {
    const { guard, audit } = build();
    audit.failing = true;

    const result = await guard.onRequest(await request('bob', call('orders___get_order', { order_id: '1' })));

    expect(result).toMatchObject({ kind: 'answer', status: 503, cause: 'unavailable' });
    expect(JSON.stringify(result)).toMatch(/audit trail/);
  });

  it('answers 503 and audits the failure when something unexpected throws mid-decision', async () => {
    const { guard, last } = build();
    const headers = new Map<string, string[]>();
    const exploding: HeaderMap = {
      ...headers,
      get: (name: string) => {
        if (name === 'mcp-method') throw new Error('boom');
        return undefined;
      },
    } as unknown as HeaderMap;
    const broken = await request('bob', call('orders___get_order', { order_id: '1' }), {
      facts: { headers: exploding },
    });

    const result = await guard.onRequest(broken);

    expect(result).toMatchObject({ kind: 'answer', status: 503, cause: 'unavailable', body: { id: 7 } });
    expect(last()).toMatchObject({
      UID: result.decisionId,
      errorCode: 'AuthorizationServiceError',
      userIdentity: { principalId: 'bob' },
    });
  });

  it('forwards session plumbing without an audit event', async () => {
    const { guard, audit } = build();

    const result = await guard.onRequest(await request('carol', { jsonrpc: '2.0', id: 1, method: 'ping' }));

    expect(result.kind).toBe('forward');
    expect(audit.events).toHaveLength(0);
  });
});

describe('guard: gates (e.g. pinned tool definitions)', () => {
  const drifted: Gate = {
    name: 'pinned-definitions',
    onCall: async ({ operation }) =>
      operation.kind === 'tool-call' && operation.tool.full === 'orders___get_order'
        ? {
            reason: 'The definition of orders___get_order changed since it was pinned.',
            errorCode: 'AccessDenied',
          }
        : undefined,
    onListing: async () => new Set(['orders___get_order']),
  };

  it('refuses a call policy allowed when a gate refuses it, and audits the gate reason', async () => {
    const { guard, last } = build({ gates: [drifted] });

    const result = await guard.onRequest(await request('bob', call('orders___get_order', { order_id: '1' })));

    expect(result).toMatchObject({ kind: 'answer', cause: 'denied', decision: { kind: 'allow' } });
    expect(JSON.stringify(result)).toMatch(/changed since it was pinned/);
    expect(last()).toMatchObject({
      errorCode: 'AccessDenied',
      responseElements: { decision: 'deny', enforced: 'true' },
    });
    expect(last().responseElements?.injectedParameters).toBeUndefined();
  });

  it('lets other calls through the same gate', async () => {
    const { guard } = build({ gates: [drifted] });
    const result = await guard.onRequest(await request('bob', call('orders___get_recent_activity', {})));
    expect(result.kind).toBe('forward');
  });

  it('refuses when a gate fails (fail closed)', async () => {
    const failing: Gate = {
      name: 'broken',
      onCall: async () => {
        throw new Error('store unreachable');
      },
    };
    const { guard, last } = build({ gates: [failing] });

    const result = await guard.onRequest(await request('bob', call('orders___get_recent_activity', {})));

    expect(result).toMatchObject({ kind: 'answer', cause: 'denied' });
    expect(last().errorCode).toBe('AuthorizationServiceError');
  });

  it('hides what a gate hides from listings, in log-only mode too', async () => {
    for (const mode of ['enforce', 'log-only'] as const) {
      const { guard, last } = build({ gates: [drifted], settings: settings({ mode }) });
      const result = await guard.onResponse(
        await response('bob', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, toolList()),
      );

      if (result.kind !== 'replace') throw new Error(`expected a replaced body in ${mode}`);
      const names = (result.body as any).result.tools.map((tool: { name: string }) => tool.name);
      expect(names).not.toContain('orders___get_order');
      expect(JSON.parse(last().additionalEventData?.hiddenTools as string)).toContain('orders___get_order');
    }
  });

  it('marks a call refused by a gate as refused-by-gateway in the outcome audit', async () => {
    const { guard, last } = build({ gates: [drifted] });
    const denial = {
      jsonrpc: '2.0',
      id: 7,
      result: { content: [{ type: 'text', text: 'x' }], isError: true },
    };

    await guard.onResponse(await response('bob', call('orders___get_order', { order_id: '1' }), denial));

    expect(last().additionalEventData).toMatchObject({ outcome: 'refused-by-gateway' });
  });
});

describe('guard: forward steps (e.g. per-target identity delivery)', () => {
  const assertion: ForwardStep = {
    name: 'identity-assertion',
    apply: async ({ caller, operation }, outgoing) => {
      if (operation.kind !== 'tool-call') return outgoing;
      // Instead of injected arguments: the identity as a header for the target, the arguments as the client sent them.
      return {
        message: call(operation.tool.full, { ...operation.arguments }),
        headers: { set: { 'X-Identity-Assertion': `signed-for-${caller.subject}` }, remove: [] },
      };
    },
  };

  it('forwards the headers a step sets, keeps the client Authorization removed, and audits what was delivered', async () => {
    const { guard, last } = build({ forwardSteps: [assertion] });

    const result = await guard.onRequest(
      await request('alice', call('orders___get_order', { order_id: '42' })),
    );

    if (result.kind !== 'forward') throw new Error('expected a forward');
    expect(result.headers).toEqual({
      set: { 'X-Identity-Assertion': 'signed-for-alice' },
      remove: ['authorization'],
    });
    expect(result.message).toMatchObject({ params: { arguments: { order_id: '42' } } });
    expect((result.message as any).params.arguments._caller_user).toBeUndefined();
    expect(last().responseElements?.injectedParameters).toBeUndefined();
    expect(last().additionalEventData?.deliveredHeaders).toBe('["X-Identity-Assertion"]');
  });

  it('does not forward when a step fails, and audits the refusal', async () => {
    const failing: ForwardStep = {
      name: 'signer',
      apply: async () => {
        throw new Error('KMS throttled');
      },
    };
    const { guard, last } = build({ forwardSteps: [failing] });

    const result = await guard.onRequest(
      await request('alice', call('orders___get_order', { order_id: '42' })),
    );

    expect(result).toMatchObject({ kind: 'answer', status: 503, cause: 'unavailable' });
    expect(last()).toMatchObject({
      errorCode: 'AuthorizationServiceError',
      responseElements: { decision: 'deny' },
    });
  });
});

describe('guard: identity delivery per target (issue 12 #2)', () => {
  const signed: string[] = [];
  const assertions = {
    assertion: async (caller: Caller, audience: string) => {
      signed.push(`${caller.subject}@${audience}`);
      return `assertion-for-${caller.subject}-at-${audience}`;
    },
  };
  const deliveryFor = (orders: { arguments: boolean; assertion: boolean }) =>
    identityDeliveryStep(
      { targets: new Map([['orders', orders]]), assertionHeader: 'X-Mcp-Identity-Assertion' },
      assertions,
    );

  it('injects arguments only, as today, for a target set to arguments', async () => {
    const { guard, last } = build({ forwardSteps: [deliveryFor({ arguments: true, assertion: false })] });
    const result = await guard.onRequest(
      await request('alice', call('orders___get_order', { order_id: '42' })),
    );
    if (result.kind !== 'forward') throw new Error('expected a forward');
    expect(result.headers).toStrictEqual({ set: {}, remove: ['authorization'] });
    expect((result.message as any).params.arguments).toStrictEqual({
      order_id: '42',
      _caller_user: 'alice',
      _caller_roles: ['developer', 'db-reader'],
    });
    expect(last().additionalEventData?.deliveredHeaders).toBeUndefined();
  });

  it('sends the assertion for the called target instead of arguments for a target set to assertion', async () => {
    const { guard, last } = build({ forwardSteps: [deliveryFor({ arguments: false, assertion: true })] });
    const result = await guard.onRequest(
      await request('alice', call('orders___get_order', { order_id: '42' })),
    );
    if (result.kind !== 'forward') throw new Error('expected a forward');
    expect(result.headers).toStrictEqual({
      set: { 'X-Mcp-Identity-Assertion': 'assertion-for-alice-at-orders' },
      remove: ['authorization'],
    });
    expect((result.message as any).params.arguments).toStrictEqual({ order_id: '42' });
    expect(last().responseElements?.injectedParameters).toBeUndefined();
    expect(last().additionalEventData?.deliveredHeaders).toBe('["X-Mcp-Identity-Assertion"]');
    expect(JSON.stringify(last())).not.toContain('assertion-for-alice');
  });

  it('sends both when the target takes both', async () => {
    const { guard } = build({ forwardSteps: [deliveryFor({ arguments: true, assertion: true })] });
    const result = await guard.onRequest(
      await request('bob', call('orders___get_order', { order_id: '42' })),
    );
    if (result.kind !== 'forward') throw new Error('expected a forward');
    expect(result.headers.set).toStrictEqual({ 'X-Mcp-Identity-Assertion': 'assertion-for-bob-at-orders' });
    expect((result.message as any).params.arguments._caller_user).toBe('bob');
  });

  it('signs nothing for lists and for refused calls', async () => {
    signed.length = 0;
    const { guard } = build({ forwardSteps: [deliveryFor({ arguments: false, assertion: true })] });
    await guard.onRequest(await request('alice', { jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    const refused = await guard.onRequest(
      await request('carol', call('orders___update_order', { order_id: '1', status: 'x' })),
    );
    expect(refused.kind).toBe('answer');
    expect(signed).toStrictEqual([]);
  });

  it('refuses the call, audited, when the assertion cannot be signed (fail closed)', async () => {
    const step = identityDeliveryStep(
      { targets: new Map([['orders', { arguments: false, assertion: true }]]), assertionHeader: 'X-A' },
      {
        assertion: async () => {
          throw new AssertionSigningError('KMS Sign failed: ThrottlingException');
        },
      },
    );
    const { guard, last } = build({ forwardSteps: [step] });
    const result = await guard.onRequest(
      await request('alice', call('orders___get_order', { order_id: '42' })),
    );
    expect(result).toMatchObject({ kind: 'answer', status: 503, cause: 'unavailable' });
    expect(last()).toMatchObject({
      errorCode: 'AuthorizationServiceError',
      responseElements: { decision: 'deny' },
    });
  });

  it('refuses the call when a target takes the assertion but no signer is configured', async () => {
    const step = identityDeliveryStep(
      { targets: new Map([['orders', { arguments: true, assertion: true }]]), assertionHeader: 'X-A' },
      undefined,
    );
    const { guard } = build({ forwardSteps: [step] });
    const result = await guard.onRequest(
      await request('alice', call('orders___get_order', { order_id: '42' })),
    );
    expect(result).toMatchObject({ kind: 'answer', status: 503 });
  });
});

async function response(
  user: keyof typeof USERS | undefined,
  requestMessage: unknown,
  body: unknown,
  status = 200,
): Promise<GuardResponse> {
  return {
    door: 'apigw',
    credential: { authorization: user === undefined ? [] : [`Bearer ${await token(user)}`] },
    facts: facts(),
    request: requestMessage,
    response: { status, body },
  };
}

describe('guard: response step on plain HTTP bodies', () => {
  const listRequest = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

  it('filters a tools/list that arrives as JSON text, and answers in the same form', async () => {
    const { guard } = build();

    const result = await guard.onResponse(await response('carol', listRequest, JSON.stringify(toolList())));

    if (result.kind !== 'replace') throw new Error('expected a replaced body');
    expect(typeof result.body).toBe('string');
    expect(JSON.parse(result.body as string).result.tools).toEqual([]);
  });

  it('filters a tools/list that arrives as Server-Sent Events', async () => {
    const { guard } = build();
    const sse = `event: message\ndata: ${JSON.stringify(toolList())}\n\n`;

    const result = await guard.onResponse(await response('alice', listRequest, sse));

    if (result.kind !== 'replace') throw new Error('expected a replaced body');
    const data = (result.body as string).split('data: ')[1] as string;
    expect(JSON.parse(data).result.tools.map((tool: { name: string }) => tool.name)).toEqual([
      'orders___get_order',
      'orders___get_recent_activity',
    ]);
  });

  it('answers 401 instead of a list for a caller it cannot verify', async () => {
    const { guard, last } = build();
    const result = await guard.onResponse(await response(undefined, listRequest, toolList()));
    expect(result).toMatchObject({ kind: 'answer', status: 401, cause: 'unauthenticated' });
    expect(last()).toMatchObject({ errorCode: 'InvalidToken', additionalEventData: { phase: 'response' } });
  });

  it('refuses a list answer it cannot read rather than pass it unfiltered', async () => {
    const { guard } = build();
    const result = await guard.onResponse(await response('bob', listRequest, 'not json, not sse'));
    expect(result).toMatchObject({ kind: 'answer', status: 502, cause: 'error' });
  });

  it('passes a call result through untouched and audits its outcome', async () => {
    const { guard, last } = build();
    const ok = { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'order 1' }] } };

    const result = await guard.onResponse(
      await response('bob', call('orders___get_order', { order_id: '1' }), ok),
    );

    expect(result).toEqual({ kind: 'pass' });
    expect(last()).toMatchObject({
      additionalEventData: { phase: 'response', outcome: 'success' },
      responseElements: { decision: 'allow' },
    });
  });
});

describe('guard: authenticate alone (a door that sees no body)', () => {
  let guard: Guard;
  let audit: MemoryAuditSink;
  beforeEach(() => {
    ({ guard, audit } = build());
  });

  it('names the verified caller', async () => {
    const result = await guard.authenticate(
      { authorization: [`Bearer ${await token('bob')}`] },
      facts(),
      'agentcore',
    );
    expect(result).toMatchObject({ ok: true, caller: { subject: 'bob' } });
    expect(audit.events).toHaveLength(0);
  });

  it('refuses a bad credential with 401 and audits the refusal', async () => {
    const result = await guard.authenticate({ authorization: ['Bearer not-a-jwt'] }, facts(), 'agentcore');
    expect(result).toMatchObject({
      ok: false,
      answer: { kind: 'answer', status: 401, cause: 'unauthenticated' },
    });
    expect(audit.events.at(-1)).toMatchObject({ errorCode: 'InvalidToken' });
    expect(audit.events.at(-1)?.additionalEventData?.door).toBe('agentcore');
    expect(JSON.stringify(audit.events)).not.toContain('not-a-jwt');
  });
});
