import { callableTools, visibleListings } from '../../lambda/core/authorize';
import { callerFromClaims } from '../../lambda/core/caller';
import type { PolicyDecisionPoint } from '../../lambda/core/decision';
import { DEFAULT_INJECTION, fold, spoofedParams } from '../../lambda/core/injection';
import { nestsDeeperThan } from '../../lambda/core/json-depth';
import { filterListings, listedIn } from '../../lambda/core/listings';
import { decodeMirroredValue, mirroredHeaderMismatch } from '../../lambda/core/mcp-headers';
import {
  decodeResponseMessages,
  encodeResponseMessages,
  readableMessages,
} from '../../lambda/core/response-messages';

/** Unit tests of the request-path modules added for issue 10, written to kill mutants. */
const caller = callerFromClaims({ sub: 'bob', roles: ['r'], iss: 'https://i', exp: 4e9 });
const settings = {
  model: { namespace: 'N', resourceId: 'g' },
  injection: DEFAULT_INJECTION,
  mode: 'enforce' as const,
};

describe('fold', () => {
  it.each([
    ['_caller_user', 'calleruser'],
    ['ＣＡＬＬＥＲ－ＵＳＥＲ', 'calleruser'],
    ['tenant_ıd', 'tenantid'],
    ['a\u200bb\u0000c\u00a0d\u3000e', 'abcde'],
    ['A.B-C_D E', 'abcde'],
  ])('folds %j to %j', (name, folded) => {
    expect(fold(name)).toBe(folded);
  });
});

describe('spoofedParams', () => {
  it('finds reserved names in lists and nested records, with their paths, sorted', () => {
    expect(
      spoofedParams(
        { b: [{ _CALLER_ROLES: 1 }], a: { x: { _caller_user: 1 } }, c: 'text' },
        DEFAULT_INJECTION,
        't',
      ),
    ).toStrictEqual(['a.x._caller_user', 'b.0._CALLER_ROLES']);
  });

  it('reserves per-tool and wildcard bindings', () => {
    const injection = {
      ...DEFAULT_INJECTION,
      bindings: { '*': { owner: 'email' as const }, t: { tenant: 'agent' as const } },
    };
    expect(spoofedParams({ Owner: 1, TENANT: 2 }, injection, 't')).toStrictEqual(['Owner', 'TENANT']);
    expect(spoofedParams({ Owner: 1, TENANT: 2 }, injection, 'other')).toStrictEqual(['Owner']);
  });

  it('never treats list indexes as names', () => {
    expect(spoofedParams({ list: ['_caller_user'] }, DEFAULT_INJECTION, 't')).toStrictEqual([]);
  });
});

describe('nestsDeeperThan', () => {
  it('counts objects and lists, not scalars', () => {
    expect(nestsDeeperThan({ a: { b: 1 } }, 2)).toBe(false);
    expect(nestsDeeperThan({ a: { b: {} } }, 2)).toBe(true);
    expect(nestsDeeperThan([[[]]], 2)).toBe(true);
    expect(nestsDeeperThan('x', 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan(null, 0)).toBe(false);
  });
});

describe('mirrored headers', () => {
  const headers = (values: Record<string, string[]>) => (name: string) => values[name] ?? [];
  const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't___a' } };

  it('decodes the base64 sentinel and refuses a broken one', () => {
    expect(decodeMirroredValue(`=?base64?${Buffer.from('héllo').toString('base64')}?=`)).toBe('héllo');
    expect(decodeMirroredValue('plain')).toBe('plain');
    expect(decodeMirroredValue('=?base64?aGk?=')).toBeUndefined();
    expect(decodeMirroredValue(`=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`)).toBeUndefined();
  });

  it('accepts matching or absent headers', () => {
    expect(mirroredHeaderMismatch(headers({}), call)).toBeUndefined();
    expect(
      mirroredHeaderMismatch(headers({ 'mcp-method': ['tools/call'], 'mcp-name': ['t___a'] }), call),
    ).toBeUndefined();
    expect(
      mirroredHeaderMismatch(headers({ 'mcp-name': ['u://x'] }), {
        jsonrpc: '2.0',
        id: 1,
        method: 'resources/read',
        params: { uri: 'u://x' },
      }),
    ).toBeUndefined();
    expect(
      mirroredHeaderMismatch(headers({ 'mcp-name': ['p'] }), {
        jsonrpc: '2.0',
        id: 1,
        method: 'prompts/get',
        params: { name: 'p' },
      }),
    ).toBeUndefined();
  });

  it.each([
    [{ 'mcp-method': ['tools/list'] }, 'Mcp-Method'],
    [{ 'mcp-method': ['tools/call', 'tools/call'] }, 'Mcp-Method'],
    [{ 'mcp-name': ['t___b'] }, 'Mcp-Name'],
    [{ 'mcp-name': ['t___a', 't___a'] }, 'Mcp-Name'],
  ])('refuses %j with -32020 naming %s', (values, header) => {
    const error = mirroredHeaderMismatch(headers(values), call);
    expect(error?.jsonRpcCode).toBe(-32020);
    expect(error?.message).toBe(`the ${header} header does not match the request body`);
  });

  it('refuses Mcp-Name on a method without a name, or when the name is missing', () => {
    expect(
      mirroredHeaderMismatch(headers({ 'mcp-name': ['x'] }), { jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    ).toBeDefined();
    expect(
      mirroredHeaderMismatch(headers({ 'mcp-name': ['x'] }), {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {},
      }),
    ).toBeDefined();
    expect(mirroredHeaderMismatch(headers({ 'mcp-name': ['x'] }), null)).toBeDefined();
  });
});

describe('response messages', () => {
  const message = { jsonrpc: '2.0', id: 1, result: { tools: [] } };

  it('decodes and re-encodes every form', () => {
    const tag = (value: unknown) => ({ ...(value as object), seen: true });
    const object = decodeResponseMessages(message);
    expect(encodeResponseMessages(object, tag, message)).toStrictEqual({ ...message, seen: true });
    const text = decodeResponseMessages(JSON.stringify(message));
    expect(JSON.parse(encodeResponseMessages(text, tag, '') as string)).toStrictEqual({
      ...message,
      seen: true,
    });
    const batch = decodeResponseMessages([message, message]);
    expect(encodeResponseMessages(batch, tag, null)).toStrictEqual([
      { ...message, seen: true },
      { ...message, seen: true },
    ]);
    const batchText = decodeResponseMessages(JSON.stringify([message]));
    expect(JSON.parse(encodeResponseMessages(batchText, tag, '') as string)).toStrictEqual([
      { ...message, seen: true },
    ]);
    const sse = decodeResponseMessages(
      `event: message\nid: 7\ndata: ${JSON.stringify(message)}\n\n: ping\n\n`,
    );
    expect(readableMessages(sse)).toStrictEqual([message]);
    expect(encodeResponseMessages(sse, tag, '')).toBe(
      `event: message\nid: 7\ndata: ${JSON.stringify({ ...message, seen: true })}\n\n: ping\n\n`,
    );
  });

  it('reads nothing from what is not JSON-RPC', () => {
    expect(decodeResponseMessages('<html>').form).toBe('unreadable');
    expect(decodeResponseMessages(42).form).toBe('unreadable');
    expect(readableMessages(decodeResponseMessages('<html>'))).toStrictEqual([]);
    expect(encodeResponseMessages(decodeResponseMessages('<html>'), () => 1, '<html>')).toBe('<html>');
    expect(readableMessages(decodeResponseMessages('data: not json\n\n'))).toStrictEqual([]);
  });
});

describe('listings', () => {
  it('lists tools, prompts, resources and templates, and tool names in error data', () => {
    expect(
      listedIn({
        result: {
          tools: [{ name: 't___a' }, { nope: 1 }],
          prompts: [{ name: 'p' }],
          resources: [{ uri: 'u://1' }],
          resourceTemplates: [{ uriTemplate: 'u://{id}' }],
        },
      }),
    ).toStrictEqual({
      tools: ['t___a'],
      prompts: ['p'],
      resources: ['u://1'],
      templates: ['u://{id}'],
      unreadable: false,
    });
    expect(listedIn({ error: { code: 1, data: 'retry t___b or x, not plain' } }).tools).toStrictEqual([
      't___b',
    ]);
    expect(listedIn({ error: { code: 1, data: { t___c: true } } }).tools).toStrictEqual(['t___c']);
    expect(listedIn('nope').tools).toStrictEqual([]);
  });

  it('reads a search result only when asked to', () => {
    const result = {
      result: {
        structuredContent: { tools: [{ name: 't___a' }] },
        content: [{ type: 'text', text: '[{"name":"t___b"}]' }],
      },
    };
    expect(listedIn(result).tools).toStrictEqual([]);
    expect(listedIn(result, true).tools).toStrictEqual(['t___a', 't___b']);
    expect(listedIn({ result: { content: [{ type: 'text', text: '{"tools": [' }] } }, true).unreadable).toBe(
      true,
    );
    expect(listedIn({ result: { content: [{ type: 'text', text: 'plain words' }] } }, true).unreadable).toBe(
      false,
    );
  });

  it('keeps only visible entries and strips injected parameters from shown tools', () => {
    const visible = {
      tools: new Set(['t___a']),
      prompts: new Set<string>(),
      resources: new Set(['u://1']),
      templates: new Set<string>(),
    };
    const filtered = filterListings(
      {
        result: {
          tools: [
            {
              name: 't___a',
              inputSchema: {
                type: 'object',
                properties: { x: {}, _caller_user: {} },
                required: ['x', '_caller_user'],
              },
            },
            { name: 't___b' },
          ],
          prompts: [{ name: 'p' }],
          resources: [{ uri: 'u://1' }, { uri: 'u://2' }],
          resourceTemplates: [{ uriTemplate: 'u://{id}' }],
        },
      },
      visible,
      DEFAULT_INJECTION,
    );
    expect(filtered).toStrictEqual({
      result: {
        tools: [{ name: 't___a', inputSchema: { type: 'object', properties: { x: {} }, required: ['x'] } }],
        prompts: [],
        resources: [{ uri: 'u://1' }],
        resourceTemplates: [],
      },
    });
  });
});

describe('visibleListings and callableTools', () => {
  const answering = (
    answer: (id: string, context: Record<string, unknown>) => boolean,
  ): PolicyDecisionPoint => ({
    isAuthorized: async () => ({ decision: 'allow', determiningPolicies: [], errors: [] }),
    couldBeAllowed: async (requests) =>
      requests.map((request) => answer(request.action.id, request.context as Record<string, unknown>)),
  });

  it('asks once for every kind of entry, and maps each answer back to its entry', async () => {
    const pdp = answering(
      (id, context) => id === 't___a' || context.name === 'p1' || context.uri === 'u://{x}',
    );
    const { visible, error } = await visibleListings(
      caller,
      {
        tools: ['t___a', 't___b', 'bad name'],
        prompts: ['p1', 'p2'],
        resources: ['u://1'],
        templates: ['u://{x}'],
      },
      pdp,
      settings,
    );
    expect(error).toBeUndefined();
    expect(visible).toStrictEqual({
      tools: new Set(['t___a']),
      prompts: new Set(['p1']),
      resources: new Set(),
      templates: new Set(['u://{x}']),
    });
  });

  it('hides everything when the engine fails or answers a different number of requests', async () => {
    const failing: PolicyDecisionPoint = {
      isAuthorized: async () => ({ decision: 'allow', determiningPolicies: [], errors: [] }),
      couldBeAllowed: async () => {
        throw new Error('throttled');
      },
    };
    const short: PolicyDecisionPoint = { ...failing, couldBeAllowed: async () => [true] };
    for (const pdp of [failing, short]) {
      const { visible, error } = await visibleListings(
        caller,
        { tools: ['t___a', 't___b'], prompts: [], resources: [], templates: [] },
        pdp,
        settings,
      );
      expect(visible.tools.size).toBe(0);
      expect(error).toBeDefined();
    }
    const tools = await callableTools(caller, ['t___a'], failing, settings);
    expect(tools.callable.size).toBe(0);
    expect(tools.error).toBeDefined();
  });

  it('asks nothing for an empty listing', async () => {
    let asked = 0;
    const pdp: PolicyDecisionPoint = {
      isAuthorized: async () => ({ decision: 'allow', determiningPolicies: [], errors: [] }),
      couldBeAllowed: async (requests) => {
        asked += 1;
        return requests.map(() => true);
      },
    };
    await visibleListings(caller, { tools: [], prompts: [], resources: [], templates: [] }, pdp, settings);
    expect(asked).toBe(0);
  });
});
