import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { parseStackConfig } from '../../lib/config';
import { McpIdentityStack } from '../../lib/mcp-identity-stack';

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context.mcpIdentity;
const ACCOUNT = '123456789012';
const ENV = { account: ACCOUNT, region: 'eu-west-1' };

const OAUTH_PROVIDER = `arn:aws:bedrock-agentcore:eu-west-1:${ACCOUNT}:token-vault/default/oauth2credentialprovider/docs`;
const OAUTH_SECRET = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:docs-oauth-AbCdEf`;
const API_KEY_PROVIDER = `arn:aws:bedrock-agentcore:eu-west-1:${ACCOUNT}:token-vault/default/apikeycredentialprovider/pets`;
const API_KEY_SECRET = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:pets-key-AbCdEf`;
const CRM_FUNCTION = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:crm-tools`;
const RUNTIME = `arn:aws:bedrock-agentcore:eu-west-1:${ACCOUNT}:runtime/agent-x`;
const HEADER = 'X-Mcp-Identity-Assertion';

/** One target of each kind (two MCP servers: OAuth, and IAM with a signing service and a grant). */
const ALL_KINDS = [
  { kind: 'demo', name: 'orders' },
  {
    kind: 'lambda',
    name: 'crm',
    functionArn: CRM_FUNCTION,
    tools: 'test/fixtures/targets/crm-tools.json',
    identity: ['arguments', 'assertion'],
  },
  {
    kind: 'mcpServer',
    name: 'docs',
    endpoint: 'https://docs.example.com/mcp',
    outboundAuth: {
      type: 'oauth',
      providerArn: OAUTH_PROVIDER,
      secretArn: OAUTH_SECRET,
      scopes: ['docs.read'],
    },
  },
  {
    kind: 'mcpServer',
    name: 'agent',
    endpoint: 'https://bedrock-agentcore.eu-west-1.amazonaws.com/runtimes/agent-x/invocations',
    identity: ['arguments', 'assertion'],
    outboundAuth: {
      type: 'iam',
      service: 'bedrock-agentcore',
      grant: { actions: ['bedrock-agentcore:InvokeAgentRuntime'], resources: [RUNTIME] },
    },
  },
  {
    kind: 'openApi',
    name: 'pets',
    spec: 'test/fixtures/targets/pets-openapi.json',
    outboundAuth: {
      type: 'apiKey',
      providerArn: API_KEY_PROVIDER,
      secretArn: API_KEY_SECRET,
      parameterName: 'X-Api-Key',
      prefix: '',
    },
  },
  { kind: 'smithy', name: 'weather', model: 's3://my-models/models/weather.json' },
  {
    kind: 'apiGateway',
    name: 'shop',
    restApiId: 'a1b2c3d4e5',
    stage: 'prod',
    toolFilters: [{ path: '/items/*', methods: ['GET'] }],
    toolOverrides: [{ path: '/items/{id}', method: 'GET', name: 'get_item', description: 'One item' }],
    outboundAuth: { type: 'iam' },
  },
];

/** The tools each extra target exposes, for the test policy folder's schema. */
const EXTRA_TOOLS: Record<string, string[]> = {
  crm: ['find_customer'],
  docs: ['search'],
  agent: ['ask'],
  pets: ['get_pet'],
  weather: ['GetForecast'],
  shop: ['get_item'],
};

/**
 * policies/ plus, per extra target, its actions in the schema (in the `target:<name>` group) and one permit:
 * by group for some targets, by tool for the others.
 */
function policyDirFor(targets: Record<string, string[]>, extraPolicies: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'target-policies-'));
  cpSync(join(ROOT, 'policies'), dir, { recursive: true });
  const schemaFile = join(dir, 'schema.cedarschema');
  const schema = readFileSync(schemaFile, 'utf8').trimEnd();
  const actions = Object.entries(targets).flatMap(([target, tools]) => [
    ...tools.map(
      (tool) =>
        `  action "${target}___${tool}" in [Action::"target:${target}"] appliesTo {\n    principal: [User],\n    resource: [Gateway],\n    context: { actors: Set<String>, agent?: String, token: Token }\n  };`,
    ),
    `  action "target:${target}" in [Action::"tools/call"];`,
  ]);
  writeFileSync(schemaFile, `${schema.slice(0, -1)}\n${actions.join('\n')}\n}\n`);
  Object.entries(targets).forEach(([target, tools], index) => {
    const action =
      index % 2 === 0
        ? `action in McpIdentity::Action::"target:${target}"`
        : `action == McpIdentity::Action::"${target}___${tools[0]}"`;
    writeFileSync(
      join(dir, `${target}.cedar`),
      `@id("${target}-users")\npermit (principal in McpIdentity::Role::"${target}-user", ${action}, resource);\n`,
    );
  });
  for (const [file, text] of Object.entries(extraPolicies)) writeFileSync(join(dir, file), text);
  return dir;
}

function stackWith(
  gateway: Record<string, unknown>,
  options: { policyDir?: string; assertion?: Record<string, unknown>; app?: App; id?: string } = {},
): McpIdentityStack {
  const raw = structuredClone(EXAMPLE);
  raw.gateway = { name: 'mcp-identity', ...gateway };
  if (options.policyDir) raw.authorization = { ...raw.authorization, policyDir: options.policyDir };
  if (options.assertion) raw.assertion = options.assertion;
  return new McpIdentityStack(options.app ?? new App(), options.id ?? 'Targets', {
    config: parseStackConfig(raw),
    env: ENV,
  });
}

const resourcesOf = (template: Template, type: string) =>
  Object.entries(template.findResources(type)) as [string, { Properties: Record<string, any> }][];

function targetNamed(template: Template, name: string): Record<string, any> {
  const found = resourcesOf(template, 'AWS::BedrockAgentCore::GatewayTarget').filter(
    ([, resource]) => resource.Properties.Name === name,
  );
  expect(found).toHaveLength(1);
  return (found[0] as [string, { Properties: Record<string, any> }])[1].Properties;
}

/** Logical id of the one resource of a type matching the properties. */
function logicalId(template: Template, type: string, properties: Record<string, unknown>): string {
  const found = Object.keys(template.findResources(type, { Properties: properties }));
  expect(found).toHaveLength(1);
  return found[0] as string;
}

function policyStatements(
  template: Template,
  role: string,
): { Action: string | string[]; Resource: unknown }[] {
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: role }]))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
}

const policyDir = policyDirFor(EXTRA_TOOLS);
let stack: McpIdentityStack;
let template: Template;
beforeAll(() => {
  stack = stackWith({ targets: ALL_KINDS }, { policyDir });
  template = Template.fromStack(stack);
}, 120_000);

describe('a gateway with one target of each kind', () => {
  it('builds each target from its configuration with the L2 add…Target calls', () => {
    expect(targetNamed(template, 'crm').TargetConfiguration.Mcp.Lambda.LambdaArn).toBe(CRM_FUNCTION);
    expect(targetNamed(template, 'docs').TargetConfiguration).toEqual({
      Mcp: { McpServer: { Endpoint: 'https://docs.example.com/mcp' } },
    });
    const spec = targetNamed(template, 'pets').TargetConfiguration.Mcp.OpenApiSchema.InlinePayload;
    expect(JSON.parse(spec)).toEqual(
      JSON.parse(readFileSync(join(ROOT, 'test/fixtures/targets/pets-openapi.json'), 'utf8')),
    );
    expect(targetNamed(template, 'weather').TargetConfiguration).toEqual({
      Mcp: { SmithyModel: { S3: { Uri: 's3://my-models/models/weather.json' } } },
    });
    expect(targetNamed(template, 'shop').TargetConfiguration).toEqual({
      Mcp: {
        ApiGateway: {
          RestApiId: 'a1b2c3d4e5',
          Stage: 'prod',
          ApiGatewayToolConfiguration: {
            ToolFilters: [{ FilterPath: '/items/*', Methods: ['GET'] }],
            ToolOverrides: [
              { Path: '/items/{id}', Method: 'GET', Name: 'get_item', Description: 'One item' },
            ],
          },
        },
      },
    });
    expect(
      targetNamed(template, 'orders').TargetConfiguration.Mcp.Lambda.ToolSchema.InlinePayload,
    ).toHaveLength(3);
  });

  it('reads a Lambda target’s tools from their file, declaring the injected parameters and requiring none of them', () => {
    const [tool] = targetNamed(template, 'crm').TargetConfiguration.Mcp.Lambda.ToolSchema.InlinePayload;
    expect(tool.Name).toBe('find_customer');
    // The file requires _caller_user: what the gateway sees does not (the interceptor injects it).
    expect(tool.InputSchema.Required).toEqual(['email']);
    expect(Object.keys(tool.InputSchema.Properties).sort()).toEqual([
      '_caller_roles',
      '_caller_user',
      'email',
    ]);
  });

  it('authenticates outbound with the configured credential providers, by ARN, or the gateway role', () => {
    expect(targetNamed(template, 'docs').CredentialProviderConfigurations).toEqual([
      {
        CredentialProviderType: 'OAUTH',
        CredentialProvider: {
          OauthCredentialProvider: { ProviderArn: OAUTH_PROVIDER, Scopes: ['docs.read'] },
        },
      },
    ]);
    // An empty prefix sends the key bare in its own header (the L2 would prefix "Bearer ").
    expect(targetNamed(template, 'pets').CredentialProviderConfigurations).toEqual([
      {
        CredentialProviderType: 'API_KEY',
        CredentialProvider: {
          ApiKeyCredentialProvider: {
            ProviderArn: API_KEY_PROVIDER,
            CredentialLocation: 'HEADER',
            CredentialParameterName: 'X-Api-Key',
          },
        },
      },
    ]);
    expect(targetNamed(template, 'agent').CredentialProviderConfigurations).toEqual([
      {
        CredentialProviderType: 'GATEWAY_IAM_ROLE',
        CredentialProvider: { IamCredentialProvider: { Service: 'bedrock-agentcore' } },
      },
    ]);
    for (const name of ['orders', 'crm', 'weather', 'shop'])
      expect(targetNamed(template, name).CredentialProviderConfigurations).toEqual([
        { CredentialProviderType: 'GATEWAY_IAM_ROLE' },
      ]);
  });

  it('allow-lists the assertion header on exactly the targets that take the assertion', () => {
    const allowed = Object.fromEntries(
      resourcesOf(template, 'AWS::BedrockAgentCore::GatewayTarget').map(([, target]) => [
        target.Properties.Name,
        target.Properties.MetadataConfiguration ?? null,
      ]),
    );
    expect(allowed).toEqual({
      orders: null,
      crm: { AllowedRequestHeaders: [HEADER] },
      docs: { AllowedRequestHeaders: [HEADER] },
      agent: { AllowedRequestHeaders: [HEADER] },
      pets: { AllowedRequestHeaders: [HEADER] },
      weather: { AllowedRequestHeaders: [HEADER] },
      shop: { AllowedRequestHeaders: [HEADER] },
    });
  });

  it('lets the gateway role reach only what the targets name: functions, provider secrets, the model object, one API stage', () => {
    const role = logicalId(template, 'AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'bedrock-agentcore.amazonaws.com' } })],
      },
    });
    const statements = policyStatements(template, role);
    const on = (action: string) =>
      statements
        .filter((statement) => [statement.Action].flat().includes(action))
        .flatMap((statement) => [statement.Resource].flat())
        .map((resource) => JSON.stringify(resource));
    expect(statements.every((statement) => statement.Resource !== '*')).toBe(true);
    const interceptor = logicalId(template, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('decides each MCP call'),
    });
    const demo = logicalId(template, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('demo orders tools'),
    });
    const invoked = on('lambda:InvokeFunction');
    expect(invoked).toContain(JSON.stringify(CRM_FUNCTION));
    expect(invoked).toContain(JSON.stringify(`${CRM_FUNCTION}:*`));
    expect(
      invoked.every(
        (resource) =>
          resource.includes(interceptor) || resource.includes(demo) || resource.includes(CRM_FUNCTION),
      ),
    ).toBe(true);
    expect(on('secretsmanager:GetSecretValue').sort()).toEqual(
      [JSON.stringify(API_KEY_SECRET), JSON.stringify(OAUTH_SECRET)].sort(),
    );
    expect(on('bedrock-agentcore:GetResourceApiKey')).toContain(JSON.stringify(API_KEY_PROVIDER));
    expect(on('bedrock-agentcore:GetResourceOauth2Token')).toContain(JSON.stringify(OAUTH_PROVIDER));
    expect(on('s3:GetObject')).toEqual([
      JSON.stringify({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-models/models/weather.json']],
      }),
    ]);
    expect(on('execute-api:Invoke')).toEqual([
      JSON.stringify({
        'Fn::Join': [
          '',
          ['arn:', { Ref: 'AWS::Partition' }, ':execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/*'],
        ],
      }),
    ]);
    expect(on('bedrock-agentcore:InvokeAgentRuntime')).toEqual([JSON.stringify(RUNTIME)]);
    // Nothing S3 beyond reading the one model object; nothing of KMS.
    const actions = statements.flatMap((statement) => [statement.Action].flat());
    expect(actions.filter((action) => action.startsWith('s3:'))).toEqual(['s3:GetObject']);
    expect(actions.some((action) => action.startsWith('kms:'))).toBe(false);
  });

  it('warns that an assertion may not reach a Lambda target, on that target only', () => {
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('Lambda target'));
    expect(warnings.map((warning) => warning.id)).toEqual(['/Targets/FrontDoor/Gateway/Target-crm']);
  });

  it('tells the interceptor how each target takes the caller, and how to sign assertions', () => {
    const [fn] = resourcesOf(template, 'AWS::Lambda::Function').filter(([, resource]) =>
      String(resource.Properties.Description).includes('decides each MCP call'),
    );
    const env = fn?.[1].Properties.Environment.Variables;
    expect(JSON.parse(env.MCP_IDENTITY_TARGET_DELIVERY)).toEqual({
      orders: { arguments: true, assertion: false },
      crm: { arguments: true, assertion: true },
      docs: { arguments: false, assertion: true },
      agent: { arguments: true, assertion: true },
      pets: { arguments: false, assertion: true },
      weather: { arguments: false, assertion: true },
      shop: { arguments: false, assertion: true },
    });
    // Compact JSON: the environment is 4 KB in all.
    expect(env.MCP_IDENTITY_TARGET_DELIVERY).not.toMatch(/\s/);
    const key = logicalId(template, 'AWS::KMS::Key', { KeySpec: 'ECC_NIST_P256' });
    const url = Object.keys(template.findResources('AWS::Lambda::Url'))[0] as string;
    expect(env).toMatchObject({
      MCP_IDENTITY_ASSERTION_KEY_ID: { 'Fn::GetAtt': [key, 'Arn'] },
      MCP_IDENTITY_ASSERTION_ISSUER: { 'Fn::GetAtt': [url, 'FunctionUrl'] },
      MCP_IDENTITY_ASSERTION_HEADER: HEADER,
      MCP_IDENTITY_ASSERTION_TTL_SECONDS: '300',
    });
  });

  it('lets the interceptor sign with the assertion key and nothing else of KMS', () => {
    const key = logicalId(template, 'AWS::KMS::Key', { KeySpec: 'ECC_NIST_P256' });
    const role = logicalId(template, 'AWS::IAM::Role', { Description: Match.stringLikeRegexp('decides') });
    const kms = policyStatements(template, role).filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith('kms:')),
    );
    expect(kms).toEqual([
      { Action: ['kms:Sign', 'kms:GetPublicKey'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [key, 'Arn'] } },
    ]);
  });

  it('creates an ECC P-256 signing key with an alias, and publishes its public key at a public JWKS URL', () => {
    const key = logicalId(template, 'AWS::KMS::Key', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/Targets/identity-assertion',
      TargetKeyId: { 'Fn::GetAtt': [key, 'Arn'] },
    });
    const jwks = logicalId(template, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('JWKS'),
      Runtime: 'nodejs22.x',
      Environment: {
        Variables: Match.objectLike({ MCP_IDENTITY_ASSERTION_KEY_ID: { 'Fn::GetAtt': [key, 'Arn'] } }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: { 'Fn::GetAtt': [jwks, 'Arn'] },
    });
    const role = logicalId(template, 'AWS::IAM::Role', { Description: Match.stringLikeRegexp('JWKS') });
    const kms = policyStatements(template, role).filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith('kms:')),
    );
    expect(kms).toEqual([
      { Action: 'kms:GetPublicKey', Effect: 'Allow', Resource: { 'Fn::GetAtt': [key, 'Arn'] } },
    ]);
    const url = Object.keys(template.findResources('AWS::Lambda::Url'))[0] as string;
    template.hasOutput('AssertionJwksUrl', {
      Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [url, 'FunctionUrl'] }, '.well-known/jwks.json']] },
    });
    template.hasOutput('AssertionIssuer', { Value: { 'Fn::GetAtt': [url, 'FunctionUrl'] } });
    template.hasOutput('AssertionKeyArn', { Value: { 'Fn::GetAtt': [key, 'Arn'] } });
  });

  it('finds nothing unacknowledged with cdk-nag (AwsSolutions and Serverless packs)', () => {
    const app = new App();
    stackWith({ targets: ALL_KINDS }, { policyDir, app, id: 'NagTargets' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    expect(() => app.synth()).not.toThrow();
  }, 120_000);
});

describe('the assertion key', () => {
  it('signs with the configured key instead of creating one, and passes the configured settings', () => {
    const keyArn = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const configured = Template.fromStack(
      stackWith(
        { targets: [ALL_KINDS[0], ALL_KINDS[5]] },
        {
          policyDir: policyDirFor({ weather: ['GetForecast'] }),
          assertion: { keyArn, header: 'X-Caller', ttlSeconds: 60, issuer: 'https://mcp.example.com' },
        },
      ),
    );
    configured.resourceCountIs('AWS::KMS::Key', 0);
    configured.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('decides each MCP call'),
      Environment: {
        Variables: Match.objectLike({
          MCP_IDENTITY_ASSERTION_KEY_ID: keyArn,
          MCP_IDENTITY_ASSERTION_ISSUER: 'https://mcp.example.com',
          MCP_IDENTITY_ASSERTION_HEADER: 'X-Caller',
          MCP_IDENTITY_ASSERTION_TTL_SECONDS: '60',
        }),
      },
    });
    configured.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: ['kms:Sign', 'kms:GetPublicKey'], Effect: 'Allow', Resource: keyArn },
        ]),
      },
    });
    expect(targetNamed(configured, 'weather').MetadataConfiguration).toEqual({
      AllowedRequestHeaders: ['X-Caller'],
    });
  }, 120_000);

  it('is not created when no target takes the assertion (the demo alone)', () => {
    const plain = Template.fromStack(stackWith({}));
    plain.resourceCountIs('AWS::KMS::Key', 0);
    plain.resourceCountIs('AWS::Lambda::Url', 0);
    const [fn] = resourcesOf(plain, 'AWS::Lambda::Function').filter(([, resource]) =>
      String(resource.Properties.Description).includes('decides each MCP call'),
    );
    const env = fn?.[1].Properties.Environment.Variables;
    expect(env.MCP_IDENTITY_TARGET_DELIVERY).toBe('{"orders":{"arguments":true,"assertion":false}}');
    expect(Object.keys(env).filter((name) => name.startsWith('MCP_IDENTITY_ASSERTION'))).toEqual([]);
    expect(plain.findOutputs('AssertionJwksUrl')).toEqual({});
  }, 120_000);
});

describe('synth checks: policies and targets agree', () => {
  it('fails naming the policy file and the tool when a policy names a tool of no declared target', () => {
    const docsOnly = { targets: [ALL_KINDS[2]] };
    expect(() => stackWith(docsOnly)).toThrow(/declared: docs/);
    expect(() => stackWith(docsOnly)).toThrow(
      /policies\/orders-readers\.cedar \[orders-readers\] names the tool orders___get_order, but no target is named "orders"/,
    );
    expect(() => stackWith(docsOnly)).toThrow(
      /policies\/order-admins-update\.cedar \[order-admins-update\] names the tool orders___update_order/,
    );
  });

  it('fails for a policy naming the tool group of an undeclared target too', () => {
    const dir = policyDirFor({ ghost: ['haunt'] }, {});
    expect(() => stackWith({}, { policyDir: dir })).toThrow(
      /ghost\.cedar \[ghost-users\] names the action group target:ghost, but no target is named "ghost"/,
    );
  });

  it('fails for the old demoTarget: false while the demo policies remain', () => {
    expect(() => stackWith({ demoTarget: false })).toThrow(/declared: none/);
  });

  it('warns, on the target, when no permit policy reaches a declared target', () => {
    const stack = stackWith({ targets: [ALL_KINDS[0], ALL_KINDS[2]] });
    const annotations = Annotations.fromStack(stack);
    annotations.hasWarning(
      '/Targets/FrontDoor/Gateway/Target-docs',
      Match.stringLikeRegexp('target docs: no permit policy in policies/ names its tools'),
    );
    const warnings = annotations.findWarning('*', Match.stringLikeRegexp('no permit policy'));
    expect(warnings.map((warning) => warning.id)).toEqual(['/Targets/FrontDoor/Gateway/Target-docs']);
  }, 120_000);

  it('does not count a forbid as reaching a target', () => {
    const dir = policyDirFor({ docs: ['search'] });
    writeFileSync(
      join(dir, 'docs.cedar'),
      '@id("docs-never")\nforbid (principal, action in McpIdentity::Action::"target:docs", resource);\n',
    );
    const stack = stackWith({ targets: [ALL_KINDS[0], ALL_KINDS[2]] }, { policyDir: dir });
    Annotations.fromStack(stack).hasWarning(
      '/Targets/FrontDoor/Gateway/Target-docs',
      Match.stringLikeRegexp('no permit'),
    );
  }, 120_000);

  it('fails from the CDK CLI with the message and no stack trace', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'targets.json');
    writeFileSync(file, JSON.stringify({ ...EXAMPLE, gateway: { targets: [ALL_KINDS[2]] } }));
    const result = spawnSync(
      'npx',
      [
        'cdk',
        'synth',
        '--quiet',
        '-c',
        `mcpIdentityConfigFile=${file}`,
        '--output',
        mkdtempSync(join(tmpdir(), 'cdk-out-')),
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      'policies/orders-readers.cedar [orders-readers] names the tool orders___get_order',
    );
    expect(result.stderr).not.toMatch(/^\s+at /m);
  }, 120_000);
});

describe('synth checks: target sources and limits', () => {
  it('names the target and key when a source file cannot be read', () => {
    expect(() =>
      stackWith({ targets: [ALL_KINDS[0], { ...ALL_KINDS[4], spec: 'test/fixtures/targets/missing.json' }] }),
    ).toThrow(/gateway\.targets\[1\]\.spec: cannot read test\/fixtures\/targets\/missing\.json \(ENOENT\)/);
  });

  it('names the target when its OpenAPI spec is refused by the L2 validation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spec-'));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ openapi: '2.0', paths: {} }));
    expect(() =>
      stackWith({ targets: [ALL_KINDS[0], { ...ALL_KINDS[4], spec: join(dir, 'bad.json') }] }),
    ).toThrow(/gateway\.targets\[1\] \(pets\): OpenAPI schema validation failed/);
  });

  it('validates a tool file like inline tools, naming the entry', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tools-'));
    writeFileSync(join(dir, 'tools.json'), JSON.stringify([{ name: 'x', inputSchema: { type: 'object' } }]));
    expect(() =>
      stackWith({ targets: [ALL_KINDS[0], { ...ALL_KINDS[1], tools: join(dir, 'tools.json') }] }),
    ).toThrow(/gateway\.targets\[1\]\.tools \(.*tools\.json\)\[0\]\.description: /);
    writeFileSync(join(dir, 'not.json'), '[{');
    expect(() =>
      stackWith({ targets: [ALL_KINDS[0], { ...ALL_KINDS[1], tools: join(dir, 'not.json') }] }),
    ).toThrow(
      /gateway\.targets\[1\]\.tools: .*not\.json is not JSON \(it ends early, at line 1, column 3\)$/,
    );
  });

  it('fails clearly when the delivery map would not fit the interceptor’s 4 KB environment', () => {
    const many = Array.from({ length: 40 }, (_, index) => ({
      kind: 'smithy',
      name: `weather-${'x'.repeat(80)}-${index}`,
      model: 's3://my-models/weather.json',
    }));
    expect(() => stackWith({ targets: [ALL_KINDS[0], ...many] })).toThrow(
      /environment would take about \d+ bytes \(Lambda allows 4096\); the largest settings are MCP_IDENTITY_TARGET_DELIVERY .*target names/,
    );
  });
});

describe('the JWKS function bundle', () => {
  it('holds the KMS client and neither zod nor cedar-wasm', () => {
    const out = mkdtempSync(join(tmpdir(), 'bundle-'));
    execFileSync(join(ROOT, 'node_modules', '.bin', 'esbuild'), [
      join(ROOT, 'lambda', 'handlers', 'assertion-jwks.ts'),
      '--bundle',
      '--platform=node',
      '--target=node22',
      `--metafile=${join(out, 'meta.json')}`,
      `--outfile=${join(out, 'index.js')}`,
      '--log-level=warning',
    ]);
    const inputs = Object.keys(JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')).inputs);
    expect(inputs.some((input) => input.includes('client-kms'))).toBe(true);
    expect(inputs.some((input) => /node_modules\/zod\//.test(input))).toBe(false);
    expect(inputs.some((input) => input.includes('cedar-wasm'))).toBe(false);
  });
});
