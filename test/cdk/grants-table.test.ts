import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { parseStackConfig } from '../../lib/config';
import { McpIdentityStack } from '../../lib/mcp-identity-stack';

/** The grants table, its stream auditor and the doors' read access, by intent (issue 15 item 4). */

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context.mcpIdentity;
const ENV = { account: '123456789012', region: 'eu-west-1' };

function synth(overrides: Record<string, unknown> = {}) {
  const app = new App();
  const stack = new McpIdentityStack(app, 'Grants', {
    config: parseStackConfig({ ...structuredClone(EXAMPLE), ...overrides }),
    env: ENV,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

let main: ReturnType<typeof synth>;
beforeAll(() => {
  main = synth({
    doors: { agentcore: {}, apiGateway: { upstream: { url: 'https://mcp.example.com/mcp' } } },
  });
});

const grantsTableId = () => {
  const found = Object.keys(
    main.template.findResources('AWS::DynamoDB::Table', {
      Properties: { KeySchema: Match.arrayWith([Match.objectLike({ AttributeName: 'sk' })]) },
    }),
  );
  expect(found).toHaveLength(1);
  return found[0] as string;
};

describe('grants table', () => {
  it('has TTL on deleteAfter, point-in-time recovery, encryption, a stream of old and new images, and is retained', () => {
    main.template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'deleteAfter', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('lets each door Query the grants table and nothing else in DynamoDB', () => {
    const table = grantsTableId();
    const policies = main.template.findResources('AWS::IAM::Policy');
    const doorStatements = Object.entries(policies)
      .filter(([id]) => /Interceptor|Proxy/.test(id))
      .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
    const dynamo = doorStatements.filter((statement) =>
      [statement.Action].flat().some((action) => String(action).startsWith('dynamodb:')),
    );
    expect(dynamo.length).toBe(2); // the interceptor and the proxy
    for (const statement of dynamo) {
      expect(statement.Action).toBe('dynamodb:Query');
      expect(statement.Resource).toEqual({ 'Fn::GetAtt': [table, 'Arn'] });
    }
  });

  it('tells both doors the table and the lookup bound (min of lookupTtlSeconds and revocationBoundSeconds)', () => {
    const bounded = synth({ grants: { lookupTtlSeconds: 10, revocationBoundSeconds: 3 } });
    const functions = bounded.template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { MCP_IDENTITY_ACCESS_TABLE: Match.anyValue() } } },
    });
    expect(Object.keys(functions).length).toBeGreaterThan(0);
    for (const fn of Object.values(functions))
      expect(fn.Properties.Environment.Variables.MCP_IDENTITY_ACCESS_TTL_SECONDS).toBe('3');
  });

  it('audits changes from the stream into the audit log group, retrying failed records', () => {
    main.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [grantsTableId(), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    const auditor = Object.values(
      main.template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'mcp-identity-access-audit' } } },
      }),
    );
    expect(auditor).toHaveLength(1);
    const logGroup = auditor[0]?.Properties.LoggingConfig.LogGroup;
    expect(JSON.stringify(logGroup)).toMatch(/AuditAuditLogGroup/);
  });

  it('outputs the table and an operator policy that can only query, scan and put on it', () => {
    main.template.hasOutput('GrantsTable', {});
    main.template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [
          {
            Action: ['dynamodb:Query', 'dynamodb:Scan', 'dynamodb:PutItem'],
            Effect: 'Allow',
            Resource: { 'Fn::GetAtt': [grantsTableId(), 'Arn'] },
          },
        ],
      },
    });
  });

  it('is left out with grants.enabled false, and the doors get no table', () => {
    const off = synth({ grants: { enabled: false } });
    expect(
      Object.keys(
        off.template.findResources('AWS::Lambda::Function', {
          Properties: { Environment: { Variables: { MCP_IDENTITY_ACCESS_TABLE: Match.anyValue() } } },
        }),
      ),
    ).toHaveLength(0);
    expect(() => off.template.hasOutput('GrantsTable', {})).toThrow();
  });

  it('gives the operator policy kms:Decrypt, Encrypt and GenerateDataKey on the customer managed key, and only then', () => {
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const cmk = synth({ kmsKeyArn: key });
    const policies = cmk.template.findResources('AWS::IAM::ManagedPolicy', {
      Properties: { Description: Match.stringLikeRegexp('grants table') },
    });
    const statements = Object.values(policies).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[],
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: key,
      }),
    );
    // Without a key (the main synth) the operator policy is the one DynamoDB statement, asserted above.
    expect(JSON.stringify(main.template.findResources('AWS::IAM::ManagedPolicy'))).not.toMatch(/kms:Encrypt/);
  });

  it('refuses bad grants settings with the key named', () => {
    expect(() => parseStackConfig({ ...EXAMPLE, grants: { maxDuration: '2 hours' } })).toThrow(
      /grants\.maxDuration: must be a duration/,
    );
    expect(() => parseStackConfig({ ...EXAMPLE, grants: { revocationBoundSeconds: 600 } })).toThrow(
      /grants\.revocationBoundSeconds/,
    );
  });

  it('stays cdk-nag clean (AwsSolutions and Serverless) with a customer managed key', () => {
    const app = new App();
    new McpIdentityStack(app, 'GrantsNag', {
      config: parseStackConfig({
        ...EXAMPLE,
        kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      }),
      env: ENV,
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
