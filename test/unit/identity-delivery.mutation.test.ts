import {
  assertionHeaderProblem,
  DEFAULT_ASSERTION_HEADER,
  type IdentityDeliverySettings,
  identityDelivery,
  TARGET_NAME,
} from '../../lambda/core/identity-delivery';

const settings: IdentityDeliverySettings = {
  targets: new Map([
    ['orders', { arguments: true, assertion: false }],
    ['crm', { arguments: false, assertion: true }],
    ['both', { arguments: true, assertion: true }],
    ['none', { arguments: false, assertion: false }],
  ]),
  assertionHeader: 'X-Mcp-Identity-Assertion',
};

describe('identityDelivery', () => {
  it.each([
    ['orders___get_order', { arguments: true }],
    [
      'crm___find_contact',
      { arguments: false, assertion: { header: 'X-Mcp-Identity-Assertion', audience: 'crm' } },
    ],
    ['both___x', { arguments: true, assertion: { header: 'X-Mcp-Identity-Assertion', audience: 'both' } }],
    ['none___x', { arguments: false }],
  ])('follows the configured target of %s', (tool, expected) => {
    expect(identityDelivery(tool, settings)).toStrictEqual(expected);
  });

  it('splits on the first ___: the rest belongs to the tool', () => {
    expect(identityDelivery('crm___a___b', settings)).toStrictEqual({
      arguments: false,
      assertion: { header: 'X-Mcp-Identity-Assertion', audience: 'crm' },
    });
    expect(identityDelivery('orders___crm___x', settings)).toStrictEqual({ arguments: true });
  });

  it.each([
    ['a target not listed', 'billing___charge'],
    ['a system tool (no prefix)', 'x_amz_bedrock_agentcore_search'],
    ['a name starting with the separator', '___crm'],
    ['a target name that differs in case', 'CRM___find_contact'],
    ['a name that is not a tool name', 'crm___'],
    ['an empty name', ''],
  ])('gives arguments only (today’s behaviour) for %s', (_, tool) => {
    expect(identityDelivery(tool, settings)).toStrictEqual({ arguments: true });
  });

  it('uses the configured header', () => {
    expect(identityDelivery('crm___x', { ...settings, assertionHeader: 'X-Caller' }).assertion).toStrictEqual(
      {
        header: 'X-Caller',
        audience: 'crm',
      },
    );
  });

  it('does not read target names off the prototype', () => {
    expect(identityDelivery('constructor___x', settings)).toStrictEqual({ arguments: true });
  });
});

describe('assertion header names', () => {
  it('defaults to X-Mcp-Identity-Assertion, which is acceptable', () => {
    expect(DEFAULT_ASSERTION_HEADER).toBe('X-Mcp-Identity-Assertion');
    expect(assertionHeaderProblem(DEFAULT_ASSERTION_HEADER)).toBeUndefined();
    expect(assertionHeaderProblem('X-Caller-Identity')).toBeUndefined();
    expect(assertionHeaderProblem('a'.repeat(100))).toBeUndefined();
  });

  it.each(['', 'a'.repeat(101), 'X Caller', 'X_Caller', 'X-Caller:', 'Caller\n'])(
    'refuses %j as not a header name',
    (name) => {
      expect(assertionHeaderProblem(name)).toBe(
        'must be a header name of letters, digits and hyphens, at most 100',
      );
    },
  );

  it.each([
    'Authorization',
    'authorization',
    'Proxy-Authorization',
    'WWW-Authenticate',
    'Host',
    'User-Agent',
    'Cookie',
    'Set-Cookie',
    'Cache-Control',
    'Connection',
    'Transfer-Encoding',
    'X-Frame-Options',
    'Accept',
    'Accept-Language',
    'Content-Type',
    'If-None-Match',
    'X-Amz-Date',
    'X-Amzn-Trace-Id',
    'Access-Control-Allow-Origin',
    'Mcp-Session-Id',
    'MCP-Protocol-Version',
    // Hop-by-hop, request and response headers with a meaning on the way: every name of the list, one by one.
    'Referer',
    'From',
    'Range',
    'TE',
    'Trailer',
    'Server',
    'Date',
    'Location',
    'Retry-After',
    'ETag',
    'Expires',
    'Pragma',
    'Vary',
    'Keep-Alive',
    'Proxy-Connection',
    'Upgrade',
    'Last-Modified',
    'Strict-Transport-Security',
    'X-Content-Type-Options',
  ])('refuses %s, which AgentCore does not propagate or which means something else', (name) => {
    expect(assertionHeaderProblem(name)).toBe(
      'is a header AgentCore does not propagate to targets (restricted or reserved); choose another',
    );
  });
});

describe('target names', () => {
  it.each(['orders', 'crm-eu', 'a', 'A1-b2-C3', 'x'.repeat(100)])('accepts %s', (name) => {
    expect(TARGET_NAME.test(name)).toBe(true);
  });
  it.each(['', 'crm_eu', 'crm--eu', '-crm', 'crm.eu', 'x'.repeat(101), 'crm___x', '__proto__'])(
    'refuses %j',
    (name) => {
      expect(TARGET_NAME.test(name)).toBe(false);
    },
  );
});
