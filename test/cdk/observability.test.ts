import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { buildInsightsQuery } from '../../cli/activity';
import { savedActivityQueries, topDeniedUsersQuery } from '../../cli/activity-saved-queries';
import { parseStackConfig, StackConfigError } from '../../lib/config';
import { McpIdentityStack } from '../../lib/mcp-identity-stack';

/**
 * Issue 14.5, by intent: the dashboard has the widgets that matter, the saved queries are the CLI's, the
 * alarms have their thresholds and notify SNS only when configured, and no role gains a permission.
 */

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context.mcpIdentity;
const KMS = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:oncall';
const API_DOOR = {
  agentcore: {},
  apiGateway: { upstream: { url: 'https://mcp.example.com/mcp', name: 'orders' } },
};

function synth(overrides: Record<string, unknown> = {}, id = 'Obs') {
  const app = new App();
  const stack = new McpIdentityStack(app, id, {
    config: parseStackConfig({ ...structuredClone(EXAMPLE), ...overrides }),
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  return { app, stack, template: Template.fromStack(stack) };
}

/** The dashboard body as CloudFormation holds it: Fn::Join parts, tokens rendered as placeholders. */
function dashboardBody(template: Template): {
  widgets: { type: string; properties: Record<string, unknown> }[];
} {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]?.Properties.DashboardBody;
  const text =
    typeof body === 'string'
      ? body
      : (body['Fn::Join'][1] as unknown[])
          .map((part) => (typeof part === 'string' ? part : `<${JSON.stringify(part).replace(/"/g, "'")}>`))
          .join('');
  return JSON.parse(text);
}

const titles = (template: Template) =>
  dashboardBody(template).widgets.map((widget) => widget.properties.title);

let lake: ReturnType<typeof synth>;
let cloudwatch: ReturnType<typeof synth>;
beforeAll(() => {
  lake = synth();
  cloudwatch = synth({ audit: { ...EXAMPLE.audit, store: 'cloudwatch' } }, 'ObsCw');
});

describe('the dashboard', () => {
  it('shows calls, allows and denials per tool from the guard’s metrics, searched over the Tool dimension', () => {
    const metrics = dashboardBody(lake.template)
      .widgets.filter((widget) => /per tool$/.test(String(widget.properties.title)))
      .map((widget) => JSON.stringify(widget.properties.metrics));
    expect(metrics).toHaveLength(3);
    for (const [index, name] of ['Calls', 'Allows', 'Denials'].entries())
      expect(metrics[index]).toContain(
        `SEARCH('{McpIdentity,service,Tool} MetricName=\\"${name}\\" service=\\"mcp-identity\\"', 'Sum', 300)`,
      );
  });

  it('shows decision latency p50 and p99, Verified Permissions errors and guard function errors', () => {
    const body = dashboardBody(lake.template);
    const latency = body.widgets.find(
      (widget) => widget.properties.title === 'Decision latency (ms): p50 and p99',
    );
    const lines = JSON.stringify(latency?.properties.metrics);
    expect(lines).toContain('"McpIdentity","DecisionLatency","Door","agentcore","service","mcp-identity"');
    expect(lines).toContain('"stat":"p50"');
    expect(lines).toContain('"stat":"p99"');
    expect(titles(lake.template)).toEqual(
      expect.arrayContaining(['Verified Permissions errors (calls denied)', 'Guard function errors']),
    );
  });

  it('lists top denied users from the audit log group with the saved query’s text', () => {
    const widget = dashboardBody(lake.template).widgets.find(
      (candidate) => candidate.properties.title === 'Top denied users (audit log group)',
    );
    expect(widget?.type).toBe('log');
    expect(String(widget?.properties.query)).toContain(topDeniedUsersQuery().replace(/\n/g, '\n'));
    expect(String(widget?.properties.query)).toMatch(/^SOURCE '<.*AuditLogGroup.*>'/);
  });

  it('with CloudTrail Lake, shows the forwarder’s parked events and the dead-letter queue depth', () => {
    const body = JSON.stringify(dashboardBody(lake.template));
    expect(body).toContain('AuditEventsParked');
    expect(titles(lake.template)).toEqual(
      expect.arrayContaining([
        'Dead-letter queue depth (audit events awaiting redrive)',
        'Audit forwarder: events',
      ]),
    );
  });

  it('with the cloudwatch store, has no pipeline widgets (there is no forwarder or queue), log widgets still', () => {
    const shown = titles(cloudwatch.template);
    expect(shown).not.toContain('Audit forwarder: events');
    expect(shown).toContain('Top denied users (audit log group)');
    expect(JSON.stringify(dashboardBody(cloudwatch.template))).not.toContain('AuditEventsParked');
  });

  it('follows the configured namespace, and can be left out', () => {
    const custom = synth({ observability: { namespace: 'Team/Mcp' } }, 'ObsNs');
    expect(JSON.stringify(dashboardBody(custom.template))).toContain('{Team/Mcp,service,Tool}');
    custom.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_METRICS_NAMESPACE: 'Team/Mcp' }) },
    });
    const none = synth({ observability: { dashboard: false } }, 'ObsNone');
    none.template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    expect(Object.keys(none.template.findOutputs('DashboardUrl'))).toHaveLength(0);
  });

  it('names the dashboard in the stack outputs, with its console URL', () => {
    lake.template.hasOutput('DashboardName', { Value: { Ref: Match.stringLikeRegexp('Dashboard') } });
    expect(JSON.stringify(lake.template.findOutputs('DashboardUrl'))).toContain('#dashboards/dashboard/');
  });

  it('with both doors, charts each door’s latency and errors', () => {
    const both = synth({ doors: API_DOOR }, 'ObsBoth');
    const lines = JSON.stringify(dashboardBody(both.template));
    expect(lines).toContain('"Door","agentcore"');
    expect(lines).toContain('"Door","apigw"');
  });
});

describe('saved Logs Insights queries', () => {
  it('saves each activity report on the audit log group, with the CLI’s own query text', () => {
    const definitions = Object.values(lake.template.findResources('AWS::Logs::QueryDefinition'));
    expect(definitions).toHaveLength(savedActivityQueries().length);
    for (const saved of savedActivityQueries())
      lake.template.hasResourceProperties('AWS::Logs::QueryDefinition', {
        Name: `mcp-identity/Obs/${saved.name}`,
        QueryString: saved.query,
        LogGroupNames: [{ Ref: Match.stringLikeRegexp('AuditLogGroup') }],
      });
  });

  it('the listings are exactly what `activity` runs against CloudWatch Logs', () => {
    const byId = new Map(savedActivityQueries().map((saved) => [saved.id, saved.query]));
    const anyTime = { since: new Date(0), until: new Date(1) };
    expect(byId.get('Denials')).toBe(buildInsightsQuery({ ...anyTime, decision: 'deny', limit: 1000 }));
    expect(byId.get('Recent')).toBe(buildInsightsQuery({ ...anyTime, limit: 1000 }));
    expect(byId.get('DecisionById')).toContain('| filter auditEvent.UID = "REPLACE-WITH-DECISION-ID"');
  });

  it('the reports read the same fields the listing reads', () => {
    const listing = buildInsightsQuery({ since: new Date(0), until: new Date(1), limit: 1 });
    for (const saved of savedActivityQueries())
      for (const field of saved.query.match(/auditEvent\.[A-Za-z.]+/g) ?? [])
        expect(listing).toContain(field);
  });
});

describe('alarms', () => {
  const alarmsOf = (template: Template) => Object.values(template.findResources('AWS::CloudWatch::Alarm'));

  it('alarm on a non-empty dead-letter queue, interceptor errors and decision point errors, at 1 per 5 minutes', () => {
    lake.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Statistic: 'Maximum',
      Threshold: 1,
      Period: 300,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    lake.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('Interceptor') } }],
      Threshold: 1,
    });
    lake.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'DecisionPointErrors',
      Namespace: 'McpIdentity',
      Dimensions: Match.arrayWith([{ Name: 'Door', Value: 'agentcore' }]),
      Threshold: 1,
    });
    expect(alarmsOf(lake.template)).toHaveLength(3);
  });

  it('alarm on the proxy too when the API Gateway door is deployed; no queue alarm without CloudTrail Lake', () => {
    const both = synth({ doors: API_DOOR, audit: { ...EXAMPLE.audit, store: 'cloudwatch' } }, 'ObsProxy');
    both.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('Proxy') } }],
    });
    expect(alarmsOf(both.template).some((alarm) => alarm.Properties.Namespace === 'AWS/SQS')).toBe(false);
    expect(alarmsOf(both.template)).toHaveLength(4);
  });

  it('notify nobody unless a topic or an e-mail is configured', () => {
    for (const alarm of alarmsOf(lake.template)) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
      expect(alarm.Properties.OKActions).toBeUndefined();
    }
    lake.template.resourceCountIs('AWS::SNS::Topic', 0);
  });

  it('notify the configured topic when it goes into alarm and back to OK', () => {
    const { template } = synth({ observability: { alarmTopicArn: TOPIC } }, 'ObsTopic');
    for (const alarm of alarmsOf(template)) {
      expect(alarm.Properties.AlarmActions).toEqual([TOPIC]);
      expect(alarm.Properties.OKActions).toEqual([TOPIC]);
    }
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('create an encrypted, TLS-only topic for an e-mail address', () => {
    const { template } = synth(
      { kmsKeyArn: KMS, observability: { alarmEmail: 'oncall@example.com' } },
      'ObsMail',
    );
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: KMS });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    for (const alarm of alarmsOf(template))
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/AlarmTopic/) }]);
  });
});

describe('least privilege', () => {
  it('grants no role anything new: the same IAM statements with or without observability', () => {
    const statements = (template: Template) =>
      JSON.stringify(
        Object.values(template.findResources('AWS::IAM::Policy')).map(
          (policy) => policy.Properties.PolicyDocument.Statement,
        ),
      ).replace(/Obs[A-Za-z]*/g, 'X');
    const without = synth({ observability: { dashboard: false } }, 'ObsA');
    const withMail = synth({ observability: { alarmEmail: 'oncall@example.com' } }, 'ObsB');
    expect(statements(withMail.template)).toBe(statements(without.template));
    expect(statements(lake.template)).not.toMatch(/cloudwatch:PutMetricData/);
  });
});

describe('configuration', () => {
  it.each([
    [{ namespace: 'AWS/Lambda' }, /observability\.namespace: must be a CloudWatch namespace/],
    [{ namespace: 'has space' }, /observability\.namespace: must be a CloudWatch namespace/],
    [{ alarmTopicArn: 'oncall' }, /observability\.alarmTopicArn: must be an SNS topic ARN/],
    [
      { alarmTopicArn: `${TOPIC}.fifo` },
      /observability\.alarmTopicArn: CloudWatch alarms cannot notify a FIFO topic/,
    ],
    [{ alarmEmail: 'not-an-address' }, /observability\.alarmEmail: must be an e-mail address/],
    [{ alarms: true }, /observability: unknown key\(s\) alarms/],
  ])('refuses observability %j with a message naming the key', (observability, message) => {
    expect(() => parseStackConfig({ ...EXAMPLE, observability })).toThrow(StackConfigError);
    expect(() => parseStackConfig({ ...EXAMPLE, observability })).toThrow(message);
  });

  it('defaults to the McpIdentity namespace, a dashboard and no notification target', () => {
    expect(parseStackConfig(EXAMPLE).observability).toEqual({ namespace: 'McpIdentity', dashboard: true });
  });
});

describe('cdk-nag', () => {
  const report = (app: App) => {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    try {
      app.synth();
      return undefined;
    } catch (error) {
      return error;
    }
  };

  it.each([
    ['an e-mail topic without a customer key', { observability: { alarmEmail: 'oncall@example.com' } }],
    [
      'an e-mail topic with a customer key',
      { kmsKeyArn: KMS, observability: { alarmEmail: 'oncall@example.com' } },
    ],
    ['both doors and an existing topic', { doors: API_DOOR, observability: { alarmTopicArn: TOPIC } }],
  ])('finds nothing unacknowledged with %s', (_name, overrides) => {
    expect(report(synth(overrides, 'ObsNag').app)).toBeUndefined();
  });
});
