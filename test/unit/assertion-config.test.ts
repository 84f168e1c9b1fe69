import { ConfigurationError } from '../../lambda/core/errors';
import { identityDelivery } from '../../lambda/core/identity-delivery';
import { loadInterceptorConfig } from '../../lambda/shared/config';

const minimal = {
  MCP_IDENTITY_ISSUER: 'https://idp.example.com',
  MCP_IDENTITY_AUDIENCE: 'mcp-gateway',
  MCP_IDENTITY_DISCOVERY_URL: 'https://idp.example.com/.well-known/openid-configuration',
  MCP_IDENTITY_POLICY_STORE_ID: 'PSabc123',
  MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
};
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const asserting = {
  ...minimal,
  MCP_IDENTITY_TARGET_DELIVERY:
    '{"orders":{"arguments":true,"assertion":false},"crm":{"arguments":false,"assertion":true}}',
  MCP_IDENTITY_ASSERTION_KEY_ID: KEY_ARN,
  MCP_IDENTITY_ASSERTION_ISSUER: 'https://gateway.example.com',
};

const problem = (env: Record<string, string | undefined>) => {
  try {
    loadInterceptorConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
};

describe('identity delivery settings', () => {
  it('default to arguments for every target, the standard header and no assertion signing', () => {
    const config = loadInterceptorConfig(minimal);
    expect(config.delivery.targets.size).toBe(0);
    expect(config.delivery.assertionHeader).toBe('X-Mcp-Identity-Assertion');
    expect(config.assertion).toBeUndefined();
    expect(identityDelivery('orders___get_order', config.delivery)).toStrictEqual({ arguments: true });
  });

  it('read the agreed contract: per-target delivery, key, issuer, header and lifetime', () => {
    const config = loadInterceptorConfig({
      ...asserting,
      MCP_IDENTITY_ASSERTION_HEADER: 'X-Caller-Assertion',
      MCP_IDENTITY_ASSERTION_TTL_SECONDS: '120',
    });
    expect([...config.delivery.targets]).toStrictEqual([
      ['orders', { arguments: true, assertion: false }],
      ['crm', { arguments: false, assertion: true }],
    ]);
    expect(config.delivery.assertionHeader).toBe('X-Caller-Assertion');
    expect(config.assertion).toStrictEqual({
      keyArn: KEY_ARN,
      issuer: 'https://gateway.example.com',
      ttlSeconds: 120,
    });
    expect(Object.isFrozen(config.assertion)).toBe(true);
    expect(identityDelivery('crm___find', config.delivery)).toStrictEqual({
      arguments: false,
      assertion: { header: 'X-Caller-Assertion', audience: 'crm' },
    });
    expect(identityDelivery('orders___get_order', config.delivery)).toStrictEqual({ arguments: true });
  });

  it('default the lifetime to 300 seconds and accept 1 and 300', () => {
    expect(loadInterceptorConfig(asserting).assertion?.ttlSeconds).toBe(300);
    for (const ttl of ['1', '300'])
      expect(
        loadInterceptorConfig({ ...asserting, MCP_IDENTITY_ASSERTION_TTL_SECONDS: ttl }).assertion
          ?.ttlSeconds,
      ).toBe(Number(ttl));
  });

  it('accept an alias-free key ARN in another partition and a multi-Region key', () => {
    const config = loadInterceptorConfig({
      ...asserting,
      MCP_IDENTITY_ASSERTION_KEY_ID:
        'arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab',
    });
    expect(config.assertion?.keyArn).toBe(
      'arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab',
    );
  });

  it('need no key or issuer while no target takes the assertion', () => {
    const config = loadInterceptorConfig({
      ...minimal,
      MCP_IDENTITY_TARGET_DELIVERY: '{"orders":{"arguments":true,"assertion":false}}',
    });
    expect(config.assertion).toBeUndefined();
  });

  it.each([
    [
      'key and issuer missing while crm takes the assertion',
      { MCP_IDENTITY_ASSERTION_KEY_ID: undefined, MCP_IDENTITY_ASSERTION_ISSUER: undefined },
      'MCP_IDENTITY_ASSERTION_KEY_ID is required when a target takes the identity assertion (crm); MCP_IDENTITY_ASSERTION_ISSUER is required when a target takes the identity assertion (crm)',
    ],
    [
      'an alias instead of a key ARN',
      { MCP_IDENTITY_ASSERTION_KEY_ID: 'arn:aws:kms:eu-west-1:123456789012:alias/assertions' },
      'MCP_IDENTITY_ASSERTION_KEY_ID must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>, not an alias)',
    ],
    [
      'a bare key id',
      { MCP_IDENTITY_ASSERTION_KEY_ID: '1234abcd-12ab-34cd-56ef-1234567890ab' },
      'MCP_IDENTITY_ASSERTION_KEY_ID must be a KMS key ARN',
    ],
    [
      'a lifetime of 0',
      { MCP_IDENTITY_ASSERTION_TTL_SECONDS: '0' },
      'MCP_IDENTITY_ASSERTION_TTL_SECONDS must be an integer from 1 to 300',
    ],
    [
      'a lifetime of 301',
      { MCP_IDENTITY_ASSERTION_TTL_SECONDS: '301' },
      'MCP_IDENTITY_ASSERTION_TTL_SECONDS must be an integer from 1 to 300',
    ],
    [
      'a lifetime that is not an integer',
      { MCP_IDENTITY_ASSERTION_TTL_SECONDS: '2.5' },
      'MCP_IDENTITY_ASSERTION_TTL_SECONDS must be an integer from 1 to 300',
    ],
    [
      'the Authorization header',
      { MCP_IDENTITY_ASSERTION_HEADER: 'Authorization' },
      'MCP_IDENTITY_ASSERTION_HEADER is a header AgentCore does not propagate to targets',
    ],
    [
      'a header name with a space',
      { MCP_IDENTITY_ASSERTION_HEADER: 'X Caller' },
      'MCP_IDENTITY_ASSERTION_HEADER must be a header name of letters, digits and hyphens',
    ],
    [
      'an issuer with a space',
      { MCP_IDENTITY_ASSERTION_ISSUER: 'my gateway' },
      'MCP_IDENTITY_ASSERTION_ISSUER must be at most 512 characters without spaces or control characters',
    ],
    [
      'an issuer too long',
      { MCP_IDENTITY_ASSERTION_ISSUER: `https://${'g'.repeat(505)}` },
      'MCP_IDENTITY_ASSERTION_ISSUER must be at most 512 characters',
    ],
    [
      'delivery that is not JSON',
      { MCP_IDENTITY_TARGET_DELIVERY: '{crm' },
      'MCP_IDENTITY_TARGET_DELIVERY is not valid JSON',
    ],
    [
      'delivery that is a list',
      { MCP_IDENTITY_TARGET_DELIVERY: '["crm"]' },
      'MCP_IDENTITY_TARGET_DELIVERY must be a JSON object { "<target>": { "arguments": …, "assertion": … } }',
    ],
    [
      'a target name with an underscore',
      { MCP_IDENTITY_TARGET_DELIVERY: '{"c_rm":{"arguments":true,"assertion":false}}' },
      "MCP_IDENTITY_TARGET_DELIVERY 'c_rm' is not a target name (letters, digits, single hyphens)",
    ],
    [
      'a __proto__ target',
      { MCP_IDENTITY_TARGET_DELIVERY: '{"__proto__":{"arguments":true,"assertion":true}}' },
      "MCP_IDENTITY_TARGET_DELIVERY '__proto__' is not a target name",
    ],
    [
      'a string instead of a boolean',
      { MCP_IDENTITY_TARGET_DELIVERY: '{"crm":{"arguments":"no","assertion":true}}' },
      `MCP_IDENTITY_TARGET_DELIVERY 'crm' must be { "arguments": true|false, "assertion": true|false }`,
    ],
    [
      'a missing key',
      { MCP_IDENTITY_TARGET_DELIVERY: '{"crm":{"assertion":true}}' },
      `MCP_IDENTITY_TARGET_DELIVERY 'crm' must be { "arguments": true|false, "assertion": true|false }`,
    ],
    [
      'an extra key',
      { MCP_IDENTITY_TARGET_DELIVERY: '{"crm":{"arguments":true,"assertion":true,"header":"X"}}' },
      `MCP_IDENTITY_TARGET_DELIVERY 'crm' must be { "arguments": true|false, "assertion": true|false }`,
    ],
    [
      'an entry that is not an object',
      { MCP_IDENTITY_TARGET_DELIVERY: '{"crm":true}' },
      `MCP_IDENTITY_TARGET_DELIVERY 'crm' must be { "arguments": true|false, "assertion": true|false }`,
    ],
    ['a misspelt key', { MCP_IDENTITY_ASSERTION_TTL: '60' }, 'unknown setting(s) MCP_IDENTITY_ASSERTION_TTL'],
  ])('names the bad key: %s', (_, change, message) => {
    expect(problem({ ...asserting, ...change })).toContain(message);
  });

  it('report a bad key format even while no target takes the assertion', () => {
    expect(problem({ ...minimal, MCP_IDENTITY_ASSERTION_KEY_ID: 'alias/x' })).toContain(
      'MCP_IDENTITY_ASSERTION_KEY_ID must be a KMS key ARN',
    );
  });
});
