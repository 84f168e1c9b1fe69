import { join } from 'node:path';
import { Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { CfnChannel, CfnEventDataStore } from 'aws-cdk-lib/aws-cloudtrail';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import {
  FilterPattern,
  LogGroup,
  MetricFilter,
  type RetentionDays,
  SubscriptionFilter,
} from 'aws-cdk-lib/aws-logs';
import { LambdaDestination } from 'aws-cdk-lib/aws-logs-destinations';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
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
  /** The forwarder's EMF metrics (events delivered, parked). @default namespace McpIdentity, service mcp-identity */
  readonly metrics?: { readonly namespace: string; readonly service: string };
}

/** How long the dead-letter queue keeps a parked event. */
export const DEAD_LETTER_RETENTION_DAYS = 14;
/**
 * How long the delivered-UID table and the parking bucket keep an entry: a day past the queue's retention, so
 * a redrive on the queue's last day still finds an event delivered, and a pointer never outlives its object.
 */
export const DELIVERED_UID_RETENTION_DAYS = DEAD_LETTER_RETENTION_DAYS + 1;
/** The prefix the forwarder writes oversized parked events under. */
export const PARKED_EVENTS_PREFIX = 'parked/';
/** The delivered-UID table's actions, per item only (no Scan, Query or batch writes). */
const LEDGER_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem'];

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
  /** Delivered-UID table: the forwarder and the redrive claim an event id before sending it, mark it after. */
  readonly deliveredUids?: Table;
  /** Where events too large for a queue message are parked (the queue carries a pointer). */
  readonly parkedEvents?: Bucket;
  /** What `mcp-identity audit redrive` needs, to attach to the operator's role. */
  readonly redrivePolicy?: ManagedPolicy;

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
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
      enforceSSL: true,
      ...(props.encryptionKey
        ? { encryption: QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
        : { encryption: QueueEncryption.SQS_MANAGED }),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason:
        'This queue is itself the dead-letter queue; it is drained by `npx mcp-identity audit redrive`, not by a consumer that could fail repeatedly.',
    });

    this.deliveredUids = new Table(this, 'DeliveredUids', {
      partitionKey: { name: 'uid', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(props.encryptionKey
        ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: TableEncryption.AWS_MANAGED }),
      // Only de-duplication state: losing it risks copies, never events.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.parkedEvents = new Bucket(this, 'ParkedEvents', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      ...(props.encryptionKey
        ? { encryption: BucketEncryption.KMS, encryptionKey: props.encryptionKey, bucketKeyEnabled: true }
        : { encryption: BucketEncryption.S3_MANAGED }),
      lifecycleRules: [
        {
          id: 'expire-parked-events',
          expiration: Duration.days(DELIVERED_UID_RETENTION_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.parkedEvents).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Holds only audit events too large for the dead-letter queue, written by the forwarder and read by the redrive; the objects are the audit events themselves, and an access-log bucket would add a bucket to watch for no extra trail.',
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
        MCP_IDENTITY_AUDIT_DELIVERED_TABLE: this.deliveredUids.tableName,
        MCP_IDENTITY_AUDIT_PARKING_BUCKET: this.parkedEvents.bucketName,
        POWERTOOLS_METRICS_NAMESPACE: props.metrics?.namespace ?? 'McpIdentity',
        MCP_IDENTITY_AUDIT_METRICS_SERVICE: props.metrics?.service ?? 'mcp-identity',
      },
    });
    this.grantPutAuditEvents(this.forwarder.function);
    this.deadLetterQueue.grantSendMessages(this.forwarder.function);
    this.grantDeliveryLedger(this.forwarder.function);
    this.forwarder.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.parkedEvents.arnForObjects(`${PARKED_EVENTS_PREFIX}*`)],
      }),
    );
    if (props.encryptionKey) {
      // The table and the bucket are encrypted with the same key: the forwarder writes both.
      props.encryptionKey.grantEncryptDecrypt(this.forwarder.function);
      acknowledgeKmsGrant(this.forwarder.role, 'send to the KMS-encrypted dead-letter queue');
    }
    acknowledgeParkedObjects(this.forwarder.role, this, 'write one object per oversized parked event');

    // Events sent again after a request whose outcome was unknown: each may be a copy in the event data store.
    new MetricFilter(this, 'UnknownOutcomeResends', {
      logGroup: this.forwarder.logGroup,
      filterPattern: FilterPattern.numberValue('$.unknownOutcomeResends', '>=', 0),
      metricNamespace: 'mcp-identity',
      metricName: 'AuditUnknownOutcomeResends',
      metricValue: '$.unknownOutcomeResends',
      defaultValue: 0,
    });

    this.redrivePolicy = new ManagedPolicy(this, 'RedrivePolicy', {
      description: 'mcp-identity audit redrive: read and delete parked events, deliver them once',
      statements: [
        new PolicyStatement({
          actions: [
            'sqs:ReceiveMessage',
            'sqs:DeleteMessage',
            'sqs:ChangeMessageVisibility',
            'sqs:GetQueueAttributes',
          ],
          resources: [this.deadLetterQueue.queueArn],
        }),
        new PolicyStatement({
          actions: ['cloudtrail-data:PutAuditEvents'],
          resources: [this.channel.attrChannelArn],
        }),
        new PolicyStatement({ actions: LEDGER_ACTIONS, resources: [this.deliveredUids.tableArn] }),
        new PolicyStatement({
          actions: ['s3:GetObject'],
          resources: [this.parkedEvents.arnForObjects(`${PARKED_EVENTS_PREFIX}*`)],
        }),
        ...(props.encryptionKey
          ? [
              new PolicyStatement({
                actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
                resources: [props.encryptionKey.keyArn],
              }),
            ]
          : []),
      ],
    });
    acknowledgeParkedObjects(this.redrivePolicy, this, 'read the oversized parked events back');

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

  /** Per-item reads and conditional writes on the delivered-UID table, nothing else. */
  grantDeliveryLedger(grantee: { addToRolePolicy(statement: PolicyStatement): void }): void {
    if (this.deliveredUids === undefined)
      throw new Error('the cloudwatch audit store has no delivered-UID table');
    grantee.addToRolePolicy(
      new PolicyStatement({ actions: LEDGER_ACTIONS, resources: [this.deliveredUids.tableArn] }),
    );
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

/** Parked objects have names made at run time (date, event id): the grant is scoped to the bucket's prefix. */
function acknowledgeParkedObjects(scope: IConstruct, trail: AuditTrail, purpose: string): void {
  const bucket = trail.parkedEvents;
  if (bucket === undefined) return;
  const logicalId = Stack.of(trail).getLogicalId(bucket.node.defaultChild as never);
  Validations.of(scope).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${PARKED_EVENTS_PREFIX}*]`,
    reason: `To ${purpose}: object names are made at run time; the grant covers the parking prefix of this one bucket.`,
  });
}
