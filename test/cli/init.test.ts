import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InitOptions, runInit } from '../../cli/init';
import type { IdpId } from '../../cli/init-presets';
import { TARGET_FIELDS, targetFromAnswers } from '../../cli/init-targets';
import { CONFIG_FILE, loadProjectConfig } from '../../lib/config-source';
import { targetListSchema } from '../../lib/target-config';
import { scriptedPrompter } from '../helpers/scripted-prompter';
import { cli, ROOT } from './helpers';

/**
 * Issue 14 #1: `mcp-identity init`. Each provider preset, from flags, writes a file that the CDK app's own loader
 * accepts merged over the repository's cdk.json; scripted answers drive the questions; bad usage is exit 2 with
 * the flags named; an existing file is kept without --force.
 */

const CDK_JSON = readFileSync(join(ROOT, 'cdk.json'), 'utf8');

/** A project folder with the repository's cdk.json, another one, or none (null). */
function project(cdkJson: string | null = CDK_JSON): string {
  const dir = mkdtempSync(join(tmpdir(), 'init-'));
  if (cdkJson !== null) writeFileSync(join(dir, 'cdk.json'), cdkJson);
  return dir;
}

const options = (overrides: Partial<InitOptions> = {}): InitOptions => ({
  target: [],
  demo: true,
  file: CONFIG_FILE,
  force: false,
  print: false,
  fields: {},
  ...overrides,
});

async function init(
  dir: string,
  overrides: Partial<InitOptions>,
  prompter?: ReturnType<typeof scriptedPrompter>,
) {
  let stdout = '';
  let stderr = '';
  const code = await runInit(options(overrides), {
    projectDir: dir,
    ...(prompter === undefined ? {} : { prompter: prompter.prompter }),
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

const written = (dir: string) => JSON.parse(readFileSync(join(dir, CONFIG_FILE), 'utf8'));

/** Sample answers per provider, and what the identity configuration must then say. */
const PRESET_CASES: ReadonlyArray<{
  idp: IdpId;
  fields: Record<string, string>;
  identity: Record<string, unknown>;
}> = [
  {
    idp: 'cognito',
    fields: {
      region: 'eu-west-1',
      userPoolId: 'eu-west-1_AbCdEf123',
      clientId: '1example23456789, 2example',
      audience: 'https://mcp.example.com/mcp',
    },
    identity: {
      issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
      discoveryUrl:
        'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/openid-configuration',
      audience: ['https://mcp.example.com/mcp'],
      allowedClients: ['1example23456789', '2example'],
      requiredClaims: [{ name: 'token_use', match: 'EQUALS', values: ['access'] }],
      claims: expect.objectContaining({ subject: 'sub', roles: 'cognito:groups', agent: ['client_id'] }),
    },
  },
  {
    idp: 'cognito',
    fields: { region: 'us-east-1', userPoolId: 'us-east-1_Xy9', clientId: 'abc123', tokenUse: 'id' },
    identity: {
      issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Xy9',
      audience: ['abc123'],
      requiredClaims: [{ name: 'token_use', match: 'EQUALS', values: ['id'] }],
      claims: expect.objectContaining({ username: ['cognito:username'], agent: ['aud'] }),
    },
  },
  {
    idp: 'okta',
    fields: { domain: 'https://dev-123456.okta.com/' },
    identity: {
      issuer: 'https://dev-123456.okta.com/oauth2/default',
      discoveryUrl: 'https://dev-123456.okta.com/oauth2/default/.well-known/openid-configuration',
      audience: ['api://default'],
      claims: expect.objectContaining({ subject: 'uid', roles: 'groups', agent: ['cid'], username: ['sub'] }),
    },
  },
  {
    idp: 'entra',
    fields: {
      tenantId: '72F988BF-86F1-41AF-91AB-2D7CD011DB47',
      audience: '11111111-2222-3333-4444-555555555555',
    },
    identity: {
      issuer: 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
      discoveryUrl:
        'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/.well-known/openid-configuration',
      audience: ['11111111-2222-3333-4444-555555555555'],
      requiredClaims: [{ name: 'idtyp', match: 'EQUALS', values: ['user'] }],
      claims: expect.objectContaining({ subject: 'oid', roles: 'roles', agent: ['azp'] }),
    },
  },
  {
    idp: 'auth0',
    fields: { domain: 'example.eu.auth0.com', audience: 'https://mcp.example.com' },
    identity: {
      issuer: 'https://example.eu.auth0.com/',
      discoveryUrl: 'https://example.eu.auth0.com/.well-known/openid-configuration',
      audience: ['https://mcp.example.com'],
      claims: expect.objectContaining({ roles: 'https://mcp.example.com/roles', agent: ['azp'] }),
    },
  },
  {
    idp: 'keycloak',
    fields: { url: 'https://kc.example.com/', realm: 'acme', audience: 'mcp-gateway' },
    identity: {
      issuer: 'https://kc.example.com/realms/acme',
      discoveryUrl: 'https://kc.example.com/realms/acme/.well-known/openid-configuration',
      audience: ['mcp-gateway'],
      claims: expect.objectContaining({ roles: 'realm_access.roles', agent: ['azp'] }),
    },
  },
  {
    idp: 'teleport',
    fields: { proxy: 'teleport.example.com:443', audience: 'https://mcp-gateway.internal' },
    identity: {
      issuer: 'teleport.example.com',
      discoveryUrl: 'https://teleport.example.com:443/.well-known/openid-configuration',
      jwksUri: 'https://teleport.example.com:443/.well-known/jwks.json',
      audience: ['https://mcp-gateway.internal'],
      claims: expect.objectContaining({ subject: 'sub', roles: 'roles', username: ['username'] }),
    },
  },
  {
    idp: 'oidc',
    fields: { issuer: 'https://idp.example.com/', audience: 'mcp', rolesClaim: 'groups' },
    identity: {
      issuer: 'https://idp.example.com/',
      discoveryUrl: 'https://idp.example.com/.well-known/openid-configuration',
      claims: expect.objectContaining({ roles: 'groups' }),
    },
  },
];

describe('init from flags: each identity provider preset', () => {
  it.each(PRESET_CASES)('$idp writes a configuration the CDK app loads over cdk.json', async (preset) => {
    const dir = project();

    const result = await init(dir, { idp: preset.idp, fields: preset.fields });

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`Wrote ${CONFIG_FILE}`);
    expect(result.stdout).toContain('npx mcp-identity doctor');
    expect(written(dir).identity).toMatchObject(preset.identity);
    const { config, sources } = loadProjectConfig(join(dir, 'cdk.json'), {});
    expect(sources).toEqual(['cdk.json context mcpIdentity', CONFIG_FILE]);
    expect(config.identity).toMatchObject(preset.identity);
    expect(config.audit.store).toBe('cloudwatch');
    expect(config.gateway.targets.map((target) => target.name)).toEqual(['orders']);
  });

  it('takes the subject and roles claims from flags over the preset', async () => {
    const dir = project();
    await init(dir, {
      idp: 'entra',
      fields: { ...PRESET_CASES[3]?.fields, subjectClaim: 'sub', rolesClaim: 'groups' },
    });
    expect(written(dir).identity.claims).toMatchObject({ subject: 'sub', roles: 'groups' });
  });
});

describe('init from flags: machine (app-only) tokens', () => {
  const entra = PRESET_CASES.find((preset) => preset.idp === 'entra')?.fields ?? {};

  it('entra refuses app-only tokens at the gateway by default (idtyp EQUALS user) and says to enable idtyp', async () => {
    const dir = project();

    const result = await init(dir, { idp: 'entra', fields: entra });

    expect(written(dir).identity.requiredClaims).toEqual([
      { name: 'idtyp', match: 'EQUALS', values: ['user'] },
    ]);
    expect(result.stdout).toContain('add the optional claim idtyp to access tokens');
    expect(result.stdout).toContain('--app-tokens allow drops the check');
  });

  it('entra --app-tokens allow writes no claim check and removes one cdk.json had', async () => {
    const context = JSON.parse(CDK_JSON);
    context.context.mcpIdentity.identity.requiredClaims = [
      { name: 'idtyp', match: 'EQUALS', values: ['user'] },
    ];
    const dir = project(JSON.stringify(context));

    const result = await init(dir, { idp: 'entra', fields: { ...entra, appTokens: 'allow' } });

    expect(result.code).toBe(0);
    expect(written(dir).identity.requiredClaims).toBeNull();
    expect(loadProjectConfig(join(dir, 'cdk.json'), {}).config.identity.requiredClaims).toEqual([]);
    expect(result.stdout).toContain('app-only tokens pass the gateway (--app-tokens allow)');
  });

  it('refuses --app-tokens values other than refuse and allow, and the flag for other providers', async () => {
    const bad = await init(project(), { idp: 'entra', fields: { ...entra, appTokens: 'no' } });
    const other = await init(project(), {
      idp: 'okta',
      fields: { domain: 'dev-1.okta.com', appTokens: 'allow' },
    });

    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--app-tokens must be one of refuse, allow');
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('--app-tokens does not apply to --idp okta');
  });
});

describe('init from flags: refusals', () => {
  it('names every missing flag for the provider, writes nothing and exits 2', async () => {
    const dir = project();

    const result = await init(dir, { idp: 'cognito', fields: { region: 'eu-west-1' } });

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'npx mcp-identity init: missing --user-pool-id, --client-id, --audience for --idp cognito (run npx mcp-identity init in a terminal to be asked, or see npx mcp-identity init --help)\n',
    );
    expect(() => written(dir)).toThrow(/ENOENT/);
  });

  it('asks for --idp first', async () => {
    const result = await init(project(), {});
    expect(result).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('missing --idp <cognito|okta|'),
    });
  });

  it.each([
    [
      { region: 'eu-west-1', userPoolId: 'us-east-1_abc', clientId: 'a', audience: 'https://x.example.com' },
      '--user-pool-id belongs to us-east-1, not to the Region eu-west-1',
    ],
    [
      { region: 'eu-west-1', userPoolId: 'eu-west-1_abc', clientId: 'a', audience: 'http://x.example.com' },
      '--audience must be an https:// URL',
    ],
    [
      {
        region: 'eu-west-1',
        userPoolId: 'eu-west-1_abc',
        clientId: 'a',
        tokenUse: 'id',
        audience: 'https://x.example.com',
      },
      '--audience does not apply with --token-use id',
    ],
    [
      { region: 'eu-west-1', userPoolId: 'eu-west-1_abc', clientId: 'a', tokenUse: 'refresh' },
      '--token-use must be one of access, id',
    ],
    [
      {
        region: 'eu-west-1',
        userPoolId: 'eu-west-1_abc',
        clientId: 'a',
        audience: 'https://x.example.com',
        tenantId: 'x',
      },
      '--tenant-id does not apply to --idp cognito',
    ],
    [
      { region: 'EU west', userPoolId: 'eu-west-1_abc', clientId: 'a', audience: 'https://x.example.com' },
      '--region an AWS Region such as eu-west-1',
    ],
  ])('refuses bad cognito answers %#, naming the flag', async (fields, message) => {
    const dir = project();
    const result = await init(dir, { idp: 'cognito', fields });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(() => written(dir)).toThrow(/ENOENT/);
  });

  it.each([
    [
      'entra',
      { tenantId: 'common', audience: '11111111-2222-3333-4444-555555555555' },
      '--tenant-id the directory (tenant) id GUID',
    ],
    [
      'entra',
      { tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47', audience: 'api://my-api' },
      'not the api:// App ID URI',
    ],
    ['okta', { domain: 'dev-1.okta.com/oauth2/default' }, '--domain a host name'],
    [
      'keycloak',
      { url: 'http://kc.example.com', realm: 'acme', audience: 'x' },
      '--url must be an https:// URL',
    ],
    [
      'oidc',
      { issuer: 'https://idp.example.com?x=1', audience: 'x' },
      '--issuer must have no query or fragment',
    ],
    ['oidc', { issuer: 'https://idp.example.com', audience: 'a b' }, '--audience must not contain spaces'],
    [
      'oidc',
      { issuer: 'https://idp.example.com', audience: '\u0015api://x' },
      '--audience must not contain control characters',
    ],
    [
      'okta',
      { domain: 'dev-1.okta.com', rolesClaim: 'groups\u001b[A' },
      '--roles-claim must not contain control characters',
    ],
  ] as const)('refuses bad %s answers, naming the flag', async (idp, fields, message) => {
    const result = await init(project(), { idp, fields });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('refuses a --target that is not JSON or that the target schema refuses, naming which', async () => {
    const okta = { idp: 'okta', fields: { domain: 'dev-1.okta.com' } } as const;
    expect((await init(project(), { ...okta, target: ['{kind:'] })).stderr).toBe(
      'npx mcp-identity init: --target #1 is not JSON (line 1, column 2)\n',
    );
    expect((await init(project(), { ...okta, target: ['[]'] })).stderr).toContain(
      '--target #1 must be one JSON object',
    );
    const refused = await init(project(), {
      ...okta,
      target: [
        '{"kind":"mcpServer","name":"crm","endpoint":"https://crm.example.com/mcp","outboundAuth":{"type":"none"}}',
        '{"kind":"mcpServer","name":"x_y","endpoint":"http://a"}',
      ],
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--target #2: name: letters, digits and single hyphens');
    expect(refused.stderr).toContain('endpoint: must be an https:// URL');
  });

  it('keeps an existing file without --force (exit 1), and replaces it with --force', async () => {
    const dir = project();
    writeFileSync(join(dir, CONFIG_FILE), '{"audit":{"store":"cloudtrail-lake"}}');
    const okta = { idp: 'okta', fields: { domain: 'dev-1.okta.com' } } as const;

    const kept = await init(dir, okta);
    expect(kept).toMatchObject({
      code: 1,
      stderr: expect.stringContaining(`${CONFIG_FILE} exists: pass --force`),
    });
    expect(written(dir)).toEqual({ audit: { store: 'cloudtrail-lake' } });

    expect((await init(dir, { ...okta, force: true })).code).toBe(0);
    expect(written(dir).audit.store).toBe('cloudwatch');
  });

  it('names the file and key when the merged configuration is invalid (cdk.json sets what the new file cannot fix)', async () => {
    const context = JSON.parse(CDK_JSON);
    context.context.mcpIdentity.authorization.mode = 'shadow';
    const dir = project(JSON.stringify(context));

    const result = await init(dir, { idp: 'okta', fields: { domain: 'dev-1.okta.com' } });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cdk.json context mcpIdentity: authorization.mode: Invalid option');
    expect(() => written(dir)).toThrow(/ENOENT/);
  });
});

describe('init output', () => {
  it('--print writes the configuration to stdout and the summary to stderr, and no file', async () => {
    const dir = project();

    const result = await init(dir, {
      idp: 'okta',
      fields: { domain: 'dev-1.okta.com' },
      print: true,
      demo: false,
    });

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      identity: { issuer: 'https://dev-1.okta.com/oauth2/default' },
      gateway: { targets: [] },
    });
    expect(result.stderr).toContain('Note — Okta: add a "groups" claim');
    expect(() => written(dir)).toThrow(/ENOENT/);
  });

  it('removes identity keys cdk.json sets for another provider (null), and an old demoTarget', async () => {
    const context = JSON.parse(CDK_JSON);
    Object.assign(context.context.mcpIdentity.identity, {
      jwksUri: 'https://old.example.com/keys',
      allowedClients: ['old-client'],
    });
    context.context.mcpIdentity.gateway = { name: 'mcp-identity', demoTarget: true };
    const dir = project(JSON.stringify(context));

    expect((await init(dir, { idp: 'okta', fields: { domain: 'dev-1.okta.com' } })).code).toBe(0);

    expect(written(dir).identity).toMatchObject({ jwksUri: null, allowedClients: null });
    expect(written(dir).gateway.demoTarget).toBeNull();
    const { config } = loadProjectConfig(join(dir, 'cdk.json'), {});
    expect(config.identity.jwksUri).toBeUndefined();
    expect(config.identity.allowedClients).toBeUndefined();
    expect(config.gateway.name).toBe('mcp-identity');
  });

  it('writes where --file says and tells how to point the app at it', async () => {
    const dir = project();
    const result = await init(dir, {
      idp: 'okta',
      fields: { domain: 'dev-1.okta.com' },
      file: 'staging.json',
    });
    expect(result.stdout).toContain('MCP_IDENTITY_CONFIG=staging.json npx cdk deploy');
    expect(
      loadProjectConfig(join(dir, 'cdk.json'), { MCP_IDENTITY_CONFIG: 'staging.json' }).config.audit.store,
    ).toBe('cloudwatch');
  });

  it('refuses a folder as --file, naming it as given (. for the project folder), and writes nothing', async () => {
    const dir = project();
    mkdirSync(join(dir, 'config'));
    const okta = { idp: 'okta', fields: { domain: 'dev-1.okta.com' }, force: true } as const;

    const here = await init(dir, { ...okta, file: '.' });
    const sub = await init(dir, { ...okta, file: 'config' });

    expect(here.code).toBe(2);
    expect(here.stderr).toBe(
      `npx mcp-identity init: --file . is a folder: give the configuration file to write, e.g. --file ${CONFIG_FILE} (or leave --file out for ${CONFIG_FILE} in the project folder)\n`,
    );
    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain(
      `--file config is a folder: give the configuration file to write, e.g. --file ${join('config', CONFIG_FILE)}`,
    );
    expect(readdirSync(dir).sort()).toEqual(['cdk.json', 'config']);
    expect(readdirSync(join(dir, 'config'))).toEqual([]);
  });

  it('works in a folder without cdk.json, and says to run it where cdk.json is', async () => {
    const dir = project(null);
    const result = await init(dir, { idp: 'okta', fields: { domain: 'dev-1.okta.com' } });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('No cdk.json here');
  });
});

describe('init on a terminal (scripted answers through the prompt port)', () => {
  it('asks the provider, claims, store and targets, re-asking a target the schema refuses', async () => {
    const dir = project();
    const script = scriptedPrompter({
      idp: 'keycloak',
      url: 'https://kc.example.com',
      realm: 'acme',
      audience: 'mcp-gateway',
      subjectClaim: '',
      rolesClaim: 'resource_access.mcp-gateway.roles',
      auditStore: '',
      demo: false,
      'target.kind': ['mcpServer', 'mcpServer', 'apiGateway', 'done'],
      'target.name': ['crm', 'docs', 'pets'],
      'target.endpoint': ['https://crm.example.com/mcp', 'https://docs.example.com/mcp'],
      'target.auth': ['oauth', 'none', 'iam'],
      'target.providerArn': ['not-an-arn'],
      'target.secretArn': ['arn:aws:secretsmanager:eu-west-1:123456789012:secret:crm-AbCdEf'],
      'target.scopes': ['read'],
      'target.restApiId': ['a1b2c3d4e5'],
      'target.stage': [''],
      'target.path': ['/pets/*'],
      'target.methods': ['get,post'],
    });

    const result = await init(dir, {}, script);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(script.said.some((line) => line.includes('✗ not added: outboundAuth.providerArn: must be'))).toBe(
      true,
    );
    const file = written(dir);
    expect(file.identity).toMatchObject({
      issuer: 'https://kc.example.com/realms/acme',
      claims: { subject: 'sub', roles: 'resource_access.mcp-gateway.roles' },
    });
    expect(file.audit.store).toBe('cloudwatch');
    expect(file.gateway.targets).toEqual([
      {
        kind: 'mcpServer',
        name: 'docs',
        endpoint: 'https://docs.example.com/mcp',
        outboundAuth: { type: 'none' },
      },
      {
        kind: 'apiGateway',
        name: 'pets',
        restApiId: 'a1b2c3d4e5',
        stage: 'prod',
        toolFilters: [{ path: '/pets/*', methods: ['GET', 'POST'] }],
        outboundAuth: { type: 'iam' },
      },
    ]);
    expect(loadProjectConfig(join(dir, 'cdk.json'), {}).config.gateway.targets).toHaveLength(2);
  });

  it('does not ask what flags answered, and keeps the demo target when confirmed', async () => {
    const dir = project();
    const script = scriptedPrompter({
      audience: '',
      subjectClaim: '',
      rolesClaim: '',
      demo: true,
      'target.kind': 'done',
    });

    const result = await init(
      dir,
      {
        idp: 'okta',
        auditStore: 'cloudtrail-lake',
        fields: { domain: 'dev-1.okta.com', authServer: 'default' },
      },
      script,
    );

    expect(result.code).toBe(0);
    expect(script.asked).toEqual(['audience', 'subjectClaim', 'rolesClaim', 'demo', 'target.kind']);
    expect(written(dir)).toMatchObject({
      audit: { store: 'cloudtrail-lake' },
      gateway: { targets: [{ kind: 'demo' }] },
    });
  });

  it('refuses a second target with a name already taken, whatever its case', async () => {
    const script = scriptedPrompter({
      idp: 'okta',
      domain: 'dev-1.okta.com',
      authServer: '',
      audience: '',
      subjectClaim: '',
      rolesClaim: '',
      auditStore: '',
      demo: true,
      'target.kind': ['mcpServer'],
      'target.name': ['Orders'],
    });
    await expect(init(project(), {}, script)).rejects.toThrow('refused: a target is already named Orders');
  });
});

describe('the real CLI', () => {
  it('without a terminal, names the missing flags and exits 2', () => {
    const result = cli(['init', '--idp', 'auth0', '--domain', 'example.eu.auth0.com']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('missing --audience, --roles-claim for --idp auth0');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('--help lists examples and exit codes', () => {
    const result = cli(['init', '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Examples:');
    expect(result.stdout).toContain('npx mcp-identity init --idp okta');
    expect(result.stdout).toContain('Exit codes: 0 written, 2 bad usage');
  });
});

/**
 * Drives the real CLI through a pseudo-terminal (util-linux `script` allocates one), answering each prompt when
 * its text appears, as a person typing would.
 */
function onTerminal(
  dir: string,
  args: readonly string[],
  answers: ReadonlyArray<readonly [prompt: string, keys: string]>,
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, join(ROOT, 'bin', 'mcp-identity.js'), ...args]
    .map((part) => `'${part.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: dir,
    env: { ...process.env, TERM: 'dumb' },
  });
  const pending = [...answers];
  let output = '';
  // Each prompt is looked for after the previous one's match: a prompt shown again (after a refused answer)
  // is a new step.
  let searchFrom = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (;;) {
      const [prompt, keys] = pending[0] ?? [];
      const at = prompt === undefined ? -1 : output.indexOf(prompt, searchFrom);
      if (at < 0 || keys === undefined) break;
      pending.shift();
      searchFrom = at + (prompt?.length ?? 0);
      setTimeout(() => child.stdin.write(keys), 50);
    }
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill(), 50_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('init in a pseudo-terminal', () => {
  it('asks what the flags left out, clears and re-asks a refused answer, takes typed answers and defaults', async () => {
    const dir = project();

    const result = await onTerminal(
      dir,
      ['init', '--idp', 'okta', '--domain', 'dev-1.okta.com', '--audit-store', 'cloudwatch', '--no-demo'],
      [
        ['Custom authorization server id', 'bad id\r'],
        ['an authorization server id (letters and digits)', '\r'],
        ['Audience of the', 'api://mcp-gateway\r'],
        ['stable user id', '\r'],
        ['roles or groups', '\r'],
        ['Add a gateway target', '\r'],
      ],
    );

    expect(result.output).toContain(`Wrote ${CONFIG_FILE}`);
    expect(result.code).toBe(0);
    expect(written(dir)).toMatchObject({
      identity: { issuer: 'https://dev-1.okta.com/oauth2/default', audience: ['api://mcp-gateway'] },
      gateway: { targets: [] },
    });
  }, 60_000);

  it('asks nothing with --no-input: a missing flag is a usage error, even on a terminal', async () => {
    const dir = project();

    const result = await onTerminal(dir, ['init', '--no-input', '--idp', 'okta'], []);

    expect(result.code).toBe(2);
    expect(result.output).toContain('missing --domain for --idp okta');
    expect(() => written(dir)).toThrow(/ENOENT/);
  }, 60_000);

  it('writes nothing and exits 1 when the user presses Ctrl-C', async () => {
    const dir = project();

    const result = await onTerminal(dir, ['init'], [['Identity provider', '\u0003']]);

    expect(result.code).toBe(1);
    expect(result.output).toContain('cancelled: nothing was written');
    expect(() => written(dir)).toThrow(/ENOENT/);
  }, 60_000);
});

describe('cdk synth on an init-written configuration', () => {
  it('synthesizes the Cognito preset through the CDK CLI, with the file named by MCP_IDENTITY_CONFIG', async () => {
    const dir = project();
    await init(dir, {
      idp: 'cognito',
      fields: PRESET_CASES[0]?.fields ?? {},
      target: [
        '{"kind":"mcpServer","name":"crm","endpoint":"https://crm.example.com/mcp","outboundAuth":{"type":"none"}}',
      ],
    });
    const out = mkdtempSync(join(tmpdir(), 'init-synth-'));

    const result = spawnSync('npx', ['cdk', 'synth', '--quiet', '--output', out], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 170_000,
      env: { ...process.env, MCP_IDENTITY_CONFIG: join(dir, CONFIG_FILE) },
    });

    expect(result.stderr).not.toMatch(/invalid mcp-identity configuration|^\s+at /m);
    expect(result.status).toBe(0);
    const template = JSON.parse(readFileSync(join(out, 'McpIdentity.template.json'), 'utf8'));
    const gateway = Object.values(
      template.Resources as Record<string, { Type: string; Properties: any }>,
    ).find((resource) => resource.Type === 'AWS::BedrockAgentCore::Gateway');
    expect(gateway?.Properties.AuthorizerConfiguration.CustomJWTAuthorizer).toMatchObject({
      DiscoveryUrl:
        'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/openid-configuration',
      AllowedAudience: ['https://mcp.example.com/mcp'],
      AllowedClients: ['1example23456789', '2example'],
    });
  }, 180_000);
});

describe('init target questions', () => {
  const ARN = {
    fn: 'arn:aws:lambda:eu-west-1:123456789012:function:crm-tools',
    oauth:
      'arn:aws:bedrock-agentcore:eu-west-1:123456789012:token-vault/default/oauth2credentialprovider/crm',
    apiKey:
      'arn:aws:bedrock-agentcore:eu-west-1:123456789012:token-vault/default/apikeycredentialprovider/pets',
    secret: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:crm-AbCdEf',
  };
  it.each([
    ['lambda', { name: 'crm', functionArn: ARN.fn, tools: 'tools/crm.json' }],
    [
      'mcpServer',
      { name: 'crm', endpoint: 'https://crm.example.com/mcp', auth: 'iam', service: 'bedrock-agentcore' },
    ],
    [
      'mcpServer',
      {
        name: 'crm',
        endpoint: 'https://crm.example.com/mcp',
        auth: 'oauth',
        providerArn: ARN.oauth,
        secretArn: ARN.secret,
        scopes: 'a, b',
      },
    ],
    [
      'openApi',
      {
        name: 'pets',
        spec: 's3://bucket/pets.json',
        auth: 'apiKey',
        providerArn: ARN.apiKey,
        secretArn: ARN.secret,
      },
    ],
    ['smithy', { name: 'dynamo', model: 'models/dynamodb.json', auth: 'iam' }],
    [
      'apiGateway',
      { name: 'shop', restApiId: 'a1b2c3d4e5', stage: 'prod', path: '/*', methods: 'get', auth: 'none' },
    ],
  ] as const)('makes a %s target the target schema accepts (%#)', (kind, answers) => {
    const target = targetFromAnswers(kind, answers);
    const parsed = targetListSchema.safeParse([target]);
    expect(parsed.error?.issues ?? []).toEqual([]);
  });

  it('asks the SigV4 signing name only where the kind takes one', () => {
    const service = TARGET_FIELDS.smithy.find((field) => field.id === 'service');
    expect(service?.when?.({ kind: 'smithy', auth: 'iam' })).toBe(false);
    const mcp = TARGET_FIELDS.mcpServer.find((field) => field.id === 'service');
    expect(mcp?.when?.({ kind: 'mcpServer', auth: 'iam' })).toBe(true);
  });
});
