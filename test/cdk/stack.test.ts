import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { parseStackConfig, type StackConfig, StackConfigError } from '../../lib/config';
import { McpIdentityStack } from '../../lib/mcp-identity-stack';

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context.mcpIdentity;

function synth(
  overrides: Record<string, unknown> = {},
  policyDir?: string,
): { template: Template; app: App; stack: McpIdentityStack } {
  const app = new App();
  const raw = structuredClone(EXAMPLE);
  Object.assign(raw, overrides);
  if (policyDir !== undefined) raw.authorization = { ...raw.authorization, policyDir };
  const config: StackConfig = parseStackConfig(raw);
  const stack = new McpIdentityStack(app, 'Test', {
    config,
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  return { template: Template.fromStack(stack), app, stack };
}

let main: ReturnType<typeof synth>;
beforeAll(() => {
  main = synth();
});

const ref = (template: Template, type: string, match?: Record<string, unknown>): string => {
  // The grants table, its failure queue and operator policy are tested in grants-table.test.ts.
  const found = Object.keys(template.findResources(type, match)).filter((id) => !id.startsWith('Grants'));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as string;
};

interface InlineTool {
  Name: string;
  InputSchema: { Properties: Record<string, unknown>; Required?: string[] };
}

/** The demo target's inline tool schemas, as the gateway receives them. */
function inlineTools(template: Template): InlineTool[] {
  const targets = Object.values(
    template.findResources('AWS::BedrockAgentCore::GatewayTarget', { Properties: { Name: 'orders' } }),
  );
  expect(targets).toHaveLength(1);
  return targets[0]?.Properties.TargetConfiguration.Mcp.Lambda.ToolSchema.InlinePayload as InlineTool[];
}

/** Every `Required` list at any depth of the schemas. */
function requiredAnywhere(value: unknown): string[][] {
  if (Array.isArray(value)) return value.flatMap(requiredAnywhere);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) =>
    key === 'Required' && Array.isArray(item) ? [item as string[]] : requiredAnywhere(item),
  );
}

describe('AgentCore front door', () => {
  it('authorizes with CUSTOM_JWT from the configuration', () => {
    main.template.hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
      AuthorizerType: 'CUSTOM_JWT',
      AuthorizerConfiguration: {
        CustomJWTAuthorizer: {
          DiscoveryUrl: 'https://idp.example.com/.well-known/openid-configuration',
          AllowedAudience: ['https://mcp.example.com/mcp'],
        },
      },
    });
  });

  it('attaches the interceptor at REQUEST and RESPONSE with request headers passed', () => {
    const interceptor = {
      'Fn::GetAtt': [
        ref(main.template, 'AWS::Lambda::Function', {
          Properties: { Description: Match.stringLikeRegexp('decides each MCP call') },
        }),
        'Arn',
      ],
    };
    main.template.hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
      InterceptorConfigurations: [
        {
          InterceptionPoints: ['REQUEST'],
          InputConfiguration: { PassRequestHeaders: true },
          Interceptor: { Lambda: { Arn: interceptor } },
        },
        {
          InterceptionPoints: ['RESPONSE'],
          InputConfiguration: { PassRequestHeaders: true },
          Interceptor: { Lambda: { Arn: interceptor } },
        },
      ],
    });
  });

  it('registers the demo orders target with inline tool schemas', () => {
    main.template.hasResourceProperties('AWS::BedrockAgentCore::GatewayTarget', {
      Name: 'orders',
      TargetConfiguration: {
        Mcp: {
          Lambda: {
            ToolSchema: {
              InlinePayload: Match.arrayWith([
                Match.objectLike({ Name: 'get_order' }),
                Match.objectLike({ Name: 'update_order' }),
                Match.objectLike({ Name: 'get_recent_activity' }),
              ]),
            },
          },
        },
      },
    });
  });

  it('declares no injected parameter as required in the tool schemas the gateway sees (the tool checks for them)', () => {
    const tools = inlineTools(main.template);
    expect(tools.map((tool) => [tool.Name, tool.InputSchema.Required ?? []])).toStrictEqual([
      ['get_order', ['order_id']],
      ['update_order', ['order_id', 'status']],
      ['get_recent_activity', []],
    ]);
    // Still declared, so a gateway that forwards only declared arguments forwards the identity.
    for (const tool of tools)
      expect(Object.keys(tool.InputSchema.Properties)).toEqual(
        expect.arrayContaining(['_caller_user', '_caller_roles']),
      );
    for (const required of requiredAnywhere(tools)) {
      expect(required).not.toContain('_caller_user');
      expect(required).not.toContain('_caller_roles');
    }
  });

  it('follows the configured injection: renamed parameters and bindings are declared, never required', () => {
    const { template } = synth({
      injection: {
        userParameter: '_who',
        rolesParameter: '_groups',
        // A binding onto a parameter the demo tool declares as required (status), and one for every tool.
        bindings: { '*': { _email: 'email' }, orders___update_order: { status: 'username' } },
      },
    });
    const tools = inlineTools(template);
    expect(tools.map((tool) => [tool.Name, tool.InputSchema.Required ?? []])).toStrictEqual([
      ['get_order', ['order_id']],
      ['update_order', ['order_id']],
      ['get_recent_activity', []],
    ]);
    for (const tool of tools) {
      expect(Object.keys(tool.InputSchema.Properties)).toEqual(expect.arrayContaining(['_who', '_groups']));
      expect(Object.keys(tool.InputSchema.Properties)).not.toContain('_caller_user');
    }
    // The demo target reads the identity under the same names the interceptor injects it under, and no other.
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('demo orders tools'),
      Environment: {
        Variables: Match.objectLike({
          MCP_IDENTITY_INJECT_USER_PARAM: '_who',
          MCP_IDENTITY_INJECT_ROLES_PARAM: '_groups',
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('decides each MCP call'),
      Environment: {
        Variables: Match.objectLike({
          MCP_IDENTITY_INJECT_USER_PARAM: '_who',
          MCP_IDENTITY_INJECT_ROLES_PARAM: '_groups',
        }),
      },
    });
  });

  it('lets the gateway role invoke only its interceptor and its target', () => {
    const role = ref(main.template, 'AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: 'bedrock-agentcore.amazonaws.com' } })],
        },
      },
    });
    const policies = main.template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: role }] },
    });
    const statements = Object.values(policies).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement,
    );
    expect(new Set(statements.map((statement) => statement.Action))).toEqual(
      new Set(['lambda:InvokeFunction']),
    );
    const functions = statements
      .flatMap((statement) => [statement.Resource].flat())
      .map((resource: Record<string, unknown>) => JSON.stringify(resource));
    expect(functions.length).toBeGreaterThan(0);
    const interceptor = ref(main.template, 'AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('decides') },
    });
    const target = ref(main.template, 'AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('demo orders') },
    });
    expect(
      functions.every((resource: string) => resource.includes(interceptor) || resource.includes(target)),
    ).toBe(true);
  });

  it('runs every function on Node.js 22, ARM64, traced, with an explicit log group', () => {
    const functions = Object.values(main.template.findResources('AWS::Lambda::Function'));
    // The interceptor, the demo target, the audit forwarder and the grants-table auditor (grants-table.test.ts).
    expect(functions).toHaveLength(4);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: expect.anything() },
      });
    }
  });
});

describe('Verified Permissions', () => {
  it('creates a STRICT policy store with the schema and one policy per policy in policies/', () => {
    main.template.hasResourceProperties('AWS::VerifiedPermissions::PolicyStore', {
      ValidationSettings: { Mode: 'STRICT' },
      Schema: { CedarJson: Match.stringLikeRegexp('orders___update_order') },
      DeletionProtection: { Mode: 'ENABLED' },
    });
    const policies = [...main.stack.policyStore.policyStacks.values()].flatMap((nested) =>
      Object.values(Template.fromStack(nested).findResources('AWS::VerifiedPermissions::Policy')),
    );
    expect(main.template.findResources('AWS::VerifiedPermissions::Policy')).toEqual({});
    expect(policies.map((policy) => policy.Properties.Definition.Static.Description).sort()).toEqual([
      'large-refunds-need-finance: refunds above 500 need the finance-approver role',
      'order-admins-update: only order-admin may change orders',
      'orders-readers: db-reader and order-admin may read orders and their own recent activity',
      'schema-readers: mcp-operator may list every tool, unfiltered, to regenerate the schema',
    ]);
    for (const policy of policies) expect(policy.Properties.Definition.Static.Statement).not.toContain('@id');
  });

  it('lets the interceptor call IsAuthorized and list policy names on this one policy store, and nothing else of AVP', () => {
    const store = ref(main.template, 'AWS::VerifiedPermissions::PolicyStore');
    const role = ref(main.template, 'AWS::IAM::Role', {
      Properties: { Description: Match.stringLikeRegexp('decides') },
    });
    const [policy] = Object.values(
      main.template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
    );
    const avp = policy?.Properties.PolicyDocument.Statement.filter((statement: { Action: string }) =>
      String(statement.Action).startsWith('verifiedpermissions:'),
    );
    expect(avp).toEqual([
      {
        Action: 'verifiedpermissions:IsAuthorized',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [store, 'Arn'] },
      },
      {
        Action: 'verifiedpermissions:ListPolicies',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [store, 'Arn'] },
      },
    ]);
  });

  it('gives the interceptor the policy store id, and the policy catalogue and input types as files', () => {
    const fn = Object.values(
      main.template.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('decides') },
      }),
    )[0];
    const env = fn?.Properties.Environment.Variables;
    expect(env).toMatchObject({
      MCP_IDENTITY_ISSUER: 'https://idp.example.com',
      MCP_IDENTITY_DECISION_POINT: 'avp',
      MCP_IDENTITY_POLICY_STORE_ID: {
        'Fn::GetAtt': [ref(main.template, 'AWS::VerifiedPermissions::PolicyStore'), 'PolicyStoreId'],
      },
      MCP_IDENTITY_INPUT_TYPES_FILE: '/var/task/input-types.json',
      MCP_IDENTITY_POLICY_CATALOG_FILE: '/var/task/policy-catalog.json',
      MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
      // The demo policies read no token fact: refreshed tokens with the same claims reuse cached decisions.
      MCP_IDENTITY_POLICY_TOKEN_READS: 'none',
    });
    expect(env.MCP_IDENTITY_POLICY_CATALOG).toBeUndefined();
  });

  it('fails synth on a bad policy, naming the file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-policies-'));
    cpSync(join(ROOT, 'policies'), dir, { recursive: true });
    writeFileSync(
      join(dir, 'typo.cedar'),
      '// a comment\npermit (principal, action == McpIdentity::Action::"orders___get_order" resource);\n',
    );
    expect(() => synth({}, dir)).toThrow(/typo\.cedar:2:72: error: unexpected token `resource`/);
  });
});

describe('deploy-time safety', () => {
  const policyIds = (stack: McpIdentityStack) =>
    Object.fromEntries(
      [...stack.policyStore.policyStacks.values()].flatMap((nested) =>
        Object.entries(Template.fromStack(nested).findResources('AWS::VerifiedPermissions::Policy')).map(
          ([logicalId, resource]) => [resource.Properties.Name, `${nested.node.id}/${logicalId}`],
        ),
      ),
    );

  it('names each policy resource by its stable id, so adding a policy never shifts the others', () => {
    const dir = mkdtempSync(join(tmpdir(), 'more-policies-'));
    cpSync(join(ROOT, 'policies'), dir, { recursive: true });
    writeFileSync(
      join(dir, 'aaa-first.cedar'),
      '@id("aaa-first")\npermit (principal in McpIdentity::Role::"auditor", action == McpIdentity::Action::"orders___get_order", resource);\n',
    );
    const before = policyIds(main.stack);
    const after = policyIds(synth({}, dir).stack);
    for (const [name, logicalId] of Object.entries(before)) expect(after[name]).toBe(logicalId);
    expect(Object.keys(after)).toContainEqual(expect.stringMatching(/^name\/aaa-first__[0-9a-f]{8}$/));
  });

  it('retains the deletion-protected policy store on stack deletion', () => {
    main.template.hasResource('AWS::VerifiedPermissions::PolicyStore', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('offers every MCP protocol version the gateway supports, up to 2026-07-28', () => {
    main.template.hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
      ProtocolConfiguration: {
        Mcp: { SupportedVersions: ['2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'] },
      },
    });
  });

  it('synthesizes many policies with long reasons: the catalogue no longer rides in the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'many-policies-'));
    cpSync(join(ROOT, 'policies'), dir, { recursive: true });
    for (let index = 0; index < 40; index += 1) {
      writeFileSync(
        join(dir, `p${index}.cedar`),
        `@id("reader-${index}")\n@reason("${'a long explanation '.repeat(5)}")\npermit (principal in McpIdentity::Role::"r${index}", action == McpIdentity::Action::"orders___get_order", resource);\n`,
      );
    }
    expect(() => synth({}, dir)).not.toThrow();
  });

  it('refuses at synth an interceptor environment over Lambda’s 4 KB, naming the largest settings', () => {
    const audit = {
      ...EXAMPLE.audit,
      redactPatterns: Array.from({ length: 150 }, (_, i) => `secret-${i}-[0-9]{40}`),
    };
    expect(() => synth({ audit })).toThrow(
      /environment would take about \d+ bytes \(Lambda allows 4096\); the largest settings are MCP_IDENTITY_REDACT_PATTERNS/,
    );
  });
});

describe('audit trail', () => {
  it('creates an ActivityAuditLog event data store (single Region, termination protection set) and a Custom channel to it', () => {
    main.template.hasResourceProperties('AWS::CloudTrail::EventDataStore', {
      AdvancedEventSelectors: [
        { FieldSelectors: [{ Field: 'eventCategory', Equals: ['ActivityAuditLog'] }] },
      ],
      MultiRegionEnabled: false,
      OrganizationEnabled: false,
      TerminationProtectionEnabled: true,
      RetentionPeriod: 365,
    });
    main.template.hasResourceProperties('AWS::CloudTrail::Channel', {
      Source: 'Custom',
      Destinations: [
        {
          Type: 'EVENT_DATA_STORE',
          Location: {
            'Fn::GetAtt': [ref(main.template, 'AWS::CloudTrail::EventDataStore'), 'EventDataStoreArn'],
          },
        },
      ],
    });
  });

  it('feeds the forwarder from the audit log group, which the interceptor logs to', () => {
    const [filter] = Object.values(main.template.findResources('AWS::Logs::SubscriptionFilter'));
    expect(filter?.Properties.FilterPattern).toBe('{ $.auditEvent.UID = * }');
    const logGroup = filter?.Properties.LogGroupName.Ref as string;
    main.template.hasResource('AWS::Logs::LogGroup', {
      Properties: { RetentionInDays: 365 },
      DeletionPolicy: 'Retain',
    });
    expect(
      main.template.findResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' })[logGroup],
    ).toBeDefined();
    main.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('decides'),
      LoggingConfig: { LogGroup: { Ref: logGroup } },
    });
  });

  it('lets the forwarder put audit events on the one channel and park failures in the DLQ', () => {
    const channel = ref(main.template, 'AWS::CloudTrail::Channel');
    const queue = ref(main.template, 'AWS::SQS::Queue');
    const role = ref(main.template, 'AWS::IAM::Role', {
      Properties: { Description: Match.stringLikeRegexp('forwards audit events') },
    });
    const [policy] = Object.values(
      main.template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
    );
    const statements = policy?.Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual({
      Action: 'cloudtrail-data:PutAuditEvents',
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [channel, 'ChannelArn'] },
    });
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['sqs:SendMessage']),
        Resource: { 'Fn::GetAtt': [queue, 'Arn'] },
      }),
    );
    main.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('forwards audit events'),
      DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [queue, 'Arn'] } },
      Environment: {
        Variables: Match.objectLike({
          MCP_IDENTITY_AUDIT_CHANNEL_ARN: { 'Fn::GetAtt': [channel, 'ChannelArn'] },
        }),
      },
    });
  });

  it('keeps delivered event ids in an encrypted table with TTL and point-in-time recovery, which the forwarder may only claim, mark, release and read per item', () => {
    const table = ref(main.template, 'AWS::DynamoDB::Table');
    main.template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'uid', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'uid', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    const role = ref(main.template, 'AWS::IAM::Role', {
      Properties: { Description: Match.stringLikeRegexp('forwards audit events') },
    });
    const [policy] = Object.values(
      main.template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
    );
    const statements = policy?.Properties.PolicyDocument.Statement as {
      Action: string | string[];
      Resource: unknown;
    }[];
    expect(statements).toContainEqual({
      Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem'],
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [table, 'Arn'] },
    });
    // Nothing table-wide: no Scan, Query or batch writes, and no wildcard on DynamoDB actions.
    const actions = statements.flatMap((statement) => [statement.Action].flat());
    expect(actions.filter((action) => action.startsWith('dynamodb:')).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    main.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('forwards audit events'),
      Environment: {
        Variables: Match.objectLike({
          MCP_IDENTITY_AUDIT_DELIVERED_TABLE: { Ref: table },
          MCP_IDENTITY_AUDIT_PARKING_BUCKET: { Ref: ref(main.template, 'AWS::S3::Bucket') },
        }),
      },
    });
  });

  it('parks oversized events in a private, encrypted, SSL-only bucket that expires them after the queue does', () => {
    const bucket = ref(main.template, 'AWS::S3::Bucket');
    main.template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ ExpirationInDays: 15, Status: 'Enabled' })],
      },
    });
    main.template.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 14 * 86_400 });
    main.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
    const role = ref(main.template, 'AWS::IAM::Role', {
      Properties: { Description: Match.stringLikeRegexp('forwards audit events') },
    });
    const [policy] = Object.values(
      main.template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
    );
    expect(policy?.Properties.PolicyDocument.Statement).toContainEqual({
      Action: 's3:PutObject',
      Effect: 'Allow',
      Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/parked/*']] },
    });
  });

  it("counts events sent again after an unknown outcome, from the forwarder's log", () => {
    main.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ $.unknownOutcomeResends >= 0 }',
      MetricTransformations: [
        Match.objectLike({
          MetricNamespace: 'mcp-identity',
          MetricName: 'AuditUnknownOutcomeResends',
          MetricValue: '$.unknownOutcomeResends',
        }),
      ],
    });
  });

  it('offers the redrive a managed policy scoped to the queue, channel, table and parking prefix', () => {
    const statements = Object.entries(main.template.findResources('AWS::IAM::ManagedPolicy')).filter(
      ([id]) => !id.startsWith('Grants'),
    )[0]?.[1].Properties.PolicyDocument.Statement;
    expect(statements).toEqual([
      expect.objectContaining({
        Action: [
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueAttributes',
        ],
        Resource: { 'Fn::GetAtt': [ref(main.template, 'AWS::SQS::Queue'), 'Arn'] },
      }),
      expect.objectContaining({
        Action: 'cloudtrail-data:PutAuditEvents',
        Resource: { 'Fn::GetAtt': [ref(main.template, 'AWS::CloudTrail::Channel'), 'ChannelArn'] },
      }),
      expect.objectContaining({
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem'],
        Resource: { 'Fn::GetAtt': [ref(main.template, 'AWS::DynamoDB::Table'), 'Arn'] },
      }),
      expect.objectContaining({
        Action: 's3:GetObject',
        Resource: {
          'Fn::Join': ['', [{ 'Fn::GetAtt': [ref(main.template, 'AWS::S3::Bucket'), 'Arn'] }, '/parked/*']],
        },
      }),
    ]);
  });

  it('with a customer managed key, encrypts the table and the bucket with it', () => {
    const { template } = synth({
      kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
            },
            BucketKeyEnabled: true,
          },
        ],
      },
    });
  });

  it('with the cloudwatch store, keeps just the log group', () => {
    // Grants off: their table, queue and auditor are not the audit trail's (grants-table.test.ts has them).
    const { template } = synth({
      audit: { ...EXAMPLE.audit, store: 'cloudwatch' },
      grants: { enabled: false },
    });
    for (const type of [
      'AWS::CloudTrail::EventDataStore',
      'AWS::CloudTrail::Channel',
      'AWS::SQS::Queue',
      'AWS::Logs::SubscriptionFilter',
      'AWS::DynamoDB::Table',
      'AWS::S3::Bucket',
    ])
      template.resourceCountIs(type, 0);
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.hasOutput('AuditStore', { Value: 'cloudwatch' });
  });

  it('warns at synth that CloudTrail Lake is closed to new customers, only when the store is cloudtrail-lake', () => {
    const lake = Annotations.fromStack(main.stack).findWarning(
      '*',
      Match.stringLikeRegexp('closed to new customers'),
    );
    const cloudwatch = synth({ audit: { ...EXAMPLE.audit, store: 'cloudwatch' } });

    expect(lake.map((warning) => warning.id)).toEqual(['/Test/Audit']);
    expect(String(lake[0]?.entry.data)).toContain('set "audit": { "store": "cloudwatch" }');
    Annotations.fromStack(cloudwatch.stack).hasNoWarning(
      '*',
      Match.stringLikeRegexp('closed to new customers'),
    );
  });

  it('outputs the gateway URL, policy store, event data store, log group and DLQ', () => {
    for (const output of [
      'GatewayUrl',
      'PolicyStoreId',
      'EventDataStoreId',
      'AuditLogGroup',
      'DeadLetterQueueUrl',
      'AuditChannelArn',
      'DeliveredUidTableName',
      'ParkedEventsBucketName',
      'AuditRedrivePolicyArn',
    ])
      main.template.hasOutput(output, {});
  });
});

describe('cdk-nag', () => {
  const report = (app: App) => {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    let error: unknown;
    try {
      app.synth();
    } catch (caught) {
      error = caught;
    }
    return error;
  };

  it('finds nothing unacknowledged in the stack (AwsSolutions and Serverless packs)', () => {
    const app = new App();
    new McpIdentityStack(app, 'Nag', {
      config: parseStackConfig(EXAMPLE),
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    expect(report(app)).toBeUndefined();
  });

  it('finds nothing unacknowledged with a customer managed key and required claims either', () => {
    const app = new App();
    const config = parseStackConfig({
      ...EXAMPLE,
      kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      identity: {
        ...EXAMPLE.identity,
        requiredClaims: [{ name: 'groups', match: 'CONTAINS_ANY', values: ['mcp-users', 'admins'] }],
      },
    });
    new McpIdentityStack(app, 'NagKms', { config, env: { account: '123456789012', region: 'eu-west-1' } });
    expect(report(app)).toBeUndefined();
  });

  it('would fail on an unacknowledged finding (the check can fail)', () => {
    const app = new App();
    new Queue(new Stack(app, 'Bad'), 'Plain');
    expect(String(report(app))).toMatch(/AwsSolutions-SQS/);
  });
});

describe('configuration', () => {
  it.each([
    [
      { identity: { ...EXAMPLE.identity, audience: [] } },
      /mcpIdentity\.identity\.audience: needs at least one audience/,
    ],
    [
      { identity: { ...EXAMPLE.identity, discoveryUrl: 'https://idp.example.com/jwks' } },
      /discoveryUrl: must end with \/\.well-known\/openid-configuration/,
    ],
    [{ identity: { audience: ['a'] } }, /mcpIdentity\.identity\.issuer: is required/],
    [{ audit: { store: 'dynamodb' } }, /mcpIdentity\.audit\.store: /],
    [{ audit: { logRetentionDays: 42 } }, /logRetentionDays: must be a CloudWatch Logs retention/],
    [{ kmsKeyArn: 'alias/mine' }, /kmsKeyArn: must be a KMS key ARN/],
    [{ audti: {} }, /unknown key\(s\) audti/],
    [
      {
        identity: {
          ...EXAMPLE.identity,
          requiredClaims: [{ name: 'groups', match: 'EQUALS', values: ['a', 'b'] }],
        },
      },
      /EQUALS and CONTAINS take exactly one value/,
    ],
  ])('refuses %j with a readable message', (change, message) => {
    expect(() => parseStackConfig({ ...EXAMPLE, ...change })).toThrow(StackConfigError);
    expect(() => parseStackConfig({ ...EXAMPLE, ...change })).toThrow(message);
  });

  it('explains where configuration comes from when there is none', () => {
    expect(() => parseStackConfig(undefined)).toThrow(/set the "mcpIdentity" object in cdk.json context/);
  });
});

describe('the CDK CLI, as a user runs it', () => {
  it('synthesizes offline with the example configuration', () => {
    const out = mkdtempSync(join(tmpdir(), 'cdk-out-'));
    const result = spawnSync('npx', ['cdk', 'synth', '--quiet', '--output', out], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.status).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'McpIdentity.template.json'), 'utf8')).Resources).toBeDefined();
    // esbuild runs at warning level: no per-function size summary or "Done in" line on a clean synth.
    expect(result.stderr).toContain('Bundling asset');
    expect(result.stderr).not.toMatch(/Done in \d+m?s/);
    expect(result.stderr).not.toMatch(/index\.js\.map\s+[\d.]+kb/);
  }, 120_000);

  it('fails with the list of bad keys for a bad configuration file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'bad.json');
    writeFileSync(file, JSON.stringify({ identity: { issuer: 'x' } }));
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
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('bad.json.identity.discoveryUrl: is required');
    expect(result.stderr).toContain('bad.json.identity.audience: is required');
  }, 120_000);
});

describe('bundles', () => {
  it('keeps cedar-wasm out of the interceptor bundle', () => {
    const out = mkdtempSync(join(tmpdir(), 'bundle-'));
    execFileSync(join(ROOT, 'node_modules', '.bin', 'esbuild'), [
      join(ROOT, 'lambda', 'handlers', 'interceptor.ts'),
      '--bundle',
      '--platform=node',
      '--target=node22',
      `--metafile=${join(out, 'meta.json')}`,
      `--outfile=${join(out, 'index.js')}`,
      '--log-level=warning',
    ]);
    const inputs = Object.keys(JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')).inputs);
    expect(inputs.some((input) => input.includes('cedar-wasm'))).toBe(false);
    expect(inputs.some((input) => input.includes('aws-jwt-verify'))).toBe(true);
  });
});
