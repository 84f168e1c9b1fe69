import { ConfigurationError } from '../../lambda/core/errors';
import { loadAuthorizerConfig, loadProxyConfig } from '../../lambda/shared/config';

const token = {
  MCP_IDENTITY_ISSUER: 'https://idp.example.com',
  MCP_IDENTITY_AUDIENCE: 'mcp-gateway',
  MCP_IDENTITY_DISCOVERY_URL: 'https://idp.example.com/.well-known/openid-configuration',
  MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
};
const proxy = { ...token, MCP_IDENTITY_POLICY_STORE_ID: 'PSabc123' };
const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:orders-mcp';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-mcp-AbCdEf';

describe('loadAuthorizerConfig', () => {
  it('reads the token settings, a 60 s cache TTL by default, and the audit settings', () => {
    const config = loadAuthorizerConfig(token);
    expect(config).toMatchObject({
      jwt: { issuer: 'https://idp.example.com', audience: ['mcp-gateway'] },
      cacheTtlSeconds: 60,
      audit: { eventSource: 'mcp-identity', recipientAccountId: '123456789012' },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('takes the operator’s TTL from 0 to 3600 s, as API Gateway does', () => {
    expect(
      loadAuthorizerConfig({ ...token, MCP_IDENTITY_AUTHORIZER_CACHE_TTL_SECONDS: '0' }).cacheTtlSeconds,
    ).toBe(0);
    expect(() =>
      loadAuthorizerConfig({ ...token, MCP_IDENTITY_AUTHORIZER_CACHE_TTL_SECONDS: '3601' }),
    ).toThrow(/MCP_IDENTITY_AUTHORIZER_CACHE_TTL_SECONDS must be an integer from 0 to 3600/);
  });

  it('names every missing or unknown key, including interceptor-only settings it has no use for', () => {
    expect(() => loadAuthorizerConfig({ MCP_IDENTITY_POLICY_STORE_ID: 'PS1' })).toThrow(ConfigurationError);
    expect(() => loadAuthorizerConfig({ MCP_IDENTITY_POLICY_STORE_ID: 'PS1' })).toThrow(
      /unknown setting\(s\) MCP_IDENTITY_POLICY_STORE_ID.*MCP_IDENTITY_ISSUER is required.*MCP_IDENTITY_RECIPIENT_ACCOUNT_ID is required/,
    );
  });
});

describe('loadProxyConfig', () => {
  it('reads a Lambda upstream next to every interceptor setting', () => {
    const config = loadProxyConfig({ ...proxy, MCP_IDENTITY_UPSTREAM_LAMBDA_ARN: FUNCTION_ARN });
    expect(config.upstream).toEqual({
      target: { kind: 'lambda', functionArn: FUNCTION_ARN },
      timeoutMs: 290_000,
      maxResponseBytes: 6 * 1024 * 1024,
      keepAliveSeconds: 30,
    });
    expect(config.guard.decisionPoint).toMatchObject({ kind: 'avp', policyStoreId: 'PSabc123' });
  });

  it('reads an HTTPS upstream with its secret and secret TTL', () => {
    const config = loadProxyConfig({
      ...proxy,
      MCP_IDENTITY_UPSTREAM_URL: 'https://mcp.internal.example.com/mcp',
      MCP_IDENTITY_UPSTREAM_SECRET_ARN: SECRET_ARN,
      MCP_IDENTITY_UPSTREAM_SECRET_TTL_SECONDS: '60',
    });
    expect(config.upstream.target).toEqual({
      kind: 'https',
      url: 'https://mcp.internal.example.com/mcp',
      secretArn: SECRET_ARN,
      secretTtlSeconds: 60,
    });
  });

  it.each([
    [
      'neither upstream',
      {},
      /set exactly one of MCP_IDENTITY_UPSTREAM_URL and MCP_IDENTITY_UPSTREAM_LAMBDA_ARN/,
    ],
    [
      'both upstreams',
      {
        MCP_IDENTITY_UPSTREAM_URL: 'https://a.example.com/mcp',
        MCP_IDENTITY_UPSTREAM_LAMBDA_ARN: FUNCTION_ARN,
      },
      /set exactly one/,
    ],
    [
      'plain http beyond loopback',
      { MCP_IDENTITY_UPSTREAM_URL: 'http://mcp.example.com/mcp' },
      /must be an https URL/,
    ],
    [
      'credentials in the URL',
      { MCP_IDENTITY_UPSTREAM_URL: 'https://u:p@mcp.example.com/mcp' },
      /must not carry credentials/,
    ],
    [
      'not a URL',
      { MCP_IDENTITY_UPSTREAM_URL: 'mcp.example.com' },
      /MCP_IDENTITY_UPSTREAM_URL must be a URL/,
    ],
    [
      'a function name instead of an ARN',
      { MCP_IDENTITY_UPSTREAM_LAMBDA_ARN: 'orders-mcp' },
      /must be a Lambda function ARN/,
    ],
    [
      'a secret for a Lambda upstream',
      { MCP_IDENTITY_UPSTREAM_LAMBDA_ARN: FUNCTION_ARN, MCP_IDENTITY_UPSTREAM_SECRET_ARN: SECRET_ARN },
      /SECRET_ARN applies to MCP_IDENTITY_UPSTREAM_URL only/,
    ],
    [
      'a typo',
      { MCP_IDENTITY_UPSTREAM_LAMBDA_ARN: FUNCTION_ARN, MCP_IDENTITY_UPSTREAM_TIMEOUT: '5' },
      /unknown setting\(s\) MCP_IDENTITY_UPSTREAM_TIMEOUT/,
    ],
  ])('refuses %s, naming the key', (_name, upstream, message) => {
    expect(() => loadProxyConfig({ ...proxy, ...upstream })).toThrow(message);
  });

  it('takes a target name for the tools (as AgentCore Gateway prefixes a target’s), refusing one with ___', () => {
    const base = { ...proxy, MCP_IDENTITY_UPSTREAM_LAMBDA_ARN: FUNCTION_ARN };
    expect(
      loadProxyConfig({ ...base, MCP_IDENTITY_UPSTREAM_TARGET_NAME: 'orders' }).upstream.targetName,
    ).toBe('orders');
    expect(loadProxyConfig(base).upstream.targetName).toBeUndefined();
    expect(() => loadProxyConfig({ ...base, MCP_IDENTITY_UPSTREAM_TARGET_NAME: 'a___b' })).toThrow(
      /MCP_IDENTITY_UPSTREAM_TARGET_NAME must be letters, digits/,
    );
  });

  it('allows plain http to loopback (the local stack)', () => {
    expect(
      loadProxyConfig({ ...proxy, MCP_IDENTITY_UPSTREAM_URL: 'http://127.0.0.1:9000/mcp' }).upstream.target,
    ).toMatchObject({
      kind: 'https',
    });
  });

  it('names problems of both the upstream and the interceptor settings in one error', () => {
    expect(() => loadProxyConfig({ ...token })).toThrow(
      /invalid proxy configuration: .*set exactly one.*MCP_IDENTITY_POLICY_STORE_ID is required/,
    );
  });
});

describe('the token settings every door reads', () => {
  const settings = {
    MCP_IDENTITY_ALLOWED_CLIENTS: 'agent-1',
    MCP_IDENTITY_REQUIRED_CLAIMS: '[{"name":"idtyp","match":"EQUALS","values":["user"]}]',
  };

  it('the authorizer reads allowed clients and required claims (they are not unknown keys)', () => {
    expect(loadAuthorizerConfig({ ...token, ...settings }).jwt).toMatchObject({
      allowedClients: ['agent-1'],
      requiredClaims: [{ name: 'idtyp', match: 'EQUALS', values: ['user'] }],
    });
  });

  it('the proxy reads them too', () => {
    expect(
      loadProxyConfig({ ...proxy, ...settings, MCP_IDENTITY_UPSTREAM_LAMBDA_ARN: FUNCTION_ARN }).guard.jwt,
    ).toMatchObject({ allowedClients: ['agent-1'], requiredClaims: [{ name: 'idtyp' }] });
  });

  it('the authorizer refuses a malformed claim list, naming the key', () => {
    expect(() => loadAuthorizerConfig({ ...token, MCP_IDENTITY_REQUIRED_CLAIMS: 'idtyp=user' })).toThrow(
      /MCP_IDENTITY_REQUIRED_CLAIMS is not valid JSON/,
    );
  });
});
