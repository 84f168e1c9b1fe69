import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStackConfig, StackConfigError } from '../../lib/config';
import { deliveryMap } from '../../lib/target-config';

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context.mcpIdentity;

const ACCOUNT = '123456789012';
const API_KEY_PROVIDER = `arn:aws:bedrock-agentcore:eu-west-1:${ACCOUNT}:token-vault/default/apikeycredentialprovider/pets`;
const OAUTH_PROVIDER = `arn:aws:bedrock-agentcore:eu-west-1:${ACCOUNT}:token-vault/default/oauth2credentialprovider/docs`;
const SECRET = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:agentcore-pets-AbCdEf`;

/** One good target of each kind, as an operator writes them. */
const GOOD = {
  demo: { kind: 'demo' },
  lambda: {
    name: 'crm',
    kind: 'lambda',
    functionArn: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:crm-tools`,
    tools: [
      {
        name: 'find_customer',
        description: 'Find a customer',
        inputSchema: { type: 'object', properties: { email: { type: 'string' } }, required: ['email'] },
      },
    ],
  },
  mcpServer: {
    name: 'docs',
    kind: 'mcpServer',
    endpoint: 'https://docs.example.com/mcp',
    outboundAuth: { type: 'oauth', providerArn: OAUTH_PROVIDER, secretArn: SECRET, scopes: ['docs.read'] },
  },
  openApi: {
    name: 'pets',
    kind: 'openApi',
    spec: 'test/fixtures/targets/pets-openapi.json',
    outboundAuth: { type: 'apiKey', providerArn: API_KEY_PROVIDER, secretArn: SECRET },
  },
  smithy: { name: 'weather', kind: 'smithy', model: 's3://my-models/weather.json' },
  apiGateway: {
    name: 'shop',
    kind: 'apiGateway',
    restApiId: 'a1b2c3d4e5',
    stage: 'prod',
    toolFilters: [{ path: '/items/*', methods: ['GET', 'POST'] }],
    toolOverrides: [{ path: '/items/{id}', method: 'GET', name: 'get_item' }],
    outboundAuth: { type: 'iam' },
  },
} as const;

const parse = (gateway: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  parseStackConfig({ ...EXAMPLE, gateway: { name: 'mcp-identity', ...gateway }, ...extra });

/** The message of the configuration error, or a failure when the configuration was accepted. */
function refusal(gateway: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  try {
    parse(gateway, extra);
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('gateway.targets: what is accepted', () => {
  it('accepts one target of each kind, filling outbound auth and identity delivery by kind', () => {
    const { gateway } = parse({ targets: Object.values(GOOD) });
    expect(
      gateway.targets.map((target) => [target.name, target.kind, target.outboundAuth.type, target.identity]),
    ).toEqual([
      ['orders', 'demo', 'iam', ['arguments']],
      ['crm', 'lambda', 'iam', ['arguments']],
      ['docs', 'mcpServer', 'oauth', ['assertion']],
      ['pets', 'openApi', 'apiKey', ['assertion']],
      ['weather', 'smithy', 'iam', ['assertion']],
      ['shop', 'apiGateway', 'iam', ['assertion']],
    ]);
    expect(gateway.targets[3]?.outboundAuth).toMatchObject({ type: 'apiKey', location: 'header' });
  });

  it('takes both deliveries when asked, and publishes them as the interceptor map', () => {
    const { gateway } = parse({
      targets: [GOOD.demo, { ...GOOD.mcpServer, identity: ['arguments', 'assertion'] }],
    });
    expect(JSON.stringify(deliveryMap(gateway.targets))).toBe(
      '{"orders":{"arguments":true,"assertion":false},"docs":{"arguments":true,"assertion":true}}',
    );
  });

  it('keeps old cdk.json files working: no targets = the demo alone, demoTarget false = none', () => {
    expect(parse({}).gateway.targets.map((target) => target.name)).toEqual(['orders']);
    expect(parse({ demoTarget: true }).gateway.targets.map((target) => target.kind)).toEqual(['demo']);
    expect(parse({ demoTarget: false }).gateway.targets).toEqual([]);
    expect(parseStackConfig({ ...EXAMPLE, gateway: undefined }).gateway.targets).toHaveLength(1);
  });

  it('takes IAM with a signing service and a grant for MCP servers, and the assertion settings', () => {
    const config = parse(
      {
        targets: [
          {
            name: 'agent',
            kind: 'mcpServer',
            endpoint: 'https://bedrock-agentcore.eu-west-1.amazonaws.com/runtimes/x/invocations',
            outboundAuth: {
              type: 'iam',
              service: 'bedrock-agentcore',
              grant: {
                actions: ['bedrock-agentcore:InvokeAgentRuntime'],
                resources: [`arn:aws:bedrock-agentcore:eu-west-1:${ACCOUNT}:runtime/x`],
              },
            },
          },
        ],
      },
      { assertion: { header: 'X-Caller-Assertion', ttlSeconds: 120 } },
    );
    expect(config.assertion).toEqual({ header: 'X-Caller-Assertion', ttlSeconds: 120 });
    expect(parse({}).assertion).toEqual({ header: 'X-Mcp-Identity-Assertion', ttlSeconds: 300 });
  });
});

describe('gateway.targets: what is refused, and where', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'an http endpoint',
      { targets: [GOOD.demo, GOOD.lambda, { ...GOOD.mcpServer, endpoint: 'http://docs.example.com/mcp' }] },
      /mcpIdentity\.gateway\.targets\[2\]\.endpoint: must be an https:\/\/ URL/,
    ],
    [
      'a name with the tool separator',
      { targets: [{ ...GOOD.smithy, name: 'wea___ther' }] },
      /gateway\.targets\[0\]\.name: letters, digits and single hyphens/,
    ],
    [
      'a name with a double hyphen',
      { targets: [{ ...GOOD.smithy, name: 'a--b' }] },
      /gateway\.targets\[0\]\.name: letters, digits and single hyphens/,
    ],
    [
      'two targets with one name (any case)',
      { targets: [GOOD.smithy, { ...GOOD.mcpServer, name: 'Weather' }] },
      /gateway\.targets\[1\]\.name: "Weather" is already the name of target \[0\]/,
    ],
    [
      'demoTarget next to targets',
      { demoTarget: true, targets: [GOOD.smithy] },
      /gateway\.demoTarget: cannot be used together with gateway\.targets/,
    ],
    [
      'an unknown kind',
      { targets: [{ name: 'x', kind: 'grpc' }] },
      /targets\[0\]\.kind: kind must be one of demo, lambda/,
    ],
    [
      'OAuth on a Lambda target',
      {
        targets: [
          {
            ...GOOD.lambda,
            outboundAuth: { type: 'oauth', providerArn: OAUTH_PROVIDER, secretArn: SECRET, scopes: [] },
          },
        ],
      },
      /targets\[0\]\.outboundAuth\.type: lambda targets take iam outbound authentication, not oauth/,
    ],
    [
      'an API key on a Smithy target',
      {
        targets: [
          {
            ...GOOD.smithy,
            outboundAuth: { type: 'apiKey', providerArn: API_KEY_PROVIDER, secretArn: SECRET },
          },
        ],
      },
      /targets\[0\]\.outboundAuth\.type: smithy targets take iam, oauth outbound authentication, not apiKey/,
    ],
    [
      'OAuth on an API Gateway target',
      {
        targets: [
          {
            ...GOOD.apiGateway,
            outboundAuth: { type: 'oauth', providerArn: OAUTH_PROVIDER, secretArn: SECRET, scopes: [] },
          },
        ],
      },
      /apiGateway targets take iam, apiKey, none outbound authentication, not oauth/,
    ],
    [
      'no credentials on an MCP server',
      { targets: [{ ...GOOD.mcpServer, outboundAuth: undefined }] },
      /targets\[0\]\.outboundAuth: is required for mcpServer targets: one of \{ "type": "iam" \}/,
    ],
    [
      'IAM without a signing service on an OpenAPI target',
      { targets: [{ ...GOOD.openApi, outboundAuth: { type: 'iam' } }] },
      /targets\[0\]\.outboundAuth\.service: is required for IAM on openApi targets/,
    ],
    [
      'a signing service on a Lambda target',
      { targets: [{ ...GOOD.lambda, outboundAuth: { type: 'iam', service: 'lambda' } }] },
      /targets\[0\]\.outboundAuth\.service: is only for mcpServer and openApi targets/,
    ],
    [
      'an OAuth provider ARN given as an API key provider',
      {
        targets: [
          {
            ...GOOD.openApi,
            outboundAuth: { type: 'apiKey', providerArn: OAUTH_PROVIDER, secretArn: SECRET },
          },
        ],
      },
      /targets\[0\]\.outboundAuth\.providerArn: must be an AgentCore Identity API key credential provider ARN/,
    ],
    [
      'a secret that is no Secrets Manager ARN',
      {
        targets: [
          {
            ...GOOD.openApi,
            outboundAuth: { type: 'apiKey', providerArn: API_KEY_PROVIDER, secretArn: 'pets-key' },
          },
        ],
      },
      /targets\[0\]\.outboundAuth\.secretArn: must be a Secrets Manager secret ARN/,
    ],
    [
      'an unknown outbound auth type',
      { targets: [{ ...GOOD.mcpServer, outboundAuth: { type: 'basic' } }] },
      /targets\[0\]\.outboundAuth\.type: type must be one of iam, apiKey, oauth, none/,
    ],
    [
      'a demo target without argument delivery',
      { targets: [{ ...GOOD.demo, identity: ['assertion'] }] },
      /targets\[0\]\.identity: the demo tools read the caller from injected arguments only/,
    ],
    [
      'no identity delivery',
      { targets: [{ ...GOOD.smithy, identity: [] }] },
      /targets\[0\]\.identity: choose at least one/,
    ],
    [
      'a delivery listed twice',
      { targets: [{ ...GOOD.smithy, identity: ['assertion', 'assertion'] }] },
      /targets\[0\]\.identity: lists a delivery twice/,
    ],
    [
      'a function that is not a Lambda ARN',
      { targets: [{ ...GOOD.lambda, functionArn: 'crm-tools' }] },
      /targets\[0\]\.functionArn: must be a Lambda function ARN/,
    ],
    [
      'a tool whose input is not an object',
      {
        targets: [
          { ...GOOD.lambda, tools: [{ name: 'x', description: 'x', inputSchema: { type: 'string' } }] },
        ],
      },
      /targets\[0\]\.tools\[0\]\.inputSchema: a tool input schema is of type object/,
    ],
    [
      'a spec at an https URL',
      { targets: [{ ...GOOD.openApi, spec: 'https://example.com/openapi.json' }] },
      /targets\[0\]\.spec: a file path or an s3:\/\/bucket\/key URI/,
    ],
    [
      'a malformed S3 location',
      { targets: [{ ...GOOD.smithy, model: 's3://Bad_Bucket' }] },
      /targets\[0\]\.model: an S3 location is s3:\/\/bucket\/key/,
    ],
    [
      'a REST API id of the wrong shape',
      { targets: [{ ...GOOD.apiGateway, restApiId: 'my-api' }] },
      /targets\[0\]\.restApiId: a REST API id/,
    ],
    [
      'a tool override no filter covers',
      {
        targets: [
          { ...GOOD.apiGateway, toolOverrides: [{ path: '/orders/{id}', method: 'GET', name: 'get_order' }] },
        ],
      },
      /targets\[0\]\.toolOverrides\[0\]: GET \/orders\/\{id\} is matched by no tool filter/,
    ],
    [
      'a wildcard in a tool override',
      {
        targets: [
          { ...GOOD.apiGateway, toolOverrides: [{ path: '/items/*', method: 'GET', name: 'items' }] },
        ],
      },
      /targets\[0\]\.toolOverrides\[0\]\.path: an explicit path/,
    ],
    [
      'a tool filter without methods',
      { targets: [{ ...GOOD.apiGateway, toolFilters: [{ path: '/items/*', methods: [] }] }] },
      /targets\[0\]\.toolFilters\[0\]\.methods: at least one HTTP method/,
    ],
    [
      'an unknown key in a target',
      { targets: [{ ...GOOD.smithy, endpoint: 'x' }] },
      /targets\[0\]: unknown key\(s\) endpoint/,
    ],
  ])('refuses %s, naming the key', (_what, gateway, message) => {
    expect(refusal(gateway)).toMatch(message);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a lifetime over five minutes', { ttlSeconds: 301 }, /assertion\.ttlSeconds: /],
    [
      'Authorization as the header',
      { header: 'Authorization' },
      /assertion\.header: is a header AgentCore does not propagate/,
    ],
    [
      'a Content- header',
      { header: 'Content-Foo' },
      /assertion\.header: is a header AgentCore does not propagate/,
    ],
    [
      'an AWS-reserved header',
      { header: 'X-Amzn-Identity' },
      /assertion\.header: is a header AgentCore does not propagate/,
    ],
    ['a key alias', { keyArn: 'alias/mcp-identity' }, /assertion\.keyArn: must be a KMS key ARN/],
  ])('refuses an assertion with %s', (_what, assertion, message) => {
    expect(refusal({}, { assertion })).toMatch(message);
  });

  it('lists every problem at once', () => {
    const message = refusal({
      targets: [
        { ...GOOD.mcpServer, endpoint: 'http://x' },
        { ...GOOD.smithy, name: 'a_b' },
      ],
    });
    expect(message).toMatch(/targets\[0\]\.endpoint/);
    expect(message).toMatch(/targets\[1\]\.name/);
  });
});
