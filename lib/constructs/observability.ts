import { Aws, CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  LogQueryVisualizationType,
  LogQueryWidget,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ILogGroup, QueryDefinition, QueryString } from 'aws-cdk-lib/aws-logs';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  callsPerToolQuery,
  savedActivityQueries,
  topDeniedUsersQuery,
} from '../../cli/activity-saved-queries';
import { DIMENSION, METRIC } from '../../lambda/adapters/emf-metrics';
import type { Door } from '../../lambda/guard/types';
import type { ObservabilityConfig } from '../observability-config';

export interface ObservabilityProps {
  readonly config: ObservabilityConfig;
  /** The `service` dimension the guard and the forwarder write (the gateway name). */
  readonly service: string;
  readonly auditLogGroup: ILogGroup;
  /** The guard's Lambda functions, by door (AgentCore interceptor, API Gateway proxy). */
  readonly guards: readonly { readonly door: Door; readonly fn: IFunction; readonly label: string }[];
  /** CloudTrail Lake store only: the forwarder and its dead-letter queue. */
  readonly forwarder?: IFunction;
  readonly deadLetterQueue?: IQueue;
  /** Encrypts the alarm topic the stack creates (its key policy must let CloudWatch use it). */
  readonly encryptionKey?: IKey;
}

/** One period for every widget and alarm: EMF metrics are standard resolution. */
const PERIOD = Duration.minutes(5);

/**
 * CDK's QueryString (2.276) has no `dedup`, which the activity listings end with: this one hands the
 * L2 QueryDefinition the CLI's text verbatim, so the saved query and `activity` cannot drift apart.
 */
class VerbatimQueryString extends QueryString {
  constructor(private readonly text: string) {
    super();
  }
  override toString(): string {
    return this.text;
  }
}

/**
 * Deployed observability (issue 14.5): the guard's EMF metrics on a dashboard, the `activity` questions as saved
 * Logs Insights queries on the audit log group, and alarms on what needs a human — a non-empty dead-letter queue,
 * a failing guard function, a failing decision point — optionally sent to SNS. Reads only what the functions
 * write; grants nothing to anyone.
 */
export class Observability extends Construct {
  readonly dashboard?: Dashboard;
  readonly alarms: Alarm[] = [];
  readonly queries: QueryDefinition[] = [];
  /** The topic alarms notify, when one is configured or created for `alarmEmail`. */
  readonly alarmTopic?: ITopic;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { config, service } = props;
    const stackName = Stack.of(this).stackName;
    // A label makes CloudFormation render an alarm's metric as metric math: alarms take none.
    const metric = (name: string, dimensions: Record<string, string>, statistic: string, label?: string) =>
      new Metric({
        namespace: config.namespace,
        metricName: name,
        dimensionsMap: { [DIMENSION.service]: service, ...dimensions },
        statistic,
        period: PERIOD,
        ...(label === undefined ? {} : { label }),
      });
    const perDoor = (name: string, statistic: string, label: (door: string) => string) =>
      props.guards.map(({ door, label: doorLabel }) =>
        metric(name, { [DIMENSION.door]: door }, statistic, label(doorLabel)),
      );
    // Per tool: whatever tools the guard has seen (the Tool dimension is bounded by the schema).
    const perTool = (name: string) =>
      new MathExpression({
        expression: `SEARCH('{${config.namespace},${DIMENSION.service},${DIMENSION.tool}} MetricName="${name}" ${DIMENSION.service}="${service}"', 'Sum', ${PERIOD.toSeconds()})`,
        label: '',
        period: PERIOD,
      });

    for (const saved of savedActivityQueries())
      this.queries.push(
        new QueryDefinition(this, `Query${saved.id}`, {
          queryDefinitionName: `mcp-identity/${stackName}/${saved.name}`,
          queryString: new VerbatimQueryString(saved.query),
          logGroups: [props.auditLogGroup],
        }),
      );

    const topic = this.alarmTopicFor(props);
    this.alarmTopic = topic;
    const alarm = (alarmId: string, options: ConstructorParameters<typeof Alarm>[2]) => {
      const made = new Alarm(this, alarmId, options);
      if (topic !== undefined) {
        made.addAlarmAction(new SnsAction(topic));
        made.addOkAction(new SnsAction(topic));
      }
      this.alarms.push(made);
      return made;
    };

    if (props.deadLetterQueue !== undefined)
      alarm('DeadLetterQueueDepth', {
        alarmDescription: `${stackName}: audit events are parked in the dead-letter queue; they are not in CloudTrail Lake until \`npx mcp-identity audit redrive\` delivers them (docs/observability.md).`,
        metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: PERIOD,
          statistic: 'Maximum',
        }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    for (const guard of props.guards) {
      // The guard answers every request itself (fail closed) and never throws: a Lambda error is a crash, a
      // timeout or a throttle, and the gateway's answer to that is not ours to shape.
      alarm(`${guard.door === 'agentcore' ? 'Interceptor' : 'Proxy'}Errors`, {
        alarmDescription: `${stackName}: the ${guard.label} function failed (error, timeout or throttle); requests through it were not decided by the guard.`,
        metric: guard.fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      alarm(`${guard.door === 'agentcore' ? 'Interceptor' : 'Proxy'}DecisionPointErrors`, {
        alarmDescription: `${stackName}: Verified Permissions failed to answer (${guard.label}); those calls were denied.`,
        metric: metric(METRIC.decisionPointErrors, { [DIMENSION.door]: guard.door }, 'Sum'),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    }

    if (!config.dashboard) return;
    const logGroupNames = [props.auditLogGroup.logGroupName];
    const dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${stackName}-mcp-identity`,
      defaultInterval: Duration.hours(3),
    });
    dashboard.addWidgets(
      new TextWidget({
        markdown: `## mcp-identity — ${stackName}\nDecisions of the guard (EMF metrics, namespace \`${config.namespace}\`, service \`${service}\`), the audit log group's activity, and the audit pipeline. Saved queries: Logs Insights → Queries → \`mcp-identity/${stackName}/\`. Same questions on the command line: \`npx mcp-identity activity --stack ${stackName}\`.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({ title: 'Calls per tool', left: [perTool(METRIC.calls)], width: 8, statistic: 'Sum' }),
      new GraphWidget({
        title: 'Allows per tool',
        left: [perTool(METRIC.allows)],
        width: 8,
        statistic: 'Sum',
      }),
      new GraphWidget({
        title: 'Denials per tool',
        left: [perTool(METRIC.denials)],
        width: 8,
        statistic: 'Sum',
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Decision latency (ms): p50 and p99',
        left: [
          ...perDoor(METRIC.decisionLatency, 'p50', (door) => `${door} p50`),
          ...perDoor(METRIC.decisionLatency, 'p99', (door) => `${door} p99`),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Verified Permissions errors (calls denied)',
        left: perDoor(METRIC.decisionPointErrors, 'Sum', (door) => `${door}: decision point errors`),
        width: 8,
      }),
      new GraphWidget({
        title: 'Guard function errors',
        left: props.guards.map(({ fn, label }) =>
          fn.metricErrors({ period: PERIOD, statistic: 'Sum', label: `${label} errors` }),
        ),
        width: 8,
      }),
    );
    dashboard.addWidgets(
      new LogQueryWidget({
        title: 'Top denied users (audit log group)',
        logGroupNames,
        queryString: topDeniedUsersQuery(),
        view: LogQueryVisualizationType.TABLE,
        width: 12,
      }),
      new LogQueryWidget({
        title: 'Calls per tool and decision (audit log group)',
        logGroupNames,
        queryString: callsPerToolQuery(),
        view: LogQueryVisualizationType.TABLE,
        width: 12,
      }),
    );
    if (props.forwarder !== undefined && props.deadLetterQueue !== undefined) {
      const pipeline: IMetric[] = [
        metric(METRIC.auditEventsDelivered, {}, 'Sum', 'delivered to CloudTrail Lake'),
        metric(METRIC.auditEventsParked, {}, 'Sum', 'parked in the dead-letter queue'),
      ];
      dashboard.addWidgets(
        new GraphWidget({ title: 'Audit forwarder: events', left: pipeline, width: 12 }),
        new SingleValueWidget({
          title: 'Dead-letter queue depth (audit events awaiting redrive)',
          metrics: [
            props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
              period: PERIOD,
              statistic: 'Maximum',
            }),
          ],
          width: 6,
        }),
        new SingleValueWidget({
          title: 'Forwarder errors',
          metrics: [props.forwarder.metricErrors({ period: PERIOD, statistic: 'Sum' })],
          width: 6,
        }),
      );
    }
    this.dashboard = dashboard;
    new CfnOutput(this, 'DashboardName', { value: dashboard.dashboardName, key: 'DashboardName' });
    new CfnOutput(this, 'DashboardUrl', {
      key: 'DashboardUrl',
      value: `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards/dashboard/${dashboard.dashboardName}`,
      description: 'CloudWatch dashboard of the guard’s decisions and the audit pipeline',
    });
  }

  private alarmTopicFor(props: ObservabilityProps): ITopic | undefined {
    const { alarmTopicArn, alarmEmail } = props.config;
    let topic: ITopic | undefined;
    if (alarmTopicArn !== undefined) topic = Topic.fromTopicArn(this, 'AlarmTopic', alarmTopicArn);
    else if (alarmEmail !== undefined) {
      const created = new Topic(this, 'AlarmTopic', {
        displayName: 'mcp-identity alarms',
        enforceSSL: true,
        ...(props.encryptionKey ? { masterKey: props.encryptionKey } : {}),
      });
      if (props.encryptionKey === undefined)
        Validations.of(created).acknowledge({
          id: 'AwsSolutions-SNS2',
          reason:
            'CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key; set kmsKeyArn to encrypt it with a customer managed key whose policy lets cloudwatch.amazonaws.com use it (docs/observability.md).',
        });
      topic = created;
    }
    if (topic !== undefined && alarmEmail !== undefined)
      topic.addSubscription(new EmailSubscription(alarmEmail));
    return topic;
  }
}
