import { type AuditEventData, buildAuditEvent } from '../../lambda/core/audit-event';
import { DEFAULT_INJECTION, spoofedParams } from '../../lambda/core/injection';
import { DEFAULT_REDACTION } from '../../lambda/core/redaction';
import { fixture, requestEvent, toolCallEvent } from '../helpers/fixtures';
import { type Harness, startHarness } from '../helpers/harness';

/**
 * Issue 10 findings on the request path, each named after the finding: the class of problem, with variants.
 */
type Output = {
  mcp: {
    transformedGatewayRequest?: { body: Record<string, any>; headers?: Record<string, string> };
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
afterAll(() => h.issuer.stop());
beforeEach(() => {
  h.audit.events.length = 0;
});
const call = async (event: unknown) => (await h.handler(event)) as Output;
const lastEvent = (): AuditEventData => {
  const event = h.audit.events.at(-1);
  if (event === undefined) throw new Error('no audit event');
  return event;
};

/** A tools/call whose arguments nest `depth` levels, built without recursion (as a hostile client would send). */
function deeplyNested(token: string | undefined, depth: number) {
  let nested: Record<string, unknown> = { leaf: 1 };
  for (let level = 0; level < depth; level += 1) nested = { a: nested };
  const body = {
    jsonrpc: '2.0',
    id: 9,
    method: 'tools/call',
    params: { name: 'orders___get_order', arguments: nested },
  };
  const raw = `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"orders___get_order","arguments":${'{"a":'.repeat(depth)}{"leaf":1}${'}'.repeat(depth)}}}`;
  const event = toolCallEvent(token, 'orders___get_order', {});
  event.mcp.gatewayRequest.body = body;
  event.mcp.rawGatewayRequest.body = raw;
  return event;
}

describe('issue 10 #1: deep nesting', () => {
  it.each([
    ['with a valid token', true],
    ['without a token', false],
  ])('answers 400 and writes an audit event for arguments nested 10,000 levels %s', async (_, withToken) => {
    const token = withToken ? await h.token('bob') : undefined;

    const out = await call(deeplyNested(token, 10_000));

    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(400);
    expect(out.mcp.transformedGatewayResponse?.body).toMatchObject({ id: 9, error: { code: -32600 } });
    expect(h.audit.events).toHaveLength(1);
    expect(lastEvent()).toMatchObject({ errorCode: 'MalformedRequest', eventName: 'tools/call' });
    expect(lastEvent().userIdentity.principalId).toBe(withToken ? 'bob' : 'anonymous');
  });

  it('handles the same body in the RESPONSE phase without overflowing', async () => {
    const event = deeplyNested(await h.token('bob'), 10_000) as unknown as { mcp: Record<string, unknown> };
    event.mcp.gatewayResponse = {
      statusCode: 200,
      body: { jsonrpc: '2.0', id: 9, result: { content: [{ type: 'text', text: 'x' }] } },
    };
    const out = await call(event);
    expect(out.mcp.transformedGatewayResponse?.statusCode).not.toBe(500);
  });

  it('still decides a request nested within the bound', async () => {
    const out = await call(deeplyNested(await h.token('bob'), 20));
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(200);
    expect(out.mcp.transformedGatewayResponse?.body.result.content[0].text).toMatch(
      /input\.a is not a parameter/,
    );
  });
});

describe('issue 10 #4: reserved identity parameters anywhere in params', () => {
  const reserved = [
    '_caller_user',
    '_CALLER_USER',
    '_Caller_Roles',
    'caller-user',
    '＿ｃａｌｌｅｒ＿ｕｓｅｒ',
    '_caller\u200b_user',
    '_caller_user\u0000',
    '\u200d_caller_roles',
    '_caller\u00ad_user',
    '_caller_\u2060user',
    '_caller_user\ufeff',
  ];

  it.each(reserved)('refuses %j in tool arguments', async (key) => {
    const out = await call(
      toolCallEvent(await h.token('bob'), 'orders___get_order', { order_id: '1', [key]: 'bob' }),
    );
    expect(out.mcp.transformedGatewayRequest).toBeUndefined();
    expect(lastEvent().errorCode).toBe('SpoofingAttempt');
  });

  it.each([
    [
      'params top level',
      (key: string) => ({ name: 'orders___get_order', arguments: { order_id: '1' }, [key]: 'bob' }),
    ],
    [
      'params._meta',
      (key: string) => ({
        name: 'orders___get_order',
        arguments: { order_id: '1' },
        _meta: { [key]: 'bob' },
      }),
    ],
    [
      'a nested argument object',
      (key: string) => ({
        name: 'orders___get_order',
        arguments: { order_id: '1', filter: [{ [key]: 'bob' }] },
      }),
    ],
  ])('refuses it in %s, for every variant', async (_, params) => {
    const token = await h.token('bob');
    for (const key of reserved) {
      const out = await call(
        requestEvent(token, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: params(key) }),
      );
      expect(out.mcp.transformedGatewayRequest).toBeUndefined();
      expect(lastEvent().errorCode).toBe('SpoofingAttempt');
    }
  });

  it.each(['tools/list', 'resources/read', 'prompts/get', 'initialize'])(
    'refuses it in the params of %s',
    async (method) => {
      const params = { name: 'p', uri: 'file:///x', _meta: { _caller_user: 'bob' } };
      const out = await call(requestEvent(await h.token('bob'), { jsonrpc: '2.0', id: 4, method, params }));
      expect(out.mcp.transformedGatewayRequest).toBeUndefined();
      expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(403);
      expect(lastEvent().errorCode).toBe('SpoofingAttempt');
    },
  );

  it('refuses it in log-only mode too', async () => {
    const shadow = await startHarness({ settings: { mode: 'log-only' } });
    try {
      const out = (await shadow.handler(
        toolCallEvent(await shadow.token('carol'), 'orders___get_order', {
          order_id: '1',
          _meta: 1,
          '_CALLER_USER\u200b': 'bob',
        }),
      )) as Output;
      expect(out.mcp.transformedGatewayRequest).toBeUndefined();
      expect(shadow.audit.events.at(-1)?.errorCode).toBe('SpoofingAttempt');
    } finally {
      await shadow.issuer.stop();
    }
  });

  it('lets ordinary keys through, and names the paths it refuses', () => {
    expect(
      spoofedParams({ arguments: { caller: 'x', user: 'y', caller_id: 1 } }, DEFAULT_INJECTION, 't'),
    ).toStrictEqual([]);
    expect(
      spoofedParams(
        { arguments: { a: [{ _caller_user: 1 }] }, _meta: { 'Caller.Roles': 2 } },
        DEFAULT_INJECTION,
        't',
      ),
    ).toStrictEqual(['_meta.Caller.Roles', 'arguments.a.0._caller_user']);
  });
});

describe('issue 10 #5: Cedar decides on exactly what the tool gets', () => {
  it('drops null arguments before deciding and before forwarding', async () => {
    const out = await call(
      toolCallEvent(await h.token('bob'), 'orders___update_order', {
        order_id: '1',
        status: 'refunded',
        amount: null,
      }),
    );
    const forwarded = out.mcp.transformedGatewayRequest?.body.params.arguments;
    expect(forwarded).toStrictEqual({
      order_id: '1',
      status: 'refunded',
      _caller_user: 'bob',
      _caller_roles: ['order-admin'],
    });
    expect(Object.hasOwn(forwarded, 'amount')).toBe(false);
  });

  it('never forwards a null an argument rule could not see, nested or in a list', async () => {
    const out = await call(
      toolCallEvent(await h.token('bob'), 'orders___get_order', {
        order_id: '1',
        extra: [null, { x: null }],
      } as never),
    );
    const body = out.mcp.transformedGatewayRequest?.body ?? out.mcp.transformedGatewayResponse?.body;
    expect(JSON.stringify(body)).not.toContain('null');
  });

  it('forwards prompt arguments without nulls as well', async () => {
    const allowAll = await startHarness({
      pdp: {
        isAuthorized: async () => ({ decision: 'allow', determiningPolicies: ['all'], errors: [] }),
        couldBeAllowed: async (requests) => requests.map(() => true),
      },
    });
    try {
      const out = (await allowAll.handler(
        requestEvent(await allowAll.token('bob'), {
          jsonrpc: '2.0',
          id: 5,
          method: 'prompts/get',
          params: { name: 'summary', arguments: { topic: 'x', limit: null } },
        }),
      )) as Output;
      expect(out.mcp.transformedGatewayRequest?.body.params).toStrictEqual({
        name: 'summary',
        arguments: { topic: 'x' },
      });
    } finally {
      await allowAll.issuer.stop();
    }
  });
});

describe('fixtures stay the documented shapes', () => {
  it('uses the documented tools/call event', () => {
    expect(
      fixture<{ interceptorInputVersion: string }>('agentcore/request-interceptor-input.tools-call.json')
        .interceptorInputVersion,
    ).toBe('1.0');
  });
});

describe('issue 10 #8: Mcp-Name and Mcp-Method are checked against the body', () => {
  const withHeaders = async (headers: Record<string, string | string[]>, body?: Record<string, unknown>) => {
    const event = body
      ? requestEvent(await h.token('bob'), body)
      : toolCallEvent(await h.token('bob'), 'orders___get_order', { order_id: '1' });
    Object.assign(event.mcp.gatewayRequest.headers, headers);
    return call(event);
  };
  const b64 = (text: string) => `=?base64?${Buffer.from(text).toString('base64')}?=`;

  it.each([
    ['another tool', { 'Mcp-Name': 'orders___update_order' }],
    ['a case variant', { 'Mcp-Name': 'Orders___Get_Order' }],
    ['a trailing space', { 'Mcp-Name': 'orders___get_order ' }],
    ['two values', { 'Mcp-Name': ['orders___get_order', 'orders___get_order'] }],
    ['a base64 form of another tool', { 'Mcp-Name': b64('orders___update_order') }],
    ['a broken base64 form', { 'Mcp-Name': '=?base64?!!!?=' }],
    ['a mismatching Mcp-Method', { 'Mcp-Method': 'tools/list' }],
  ])('refuses a tools/call whose header names %s with 400 and -32020, audited', async (_, headers) => {
    const out = await withHeaders(headers);
    expect(out.mcp.transformedGatewayRequest).toBeUndefined();
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(400);
    expect(out.mcp.transformedGatewayResponse?.body.error.code).toBe(-32020);
    expect(lastEvent().errorCode).toBe('MalformedRequest');
  });

  it.each([
    ['the plain name', { 'Mcp-Name': 'orders___get_order', 'Mcp-Method': 'tools/call' }],
    ['the base64 form', { 'Mcp-Name': b64('orders___get_order'), 'Mcp-Method': b64('tools/call') }],
    ['no mirrored headers (older clients)', {}],
  ])('accepts %s', async (_, headers) => {
    const out = await withHeaders(headers);
    expect(out.mcp.transformedGatewayRequest?.body.params.name).toBe('orders___get_order');
  });

  it('checks resources/read against params.uri and refuses Mcp-Name on a method without a name', async () => {
    const read = { jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'orders://1001' } };
    const mismatch = await withHeaders({ 'Mcp-Name': 'orders://1002' }, read);
    expect(mismatch.mcp.transformedGatewayResponse?.body.error.code).toBe(-32020);
    const list = await withHeaders(
      { 'Mcp-Name': 'orders___get_order' },
      { jsonrpc: '2.0', id: 3, method: 'tools/list' },
    );
    expect(list.mcp.transformedGatewayResponse?.body.error.code).toBe(-32020);
  });
});

describe('issue 10 #23: a denial names a forbid only when a permit would otherwise have allowed', () => {
  const refund = { order_id: '1', status: 'refunded', amount: 900 };
  const reason = (out: Output) => out.mcp.transformedGatewayResponse?.body.result.content[0].text as string;

  it('tells alice, who may not update orders at all, that no policy permits her', async () => {
    const out = await call(toolCallEvent(await h.token('alice'), 'orders___update_order', refund));
    expect(reason(out)).toBe(
      "Denied: no policy permits alice@example.com to call the tool 'orders___update_order' (denied by default).",
    );
    // The forbid that also applied stays in the audit record.
    expect(lastEvent().responseElements?.determiningPolicies).toContain('large-refunds-need-finance');
  });

  it('tells bob, an order admin, which forbid stopped his large refund', async () => {
    const out = await call(toolCallEvent(await h.token('bob'), 'orders___update_order', refund));
    expect(reason(out)).toMatch(
      /^Denied by policy 'large-refunds-need-finance' \(refunds above 500 need the finance-approver role\)/,
    );
  });

  it('uses the request without arguments where the engine cannot evaluate permits alone (Verified Permissions)', async () => {
    const cedarLike = h.pdp;
    const withoutPermits = await startHarness({
      pdp: {
        isAuthorized: (r) => cedarLike.isAuthorized(r),
        couldBeAllowed: (r) => cedarLike.couldBeAllowed(r),
      },
    });
    try {
      const alice = (await withoutPermits.handler(
        toolCallEvent(await withoutPermits.token('alice'), 'orders___update_order', refund),
      )) as Output;
      expect(reason(alice)).toMatch(/no policy permits/);
      const bob = (await withoutPermits.handler(
        toolCallEvent(await withoutPermits.token('bob'), 'orders___update_order', refund),
      )) as Output;
      expect(reason(bob)).toMatch(/^Denied by policy 'large-refunds-need-finance'/);
    } finally {
      await withoutPermits.issuer.stop();
    }
  });
});

describe('issue 10 #9, #12, #13: every listing in a response is filtered per caller', () => {
  const responseEvent = (token: string, request: Record<string, unknown>, body: unknown) => {
    const event = requestEvent(token, request) as unknown as { mcp: Record<string, unknown> };
    event.mcp.gatewayResponse = { statusCode: 200, headers: {}, body };
    return event;
  };
  /**
   * Permits what the names say: prompt 'open', resources under public://, and orders___get_order. Nobody may
   * read the schema (`schema/read` would show every listed tool unfiltered).
   */
  const namedPdp = async () =>
    startHarness({
      pdp: {
        isAuthorized: async (request) => ({
          decision: request.action.id === 'schema/read' ? 'deny' : 'allow',
          determiningPolicies: [],
          errors: [],
        }),
        couldBeAllowed: async (requests) =>
          requests.map((request) =>
            request.action.id === 'prompts/get'
              ? request.context.name === 'open'
              : request.action.id === 'resources/read'
                ? String(request.context.uri).startsWith('public://')
                : request.action.id === 'orders___get_order',
          ),
      },
    });

  it('filters prompts/list by whether the caller could get each prompt, and marks it private', async () => {
    const named = await namedPdp();
    try {
      const out = (await named.handler(
        responseEvent(
          await named.token('alice'),
          { jsonrpc: '2.0', id: 1, method: 'prompts/list' },
          {
            jsonrpc: '2.0',
            id: 1,
            result: {
              prompts: [{ name: 'open' }, { name: 'secret-plan' }, { title: 'no name' }],
              ttlMs: 1000,
              cacheScope: 'public',
            },
          },
        ),
      )) as Output;
      expect(out.mcp.transformedGatewayResponse?.body.result).toStrictEqual({
        prompts: [{ name: 'open' }],
        ttlMs: 1000,
        cacheScope: 'private',
      });
      expect(named.audit.events.at(-1)?.additionalEventData).toMatchObject({
        hiddenPrompts: '["secret-plan"]',
      });
    } finally {
      await named.issuer.stop();
    }
  });

  it.each([
    ['resources/list', 'resources', 'uri'],
    ['resources/templates/list', 'resourceTemplates', 'uriTemplate'],
  ])('filters %s by whether the caller could read each resource', async (method, key, field) => {
    const named = await namedPdp();
    try {
      const out = (await named.handler(
        responseEvent(
          await named.token('alice'),
          { jsonrpc: '2.0', id: 2, method },
          {
            jsonrpc: '2.0',
            id: 2,
            result: { [key]: [{ [field]: 'public://a' }, { [field]: 'private://payroll/{id}' }] },
          },
        ),
      )) as Output;
      expect(out.mcp.transformedGatewayResponse?.body.result[key]).toStrictEqual([{ [field]: 'public://a' }]);
      expect(JSON.stringify(out)).not.toContain('payroll');
    } finally {
      await named.issuer.stop();
    }
  });

  it('hides a prompts/list entirely when no policy covers prompts (the demo policies)', async () => {
    const out = await call(
      responseEvent(
        await h.token('bob'),
        { jsonrpc: '2.0', id: 1, method: 'prompts/list' },
        {
          jsonrpc: '2.0',
          id: 1,
          result: { prompts: [{ name: 'summary' }] },
        },
      ),
    );
    expect(out.mcp.transformedGatewayResponse?.body.result.prompts).toStrictEqual([]);
  });

  it('drops the data of a JSON-RPC error that names a tool the caller may not call', async () => {
    const out = await call(
      responseEvent(
        await h.token('carol'),
        { jsonrpc: '2.0', id: 3, method: 'tools/list' },
        {
          jsonrpc: '2.0',
          id: 3,
          error: {
            code: -32000,
            message: 'busy',
            data: { retry: ['orders___update_order', 'orders___get_order'] },
          },
        },
      ),
    );
    expect(out.mcp.transformedGatewayResponse?.body).toStrictEqual({
      jsonrpc: '2.0',
      id: 3,
      error: { code: -32000, message: 'busy' },
    });
  });

  it('keeps the data of an error that names only tools the caller may call', async () => {
    const error = { code: -32000, message: 'busy', data: { retry: 'orders___get_order' } };
    const out = await call(
      responseEvent(
        await h.token('bob'),
        { jsonrpc: '2.0', id: 3, method: 'tools/list' },
        { jsonrpc: '2.0', id: 3, error },
      ),
    );
    expect(out.mcp.transformedGatewayResponse?.body.error).toStrictEqual(error);
  });

  it('filters a tool list in any response, even without its request', async () => {
    const event = responseEvent(await h.token('alice'), { jsonrpc: '2.0', id: 3, method: 'tools/list' }, [
      {
        jsonrpc: '2.0',
        id: 3,
        result: { tools: [{ name: 'orders___update_order' }, { name: 'orders___get_order' }] },
      },
    ]) as unknown as { mcp: { gatewayRequest: { body: unknown }; rawGatewayRequest?: unknown } };
    event.mcp.gatewayRequest.body = null;
    delete event.mcp.rawGatewayRequest;
    const out = await call(event);
    expect(JSON.stringify(out)).not.toContain('orders___update_order');
    expect(JSON.stringify(out)).toContain('orders___get_order');
  });

  describe('the semantic search tool (x_amz_bedrock_agentcore_search)', () => {
    const search = {
      jsonrpc: '2.0',
      id: 4,
      method: 'tools/call',
      params: { name: 'x_amz_bedrock_agentcore_search', arguments: { query: 'orders' } },
    };
    const tools = [
      { name: 'orders___update_order', description: 'change an order', inputSchema: { type: 'object' } },
      { name: 'orders___get_order', description: 'read an order', inputSchema: { type: 'object' } },
    ];

    it('filters the tools in its structured and its text result', async () => {
      const named = await namedPdp();
      try {
        const out = (await named.handler(
          responseEvent(await named.token('alice'), search, {
            jsonrpc: '2.0',
            id: 4,
            result: {
              structuredContent: { tools },
              content: [{ type: 'text', text: JSON.stringify({ tools }) }],
            },
          }),
        )) as Output;
        const result = out.mcp.transformedGatewayResponse?.body.result;
        expect(result.structuredContent.tools.map((tool: { name: string }) => tool.name)).toStrictEqual([
          'orders___get_order',
        ]);
        expect(
          JSON.parse(result.content[0].text).tools.map((tool: { name: string }) => tool.name),
        ).toStrictEqual(['orders___get_order']);
        expect(JSON.stringify(out)).not.toContain('update_order');
      } finally {
        await named.issuer.stop();
      }
    });

    it('refuses a search result whose tool list it cannot read', async () => {
      const named = await namedPdp();
      try {
        const out = (await named.handler(
          responseEvent(await named.token('alice'), search, {
            jsonrpc: '2.0',
            id: 4,
            result: { content: [{ type: 'text', text: '{"tools": [{"name": "orders___update_order"' }] },
          }),
        )) as Output;
        expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(502);
        expect(JSON.stringify(out)).not.toContain('update_order');
      } finally {
        await named.issuer.stop();
      }
    });

    it('leaves other tools results alone, even when they hold JSON with names', async () => {
      const data = JSON.stringify([{ name: 'orders___update_order' }]);
      const out = await call(
        responseEvent(
          await h.token('bob'),
          {
            jsonrpc: '2.0',
            id: 5,
            method: 'tools/call',
            params: { name: 'orders___get_order', arguments: { order_id: '1' } },
          },
          {
            jsonrpc: '2.0',
            id: 5,
            result: { content: [{ type: 'text', text: data }] },
          },
        ),
      );
      expect(out.mcp.transformedGatewayResponse?.body.result.content[0].text).toBe(data);
    });
  });
});

describe('issue 10 #11: source address', () => {
  it('never stores a client-written X-Forwarded-For as sourceIPAddress; keeps the chain bounded and scrubbed', async () => {
    const event = toolCallEvent(await h.token('bob'), 'orders___get_order', { order_id: '1' });
    const jwt = await h.token('alice');
    (event.mcp.gatewayRequest.headers as Record<string, string>)['X-Forwarded-For'] =
      `forged-by-client, 10.0.0.1, ${jwt}, ${'x'.repeat(500)}, 1, 2, 3, 4, 5, 6, 7`;
    await call(event);
    const audit = lastEvent();
    expect(audit.sourceIPAddress).toBeUndefined();
    const chain = JSON.parse(audit.additionalEventData?.forwardedFor as string) as string[];
    expect(chain).toHaveLength(8);
    expect(chain[0]).toBe('forged-by-client');
    expect(chain[1]).toBe('10.0.0.1');
    expect(JSON.stringify(audit)).not.toContain(jwt);
    expect(chain.every((hop) => hop.length <= 64)).toBe(true);
  });

  it('records only a valid IP address as sourceIPAddress', async () => {
    const build = (sourceIp: string) =>
      buildAuditEvent(
        {
          phase: 'request',
          caller: undefined,
          method: 'tools/list',
          decision: 'allow',
          enforced: true,
          requestDigest: 'd',
          sourceIp,
          time: new Date(0),
        },
        { eventSource: 's', recipientAccountId: '123456789012', mode: 'enforce' },
      ).sourceIPAddress;
    expect(build('203.0.113.7')).toBe('203.0.113.7');
    expect(build('2001:db8::1')).toBe('2001:db8::1');
    expect(build('forged-by-client')).toBeUndefined();
    expect(build('203.0.113.7, 10.0.0.1')).toBeUndefined();
  });
});

describe('configured redaction patterns reach every piece of client text in the audit event', () => {
  it('scrubs a JSON-RPC id that matches an operator pattern', async () => {
    const custom = await startHarness({
      settings: {
        redaction: {
          ...DEFAULT_REDACTION,
          valuePatterns: [...DEFAULT_REDACTION.valuePatterns, /ACME-\d{6}/g],
        },
      },
    });
    try {
      await custom.handler(
        toolCallEvent(
          await custom.token('bob'),
          'orders___get_order',
          { order_id: '1' },
          'ticket ACME-123456',
        ),
      );
      const audit = custom.audit.events.at(-1);
      expect(JSON.stringify(audit)).not.toContain('ACME-123456');
      expect(audit?.requestParameters?.jsonRpcId).toContain('[REDACTED]');
    } finally {
      await custom.issuer.stop();
    }
  });
});
