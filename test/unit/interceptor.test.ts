import type { AuditEventData } from '../../lambda/core/audit-event';
import type { PolicyDecisionPoint } from '../../lambda/core/decision';
import { DecisionPointError } from '../../lambda/core/errors';
import { DECISION_HEADER } from '../../lambda/guard/answers';
import { fixture, requestEvent, toolCallEvent } from '../helpers/fixtures';
import { type Harness, startHarness } from '../helpers/harness';

type Output = {
  interceptorOutputVersion: string;
  mcp: {
    transformedGatewayRequest?: { body: Record<string, any> };
    transformedGatewayResponse?: {
      statusCode: number;
      headers?: Record<string, string>;
      body: Record<string, any>;
    };
  };
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.issuer.stop();
});
beforeEach(() => {
  h.audit.events.length = 0;
});

const call = async (event: unknown) => (await h.handler(event)) as Output;
const lastEvent = (): AuditEventData => {
  const event = h.audit.events.at(-1);
  if (event === undefined) throw new Error('no audit event');
  return event;
};

describe('REQUEST: tools/call', () => {
  it('forwards an allowed call with the verified identity injected', async () => {
    const out = await call(toolCallEvent(await h.token('alice'), 'orders___get_order', { order_id: '42' }));

    expect(out.interceptorOutputVersion).toBe('1.0');
    expect(out.mcp.transformedGatewayResponse).toBeUndefined();
    expect(out.mcp.transformedGatewayRequest?.body).toEqual({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: {
        name: 'orders___get_order',
        arguments: { order_id: '42', _caller_user: 'alice', _caller_roles: ['developer', 'db-reader'] },
      },
    });
    const event = lastEvent();
    expect(event.userIdentity.principalId).toBe('alice');
    expect(event.eventName).toBe('orders___get_order');
    expect(event.responseElements).toMatchObject({
      decision: 'allow',
      enforced: 'true',
      determiningPolicies: '["orders-readers"]',
    });
    expect(event.errorCode).toBeUndefined();
  });

  it('answers a denied call itself with isError and the reason, so the tool never runs', async () => {
    const out = await call(
      toolCallEvent(await h.token('alice'), 'orders___update_order', { order_id: '42', status: 'shipped' }),
    );

    expect(out.mcp.transformedGatewayRequest).toBeUndefined();
    const response = out.mcp.transformedGatewayResponse;
    expect(response?.statusCode).toBe(200);
    expect(response?.headers?.[DECISION_HEADER]).toBe('deny');
    expect(response?.body.result.isError).toBe(true);
    expect(response?.body.id).toBe(7);
    expect(response?.body.result.content[0].text).toMatch(
      /no policy permits alice@example.com to call the tool 'orders___update_order'/,
    );
    expect(lastEvent()).toMatchObject({
      errorCode: 'AccessDenied',
      responseElements: { decision: 'deny', enforced: 'true' },
    });
  });

  it('names the forbid policy and its reason when an argument rule denies', async () => {
    const out = await call(
      toolCallEvent(await h.token('bob'), 'orders___update_order', {
        order_id: '42',
        status: 'refunded',
        amount: 900,
      }),
    );

    expect(out.mcp.transformedGatewayResponse?.body.result.content[0].text).toBe(
      "Denied by policy 'large-refunds-need-finance' (refunds above 500 need the finance-approver role).",
    );
    expect(lastEvent().responseElements).toMatchObject({
      determiningPolicies: '["large-refunds-need-finance"]',
    });
  });

  it('allows the same refund below the limit', async () => {
    const out = await call(
      toolCallEvent(await h.token('bob'), 'orders___update_order', {
        order_id: '42',
        status: 'refunded',
        amount: 100,
      }),
    );
    expect(out.mcp.transformedGatewayRequest?.body.params.arguments._caller_user).toBe('bob');
  });

  it.each(['_caller_user', '_Caller_User', 'caller-user', '_caller_roles', 'ＣＡＬＬＥＲ_USER'])(
    'denies and audits a client that sends the reserved argument %s itself',
    async (name) => {
      const out = await call(
        toolCallEvent(await h.token('bob'), 'orders___get_order', { order_id: '1', [name]: 'admin' }),
      );

      expect(out.mcp.transformedGatewayRequest).toBeUndefined();
      expect(out.mcp.transformedGatewayResponse?.body.result.content[0].text).toMatch(
        /reserved identity argument/,
      );
      expect(lastEvent().errorCode).toBe('SpoofingAttempt');
    },
  );

  it('denies arguments that cannot be expressed in Cedar (a float for an integer field)', async () => {
    const out = await call(
      toolCallEvent(await h.token('bob'), 'orders___update_order', {
        order_id: '1',
        status: 'refunded',
        amount: 1.5,
      }),
    );
    expect(out.mcp.transformedGatewayResponse?.body.result.isError).toBe(true);
    expect(lastEvent().errorCode).toBe('InvalidArguments');
  });

  it('denies an argument of the wrong type (a number where the schema declares a string)', async () => {
    const out = await call(toolCallEvent(await h.token('bob'), 'orders___get_order', { order_id: 42 }));
    expect(out.mcp.transformedGatewayResponse?.body.result.isError).toBe(true);
    expect(lastEvent().errorCode).toBe('InvalidArguments');
  });

  it('names a missing required argument, before any engine is asked', async () => {
    const out = await call(toolCallEvent(await h.token('bob'), 'orders___get_order', {}));
    expect(out.mcp.transformedGatewayResponse?.body.result.content[0].text).toBe(
      'Denied: the arguments cannot be checked against policy (input.order_id is required).',
    );
    expect(lastEvent().errorCode).toBe('InvalidArguments');
  });

  it('names an argument the tool does not declare', async () => {
    const out = await call(
      toolCallEvent(await h.token('bob'), 'orders___get_order', { order_id: '1', color: 'red' }),
    );
    expect(out.mcp.transformedGatewayResponse?.body.result.content[0].text).toMatch(
      /input\.color is not a parameter of this tool/,
    );
  });

  it('denies as a service error what only the engine rejects (no declared input types)', async () => {
    const untyped = await startHarness({
      settings: { model: { namespace: 'McpIdentity', resourceId: 'gateway' } },
    });
    try {
      const out = (await untyped.handler(
        toolCallEvent(await untyped.token('bob'), 'orders___get_order', {}),
      )) as Output;
      expect(out.mcp.transformedGatewayResponse?.body.result.isError).toBe(true);
      expect(untyped.audit.events.at(-1)?.errorCode).toBe('AuthorizationServiceError');
    } finally {
      await untyped.issuer.stop();
    }
  });

  it('denies a tool the schema does not know (deny by default)', async () => {
    const out = await call(toolCallEvent(await h.token('bob'), 'billing___delete_invoice', { id: '1' }));
    expect(out.mcp.transformedGatewayResponse?.body.result.content[0].text).toMatch(/no policy permits bob/);
  });

  it('denies a system tool without prefix unless a policy names it', async () => {
    const out = await call(
      toolCallEvent(await h.token('bob'), 'x_amz_bedrock_agentcore_search', { query: 'x' }),
    );
    expect(out.mcp.transformedGatewayResponse?.body.result.isError).toBe(true);
    expect(lastEvent().requestParameters).toMatchObject({ tool: 'x_amz_bedrock_agentcore_search' });
    expect(lastEvent().requestParameters).not.toHaveProperty('target');
  });
});

describe('REQUEST: authentication', () => {
  it('answers 401 with WWW-Authenticate pointing at the protected resource metadata when no token is sent', async () => {
    const out = await call(toolCallEvent(undefined, 'orders___get_order', { order_id: '1' }));

    const response = out.mcp.transformedGatewayResponse;
    expect(response?.statusCode).toBe(401);
    expect(response?.headers?.['WWW-Authenticate']).toBe(
      'Bearer resource_metadata="https://gateway.example.com/.well-known/oauth-protected-resource"',
    );
    expect(out.mcp.transformedGatewayRequest).toBeUndefined();
    expect(lastEvent()).toMatchObject({
      errorCode: 'InvalidToken',
      userIdentity: { type: 'Anonymous', principalId: 'anonymous' },
    });
  });

  it('answers 401 invalid_token for an expired token and never logs or audits the token', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const token = await h.token('alice', { iat: past - 600, exp: past });
    const out = await call(toolCallEvent(token, 'orders___get_order', { order_id: '1' }));

    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(401);
    expect(out.mcp.transformedGatewayResponse?.headers?.['WWW-Authenticate']).toContain(
      'error="invalid_token"',
    );
    expect(JSON.stringify(h.audit.events)).not.toContain(token);
    expect(JSON.stringify(h.log.lines)).not.toContain(token.split('.')[1]);
  });

  it('answers 401 for a token with another audience', async () => {
    const out = await call(
      toolCallEvent(await h.token('alice', { aud: 'someone-else' }), 'orders___get_order', { order_id: '1' }),
    );
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(401);
  });

  it('reads the Authorization header case-insensitively', async () => {
    const event = toolCallEvent(undefined, 'orders___get_order', { order_id: '1' });
    (event.mcp.gatewayRequest.headers as Record<string, string>).authorization =
      `bearer ${await h.token('alice')}`;
    const out = await call(event);
    expect(out.mcp.transformedGatewayRequest).toBeDefined();
  });

  it('answers 401 for a non-bearer Authorization header', async () => {
    const event = toolCallEvent(undefined, 'orders___get_order', { order_id: '1' });
    (event.mcp.gatewayRequest.headers as Record<string, string>).Authorization = 'Basic YWxpY2U6cHc=';
    const out = await call(event);
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(401);
  });
});

describe('REQUEST: malformed input', () => {
  it.each([
    ['a batch', [{ jsonrpc: '2.0', id: 1, method: 'ping' }], -32600],
    ['a wrong jsonrpc version', { jsonrpc: '1.0', id: 1, method: 'ping' }, -32600],
    ['a non-string method', { jsonrpc: '2.0', id: 1, method: 5 }, -32600],
    [
      'arguments that are an array',
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'orders___get_order', arguments: [] } },
      -32602,
    ],
    [
      'a tool name with spaces',
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'orders get' } },
      -32602,
    ],
  ])('refuses %s with 400 and a JSON-RPC error, audited', async (_label, body, code) => {
    const out = await call(requestEvent(await h.token('bob'), body));
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(400);
    expect(out.mcp.transformedGatewayResponse?.body.error.code).toBe(code);
    expect(out.mcp.transformedGatewayRequest).toBeUndefined();
    expect(lastEvent().errorCode).toBe('MalformedRequest');
  });

  it('refuses a raw body that is not JSON with a parse error', async () => {
    const event = requestEvent(await h.token('bob'), undefined);
    delete (event.mcp.gatewayRequest as { body?: unknown }).body;
    event.mcp.rawGatewayRequest.body = '{"jsonrpc": "2.0", "id": 1, "method": ';
    const out = await call(event);
    expect(out.mcp.transformedGatewayResponse?.body.error.code).toBe(-32700);
  });

  it('refuses a body larger than the configured limit', async () => {
    const out = await call(
      toolCallEvent(await h.token('bob'), 'orders___get_order', { order_id: 'x'.repeat(1024 * 1024) }),
    );
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(400);
    expect(out.mcp.transformedGatewayResponse?.body.error.message).toMatch(/exceeds/);
  });

  it('refuses a request whose Mcp-Method header disagrees with the body', async () => {
    const event = toolCallEvent(await h.token('bob'), 'orders___get_order', { order_id: '1' });
    (event.mcp.gatewayRequest.headers as Record<string, string>)['Mcp-Method'] = 'tools/list';
    const out = await call(event);
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(400);
  });

  it('refuses an event that is not an interceptor input at all', async () => {
    const out = await call({ hello: 'world' });
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(400);
    expect(lastEvent().errorCode).toBe('MalformedRequest');
  });
});

describe('REQUEST: other methods', () => {
  it('forwards initialize, ping and notifications without a policy decision or audit event', async () => {
    const token = await h.token('carol');
    for (const body of [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18' } },
      { jsonrpc: '2.0', id: 2, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 3, method: 'tools/list' },
    ]) {
      const out = await call(requestEvent(token, body));
      expect(out.mcp.transformedGatewayRequest?.body).toEqual(body);
    }
    expect(h.audit.events).toHaveLength(0);
  });

  it('denies prompts/get and resources/read by policy with 403 and a JSON-RPC error', async () => {
    const token = await h.token('bob');
    const prompt = await call(
      requestEvent(token, { jsonrpc: '2.0', id: 4, method: 'prompts/get', params: { name: 'summary' } }),
    );
    expect(prompt.mcp.transformedGatewayResponse?.statusCode).toBe(403);
    expect(prompt.mcp.transformedGatewayResponse?.body.error.message).toMatch(/get the prompt 'summary'/);
    const resource = await call(
      requestEvent(token, {
        jsonrpc: '2.0',
        id: 5,
        method: 'resources/read',
        params: { uri: 'file:///etc/passwd' },
      }),
    );
    expect(resource.mcp.transformedGatewayResponse?.statusCode).toBe(403);
    expect(h.audit.events.map((event) => event.errorCode)).toEqual(['AccessDenied', 'AccessDenied']);
  });

  it('denies methods it does not model (fail closed)', async () => {
    const out = await call(
      requestEvent(await h.token('bob'), { jsonrpc: '2.0', id: 6, method: 'tasks/cancel', params: {} }),
    );
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(403);
    expect(lastEvent().errorCode).toBe('UnsupportedMethod');
  });
});

describe('RESPONSE: tools/list filtering', () => {
  const toolsList = (token: string) => {
    const event = fixture<any>('agentcore/response-interceptor-input.tools-list.json');
    event.mcp.gatewayRequest.headers.Authorization = `Bearer ${token}`;
    event.mcp.gatewayResponse.headers['Content-Length'] = '999';
    const reserved = {
      _caller_user: { type: 'string' },
      _caller_roles: { type: 'array', items: { type: 'string' } },
    };
    event.mcp.gatewayResponse.body.result.tools = [
      {
        name: 'orders___get_order',
        inputSchema: {
          type: 'object',
          properties: { order_id: { type: 'string' }, ...reserved },
          required: ['order_id', '_caller_user'],
        },
      },
      {
        name: 'orders___update_order',
        inputSchema: {
          type: 'object',
          properties: { order_id: { type: 'string' }, status: { type: 'string' }, ...reserved },
        },
      },
      { name: 'orders___get_recent_activity', inputSchema: { type: 'object', properties: { ...reserved } } },
      { name: 'x_amz_bedrock_agentcore_search', inputSchema: { type: 'object' } },
      { description: 'no name: dropped' },
    ];
    return event;
  };
  const names = (out: Output) =>
    out.mcp.transformedGatewayResponse?.body.result.tools.map((tool: { name: string }) => tool.name);

  it('shows each user only the tools some input would let them call', async () => {
    expect(names(await call(toolsList(await h.token('alice'))))).toEqual([
      'orders___get_order',
      'orders___get_recent_activity',
    ]);
    expect(names(await call(toolsList(await h.token('bob'))))).toEqual([
      'orders___get_order',
      'orders___update_order',
      'orders___get_recent_activity',
    ]);
    expect(names(await call(toolsList(await h.token('carol'))))).toEqual([]);
  });

  it('removes the injected parameters from the schemas the model sees and drops a stale Content-Length', async () => {
    const out = await call(toolsList(await h.token('alice')));
    const tool = out.mcp.transformedGatewayResponse?.body.result.tools[0];
    expect(Object.keys(tool.inputSchema.properties)).toEqual(['order_id']);
    expect(tool.inputSchema.required).toEqual(['order_id']);
    expect(Object.keys(out.mcp.transformedGatewayResponse?.headers ?? {})).not.toContain('Content-Length');
  });

  it('audits what was shown and hidden', async () => {
    await call(toolsList(await h.token('alice')));
    expect(lastEvent()).toMatchObject({
      eventName: 'tools/list',
      additionalEventData: {
        phase: 'response',
        listedTools: '["orders___get_order","orders___get_recent_activity"]',
        hiddenTools: '["orders___update_order","x_amz_bedrock_agentcore_search"]',
      },
    });
  });

  it('marks the list private when the server speaks the cache-aware protocol', async () => {
    const event = toolsList(await h.token('alice'));
    event.mcp.gatewayResponse.body.result.cacheScope = 'public';
    event.mcp.gatewayResponse.body.result.ttlMs = 60000;
    const out = await call(event);
    expect(out.mcp.transformedGatewayResponse?.body.result.cacheScope).toBe('private');
  });

  it('answers 401 instead of a list when the token is not valid', async () => {
    const out = await call(toolsList('not-a-token'));
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(401);
  });

  it('hides every tool when the decision point fails', async () => {
    const failing: PolicyDecisionPoint = {
      isAuthorized: () => Promise.reject(new DecisionPointError('down')),
      couldBeAllowed: () => Promise.reject(new DecisionPointError('down')),
    };
    const broken = await startHarness({ pdp: failing });
    try {
      const out = (await broken.handler(toolsList(await broken.token('bob')))) as Output;
      expect(names(out)).toEqual([]);
      expect(broken.audit.events.at(-1)?.errorCode).toBe('AuthorizationServiceError');
    } finally {
      await broken.issuer.stop();
    }
  });

  it('still filters a list whose response carries the decision header (a target cannot opt out)', async () => {
    const event = toolsList(await h.token('alice'));
    event.mcp.gatewayResponse.headers[DECISION_HEADER] = 'deny';
    expect(names(await call(event))).toEqual(['orders___get_order', 'orders___get_recent_activity']);
  });

  it('filters any tools list, even when the request it answers could not be read', async () => {
    const event = toolsList(await h.token('carol'));
    event.mcp.gatewayRequest.body = [];
    expect(names(await call(event))).toEqual([]);
  });
});

describe('RESPONSE: tools/call outcome', () => {
  const outcomeEvent = (token: string, result: unknown) => {
    const event = toolCallEvent(token, 'orders___get_order', { order_id: '42' }) as any;
    event.mcp.gatewayResponse = {
      statusCode: 200,
      headers: {},
      body: { jsonrpc: '2.0', id: 7, ...(result as object) },
    };
    return event;
  };

  it('audits the outcome of a call and passes the result through untouched', async () => {
    const out = await call(
      outcomeEvent(await h.token('alice'), { result: { content: [{ type: 'text', text: 'order 42' }] } }),
    );
    expect(out.mcp.transformedGatewayResponse?.body.result.content[0].text).toBe('order 42');
    expect(lastEvent()).toMatchObject({
      eventName: 'orders___get_order',
      additionalEventData: { phase: 'response', outcome: 'success' },
    });
    expect(JSON.stringify(lastEvent())).not.toContain('order 42');
  });

  it('labels the outcome of our own denial by deciding again, without any header (issue 10 #15)', async () => {
    const event = toolCallEvent(await h.token('carol'), 'orders___update_order', {
      order_id: '42',
      status: 'shipped',
    }) as any;
    event.mcp.gatewayResponse = {
      statusCode: 200,
      headers: {},
      body: { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'Denied' }], isError: true } },
    };
    const out = await call(event);
    expect(out.mcp.transformedGatewayResponse?.body.result.isError).toBe(true);
    expect(h.audit.events).toHaveLength(1);
    expect(lastEvent()).toMatchObject({
      responseElements: { decision: 'deny' },
      additionalEventData: { outcome: 'refused-by-gateway' },
    });
  });

  it('a decision marker forged by a target cannot turn an allowed call into a refusal', async () => {
    const event = outcomeEvent(await h.token('alice'), { result: { content: [], isError: true } });
    event.mcp.gatewayResponse.headers[DECISION_HEADER] = 'deny';
    const out = await call(event);
    expect(out.mcp.transformedGatewayResponse?.body.result.isError).toBe(true);
    expect(h.audit.events).toHaveLength(1);
    expect(lastEvent()).toMatchObject({
      errorCode: 'ToolError',
      responseElements: { decision: 'allow' },
      additionalEventData: { outcome: 'tool-error' },
    });
  });

  it('records an outcome whose token no longer verifies as InvalidToken, and still passes the result', async () => {
    const event = outcomeEvent('expired.or.forged', { result: { content: [{ type: 'text', text: 'ok' }] } });
    const out = await call(event);
    expect(out.mcp.transformedGatewayResponse?.body.result.content[0].text).toBe('ok');
    expect(lastEvent()).toMatchObject({ errorCode: 'InvalidToken', userIdentity: { type: 'Anonymous' } });
  });

  it('passes the result through when the outcome cannot be audited (the decision already was)', async () => {
    h.audit.failing = true;
    try {
      const out = await call(
        outcomeEvent(await h.token('alice'), { result: { content: [{ type: 'text', text: 'ok' }] } }),
      );
      expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(200);
      expect(out.mcp.transformedGatewayResponse?.body.result.content[0].text).toBe('ok');
    } finally {
      h.audit.failing = false;
    }
  });

  it('records tool errors as ToolError', async () => {
    await call(outcomeEvent(await h.token('alice'), { result: { content: [], isError: true } }));
    expect(lastEvent()).toMatchObject({
      errorCode: 'ToolError',
      additionalEventData: { outcome: 'tool-error' },
    });
  });
});

describe('log-only mode', () => {
  let shadow: Harness;
  beforeAll(async () => {
    shadow = await startHarness({ settings: { mode: 'log-only' } });
  });
  afterAll(async () => {
    await shadow.issuer.stop();
  });

  it('lets a policy-denied call through, injected, and audits it as an unenforced deny', async () => {
    const out = (await shadow.handler(
      toolCallEvent(await shadow.token('carol'), 'orders___get_order', { order_id: '1' }),
    )) as Output;
    expect(out.mcp.transformedGatewayRequest?.body.params.arguments._caller_user).toBe('carol');
    expect(shadow.audit.events.at(-1)).toMatchObject({
      errorCode: 'AccessDenied',
      responseElements: { decision: 'deny', enforced: 'false' },
      additionalEventData: { mode: 'log-only' },
    });
  });

  it('still enforces spoofing checks', async () => {
    const out = (await shadow.handler(
      toolCallEvent(await shadow.token('carol'), 'orders___get_order', {
        order_id: '1',
        _caller_user: 'bob',
      }),
    )) as Output;
    expect(out.mcp.transformedGatewayRequest).toBeUndefined();
  });
});

describe('failure paths', () => {
  it('denies with a safe reason when the decision point throws, and logs the cause', async () => {
    const failing: PolicyDecisionPoint = {
      isAuthorized: () => Promise.reject(new DecisionPointError('ThrottlingException: Rate exceeded')),
      couldBeAllowed: () => Promise.resolve([]),
    };
    const broken = await startHarness({ pdp: failing });
    try {
      const out = (await broken.handler(
        toolCallEvent(await broken.token('bob'), 'orders___get_order', { order_id: '1' }),
      )) as Output;
      const text = out.mcp.transformedGatewayResponse?.body.result.content[0].text;
      expect(text).toBe('The authorization service could not decide this request, so it was denied.');
      expect(text).not.toMatch(/Throttling/);
      expect(broken.audit.events.at(-1)?.errorCode).toBe('AuthorizationServiceError');
    } finally {
      await broken.issuer.stop();
    }
  });

  it('scrubs a token quoted in an error before logging it', async () => {
    const token = await h.token('bob');
    const original = h.audit.write.bind(h.audit);
    h.audit.write = () => Promise.reject(new Error(`sink rejected payload containing ${token}`));
    h.log.lines.length = 0;
    try {
      const out = await call(toolCallEvent(token, 'orders___get_order', { order_id: '1' }));
      expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(503);
      const logged = JSON.stringify(h.log.lines);
      expect(logged).toContain('sink rejected payload containing');
      expect(logged).not.toContain(token.split('.')[1]);
    } finally {
      h.audit.write = original;
    }
  });

  it('does not carry out a request it cannot audit', async () => {
    h.audit.failing = true;
    try {
      const out = await call(toolCallEvent(await h.token('bob'), 'orders___get_order', { order_id: '1' }));
      expect(out.mcp.transformedGatewayRequest).toBeUndefined();
      expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(503);
      expect(out.mcp.transformedGatewayResponse?.body.error.message).toMatch(/audit trail/);
    } finally {
      h.audit.failing = false;
    }
  });

  it('answers 503 when the identity provider cannot be reached', async () => {
    // Not hydrated: the first token needs the issuer's keys, and the issuer is gone.
    const gone = await startHarness({ hydrate: false });
    const token = await gone.token('bob');
    await gone.issuer.stop();
    const out = (await gone.handler(toolCallEvent(token, 'orders___get_order', { order_id: '1' }))) as Output;
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(503);
    expect(gone.audit.events.at(-1)?.errorCode).toBe('InvalidToken');
  });

  it('is idempotent: a retried request gives the same output; each execution is its own audit event, joined by the request key', async () => {
    const event = toolCallEvent(await h.token('alice'), 'orders___get_order', { order_id: '42' });
    const first = await call(structuredClone(event));
    const second = await call(structuredClone(event));
    expect(second).toEqual(first);
    // Issue 10 #3: a UID is unique per execution, so the forwarder's de-duplication never drops a call that ran.
    expect(h.audit.events[0]?.UID).not.toBe(h.audit.events[1]?.UID);
    expect(h.audit.events[0]?.additionalEventData?.requestKey).toBe(
      h.audit.events[1]?.additionalEventData?.requestKey,
    );
  });
});

describe('hardening (from review)', () => {
  it('measures the size on the body it decides on, not only on the raw text', async () => {
    const event = toolCallEvent(await h.token('bob'), 'orders___get_order', {
      order_id: 'x'.repeat(2 * 1024 * 1024),
    });
    event.mcp.rawGatewayRequest.body = '{}';
    const out = await call(event);
    expect(out.mcp.transformedGatewayRequest).toBeUndefined();
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(400);
  });

  it('refuses two Authorization headers, and an Mcp-Method header with several values', async () => {
    const token = await h.token('bob');
    const twice = toolCallEvent(token, 'orders___get_order', { order_id: '1' }) as any;
    twice.mcp.gatewayRequest.headers.authorization = `Bearer ${await h.token('alice')}`;
    expect((await call(twice)).mcp.transformedGatewayResponse?.statusCode).toBe(401);
    const methods = toolCallEvent(token, 'orders___get_order', { order_id: '1' }) as any;
    methods.mcp.gatewayRequest.headers['Mcp-Method'] = ['tools/call', 'tools/list'];
    expect((await call(methods)).mcp.transformedGatewayResponse?.statusCode).toBe(400);
  });

  it.each(['__proto__', 'constructor', 'prototype'])(
    'refuses the JavaScript key %s anywhere in the arguments',
    async (key) => {
      const body = JSON.parse(
        `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"orders___get_order","arguments":{"order_id":"1","nested":{"${key}":{"_caller_user":"bob"}}}}}`,
      );
      const out = await call(requestEvent(await h.token('alice'), body));
      expect(out.mcp.transformedGatewayRequest).toBeUndefined();
      expect(out.mcp.transformedGatewayResponse?.body.error.code).toBe(-32602);
    },
  );

  it('refuses a prompts/get that sets a reserved identity argument', async () => {
    const out = await call(
      requestEvent(await h.token('bob'), {
        jsonrpc: '2.0',
        id: 1,
        method: 'prompts/get',
        params: { name: 'summary', arguments: { _caller_user: 'carol' } },
      }),
    );
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(403);
    expect(lastEvent().errorCode).toBe('SpoofingAttempt');
  });

  it('keeps a token pasted into a resource URI or an argument name out of responses and audit events', async () => {
    const jwt = await h.token('carol');
    const resource = await call(
      requestEvent(await h.token('bob'), {
        jsonrpc: '2.0',
        id: 1,
        method: 'resources/read',
        params: { uri: `https://docs.example.com/x?access_token=${jwt}` },
      }),
    );
    const argument = await call(
      toolCallEvent(await h.token('bob'), 'orders___update_order', {
        order_id: '1',
        status: 'x',
        amount: 1,
        [jwt]: 1.123456,
      }),
    );
    const everything = JSON.stringify([resource, argument, h.audit.events.slice(-2)]);
    expect(everything).not.toContain(jwt);
    expect(everything).toContain('[REDACTED]');
  });

  it.each([
    [
      'an SSE frame',
      'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"orders___update_order"},{"name":"orders___get_order"}]}}\n\n',
      (body: unknown) => JSON.parse((body as string).split('data: ')[1] as string),
    ],
    [
      'a batch',
      [
        {
          jsonrpc: '2.0',
          id: 1,
          result: { tools: [{ name: 'orders___update_order' }, { name: 'orders___get_order' }] },
        },
      ],
      (body: unknown) => (body as unknown[])[0],
    ],
  ])(
    'filters a tools/list answer that arrives as %s, in the same form (issue 10 #9)',
    async (_label, body, first) => {
      const event = fixture<any>('agentcore/response-interceptor-input.tools-list.json');
      event.mcp.gatewayRequest.headers.Authorization = `Bearer ${await h.token('alice')}`;
      event.mcp.gatewayResponse.body = body;
      const out = await call(event);
      expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(200);
      expect(JSON.stringify(out)).not.toContain('orders___update_order');
      expect(first(out.mcp.transformedGatewayResponse?.body)).toMatchObject({
        result: { tools: [{ name: 'orders___get_order' }] },
      });
    },
  );

  it.each([
    ['garbage', '<html>'],
    ['nothing', ''],
  ])(
    'refuses a tools/list answer it cannot read (%s) rather than passing it unfiltered',
    async (_label, body) => {
      const event = fixture<any>('agentcore/response-interceptor-input.tools-list.json');
      event.mcp.gatewayRequest.headers.Authorization = `Bearer ${await h.token('carol')}`;
      event.mcp.gatewayResponse.body = body;
      const out = await call(event);
      expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(502);
      expect(JSON.stringify(out)).not.toContain('orders___update_order');
    },
  );

  it('audits a tools/list answered with 401 because the token does not verify', async () => {
    const event = fixture<any>('agentcore/response-interceptor-input.tools-list.json');
    event.mcp.gatewayRequest.headers.Authorization = 'Bearer not.a.token';
    const out = await call(event);
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(401);
    expect(lastEvent()).toMatchObject({ eventName: 'tools/list', errorCode: 'InvalidToken' });
  });

  it('in log-only mode still enforces a policy that could not be evaluated', async () => {
    const erroring: PolicyDecisionPoint = {
      isAuthorized: async () => ({
        decision: 'allow',
        determiningPolicies: ['p'],
        errors: [{ policyId: 'f', detail: 'overflow' }],
      }),
      couldBeAllowed: async (requests) => requests.map(() => true),
    };
    const shadow = await startHarness({ pdp: erroring, settings: { mode: 'log-only' } });
    try {
      const out = (await shadow.handler(
        toolCallEvent(await shadow.token('bob'), 'orders___get_order', { order_id: '1' }),
      )) as Output;
      expect(out.mcp.transformedGatewayRequest).toBeUndefined();
      expect(shadow.audit.events.at(-1)?.errorCode).toBe('PolicyEvaluationError');
    } finally {
      await shadow.issuer.stop();
    }
  });
});
