import { join } from 'node:path';
import { Duration, Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { CfnChannel, CfnEventDataStore } from 'aws-cdk-lib/aws-cloudtrail';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { FilterPattern, LogGroup, type RetentionDays, SubscriptionFilter } from 'aws-cdk-lib/aws-logs';
import { LambdaDestination } from 'aws-cdk-lib/aws-logs-destinations';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { McpFunction, PROJECT_ROOT } from './mcp-function';

export type AuditStore = 'cloudtrail-lake' | 'cloudwatch';

export interface AuditTrailProps {
  /** `cloudtrail-lake` (log group → forwarder → channel → event data store) or `cloudwatch` (the log group only). */
  readonly store: AuditStore;
  readonly logRetention: RetentionDays;
  /** @default 365 */
  readonly eventDataStoreRetentionDays?: number;
  /** @default true */
  readonly terminationProtection?: boolean;
  /** Encrypts the log groups, the dead-letter queue and the event data store. @default - AWS-owned keys */
  readonly encryptionKey?: IKey;
}

/** The subscription filter pattern that selects audit lines (written by LogAuditSink under `auditEvent`). */
export const AUDIT_FILTER_PATTERN = '{ $.auditEvent.UID = * }';

/**
 * The audit pipeline (DESIGN §3.6). The interceptor writes one structured line per decision to this log group
 * — no network call on the hot path. With CloudTrail Lake, a subscription filter feeds a forwarder that sends
 * the events to a Custom channel of an ActivityAuditLog event data store, retrying what it can and parking
 * the rest, with the reason, in an SQS dead-letter queue (`mcp-identity audit redrive` replays it).
 */
export class AuditTrail extends Construct {
  readonly logGroup: LogGroup;
  readonly eventDataStore?: CfnEventDataStore;
  readonly channel?: CfnChannel;
  readonly deadLetterQueue?: Queue;
  readonly forwarder?: McpFunction;

  constructor(scope: Construct, id: string, props: AuditTrailProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'AuditLogGroup', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
    });
    if (props.store === 'cloudwatch') return;

    this.eventDataStore = new CfnEventDataStore(this, 'EventDataStore', {
      advancedEventSelectors: [
        {
          name: 'MCP tool decisions',
          fieldSelectors: [{ field: 'eventCategory', equalTo: ['ActivityAuditLog'] }],
        },
      ],
      multiRegionEnabled: false,
      organizationEnabled: false,
      retentionPeriod: props.eventDataStoreRetentionDays ?? 365,
      // On by default in CloudTrail; set explicitly so the choice is visible and reviewable.
      terminationProtectionEnabled: props.terminationProtection ?? true,
      ...(props.encryptionKey ? { kmsKeyId: props.encryptionKey.keyArn } : {}),
    });
    this.eventDataStore.applyRemovalPolicy(RemovalPolicy.RETAIN);

    this.channel = new CfnChannel(this, 'Channel', {
      source: 'Custom',
      destinations: [{ type: 'EVENT_DATA_STORE', location: this.eventDataStore.attrEventDataStoreArn }],
    });

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      ...(props.encryptionKey
        ? { encryption: QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
        : { encryption: QueueEncryption.SQS_MANAGED }),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason:
        'This queue is itself the dead-letter queue; it is drained by `mcp-identity audit redrive`, not by a consumer that could fail repeatedly.',
    });

    this.forwarder = new McpFunction(this, 'Forwarder', {
      entry: join(PROJECT_ROOT, 'lambda', 'handlers', 'audit-forwarder.ts'),
      description: 'mcp-identity: forwards audit events to the CloudTrail Lake channel',
      timeout: Duration.minutes(2),
      memorySize: 256,
      logRetention: props.logRetention,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      // Payloads the forwarder cannot process even after Lambda's retries land here whole: nothing is lost.
      deadLetterQueue: this.deadLetterQueue,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'mcp-identity-audit-forwarder',
        MCP_IDENTITY_AUDIT_CHANNEL_ARN: this.channel.attrChannelArn,
        MCP_IDENTITY_AUDIT_DLQ_URL: this.deadLetterQueue.queueUrl,
      },
    });
    this.grantPutAuditEvents(this.forwarder.function);
    this.deadLetterQueue.grantSendMessages(this.forwarder.function);
    if (props.encryptionKey)
      acknowledgeKmsGrant(this.forwarder.role, 'send to the KMS-encrypted dead-letter queue');

    new SubscriptionFilter(this, 'ToForwarder', {
      logGroup: this.logGroup,
      destination: new LambdaDestination(this.forwarder.function),
      filterPattern: FilterPattern.literal(AUDIT_FILTER_PATTERN),
    });
  }

  /** The event data store id (the ARN suffix), what CloudTrail Lake SQL takes in FROM. */
  get eventDataStoreId(): string | undefined {
    return this.eventDataStore === undefined
      ? undefined
      : Fn.select(1, Fn.split('/', this.eventDataStore.attrEventDataStoreArn));
  }

  /** `cloudtrail-data:PutAuditEvents` on this trail's channel only. */
  grantPutAuditEvents(grantee: { addToRolePolicy(statement: PolicyStatement): void }): void {
    if (this.channel === undefined) throw new Error('the cloudwatch audit store has no channel');
    grantee.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['cloudtrail-data:PutAuditEvents'],
        resources: [this.channel.attrChannelArn],
      }),
    );
  }
}

/**
 * CDK's KMS grants (`kms:GenerateDataKey*`, `kms:ReEncrypt*`) are scoped to the one configured key; the
 * wildcard is in the action names AWS defines as a family, not in the resource.
 */
export function acknowledgeKmsGrant(scope: IConstruct, purpose: string): void {
  for (const action of ['kms:GenerateDataKey*', 'kms:ReEncrypt*']) {
    Validations.of(scope).acknowledge({
      id: `AwsSolutions-IAM5[Action::${action}]`,
      reason: `To ${purpose}: the grant is scoped to the configured customer managed key; the wildcard is AWS's action family.`,
    });
  }
}
