import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '../../lambda/core/errors';
import { loadInterceptorConfig } from '../../lambda/shared/config';

const minimal = {
  MCP_IDENTITY_ISSUER: 'https://idp.example.com',
  MCP_IDENTITY_AUDIENCE: 'mcp-gateway',
  MCP_IDENTITY_DISCOVERY_URL: 'https://idp.example.com/.well-known/openid-configuration',
  MCP_IDENTITY_POLICY_STORE_ID: 'PSabc123',
  MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
};

describe('loadInterceptorConfig', () => {
  it('fills safe defaults around the mandatory settings', () => {
    const config = loadInterceptorConfig({ ...minimal, PATH: '/usr/bin' });
    expect(config).toMatchObject({
      jwt: {
        issuer: 'https://idp.example.com',
        audience: ['mcp-gateway'],
        algorithms: ['RS256', 'ES256'],
        graceSeconds: 0,
      },
      decisionPoint: { kind: 'avp', policyStoreId: 'PSabc123', timeoutMs: 1000 },
      namespace: 'McpIdentity',
      mode: 'enforce',
      injection: { userParameter: '_caller_user', rolesParameter: '_caller_roles', bindings: {} },
      cache: { ttlSeconds: 30, maxEntries: 1000 },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.jwt)).toBe(true);
  });

  it('parses lists, JSON and numbers', () => {
    const config = loadInterceptorConfig({
      ...minimal,
      MCP_IDENTITY_AUDIENCE: 'a, b',
      MCP_IDENTITY_ALGORITHMS: 'ES256',
      MCP_IDENTITY_INJECT_BINDINGS: '{"orders___create":{"owner":"email"}}',
      MCP_IDENTITY_REDACT_PATTERNS: '["\\\\d{16}"]',
      MCP_IDENTITY_DECISION_CACHE_TTL_SECONDS: '0',
      MCP_IDENTITY_MODE: 'log-only',
    });
    expect(config.jwt.audience).toEqual(['a', 'b']);
    expect(config.injection.bindings).toEqual({ orders___create: { owner: 'email' } });
    expect(config.redaction.valuePatterns.at(-1)?.source).toBe('\\d{16}');
    expect(config.cache.ttlSeconds).toBe(0);
    expect(config.mode).toBe('log-only');
  });

  it.each([
    [{ MCP_IDENTITY_ISSUER: undefined }, /MCP_IDENTITY_ISSUER is required/],
    [{ MCP_IDENTITY_AUDIENCE: ' , ' }, /MCP_IDENTITY_AUDIENCE needs at least one audience/],
    [{ MCP_IDENTITY_DISCOVERY_URL: undefined }, /set MCP_IDENTITY_DISCOVERY_URL or MCP_IDENTITY_JWKS_URI/],
    [{ MCP_IDENTITY_POLICY_STORE_ID: undefined }, /MCP_IDENTITY_POLICY_STORE_ID is required when/],
    [{ MCP_IDENTITY_DECISION_POINT: 'local' }, /MCP_IDENTITY_POLICY_DIR is required/],
    [{ MCP_IDENTITY_ALGORITHMS: 'HS256' }, /MCP_IDENTITY_ALGORITHMS/],
    [{ MCP_IDENTITY_MODE: 'audit' }, /MCP_IDENTITY_MODE/],
    [{ MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '12345' }, /12-digit/],
    [{ MCP_IDENTITY_INJECT_BINDINGS: '{nope' }, /MCP_IDENTITY_INJECT_BINDINGS is not valid JSON/],
    [{ MCP_IDENTITY_INJECT_BINDINGS: '{"t":{"owner":"password"}}' }, /MCP_IDENTITY_INJECT_BINDINGS/],
    [{ MCP_IDENTITY_REDACT_PATTERNS: '["("]' }, /not a valid regular expression/],
    [{ MCP_IDENTITY_AUDIENCES: 'x' }, /unknown setting\(s\) MCP_IDENTITY_AUDIENCES/],
    [{ MCP_IDENTITY_DECISION_CACHE_TTL_SECONDS: '-1' }, /MCP_IDENTITY_DECISION_CACHE_TTL_SECONDS/],
    [{ MCP_IDENTITY_INPUT_TYPES_FILE: '/nonexistent/types.json' }, /cannot read JSON from \/nonexistent/],
    [
      { MCP_IDENTITY_POLICY_TOKEN_READS: 'jti' },
      /MCP_IDENTITY_POLICY_TOKEN_READS must be all, none or a list/,
    ],
  ])('names the bad key: %j', (change, message) => {
    const env: Record<string, string | undefined> = { ...minimal, ...change };
    expect(() => loadInterceptorConfig(env)).toThrow(ConfigurationError);
    expect(() => loadInterceptorConfig(env)).toThrow(message);
  });

  it.each([
    [undefined, 'all'],
    ['all', 'all'],
    ['none', []],
    ['id, issuedAt', ['id', 'issuedAt']],
  ])('reads which token facts the policies read from %j', (value, expected) => {
    const config = loadInterceptorConfig({ ...minimal, MCP_IDENTITY_POLICY_TOKEN_READS: value });
    const reads = config.decisionPoint.kind === 'avp' ? config.decisionPoint.tokenReads : undefined;
    expect(reads === 'all' ? 'all' : [...(reads ?? [])]).toStrictEqual(expected);
  });

  it('reads the policy catalogue and input types files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-identity-'));
    writeFileSync(
      join(dir, 'catalog.json'),
      JSON.stringify({ SP1: { name: 'large-refunds', reason: 'needs finance' } }),
    );
    writeFileSync(join(dir, 'types.json'), JSON.stringify({ t: { type: 'Record', attributes: {} } }));
    const config = loadInterceptorConfig({
      ...minimal,
      MCP_IDENTITY_POLICY_CATALOG_FILE: join(dir, 'catalog.json'),
      MCP_IDENTITY_INPUT_TYPES_FILE: join(dir, 'types.json'),
    });
    expect(config.catalog?.get('SP1')).toEqual({ name: 'large-refunds', reason: 'needs finance' });
    expect(config.inputTypes).toEqual({ t: { type: 'Record', attributes: {} } });
  });
});

describe('the policy catalogue the stack passes inline', () => {
  it('names AVP policy ids so denials can quote the policy', () => {
    const config = loadInterceptorConfig({
      ...minimal,
      MCP_IDENTITY_POLICY_CATALOG: JSON.stringify([
        { id: 'SPabc', name: 'large-refunds-need-finance', reason: 'needs finance' },
        { id: 'SPdef', name: 'readers', reason: '' },
      ]),
    });
    expect(config.catalog?.get('SPabc')).toEqual({
      name: 'large-refunds-need-finance',
      reason: 'needs finance',
    });
    expect(config.catalog?.get('SPdef')).toEqual({ name: 'readers' });
  });

  it('refuses a catalogue that is not a list of entries', () => {
    expect(() => loadInterceptorConfig({ ...minimal, MCP_IDENTITY_POLICY_CATALOG: '{"SPabc":"x"}' })).toThrow(
      /MCP_IDENTITY_POLICY_CATALOG/,
    );
  });
});

describe('MCP_IDENTITY_ALLOWED_CLIENTS and MCP_IDENTITY_REQUIRED_CLAIMS', () => {
  const problem = (env: Record<string, string>): string => {
    try {
      loadInterceptorConfig({ ...minimal, ...env });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      return (error as Error).message;
    }
    throw new Error('expected a configuration error');
  };

  it('leaves both off when unset or empty: any client, no required claim', () => {
    for (const env of [{}, { MCP_IDENTITY_ALLOWED_CLIENTS: '', MCP_IDENTITY_REQUIRED_CLAIMS: '' }]) {
      const { jwt } = loadInterceptorConfig({ ...minimal, ...env });
      expect(jwt.allowedClients).toBeUndefined();
      expect(jwt.requiredClaims).toEqual([]);
    }
  });

  it('reads a comma-separated client list and the JSON claim list lib/config.ts writes', () => {
    const requiredClaims = [
      { name: 'idtyp', match: 'EQUALS', values: ['user'] },
      { name: 'groups', match: 'CONTAINS_ANY', values: ['a', 'b'] },
    ];
    const { jwt } = loadInterceptorConfig({
      ...minimal,
      MCP_IDENTITY_ALLOWED_CLIENTS: 'agent-1, agent-2',
      MCP_IDENTITY_REQUIRED_CLAIMS: JSON.stringify(requiredClaims),
    });
    expect(jwt.allowedClients).toEqual(['agent-1', 'agent-2']);
    expect(jwt.requiredClaims).toEqual(requiredClaims);
    expect(Object.isFrozen(jwt.requiredClaims[0])).toBe(true);
  });

  it('refuses a client list that names nobody, rather than accepting any client', () => {
    expect(problem({ MCP_IDENTITY_ALLOWED_CLIENTS: ' , ' })).toContain(
      'MCP_IDENTITY_ALLOWED_CLIENTS names no client',
    );
  });

  it.each([
    ['not JSON', '[{"name":', 'MCP_IDENTITY_REQUIRED_CLAIMS is not valid JSON'],
    ['not a list', '{"name":"idtyp"}', 'MCP_IDENTITY_REQUIRED_CLAIMS must be a JSON list'],
    [
      'an unknown operator',
      '[{"name":"idtyp","match":"LIKE","values":["user"]}]',
      'MCP_IDENTITY_REQUIRED_CLAIMS entry 1 must be',
    ],
    [
      'EQUALS with two values',
      '[{"name":"a","match":"EQUALS","values":["x"]},{"name":"b","match":"EQUALS","values":["x","y"]}]',
      'MCP_IDENTITY_REQUIRED_CLAIMS entry 2 must be',
    ],
    [
      'an empty name',
      '[{"name":"","match":"EQUALS","values":["x"]}]',
      'MCP_IDENTITY_REQUIRED_CLAIMS entry 1 must be',
    ],
    [
      'no values',
      '[{"name":"a","match":"CONTAINS_ANY","values":[]}]',
      'MCP_IDENTITY_REQUIRED_CLAIMS entry 1 must be',
    ],
    [
      'an extra key',
      '[{"name":"a","match":"EQUALS","values":["x"],"type":"STRING"}]',
      'MCP_IDENTITY_REQUIRED_CLAIMS entry 1 must be',
    ],
  ])('names the key when REQUIRED_CLAIMS is %s, without echoing the value', (_name, value, expected) => {
    const message = problem({ MCP_IDENTITY_REQUIRED_CLAIMS: value });
    expect(message).toContain(expected);
    expect(message).not.toContain(value);
  });
});
