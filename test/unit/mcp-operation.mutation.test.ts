import { MalformedRequestError } from '../../lambda/core/errors';
import { type McpOperation, methodOf, parseMcpRequest, parseToolName } from '../../lambda/core/mcp-operation';

function refusal(body: unknown): { message: string; code: number; id: unknown } {
  const parsed = parseMcpRequest(body);
  if (parsed.ok) throw new Error(`expected a refusal, got ${JSON.stringify(parsed.operation)}`);
  expect(parsed.error).toBeInstanceOf(MalformedRequestError);
  return { message: parsed.error.message, code: parsed.error.jsonRpcCode, id: parsed.id };
}

function operation(body: unknown): McpOperation {
  const parsed = parseMcpRequest(body);
  if (!parsed.ok) throw parsed.error;
  return parsed.operation;
}

function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) value = { v: value };
  return value;
}

describe('notifications', () => {
  it.each([
    ['a fractional id', 1.5],
    ['an object id', { n: 1 }],
    ['a null id', null],
    ['a boolean id', true],
    ['an id longer than 256 characters', 'x'.repeat(257)],
    ['an unsafe integer id', 2 ** 53],
  ])('with %s are refused, not forwarded', (_label, id) => {
    const answer = refusal({ jsonrpc: '2.0', id, method: 'notifications/initialized' });

    expect(answer).toStrictEqual({
      message: 'the request id must be a string or an integer',
      code: -32600,
      id: null,
    });
  });

  it('without an id are forwarded as notifications', () => {
    expect(operation({ jsonrpc: '2.0', method: 'notifications/cancelled' })).toMatchObject({
      kind: 'notification',
      method: 'notifications/cancelled',
    });
  });

  it('must be named notifications/…', () => {
    expect(refusal({ jsonrpc: '2.0', method: 'tools/list' })).toStrictEqual({
      message: "'tools/list' needs an id",
      code: -32600,
      id: null,
    });
    expect(refusal({ jsonrpc: '2.0', method: 'x-notifications/y' })).toMatchObject({ code: -32600 });
  });
});

describe('request ids', () => {
  it.each([
    ['a 256-character string', 'x'.repeat(256)],
    ['an empty string', ''],
    ['zero', 0],
    ['a negative integer', -4],
    ['the largest safe integer', Number.MAX_SAFE_INTEGER],
  ])('accept %s', (_label, id) => {
    expect(operation({ jsonrpc: '2.0', id, method: 'ping' })).toMatchObject({ kind: 'protocol', id });
  });

  it('are kept on a refusal that happens after the id was read', () => {
    expect(refusal({ jsonrpc: '1.0', id: 'abc', method: 'ping' })).toStrictEqual({
      message: "the request must have jsonrpc: '2.0'",
      code: -32600,
      id: 'abc',
    });
  });
});

describe('the JSON-RPC envelope', () => {
  it.each([
    ['a batch', [{ jsonrpc: '2.0', id: 1, method: 'ping' }], 'JSON-RPC batches are not supported'],
    ['a string', 'ping', 'the request body must be a JSON-RPC 2.0 object'],
    ['null', null, 'the request body must be a JSON-RPC 2.0 object'],
  ])('refuses %s with no id', (_label, body, message) => {
    expect(refusal(body)).toStrictEqual({ message, code: -32600, id: null });
  });

  it.each([
    ['a number', 7],
    ['an empty string', ''],
    ['a 129-character string', 'm'.repeat(129)],
  ])('refuses a method that is %s', (_label, method) => {
    expect(refusal({ jsonrpc: '2.0', id: 2, method })).toStrictEqual({
      message: 'the request method must be a non-empty string',
      code: -32600,
      id: 2,
    });
  });

  it('accepts a method of 128 characters (as unsupported)', () => {
    const method = 'm'.repeat(128);

    expect(operation({ jsonrpc: '2.0', id: 2, method })).toMatchObject({
      kind: 'unsupported',
      id: 2,
      method,
    });
  });

  it.each([
    ['a list', [1]],
    ['a string', 'x'],
    ['null', null],
  ])('refuses params that are %s', (_label, params) => {
    expect(refusal({ jsonrpc: '2.0', id: 3, method: 'ping', params })).toStrictEqual({
      message: 'params must be an object',
      code: -32602,
      id: 3,
    });
  });

  it('answers a client response carrying an error', () => {
    expect(operation({ jsonrpc: '2.0', id: 5, error: { code: 1, message: 'no' } })).toMatchObject({
      kind: 'client-response',
      id: 5,
    });
  });

  it('refuses a response without an id', () => {
    expect(refusal({ jsonrpc: '2.0', result: {} })).toStrictEqual({
      message: 'the request has no method',
      code: -32600,
      id: null,
    });
  });

  it('refuses a message with an id but neither method nor result, keeping the id', () => {
    expect(refusal({ jsonrpc: '2.0', id: 6 })).toStrictEqual({
      message: 'the request has no method',
      code: -32600,
      id: 6,
    });
  });
});

describe('params nesting', () => {
  it('accepts params nested 32 levels deep', () => {
    const parsed = parseMcpRequest({ jsonrpc: '2.0', id: 1, method: 'ping', params: nested(32) });

    expect(parsed.ok).toBe(true);
  });

  it('refuses params nested 33 levels deep', () => {
    expect(refusal({ jsonrpc: '2.0', id: 1, method: 'ping', params: nested(33) })).toStrictEqual({
      message: 'params are nested deeper than 32 levels',
      code: -32602,
      id: 1,
    });
  });

  it('counts lists as levels too', () => {
    let value: unknown = 'leaf';
    for (let level = 0; level < 33; level += 1) value = [value];

    expect(refusal({ jsonrpc: '2.0', id: 1, method: 'ping', params: { list: value } })).toMatchObject({
      code: -32602,
    });
  });
});

describe('reserved JavaScript keys', () => {
  it.each(['__proto__', 'constructor', 'prototype'])('refuses %s anywhere in params', (key) => {
    const body = JSON.parse(
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"list":[{"${key}":{"x":1}}]}}}`,
    );

    expect(refusal(body)).toStrictEqual({
      message: 'params use a reserved JavaScript key (__proto__, constructor, prototype)',
      code: -32602,
      id: 1,
    });
  });

  it('accepts keys that only contain them', () => {
    const parsed = parseMcpRequest({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 't', arguments: { constructor_id: 1, my_prototype: 2 } },
    });

    expect(parsed.ok).toBe(true);
  });
});

describe('method parameters', () => {
  it.each([
    ['tools/call without params', { method: 'tools/call' }, 'tools/call needs params.name'],
    ['a non-string tool name', { method: 'tools/call', params: { name: 3 } }, 'tools/call needs params.name'],
    [
      'an invalid tool name',
      { method: 'tools/call', params: { name: 'no spaces' } },
      'the tool name is not a valid MCP tool name',
    ],
    [
      'list arguments',
      { method: 'tools/call', params: { name: 't', arguments: [1] } },
      'tools/call params.arguments must be an object',
    ],
    [
      'a non-string prompt name',
      { method: 'prompts/get', params: { name: 1 } },
      'prompts/get needs params.name',
    ],
    [
      'an empty prompt name',
      { method: 'prompts/get', params: { name: '' } },
      'prompts/get needs params.name',
    ],
    [
      'string prompt arguments',
      { method: 'prompts/get', params: { name: 'p', arguments: 'x' } },
      'prompts/get params.arguments must be an object',
    ],
    ['a non-string uri', { method: 'resources/read', params: { uri: 5 } }, 'resources/read needs params.uri'],
  ])('refuses %s', (_label, request, message) => {
    expect(refusal({ jsonrpc: '2.0', id: 8, ...request })).toStrictEqual({ message, code: -32602, id: 8 });
  });

  it('keeps the arguments of a prompt', () => {
    expect(
      operation({
        jsonrpc: '2.0',
        id: 1,
        method: 'prompts/get',
        params: { name: 'p', arguments: { topic: 'x' } },
      }),
    ).toMatchObject({ kind: 'prompt-get', id: 1, name: 'p', arguments: { topic: 'x' } });
  });

  it.each([
    ['no arguments', { name: 'p' }],
    ['null arguments', { name: 'p', arguments: null }],
  ])('reads a prompt with %s as one with empty arguments', (_label, params) => {
    expect(operation({ jsonrpc: '2.0', id: 1, method: 'prompts/get', params })).toStrictEqual({
      kind: 'prompt-get',
      id: 1,
      name: 'p',
      arguments: {},
      params,
    });
  });

  it.each(['prompts/list', 'resources/list', 'resources/templates/list', 'tools/list'])(
    'lists with %s',
    (method) => {
      expect(operation({ jsonrpc: '2.0', id: 1, method })).toMatchObject({ kind: 'list', id: 1, method });
    },
  );

  it('classifies a method that only resembles a list as unsupported', () => {
    expect(operation({ jsonrpc: '2.0', id: 1, method: 'tools/list/all' })).toMatchObject({
      kind: 'unsupported',
      method: 'tools/list/all',
    });
  });
});

describe('parseToolName', () => {
  it('accepts a 256-character name with every allowed character', () => {
    const name = `aZ09_.-${'x'.repeat(249)}`;

    expect(parseToolName(name)).toStrictEqual({ full: name, tool: name });
  });

  it('splits at the first separator only', () => {
    expect(parseToolName('a____b')).toStrictEqual({ full: 'a____b', target: 'a', tool: '_b' });
  });

  it.each(['a/b', 'a b', 'tool\n', 'ü'])('refuses %j', (name) => {
    expect(parseToolName(name)).toBeUndefined();
  });
});

describe('methodOf', () => {
  it.each<[McpOperation, string]>([
    [{ kind: 'tool-call', id: 1, tool: { full: 't', tool: 't' }, arguments: {} }, 'tools/call'],
    [{ kind: 'prompt-get', id: 1, name: 'p', arguments: {} }, 'prompts/get'],
    [{ kind: 'resource-read', id: 1, uri: 'u' }, 'resources/read'],
    [{ kind: 'client-response', id: 1 }, 'response'],
    [{ kind: 'list', id: 1, method: 'prompts/list' }, 'prompts/list'],
    [{ kind: 'protocol', id: 1, method: 'ping' }, 'ping'],
    [{ kind: 'notification', method: 'notifications/x' }, 'notifications/x'],
    [{ kind: 'unsupported', id: 1, method: 'completion/complete' }, 'completion/complete'],
  ])('names %j as %s', (op, method) => {
    expect(methodOf(op)).toBe(method);
  });
});

describe('null arguments', () => {
  it('are removed from tool arguments at any depth, in objects and lists, so Cedar decides on what is forwarded', () => {
    const args = {
      a: null,
      b: [1, null, { c: null, d: 2 }, [null, 'x']],
      e: { f: null, g: 'h' },
      i: 0,
      j: false,
    };

    const parsed = operation({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 't', arguments: args },
    });

    expect(parsed).toMatchObject({ kind: 'tool-call' });
    expect(parsed.kind === 'tool-call' && parsed.arguments).toStrictEqual({
      b: [1, { d: 2 }, ['x']],
      e: { g: 'h' },
      i: 0,
      j: false,
    });
  });

  it('are removed from prompt arguments', () => {
    const params = { name: 'p', arguments: { topic: null, tone: 'dry', tags: [null, 'a'] } };

    const parsed = operation({ jsonrpc: '2.0', id: 1, method: 'prompts/get', params });

    expect(parsed.kind === 'prompt-get' && parsed.arguments).toStrictEqual({ tone: 'dry', tags: ['a'] });
  });
});
