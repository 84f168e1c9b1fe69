import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudTrailClient, ListEventDataStoresCommand } from '@aws-sdk/client-cloudtrail';
import { ListPolicyStoresCommand, VerifiedPermissionsClient } from '@aws-sdk/client-verifiedpermissions';
import { mockClient } from 'aws-sdk-client-mock';
import { exportJWK, generateKeyPair, type KeyLike, SignJWT } from 'jose';
import { type CheckResult, formatResults, runDoctor } from '../../cli/doctor';
import { runInit } from '../../cli/init';
import { CONFIG_FILE } from '../../lib/config-source';
import { awsFreeEnv, cliAsync, ROOT } from './helpers';

/**
 * Issue 14 #2: `doctor`, one test per check, offline and against mocked AWS; the identity provider's discovery
 * document, its keys and the AgentCore control endpoint are served from loopback.
 */

const cloudFormation = mockClient(CloudFormationClient);
const verifiedPermissions = mockClient(VerifiedPermissionsClient);
const cloudTrail = mockClient(CloudTrailClient);

interface Loopback {
  readonly url: string;
  /** What the discovery document says its issuer is. */
  discoveryIssuer: string;
  /** AgentCore's answer: status and error type. */
  agentCore: { status: number; type?: string };
  agentCoreAuthorization: string[];
  close(): Promise<void>;
}

let idp: Loopback;
let privateKey: KeyLike;

beforeAll(async () => {
  const keys = await generateKeyPair('RS256');
  privateKey = keys.privateKey;
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '';
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };
    if (path === '/.well-known/openid-configuration')
      return json(200, { issuer: idp.discoveryIssuer, jwks_uri: `${idp.url}/jwks.json` });
    if (path === '/jwks.json') return json(200, { keys: [jwk] });
    if (path.startsWith('/gateways/')) {
      idp.agentCoreAuthorization.push(String(request.headers.authorization ?? ''));
      const { status, type } = idp.agentCore;
      return status === 200
        ? json(200, { items: [] })
        : json(
            status,
            { message: 'User is not authorized to perform: bedrock-agentcore:ListGateways' },
            {
              'x-amzn-errortype': type ?? 'Error',
            },
          );
    }
    return json(404, {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  idp = {
    url,
    discoveryIssuer: url,
    agentCore: { status: 200 },
    agentCoreAuthorization: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
});

afterAll(() => idp.close());

beforeEach(() => {
  idp.discoveryIssuer = idp.url;
  idp.agentCore = { status: 200 };
  idp.agentCoreAuthorization = [];
  cloudFormation.reset();
  verifiedPermissions.reset();
  cloudTrail.reset();
  cloudFormation.on(DescribeStacksCommand, { StackName: 'CDKToolkit' }).resolves({
    Stacks: [
      {
        StackName: 'CDKToolkit',
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: [{ OutputKey: 'BootstrapVersion', OutputValue: '29' }],
      },
    ],
  });
  verifiedPermissions.on(ListPolicyStoresCommand).resolves({ policyStores: [] });
  cloudTrail.on(ListEventDataStoresCommand).resolves({ EventDataStores: [{ EventDataStoreArn: 'arn:x' }] });
});

function scratch(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'doctor-')), name);
  writeFileSync(path, text);
  return path;
}

/** A bare configuration file for the loopback identity provider. */
function configFile(overrides: Record<string, unknown> = {}): string {
  return scratch(
    'config.json',
    JSON.stringify({
      identity: {
        issuer: idp.url,
        discoveryUrl: `${idp.url}/.well-known/openid-configuration`,
        audience: ['https://mcp.example.com/mcp'],
        requiredClaims: [{ name: 'groups', match: 'CONTAINS', values: ['mcp-users'] }],
      },
      authorization: { policyDir: join(ROOT, 'policies') },
      ...overrides,
    }),
  );
}

async function tokenFile(
  claims: Record<string, unknown> = {},
  alg = 'RS256',
): Promise<{ path: string; token: string }> {
  const now = Math.floor(Date.now() / 1000);
  // Defaults first, so a test's claims replace them (aud, groups…).
  const token = await new SignJWT({
    iss: idp.url,
    aud: 'https://mcp.example.com/mcp',
    iat: now,
    exp: now + 600,
    sub: 'alice',
    roles: ['developer', 'db-reader'],
    groups: ['mcp-users'],
    client_id: 'claude-desktop',
    ...claims,
  })
    .setProtectedHeader({ alg, kid: 'k1' })
    .sign(privateKey);
  return { path: scratch('token.jwt', `${token}\n`), token };
}

const aws = async () => ({
  region: 'eu-west-1',
  credentials: async () => ({ accessKeyId: 'AKIDEXAMPLE7890', secretAccessKey: 'secret' }),
});

function byCheck(results: readonly CheckResult[]): Record<string, CheckResult> {
  return Object.fromEntries(results.map((result) => [result.check, result]));
}

async function doctor(options: Partial<Parameters<typeof runDoctor>[0]> = {}) {
  return byCheck(
    await runDoctor({
      configFile: configFile(),
      offline: false,
      aws,
      agentCoreEndpoint: idp.url,
      timeoutMs: 3000,
      ...options,
    }),
  );
}

describe('mcp-identity doctor', () => {
  it('passes every check for a ready account, with a signed sample token mapped to its roles', async () => {
    const { path } = await tokenFile();

    const results = await doctor({ tokenFile: path });

    expect(Object.values(results).filter((result) => result.status !== 'pass')).toEqual([]);
    expect(results['region and credentials']?.detail).toBe('eu-west-1, access key …7890');
    expect(results['CDK bootstrap']?.detail).toContain('UPDATE_COMPLETE in eu-west-1 (bootstrap version 29)');
    expect(results['sample token']?.detail).toBe(
      "maps to alice with roles [developer, db-reader] (claim roles), agent claude-desktop; signature verified with the issuer's keys",
    );
    // The AgentCore probe is a SigV4-signed ListGateways for the Region.
    expect(idp.agentCoreAuthorization[0]).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE7890\/\d{8}\/eu-west-1\/bedrock-agentcore\//,
    );
  });

  it('fails the configuration check naming the bad key, and skips what needs a configuration', async () => {
    const results = await doctor({
      configFile: scratch('bad.json', JSON.stringify({ identity: { issuer: 'x' } })),
    });

    expect(results.configuration).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('"mcpIdentity"'),
    });
    expect(results.configuration?.detail).toContain('identity.discoveryUrl: is required');
    expect(results['discovery document']).toMatchObject({
      status: 'skip',
      detail: 'needs a valid configuration',
    });
    expect(results['sample token']?.status).toBe('skip');
  });

  it('reads the configuration from cdk.json context, and fails on a policy folder that does not validate', async () => {
    const policies = mkdtempSync(join(tmpdir(), 'doctor-policies-'));
    const cdkJson = scratch(
      'cdk.json',
      JSON.stringify({
        app: 'npx tsx bin/app.ts',
        context: {
          mcpIdentity: {
            identity: {
              issuer: idp.url,
              discoveryUrl: `${idp.url}/.well-known/openid-configuration`,
              audience: ['a'],
            },
            authorization: { policyDir: policies },
          },
        },
      }),
    );

    const results = await doctor({ configFile: cdkJson });

    expect(results.configuration?.status).toBe('pass');
    expect(results.policies).toMatchObject({
      status: 'fail',
      fix: `npx mcp-identity policies validate --dir ${policies}`,
    });
    expect(results.policies?.detail).toContain('cannot read');
  });

  it('names the first policy error by path:line:column (and how many more) when a policy does not parse', async () => {
    const policies = mkdtempSync(join(tmpdir(), 'doctor-policies-'));
    cpSync(join(ROOT, 'policies'), policies, { recursive: true });
    writeFileSync(join(policies, 'a.cedar'), 'permit (principal, action resource);\n');
    writeFileSync(join(policies, 'b.cedar'), '\n\nforbid (principal,, action, resource);\n');
    const cdkJson = scratch(
      'cdk.json',
      JSON.stringify({
        context: {
          mcpIdentity: {
            identity: {
              issuer: idp.url,
              discoveryUrl: `${idp.url}/.well-known/openid-configuration`,
              audience: ['a'],
            },
            authorization: { policyDir: policies },
          },
        },
      }),
    );

    const results = await doctor({ configFile: cdkJson });

    expect(results.policies?.status).toBe('fail');
    expect(results.policies?.detail).toMatch(
      new RegExp(
        `^${join(policies, 'a.cedar')}:1:27: error: unexpected token \`resource\`.* \\(and 1 more\\)$`,
      ),
    );
    expect(results.policies?.detail).not.toContain('\n');
  });

  it('reads cdk.json context with mcp-identity.config.json merged over it, as the CDK app does', async () => {
    const cdkJson = scratch(
      'cdk.json',
      JSON.stringify({
        context: {
          mcpIdentity: {
            identity: {
              issuer: 'https://old.example.com',
              discoveryUrl: 'https://old.example.com/x',
              audience: ['a'],
            },
            authorization: { policyDir: join(ROOT, 'policies') },
          },
        },
      }),
    );
    writeFileSync(
      join(cdkJson, '..', 'mcp-identity.config.json'),
      JSON.stringify({
        identity: { issuer: idp.url, discoveryUrl: `${idp.url}/.well-known/openid-configuration` },
        audit: { store: 'cloudwatch' },
      }),
    );

    const results = await doctor({ configFile: cdkJson });

    expect(results.configuration).toMatchObject({ status: 'pass' });
    expect(results.configuration?.detail).toBe(
      `cdk.json context mcpIdentity + mcp-identity.config.json: issuer ${idp.url}, AgentCore, audit store cloudwatch`,
    );
    expect(results['CloudTrail Lake']).toMatchObject({ status: 'skip' });
  });

  it('reads what init wrote in a new CDK project whose cdk.json has no context yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'doctor-init-'));
    writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app: 'npx ts-node bin/app.ts' }));
    let said = '';
    const wrote = await runInit(
      {
        idp: 'okta',
        target: [],
        demo: true,
        file: CONFIG_FILE,
        force: false,
        print: false,
        fields: { domain: 'dev-1.okta.com', audience: 'api://default' },
      },
      {
        projectDir: dir,
        stdout: (text) => {
          said += text;
        },
        stderr: () => undefined,
      },
    );

    const results = await doctor({ configFile: join(dir, 'cdk.json'), offline: true });

    expect(wrote).toBe(0);
    expect(said).toContain('cdk.json sets no mcpIdentity context: this file is the whole configuration.');
    expect(results.configuration).toMatchObject({
      status: 'pass',
      detail:
        'mcp-identity.config.json: issuer https://dev-1.okta.com/oauth2/default, AgentCore, audit store cloudwatch',
    });
  });

  it('takes any file with an app key as a cdk.json, whatever its name', async () => {
    const cdkJson = scratch('cdk.staging.json', JSON.stringify({ app: 'npx ts-node bin/app.ts' }));
    writeFileSync(join(cdkJson, '..', CONFIG_FILE), readFileSync(configFile(), 'utf8'));

    const results = await doctor({ configFile: cdkJson });

    expect(results.configuration).toMatchObject({ status: 'pass' });
    expect(results.configuration?.detail).toMatch(/^mcp-identity\.config\.json: issuer /);
  });

  it('names the configuration file and key when the merged configuration is invalid', async () => {
    const cdkJson = scratch('cdk.json', JSON.stringify({ context: {} }));
    writeFileSync(
      join(cdkJson, '..', 'mcp-identity.config.json'),
      JSON.stringify({ identity: { issuer: 'x' } }),
    );

    const results = await doctor({ configFile: cdkJson });

    expect(results.configuration?.status).toBe('fail');
    expect(results.configuration?.detail).toContain(
      'mcp-identity.config.json: identity.audience: is required',
    );
  });

  it('fails the bootstrap check with the bootstrap command when there is no CDKToolkit stack', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Stack with id CDKToolkit does not exist'), {
        name: 'ValidationError',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    const results = await doctor();

    expect(results['CDK bootstrap']).toEqual({
      check: 'CDK bootstrap',
      status: 'fail',
      detail: 'no CDKToolkit stack in eu-west-1',
      fix: 'npx cdk bootstrap aws://<account>/eu-west-1',
    });
  });

  it('fails Verified Permissions with what AWS answered (access denied)', async () => {
    verifiedPermissions.on(ListPolicyStoresCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: verifiedpermissions:ListPolicyStores'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 403 },
      }),
    );

    const results = await doctor();

    expect(results['Verified Permissions']).toMatchObject({
      status: 'fail',
      detail:
        'AWS answered AccessDeniedException (HTTP 403): User is not authorized to perform: verifiedpermissions:ListPolicyStores',
    });
  });

  it('fails AgentCore with the service’s answer, and as unavailable when the Region has no endpoint', async () => {
    idp.agentCore = { status: 403, type: 'AccessDeniedException' };
    const denied = await doctor();
    // What fetch throws when the Region's endpoint name does not resolve (no DNS query leaves the test).
    const unresolved = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }),
    });
    const nowhere = await doctor({
      agentCoreEndpoint: 'https://bedrock-agentcore-control.eu-west-1.amazonaws.com',
      fetch: async () => {
        throw unresolved;
      },
    });

    expect(denied.AgentCore).toMatchObject({
      status: 'fail',
      detail:
        'AgentCore answered AccessDeniedException (HTTP 403): User is not authorized to perform: bedrock-agentcore:ListGateways',
      fix: 'check the credentials can call bedrock-agentcore:ListGateways',
    });
    expect(nowhere.AgentCore).toMatchObject({
      status: 'fail',
      detail:
        'no AgentCore endpoint in eu-west-1 (bedrock-agentcore-control.eu-west-1.amazonaws.com does not resolve)',
      fix: expect.stringContaining('Region that offers Amazon Bedrock AgentCore'),
    });
  });

  it('recommends the cloudwatch store when CloudTrail Lake cannot be used, and skips Lake when it is not used', async () => {
    cloudTrail.on(ListEventDataStoresCommand).rejects(
      Object.assign(new Error('This operation is not permitted'), {
        name: 'OperationNotPermittedException',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    const lake = await doctor();
    const cloudwatch = await doctor({ configFile: configFile({ audit: { store: 'cloudwatch' } }) });

    expect(lake['CloudTrail Lake']).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('OperationNotPermittedException'),
      fix: 'set "audit": { "store": "cloudwatch" } in the configuration',
    });
    expect(cloudwatch['CloudTrail Lake']).toMatchObject({
      status: 'skip',
      detail: 'not used: audit.store is "cloudwatch"',
    });
    expect(cloudTrail).toHaveReceivedCommandTimes(ListEventDataStoresCommand, 1);
  });

  it('fails the discovery check when its issuer differs from the configuration’s, showing both', async () => {
    idp.discoveryIssuer = `${idp.url}/`;

    const results = await doctor();

    expect(results['discovery document']).toMatchObject({
      status: 'fail',
      detail: `its issuer is "${idp.url}/", the configuration says "${idp.url}"`,
    });
  });

  it('fails the credentials check and skips the AWS checks when there are none', async () => {
    const results = await doctor({
      aws: async () => {
        throw new Error('no usable AWS credentials (Could not load credentials from any providers)');
      },
    });

    expect(results['region and credentials']?.status).toBe('fail');
    for (const check of ['CDK bootstrap', 'Verified Permissions', 'AgentCore', 'CloudTrail Lake'])
      expect(results[check]).toMatchObject({ status: 'skip', detail: 'needs region and credentials' });
    expect(cloudFormation).not.toHaveReceivedAnyCommand();
  });

  it('lists every problem of a sample token against the configuration, without printing it', async () => {
    const { path, token } = await tokenFile({ aud: 'https://other.example.com', groups: ['staff'] }, 'RS384');

    const results = await doctor({ tokenFile: path });

    const detail = results['sample token']?.detail ?? '';
    expect(results['sample token']?.status).toBe('fail');
    expect(detail).toContain('alg "RS384" is not one of RS256, ES256');
    expect(detail).toContain('aud https://other.example.com is not one of https://mcp.example.com/mcp');
    expect(detail).toContain('claim groups does not satisfy CONTAINS mcp-users');
    expect(detail).toContain('maps to alice with roles [developer, db-reader]');
    expect(JSON.stringify(results)).not.toContain(token.split('.')[1]);
  });

  it.each([
    ['a list holding a non-string', { groups: ['mcp-users', 1] }],
    ['a string where a list is required', { groups: 'mcp-users' }],
  ])('judges required claims exactly as the guard’s verifier does: refuses %s', async (_name, claims) => {
    const { path } = await tokenFile(claims);

    const results = await doctor({ tokenFile: path });

    expect(results['sample token']?.status).toBe('fail');
    expect(results['sample token']?.detail).toContain('claim groups does not satisfy CONTAINS mcp-users');
  });

  it('checks the client named by the configured agent claims (first present wins), as the guard does', async () => {
    const { path } = await tokenFile({ client_id: undefined, cid: 'claude-desktop' });
    const config = (agent: string[]) =>
      configFile({
        identity: {
          issuer: idp.url,
          discoveryUrl: `${idp.url}/.well-known/openid-configuration`,
          audience: ['https://mcp.example.com/mcp'],
          allowedClients: ['claude-desktop'],
          claims: { agent },
        },
      });

    const okta = await doctor({ tokenFile: path, configFile: config(['cid']) });
    const defaults = await doctor({ tokenFile: path, configFile: config(['client_id', 'azp']) });

    expect(okta['sample token']?.status).toBe('pass');
    expect(defaults['sample token']?.detail).toContain('the client (none) is not in identity.allowedClients');
  });

  it('fails a token whose signature does not verify with the issuer’s keys', async () => {
    const { token } = await tokenFile();
    const [header, payload] = token.split('.');
    const forged = scratch(
      'forged.jwt',
      `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`,
    );

    const results = await doctor({ tokenFile: forged });

    expect(results['sample token']?.status).toBe('fail');
    expect(results['sample token']?.detail).toMatch(/^the signature does not verify: /);
  });

  it('formats ✓/✗/– with each fix and a summary naming the skipped checks', () => {
    const lines = formatResults([
      { check: 'configuration', status: 'pass', detail: 'ok' },
      { check: 'AgentCore', status: 'fail', detail: 'no', fix: 'do this' },
      { check: 'sample token', status: 'skip', detail: 'no --token-file' },
    ]);

    expect(lines).toEqual([
      '✓ configuration  ok',
      '✗ AgentCore      no',
      '                 fix: do this',
      '– sample token   no --token-file',
      '',
      '1 passed, 1 failed, 1 skipped (sample token)',
    ]);
  });
});

describe('mcp-identity doctor --offline (the command)', () => {
  it('checks configuration and token without the network, says which checks it skipped, and exits 0', async () => {
    const { path, token } = await tokenFile();
    const { env } = awsFreeEnv();

    const result = await cliAsync(
      ['doctor', '--offline', '--config', configFile(), '--token-file', path],
      env,
    );

    expect(result.stdout).toMatch(/^✓ configuration {10}/m);
    expect(result.stdout).toMatch(/^– region and credentials {2}offline$/m);
    expect(result.stdout).toMatch(/^– discovery document {6}offline$/m);
    expect(result.stdout).toContain('signature not checked (offline)');
    expect(result.stdout).toContain(
      '3 passed, 0 failed, 6 skipped (region and credentials, CDK bootstrap, Verified Permissions, AgentCore, CloudTrail Lake, discovery document)',
    );
    expect(result.stdout + result.stderr).not.toContain(token.split('.')[1]);
    expect(result.status).toBe(0);
  });

  it('exits 1 when a check fails (a token for another audience)', async () => {
    const { path } = await tokenFile({ aud: 'someone-else' });
    const { env } = awsFreeEnv();

    const result = await cliAsync(
      ['doctor', '--offline', '--config', configFile(), '--token-file', path],
      env,
    );

    expect(result.stdout).toMatch(/^✗ sample token {12}aud someone-else is not one of/m);
    expect(result.status).toBe(1);
  });
});
