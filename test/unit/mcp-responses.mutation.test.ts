import { speaksStatelessMcp, toolDenied } from '../../lambda/core/mcp-responses';

/** The answers the gateway writes itself for MCP 2026-07-28 clients (see also json-depth.mutation.test.ts). */
const meta = (version: unknown) => ({ _meta: { 'io.modelcontextprotocol/protocolVersion': version } });

describe('toolDenied for a 2026-07-28 client', () => {
  it('says the result is complete, which clients of that version require of every result', () => {
    expect(toolDenied(4, 'Denied: no.', true)).toStrictEqual({
      jsonrpc: '2.0',
      id: 4,
      result: { content: [{ type: 'text', text: 'Denied: no.' }], isError: true, resultType: 'complete' },
    });
  });

  it('leaves resultType out for older clients', () => {
    expect(toolDenied(4, 'Denied: no.', false).result).toStrictEqual({
      content: [{ type: 'text', text: 'Denied: no.' }],
      isError: true,
    });
  });
});

describe('speaksStatelessMcp', () => {
  it.each(['2026-07-28', '2026-07-29', '2027-01-01'])('is true for protocol version %s', (version) => {
    expect(speaksStatelessMcp(meta(version))).toBe(true);
  });

  it.each<[string, unknown]>([
    ['an older version', '2025-11-25'],
    ['the day before', '2026-07-27'],
    ['a version with text around it', 'v2026-07-28'],
    ['a version followed by text', '2026-07-28-draft'],
    ['a later version without a dash', '20260728'],
    ['a version that is not a string', 20260728],
    ['no version', undefined],
  ])('is false for %s', (_label, version) => {
    expect(speaksStatelessMcp(meta(version))).toBe(false);
  });

  it.each<[string, Readonly<Record<string, unknown>> | undefined]>([
    ['no params', undefined],
    ['no _meta', {}],
    ['a null _meta', { _meta: null }],
    ['a _meta that is a string', { _meta: '2026-07-28' }],
    ['a _meta that is a list', { _meta: Object.assign(['2026-07-28'], meta('2026-07-28')._meta) }],
  ])('is false with %s', (_label, params) => {
    expect(speaksStatelessMcp(params)).toBe(false);
  });
});
