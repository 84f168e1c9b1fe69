import fc from 'fast-check';
import { MalformedRequestError } from '../../lambda/core/errors';
import { methodOf, parseMcpRequest, parseToolName } from '../../lambda/core/mcp-operation';

describe('parseToolName', () => {
  it.each([
    ['orders___get_order', { full: 'orders___get_order', target: 'orders', tool: 'get_order' }],
    ['a___b___c', { full: 'a___b___c', target: 'a', tool: 'b___c' }],
    [
      'x_amz_bedrock_agentcore_search',
      { full: 'x_amz_bedrock_agentcore_search', tool: 'x_amz_bedrock_agentcore_search' },
    ],
    ['___leading', { full: '___leading', tool: '___leading' }],
  ])('%s', (name, expected) => {
    expect(parseToolName(name)).toEqual(expected);
  });

  it.each(['', 'has space', 'emoji🙂', 'quote"', 'trailing___', 'x'.repeat(257)])('refuses %j', (name) => {
    expect(parseToolName(name)).toBeUndefined();
  });
});

describe('parseMcpRequest', () => {
  const ok = (body: unknown) => {
    const parsed = parseMcpRequest(body);
    if (!parsed.ok) throw parsed.error;
    return parsed.operation;
  };

  it('classifies each MCP method', () => {
    expect(
      ok({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'orders___get_order', arguments: { a: 1 } },
      }),
    ).toMatchObject({
      kind: 'tool-call',
      tool: { target: 'orders', tool: 'get_order' },
      arguments: { a: 1 },
    });
    expect(ok({ jsonrpc: '2.0', id: 'x', method: 'tools/call', params: { name: 't' } })).toMatchObject({
      kind: 'tool-call',
      arguments: {},
    });
    expect(ok({ jsonrpc: '2.0', id: 1, method: 'tools/list' })).toEqual({
      kind: 'list',
      id: 1,
      method: 'tools/list',
    });
    expect(ok({ jsonrpc: '2.0', id: 1, method: 'resources/templates/list' })).toMatchObject({ kind: 'list' });
    expect(ok({ jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: 'p' } })).toStrictEqual({
      kind: 'prompt-get',
      id: 1,
      name: 'p',
      arguments: {},
      params: { name: 'p' },
    });
    expect(ok({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'u://x' } })).toStrictEqual({
      kind: 'resource-read',
      id: 1,
      uri: 'u://x',
      params: { uri: 'u://x' },
    });
    expect(ok({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} })).toStrictEqual({
      kind: 'protocol',
      id: 1,
      method: 'initialize',
      params: {},
    });
    expect(ok({ jsonrpc: '2.0', id: 1, method: 'ping' })).toMatchObject({ kind: 'protocol', method: 'ping' });
    expect(ok({ jsonrpc: '2.0', method: 'notifications/initialized' })).toEqual({
      kind: 'notification',
      method: 'notifications/initialized',
    });
    expect(ok({ jsonrpc: '2.0', id: 3, result: {} })).toStrictEqual({ kind: 'client-response', id: 3 });
    expect(ok({ jsonrpc: '2.0', id: 1, method: 'completion/complete', params: {} })).toStrictEqual({
      kind: 'unsupported',
      id: 1,
      method: 'completion/complete',
      params: {},
    });
  });

  it.each([
    ['a batch', [], -32600],
    ['null', null, -32600],
    ['a string', 'tools/call', -32600],
    ['no jsonrpc', { id: 1, method: 'ping' }, -32600],
    ['a float id', { jsonrpc: '2.0', id: 1.5, method: 'ping' }, -32600],
    ['an object id', { jsonrpc: '2.0', id: {}, method: 'ping' }, -32600],
    ['no method', { jsonrpc: '2.0', id: 1 }, -32600],
    ['an empty method', { jsonrpc: '2.0', id: 1, method: '' }, -32600],
    ['a request without id', { jsonrpc: '2.0', method: 'tools/call', params: { name: 'x' } }, -32600],
    ['array params', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: [] }, -32602],
    ['no tool name', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} }, -32602],
    [
      'string arguments',
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: 'x' } },
      -32602,
    ],
    ['no prompt name', { jsonrpc: '2.0', id: 1, method: 'prompts/get', params: {} }, -32602],
    ['no resource uri', { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: '' } }, -32602],
  ])('refuses %s', (_label, body, code) => {
    const parsed = parseMcpRequest(body);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error).toBeInstanceOf(MalformedRequestError);
      expect(parsed.error.jsonRpcCode).toBe(code);
    }
  });

  it('refuses arguments nested deeper than 32 levels', () => {
    let deep: unknown = 'x';
    for (let index = 0; index < 40; index += 1) deep = { deep };
    const parsed = parseMcpRequest({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 't', arguments: { deep } },
    });
    expect(parsed.ok).toBe(false);
  });

  it('keeps the id of a malformed request so the error can answer it', () => {
    const parsed = parseMcpRequest({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: {} });
    expect(parsed).toMatchObject({ ok: false, id: 9 });
  });

  it('never throws, for any JSON value or near-miss request', () => {
    const nearMiss = fc.record(
      {
        jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue()),
        id: fc.oneof(fc.integer(), fc.string(), fc.jsonValue()),
        method: fc.oneof(
          fc.constantFrom(
            'tools/call',
            'tools/list',
            'prompts/get',
            'resources/read',
            'ping',
            'notifications/x',
          ),
          fc.jsonValue(),
        ),
        params: fc.oneof(
          fc.record({
            name: fc.oneof(fc.string(), fc.jsonValue()),
            arguments: fc.jsonValue(),
            uri: fc.jsonValue(),
          }),
          fc.jsonValue(),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), nearMiss), (body) => {
        const parsed = parseMcpRequest(body);
        if (parsed.ok) expect(typeof methodOf(parsed.operation)).toBe('string');
        else expect(parsed.error).toBeInstanceOf(MalformedRequestError);
      }),
      { numRuns: 2000 },
    );
  });
});
