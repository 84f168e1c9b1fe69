import { MAX_BODY_NESTING, nestsDeeperThan } from '../../lambda/core/json-depth';
import { ACCESS_DENIED_CODE, jsonRpcError, toolDenied } from '../../lambda/core/mcp-responses';

function objects(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) value = { v: value };
  return value;
}

function lists(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level += 1) value = [value];
  return value;
}

describe('nestsDeeperThan', () => {
  it.each([
    ['objects', objects],
    ['lists', lists],
  ])('counts each level of %s, the limit itself included', (_label, build) => {
    expect(nestsDeeperThan(build(3), 3)).toBe(false);
    expect(nestsDeeperThan(build(4), 3)).toBe(true);
  });

  it('finds the deep branch among shallow siblings, in objects and lists alike', () => {
    const body = { a: 1, b: [null, 'x', { c: objects(5) }], d: { e: null } };

    expect(nestsDeeperThan(body, 7)).toBe(true);
    expect(nestsDeeperThan(body, 8)).toBe(false);
  });

  it.each([
    ['a string', 'x'],
    ['a number', 1],
    ['null', null],
    ['undefined', undefined],
  ])('never finds %s deeper than zero', (_label, value) => {
    expect(nestsDeeperThan(value, 0)).toBe(false);
  });

  it('finds any object deeper than zero, even an empty one', () => {
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan([], 0)).toBe(true);
  });

  it('handles a body nested far beyond any stack', () => {
    expect(nestsDeeperThan(lists(100000), MAX_BODY_NESTING)).toBe(true);
    expect(MAX_BODY_NESTING).toBe(64);
  });
});

describe('gateway answers', () => {
  it('writes a JSON-RPC error with the id, code and message', () => {
    expect(jsonRpcError(null, -32600, 'bad request')).toStrictEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: 'bad request' },
    });
  });

  it('answers a denied tool call as a tool result with isError, so the agent can relay the reason', () => {
    expect(toolDenied('call-1', 'Denied: no.')).toStrictEqual({
      jsonrpc: '2.0',
      id: 'call-1',
      result: { content: [{ type: 'text', text: 'Denied: no.' }], isError: true },
    });
    expect(ACCESS_DENIED_CODE).toBe(-32000);
  });
});
