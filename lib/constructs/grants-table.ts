import { join } from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, StreamViewType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { ILogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  ACCESS_PARTITION_KEY,
  ACCESS_SORT_KEY,
  ACCESS_TTL_ATTRIBUTE,
} from '../../lambda/adapters/access-items';
import { acknowledgeKmsGrant } from './audit-trail';
import { McpFunction, PROJECT_ROOT } from './mcp-function';

export interface GrantsTableProps {
  /** The audit log group: the stream auditor writes grant and revocation events there, beside the decisions. */
  readonly auditLogGroup: ILogGroup;
  /** `MCP_IDENTITY_AUDIT_EVENT_SOURCE` and `MCP_IDENTITY_RECIPIENT_ACCOUNT_ID`, as the doors have them. */
  readonly auditEnvironment: Readonly<Record<string, string>>;
  readonly logRetention: RetentionDays;
  /** Encrypts the table and the auditor's failure queue. @default - AWS managed keys */
  readonly encryptionKey?: IKey;
}

/**
 * Just-in-time grants and revocations (DESIGN §3.10, docs/access-over-time.md): one DynamoDB table, partition
 * key `pk` (`user#…` / `agent#…`), sort key `sk` (`grant#…` / `revocation#…`), TTL on `deleteAfter`,
 * point-in-time recovery, encrypted, on-demand. Retained when the stack is deleted or the table replaced: active
 * revocations are a security control, and losing them silently would lift them.
 *
 * Its stream (new and old images) feeds a small auditor function that writes one audit event per change into the
 * audit log group — the one trail the decisions use — so a change made any way (CLI, console, script) is audited
 * once, with no write access to the trail for operators. The doors only read (`grantLookup`: Query on this
 * table's ARN); only the operators' CLI writes, with their own credentials.
 */
export class GrantsTable extends Construct {
  readonly table: Table;
  readonly auditor: McpFunction;
  readonly auditFailures: Queue;
  /** What an operator needs to run `grant` and `revoke` on this table (attach it to their role). */
  readonly operatorPolicy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: GrantsTableProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: ACCESS_PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: ACCESS_SORT_KEY, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: ACCESS_TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
      ...(props.encryptionKey
        ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: TableEncryption.AWS_MANAGED }),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.auditFailures = new Queue(this, 'AuditFailures', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      ...(props.encryptionKey
        ? { encryption: QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
        : { encryption: QueueEncryption.SQS_MANAGED }),
    });
    for (const id of ['Serverless-SQSRedrivePolicy', 'AwsSolutions-SQS3'])
      Validations.of(this.auditFailures).acknowledge({
        id,
        reason:
          'This queue is itself the on-failure destination of the grants-table stream auditor: it holds the stream coordinates of changes that could not be audited after the retries, for an operator to inspect; nothing consumes it that could fail repeatedly.',
      });

    this.auditor = new McpFunction(this, 'Auditor', {
      entry: join(PROJECT_ROOT, 'lambda', 'handlers', 'access-audit.ts'),
      description: 'mcp-identity: audits grant and revocation changes from the grants table stream',
      timeout: Duration.seconds(30),
      memorySize: 256,
      logGroup: props.auditLogGroup,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      environment: {
        POWERTOOLS_SERVICE_NAME: 'mcp-identity-access-audit',
        ...props.auditEnvironment,
      },
    });
    this.operatorPolicy = new ManagedPolicy(this, 'OperatorPolicy', {
      description: 'mcp-identity: run `npx mcp-identity grant` and `revoke` on the grants table',
      statements: [
        new PolicyStatement({
          // Put: new entries and the conditional rewrite that revokes or lifts; Scan: list and find by id.
          actions: ['dynamodb:Query', 'dynamodb:Scan', 'dynamodb:PutItem'],
          resources: [this.table.tableArn],
        }),
      ],
    });
    if (props.encryptionKey !== undefined) {
      // With a customer managed key, reading and writing the table's items uses the key on the caller's
      // behalf: without these on the key, every grant and revoke would fail with a KMS AccessDenied.
      this.operatorPolicy.addStatements(
        new PolicyStatement({
          actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
          resources: [props.encryptionKey.keyArn],
        }),
      );
      acknowledgeKmsGrant(this.auditor, 'send unaudited stream records to the encrypted failure queue');
    }
    this.auditor.function.addEventSource(
      new DynamoEventSource(this.table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: 10,
        // A change that cannot be audited after the retries is kept (its stream coordinates) for 14 days.
        onFailure: new SqsDlq(this.auditFailures),
      }),
    );
  }

  /** Read access for a door: Query on this table only (grants and revocations of one subject per call). */
  grantLookup(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:Query'], resources: [this.table.tableArn] }),
    );
    this.table.encryptionKey?.grantDecrypt(grantee);
  }
}
