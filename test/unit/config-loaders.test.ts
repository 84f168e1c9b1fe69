import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '../../lambda/core/errors';
import {
  assertUpstreamUrl,
  loadAccessAuditConfig,
  loadAuthorizerConfig,
  loadForwarderConfig,
  loadInterceptorConfig,
  loadProxyConfig,
} from '../../lambda/shared/config';

/** Branches of the configuration loaders (lambda/shared/config/) the other configuration tests leave out. */

const minimal = {
  MCP_IDENTITY_ISSUER: 'https://idp.example.com',
  MCP_IDENTITY_AUDIENCE: 'mcp-gateway',
  MCP_IDENTITY_DISCOVERY_URL: 'https://idp.example.com/.well-known/openid-configuration',
  MCP_IDENTITY_POLICY_STORE_ID: 'PSabc123',
  MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
};

function refused(load: () => unknown, message: string): void {
  expect(load).toThrow(ConfigurationError);
  expect(load).toThrow(message);
}

describe('loadAccessAuditConfig', () => {
  it('reads the audit destination, frozen', () => {
    const config = loadAccessAuditConfig({
      MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
      MCP_IDENTITY_AUDIT_EVENT_SOURCE: 'src',
      PATH: '/usr/bin',
    });
    expect(config).toStrictEqual({ eventSource: 'src', recipientAccountId: '123456789012' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(loadAccessAuditConfig({ MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012' }).eventSource).toBe(
      'mcp-identity',
    );
  });

  it('names unknown and missing keys', () => {
    refused(
      () => loadAccessAuditConfig({ MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '', MCP_IDENTITY_Y: 'y' }),
      'invalid configuration: unknown setting(s) MCP_IDENTITY_Y; MCP_IDENTITY_RECIPIENT_ACCOUNT_ID is required',
    );
  });
});

describe('loadInterceptorConfig, less travelled settings', () => {
  it('keeps the JWKS URI, the resource metadata URL and the grants table', () => {
    const config = loadInterceptorConfig({
      ...minimal,
      MCP_IDENTITY_JWKS_URI: 'https://idp.example.com/jwks',
      MCP_IDENTITY_RESOURCE_METADATA_URL: 'https://gw.example.com/.well-known/oauth-protected-resource',
      MCP_IDENTITY_ACCESS_TABLE: 'grants',
    });
    expect(config.jwt.jwksUri).toBe('https://idp.example.com/jwks');
    expect(config.resourceMetadataUrl).toBe('https://gw.example.com/.well-known/oauth-protected-resource');
    expect(config.access).toStrictEqual({ tableName: 'grants', ttlSeconds: 5 });
    expect(Object.isFrozen(config.access)).toBe(true);
  });

  it.each([
    [
      'no algorithm',
      { MCP_IDENTITY_ALGORITHMS: ' , ' },
      'MCP_IDENTITY_ALGORITHMS needs at least one algorithm',
    ],
    [
      'a discovery URL that is not http(s)',
      { MCP_IDENTITY_DISCOVERY_URL: 'ftp://idp/x' },
      'MCP_IDENTITY_DISCOVERY_URL must be an http(s) URL',
    ],
    [
      'an event source over 256 characters',
      { MCP_IDENTITY_AUDIT_EVENT_SOURCE: 'x'.repeat(257) },
      'MCP_IDENTITY_AUDIT_EVENT_SOURCE must be at most 256 characters',
    ],
    [
      'redaction patterns that are not strings',
      { MCP_IDENTITY_REDACT_PATTERNS: '[1]' },
      'MCP_IDENTITY_REDACT_PATTERNS must be a JSON list of strings',
    ],
  ])('refuses %s', (_what, change, message) => {
    refused(() => loadInterceptorConfig({ ...minimal, ...change }), `invalid configuration: ${message}`);
  });

  it('refuses a catalogue file that is not an object', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'catalog-')), 'catalog.json');
    writeFileSync(file, '[]');
    refused(
      () => loadInterceptorConfig({ ...minimal, MCP_IDENTITY_POLICY_CATALOG_FILE: file }),
      `invalid configuration: MCP_IDENTITY_POLICY_CATALOG_FILE ${file} must hold an object of { name, reason } entries`,
    );
  });
});

describe('the other loaders, less travelled settings', () => {
  it('the authorizer refuses redaction patterns that are not a list of strings', () => {
    refused(
      () =>
        loadAuthorizerConfig({
          MCP_IDENTITY_ISSUER: 'https://idp.example.com',
          MCP_IDENTITY_AUDIENCE: 'mcp-gateway',
          MCP_IDENTITY_JWKS_URI: 'https://idp.example.com/jwks',
          MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
          MCP_IDENTITY_REDACT_PATTERNS: '"x"',
        }),
      'invalid authorizer configuration: MCP_IDENTITY_REDACT_PATTERNS must be a JSON list of strings',
    );
  });

  it('the forwarder refuses an external id out of bounds', () => {
    refused(
      () =>
        loadForwarderConfig({
          AWS_REGION: 'eu-west-1',
          MCP_IDENTITY_AUDIT_CHANNEL_ARN: 'arn:aws:cloudtrail:eu-west-1:123456789012:channel/abc',
          MCP_IDENTITY_AUDIT_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq',
          MCP_IDENTITY_AUDIT_EXTERNAL_ID: 'e',
        }),
      'invalid forwarder configuration: MCP_IDENTITY_AUDIT_EXTERNAL_ID must be 2 to 1224 characters',
    );
  });

  it('the proxy refuses an upstream URL with a fragment', () => {
    refused(
      () => loadProxyConfig({ ...minimal, MCP_IDENTITY_UPSTREAM_URL: 'https://up.example.com/mcp#x' }),
      'invalid proxy configuration: MCP_IDENTITY_UPSTREAM_URL must not have a fragment',
    );
    expect(() => assertUpstreamUrl(new URL('https://up.example.com/mcp#x'))).toThrow(
      'must not have a fragment',
    );
  });
});
