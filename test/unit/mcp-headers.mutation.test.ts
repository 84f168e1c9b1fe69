import { decodeMirroredValue, mirroredHeaderMismatch } from '../../lambda/core/mcp-headers';

/** Mirrored MCP 2026-07-28 headers against the body, at the edges (see also request-path.mutation.test.ts). */
const headers = (values: Record<string, string[]>) => (name: string) => values[name] ?? [];
const base64 = (text: string) => `=?base64?${Buffer.from(text).toString('base64')}?=`;

describe('decodeMirroredValue', () => {
  it.each([
    ['text before the sentinel', `x${base64('tools/call')}`],
    ['text after the sentinel', `${base64('tools/call')}x`],
  ])('reads a value with %s as plain text', (_label, value) => {
    expect(decodeMirroredValue(value)).toBe(value);
  });
});

describe('mirroredHeaderMismatch', () => {
  it('accepts a base64-encoded Mcp-Method and Mcp-Name that match the body', () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't___é' } };

    expect(
      mirroredHeaderMismatch(
        headers({ 'mcp-method': [base64('tools/call')], 'mcp-name': [base64('t___é')] }),
        call,
      ),
    ).toBeUndefined();
  });

  it.each<[string, unknown]>([
    ['a method without a name', { jsonrpc: '2.0', id: 1, method: 'tools/list' }],
    ['a call without a name', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} }],
    ['a read without a uri', { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { name: 'x' } }],
  ])('refuses a malformed Mcp-Name on %s', (_label, body) => {
    const error = mirroredHeaderMismatch(headers({ 'mcp-name': ['=?base64?aGk?='] }), body);

    expect(error?.message).toBe('the Mcp-Name header does not match the request body');
    expect(error?.jsonRpcCode).toBe(-32020);
  });

  it('refuses an Mcp-Method on a body that has no method', () => {
    const error = mirroredHeaderMismatch(headers({ 'mcp-method': ['tools/call'] }), {
      jsonrpc: '2.0',
      id: 1,
    });

    expect(error?.message).toBe('the Mcp-Method header does not match the request body');
  });
});
