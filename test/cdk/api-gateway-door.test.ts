import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { parseStackConfig, StackConfigError } from '../../lib/config';
import { McpIdentityStack } from '../../lib/mcp-identity-stack';

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context.mcpIdentity;
const ENV = { account: '123456789012', region: 'eu-west-1' };
const UPSTREAM_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:orders-mcp';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-mcp-AbCdEf';
const WEB_ACL_ARN =
  'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/mcp/0123abcd-0000-1111-2222-333344445555';

function synth(doors: Record<string, unknown>, nag = false) {
  const app = new App();
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  const stack = new McpIdentityStack(app, 'Door', {
    config: parseStackConfig({ ...structuredClone(EXAMPLE), doors }),
    env: ENV,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

const ref = (template: Template, type: string, match?: Record<string, unknown>): string => {
  const found = Object.keys(template.findResources(type, match));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as string;
};

/** Every IAM statement attached to the role of the function whose description matches. */
function statementsOf(
  template: Template,
  description: string,
): { Action: string | string[]; Resource: unknown }[] {
  const role = ref(template, 'AWS::IAM::Role', {
    Properties: { Description: Match.stringLikeRegexp(description) },
  });
  return Object.values(
    template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
  ).flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

const actions = (statements: { Action: string | string[] }[]) =>
  statements.flatMap((statement) => [statement.Action].flat());

let lambdaDoor: ReturnType<typeof synth>;
let httpsDoor: ReturnType<typeof synth>;
beforeAll(() => {
  lambdaDoor = synth({
    agentcore: {},
    apiGateway: { upstream: { name: 'orders', lambdaArn: UPSTREAM_ARN } },
  });
  httpsDoor = synth({
    apiGateway: {
      upstream: {
        name: 'orders',
        url: 'https://mcp.internal.example.com/mcp',
        secretArn: SECRET_ARN,
        timeoutSeconds: 600,
      },
      authorizerCacheTtlSeconds: 300,
      throttling: { rateLimit: 20, burstLimit: 40 },
      wafWebAclArn: WEB_ACL_ARN,
      publicUrl: 'https://mcp.example.com',
    },
  });
});

describe('API Gateway door: the REST API', () => {
  it('is regional (a quiet stream survives 5 minutes, not 30 s) with no binary media types', () => {
    lambdaDoor.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'] },
      BinaryMediaTypes: Match.absent(),
    });
  });

  it('authorizes with a Lambda REQUEST authorizer on the Authorization header, cached for the configured TTL', () => {
    const authorizer = ref(lambdaDoor.template, 'AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('API Gateway authorizer') },
    });
    lambdaDoor.template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 60,
      AuthorizerUri: Match.objectLike({
        'Fn::Join': Match.arrayWith([Match.arrayWith([{ 'Fn::GetAtt': [authorizer, 'Arn'] }])]),
      }),
    });
    httpsDoor.template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      AuthorizerResultTtlInSeconds: 300,
    });
    // The authorizer bounds each token by that TTL: it is told the same number.
    lambdaDoor.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('API Gateway authorizer'),
      Environment: { Variables: Match.objectLike({ MCP_IDENTITY_AUTHORIZER_CACHE_TTL_SECONDS: '60' }) },
    });
  });

  it('routes POST, GET and DELETE /mcp through the authorizer to the proxy Lambda with response streaming', () => {
    const { template } = lambdaDoor;
    const authorizer = ref(template, 'AWS::ApiGateway::Authorizer');
    const proxy = ref(template, 'AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('MCP proxy') },
    });
    const mcp = ref(template, 'AWS::ApiGateway::Resource', {
      Properties: { PathPart: 'mcp', ParentId: { 'Fn::GetAtt': [Match.anyValue(), 'RootResourceId'] } },
    });
    const methods = Object.values(
      template.findResources('AWS::ApiGateway::Method', { Properties: { ResourceId: { Ref: mcp } } }),
    );
    expect(methods.map((method) => method.Properties.HttpMethod).sort()).toEqual(['DELETE', 'GET', 'POST']);
    for (const method of methods) {
      expect(method.Properties).toMatchObject({
        AuthorizationType: 'CUSTOM',
        AuthorizerId: { Ref: authorizer },
      });
      expect(method.Properties.Integration).toMatchObject({
        Type: 'AWS_PROXY',
        IntegrationHttpMethod: 'POST',
        ResponseTransferMode: 'STREAM',
        TimeoutInMillis: 300_000,
      });
      const uri = JSON.stringify(method.Properties.Integration.Uri);
      expect(uri).toContain('2021-11-15/functions/');
      expect(uri).toContain('/response-streaming-invocations');
      expect(uri).toContain(proxy);
    }
    // The streaming integration may run past 29 s, up to the upstream's deadline.
    const long = Object.values(
      httpsDoor.template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'POST' } }),
    );
    expect(long[0]?.Properties.Integration.TimeoutInMillis).toBe(610_000);
  });

  it('answers 401 (and 403) with WWW-Authenticate naming the protected resource metadata, as a static value', () => {
    const responses = Object.values(httpsDoor.template.findResources('AWS::ApiGateway::GatewayResponse'));
    const byType = Object.fromEntries(
      responses.map((response) => [response.Properties.ResponseType, response.Properties]),
    );
    expect(byType.UNAUTHORIZED).toMatchObject({
      StatusCode: '401',
      ResponseParameters: {
        'gatewayresponse.header.WWW-Authenticate': `'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"'`,
      },
    });
    expect(byType.ACCESS_DENIED.ResponseParameters['gatewayresponse.header.WWW-Authenticate']).toBe(
      `'Bearer error="insufficient_scope", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"'`,
    );
    expect(
      byType.MISSING_AUTHENTICATION_TOKEN.ResponseParameters['gatewayresponse.header.WWW-Authenticate'],
    ).toContain('resource_metadata=');
    expect(byType.AUTHORIZER_FAILURE).toMatchObject({
      StatusCode: '503',
      ResponseParameters: { 'gatewayresponse.header.Retry-After': "'5'" },
    });
    for (const type of ['UNAUTHORIZED', 'ACCESS_DENIED', 'DEFAULT_4XX', 'DEFAULT_5XX'])
      expect(JSON.parse(byType[type].ResponseTemplates['application/json'])).toMatchObject({
        jsonrpc: '2.0',
        error: {},
      });
  });

  it('on the execute-api host, builds the metadata URL from the API id and the stage (no reference to the stage: no cycle)', () => {
    const unauthorized = Object.values(
      lambdaDoor.template.findResources('AWS::ApiGateway::GatewayResponse', {
        Properties: { ResponseType: 'UNAUTHORIZED' },
      }),
    )[0];
    const value = JSON.stringify(
      unauthorized?.Properties.ResponseParameters['gatewayresponse.header.WWW-Authenticate'],
    );
    expect(value).toContain('.execute-api.eu-west-1.');
    expect(value).toContain('/prod/.well-known/oauth-protected-resource/mcp');
    expect(value).toContain(ref(lambdaDoor.template, 'AWS::ApiGateway::RestApi'));
  });

  it('serves RFC 9728 metadata at /.well-known/oauth-protected-resource[/mcp], unauthenticated, naming the resource and the issuer', () => {
    const { template } = httpsDoor;
    const wellKnown = Object.values(
      template.findResources('AWS::ApiGateway::Method', { Properties: { Integration: { Type: 'MOCK' } } }),
    );
    expect(wellKnown).toHaveLength(2);
    for (const method of wellKnown) {
      expect(method.Properties).toMatchObject({ HttpMethod: 'GET', AuthorizationType: 'NONE' });
      const document = JSON.parse(
        method.Properties.Integration.IntegrationResponses[0].ResponseTemplates['application/json'],
      );
      expect(document).toEqual({
        resource: 'https://mcp.example.com/mcp',
        authorization_servers: ['https://idp.example.com'],
        bearer_methods_supported: ['header'],
        resource_name: 'mcp-identity MCP endpoint',
      });
    }
    const paths = Object.values(template.findResources('AWS::ApiGateway::Resource')).map(
      (resource) => resource.Properties.PathPart,
    );
    expect(paths).toEqual(expect.arrayContaining(['.well-known', 'oauth-protected-resource', 'mcp']));
  });

  it('throttles the stage, logs access as JSON, logs errors without request data, and traces', () => {
    httpsDoor.template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      TracingEnabled: true,
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 20,
          ThrottlingBurstLimit: 40,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
        }),
      ],
      AccessLogSetting: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
    });
    const format = JSON.parse(
      Object.values(httpsDoor.template.findResources('AWS::ApiGateway::Stage'))[0]?.Properties
        .AccessLogSetting.Format,
    );
    expect(format).toMatchObject({
      principalId: '$context.authorizer.principalId',
      status: '$context.status',
    });
  });

  it('associates the configured WAF web ACL with the stage, and none otherwise', () => {
    httpsDoor.template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      WebACLArn: WEB_ACL_ARN,
      ResourceArn: Match.anyValue(),
    });
    lambdaDoor.template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
  });
});

describe('API Gateway door: least privilege', () => {
  it('lets the proxy invoke only the configured upstream function, query only this policy store, and read no secret', () => {
    const { template } = lambdaDoor;
    const statements = statementsOf(template, 'MCP proxy');
    const store = ref(template, 'AWS::VerifiedPermissions::PolicyStore');
    expect(
      statements.filter((statement) => actions([statement]).some((action) => action.startsWith('lambda:'))),
    ).toEqual([{ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: UPSTREAM_ARN }]);
    for (const statement of statements.filter((candidate) =>
      actions([candidate]).some((action) => action.startsWith('verifiedpermissions:')),
    ))
      expect(statement.Resource).toEqual({ 'Fn::GetAtt': [store, 'Arn'] });
    expect(actions(statements).some((action) => action.startsWith('secretsmanager:'))).toBe(false);
    // The grants table (just-in-time grants and the kill switch, on by default): Query on that table only.
    const grantsTable = ref(template, 'AWS::DynamoDB::Table', {
      Properties: { KeySchema: Match.arrayWith([Match.objectLike({ AttributeName: 'pk' })]) },
    });
    expect(
      statements.filter((statement) => actions([statement]).some((action) => action.startsWith('dynamodb:'))),
    ).toEqual([
      { Action: 'dynamodb:Query', Effect: 'Allow', Resource: { 'Fn::GetAtt': [grantsTable, 'Arn'] } },
    ]);
    // Nothing else of AWS: its log group and X-Ray (which has no resource-level permissions).
    expect(new Set(actions(statements))).toEqual(
      new Set([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
        'lambda:InvokeFunction',
        'verifiedpermissions:IsAuthorized',
        'verifiedpermissions:ListPolicies',
        'dynamodb:Query',
      ]),
    );
  });

  it('lets the proxy read only its secret for an HTTPS upstream, and invoke no function', () => {
    const statements = statementsOf(httpsDoor.template, 'MCP proxy');
    expect(
      statements.filter((statement) =>
        actions([statement]).some((action) => action.startsWith('secretsmanager:')),
      ),
    ).toEqual([{ Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: SECRET_ARN }]);
    expect(actions(statements).some((action) => action.startsWith('lambda:'))).toBe(false);
  });

  it('gives the authorizer its own log writes and traces only', () => {
    const statements = statementsOf(lambdaDoor.template, 'API Gateway authorizer');
    expect(new Set(actions(statements))).toEqual(
      new Set([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
      ]),
    );
  });

  it('lets only this API invoke the two functions (permissions scoped to the authorizer and to each method)', () => {
    const { template } = lambdaDoor;
    const permissions = Object.values(
      template.findResources('AWS::Lambda::Permission', {
        Properties: { Principal: 'apigateway.amazonaws.com' },
      }),
    );
    expect(permissions.length).toBeGreaterThanOrEqual(4);
    for (const permission of permissions) {
      const source = JSON.stringify(permission.Properties.SourceArn);
      expect(source).toContain(ref(template, 'AWS::ApiGateway::RestApi'));
      expect(source).not.toMatch(/"\/\*\/\*"|\/\*\/\*\/\*/);
    }
  });
});

describe('API Gateway door: configuration reaches the functions', () => {
  it('gives the authorizer only the token and audit settings, and the proxy the guard’s settings, the upstream and the metadata URL', () => {
    const { template } = httpsDoor;
    const variables = (description: string) =>
      Object.values(
        template.findResources('AWS::Lambda::Function', {
          Properties: { Description: Match.stringLikeRegexp(description) },
        }),
      )[0]?.Properties.Environment.Variables as Record<string, unknown>;
    const authorizer = variables('API Gateway authorizer');
    expect(Object.keys(authorizer)).toEqual(
      expect.arrayContaining([
        'MCP_IDENTITY_ISSUER',
        'MCP_IDENTITY_AUDIENCE',
        'MCP_IDENTITY_RECIPIENT_ACCOUNT_ID',
      ]),
    );
    expect(Object.keys(authorizer)).not.toContain('MCP_IDENTITY_POLICY_STORE_ID');
    const proxy = variables('MCP proxy');
    expect(proxy).toMatchObject({
      MCP_IDENTITY_UPSTREAM_URL: 'https://mcp.internal.example.com/mcp',
      MCP_IDENTITY_UPSTREAM_SECRET_ARN: SECRET_ARN,
      MCP_IDENTITY_UPSTREAM_TIMEOUT_MS: '600000',
      MCP_IDENTITY_UPSTREAM_TARGET_NAME: 'orders',
      MCP_IDENTITY_RESOURCE_METADATA_URL: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
      MCP_IDENTITY_TARGET_DELIVERY: '{"orders":{"arguments":true,"assertion":false}}',
      MCP_IDENTITY_POLICY_STORE_ID: expect.anything(),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('MCP proxy'),
      Timeout: 610,
    });
  });

  it('gives the interceptor, the authorizer and the proxy the allowed clients and required claims, and AgentCore its own', () => {
    const requiredClaims = [{ name: 'idtyp', match: 'EQUALS', values: ['user'] }];
    const app = new App();
    const stack = new McpIdentityStack(app, 'Claims', {
      config: parseStackConfig({
        ...structuredClone(EXAMPLE),
        identity: {
          ...structuredClone(EXAMPLE.identity),
          allowedClients: ['agent-1', 'agent-2'],
          requiredClaims,
        },
        doors: { agentcore: {}, apiGateway: { upstream: { name: 'orders', lambdaArn: UPSTREAM_ARN } } },
      }),
      env: ENV,
    });
    const template = Template.fromStack(stack);
    const guards = Object.values(template.findResources('AWS::Lambda::Function')).filter((fn) =>
      /decides|authorizer|MCP proxy/.test(fn.Properties.Description),
    );
    expect(guards).toHaveLength(3);
    for (const fn of guards)
      expect(fn.Properties.Environment.Variables).toMatchObject({
        MCP_IDENTITY_ALLOWED_CLIENTS: 'agent-1,agent-2',
        MCP_IDENTITY_REQUIRED_CLAIMS: JSON.stringify(requiredClaims),
      });
    template.hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
      AuthorizerConfiguration: {
        CustomJWTAuthorizer: Match.objectLike({
          AllowedClients: ['agent-1', 'agent-2'],
          CustomClaims: [Match.objectLike({ InboundTokenClaimName: 'idtyp' })],
        }),
      },
    });
  });

  it('sets neither variable when the configuration has neither (any client, no required claim)', () => {
    for (const fn of Object.values(lambdaDoor.template.findResources('AWS::Lambda::Function')).filter(
      (each) => /decides|authorizer|MCP proxy/.test(each.Properties.Description),
    )) {
      expect(fn.Properties.Environment.Variables).not.toHaveProperty('MCP_IDENTITY_ALLOWED_CLIENTS');
      expect(fn.Properties.Environment.Variables).not.toHaveProperty('MCP_IDENTITY_REQUIRED_CLAIMS');
    }
  });

  it('refuses an empty or comma-bearing allowedClients (the guard reads a comma-separated list)', () => {
    for (const allowedClients of [[], ['a,b'], ['a b']])
      expect(() =>
        parseStackConfig({
          ...structuredClone(EXAMPLE),
          identity: { ...structuredClone(EXAMPLE.identity), allowedClients },
        }),
      ).toThrow(/allowedClients/);
  });

  it('runs both doors on one policy store and one audit trail', () => {
    const { template } = lambdaDoor;
    template.resourceCountIs('AWS::VerifiedPermissions::PolicyStore', 1);
    template.resourceCountIs('AWS::BedrockAgentCore::Gateway', 1);
    const logGroups = new Set(
      Object.values(template.findResources('AWS::Lambda::Function'))
        .filter((fn) => /decides|authorizer|MCP proxy/.test(fn.Properties.Description))
        .map((fn) => JSON.stringify(fn.Properties.LoggingConfig.LogGroup)),
    );
    expect(logGroups.size).toBe(1);
    expect(
      Object.values(template.findResources('AWS::Lambda::Function')).filter((fn) =>
        /decides|authorizer|MCP proxy/.test(fn.Properties.Description),
      ),
    ).toHaveLength(3);
    template.hasOutput('ApiGatewayMcpUrl', {});
    template.hasOutput('GatewayUrl', {});
  });

  it('builds the API Gateway door alone when the AgentCore door is not chosen', () => {
    httpsDoor.template.resourceCountIs('AWS::BedrockAgentCore::Gateway', 0);
    expect(httpsDoor.stack.frontDoor).toBeUndefined();
    httpsDoor.template.hasOutput('ApiGatewayMcpUrl', { Value: 'https://mcp.example.com/mcp' });
  });

  it.each([
    [
      { apiGateway: { upstream: { lambdaArn: UPSTREAM_ARN, url: 'https://a.example.com/mcp' } } },
      /set exactly one of lambdaArn and url/,
    ],
    [{ apiGateway: { upstream: {} } }, /set exactly one of lambdaArn and url/],
    [
      { apiGateway: { upstream: { lambdaArn: UPSTREAM_ARN, secretArn: SECRET_ARN } } },
      /doors\.apiGateway\.upstream\.secretArn: applies to url only/,
    ],
    [{ apiGateway: { upstream: { url: 'http://a.example.com/mcp' } } }, /must be an https URL/],
    [
      { apiGateway: { upstream: { lambdaArn: UPSTREAM_ARN, identity: ['assertion'] } } },
      /set upstream\.name/,
    ],
    [
      { apiGateway: { upstream: { lambdaArn: UPSTREAM_ARN }, authorizerCacheTtlSeconds: 3601 } },
      /authorizerCacheTtlSeconds/,
    ],
    [
      {
        apiGateway: {
          upstream: { lambdaArn: UPSTREAM_ARN },
          wafWebAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/y',
        },
      },
      /regional WAFv2 web ACL ARN/,
    ],
    [{}, /choose at least one door/],
    [{ cloudfront: {} }, /unknown key\(s\) cloudfront/],
  ])('refuses doors %j, naming the key', (doors, message) => {
    expect(() => parseStackConfig({ ...structuredClone(EXAMPLE), doors })).toThrow(StackConfigError);
    expect(() => parseStackConfig({ ...structuredClone(EXAMPLE), doors })).toThrow(message);
  });

  it('keeps the AgentCore door alone by default', () => {
    expect(parseStackConfig(structuredClone(EXAMPLE)).doors).toEqual({ agentcore: {} });
  });
});

describe('API Gateway door: cdk-nag', () => {
  const report = (app: App) => {
    try {
      app.synth();
      return undefined;
    } catch (error) {
      return error;
    }
  };

  it('finds nothing unacknowledged with both doors and a Lambda upstream (AwsSolutions and Serverless packs)', () => {
    const { app } = synth(
      { agentcore: {}, apiGateway: { upstream: { name: 'orders', lambdaArn: UPSTREAM_ARN } } },
      true,
    );
    expect(report(app)).toBeUndefined();
  });

  it('finds nothing unacknowledged with the door alone, an HTTPS upstream, a web ACL and a customer managed key', () => {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    const config = parseStackConfig({
      ...structuredClone(EXAMPLE),
      kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      doors: {
        apiGateway: {
          upstream: { name: 'orders', url: 'https://mcp.internal.example.com/mcp', secretArn: SECRET_ARN },
          wafWebAclArn: WEB_ACL_ARN,
        },
      },
    });
    new McpIdentityStack(app, 'DoorKms', { config, env: ENV });
    expect(report(app)).toBeUndefined();
  });
});
