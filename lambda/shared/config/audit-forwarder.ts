import { ConfigurationError } from '../../core/errors';
import { PREFIX, SettingsReader, settingsWithPrefix } from './settings-reader';

/** The audit forwarder's settings: the CloudTrail Lake channel it delivers to, its retries and parking. */
export interface ForwarderConfig {
  readonly region: string;
  readonly channelArn: string;
  readonly dlqUrl: string;
  readonly endpoint?: string;
  readonly externalId?: string;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  /** The delivered-UID DynamoDB table (`DELIVERED_TABLE`). @default - none: no de-duplication across invocations */
  readonly deliveredTable?: string;
  /** The S3 bucket for events too large to park in the queue (`PARKING_BUCKET`). @default - none */
  readonly parkingBucket?: string;
  /** The `service` dimension of its metrics (`METRICS_SERVICE`, the gateway name). @default 'mcp-identity' */
  readonly metricsService: string;
}

/** The audit forwarder's `MCP_IDENTITY_AUDIT_*` settings (plus the Lambda-provided `AWS_REGION`). */
export function loadForwarderConfig(env: NodeJS.ProcessEnv = process.env): ForwarderConfig {
  const prefix = `${PREFIX}AUDIT_`;
  const read = new SettingsReader(settingsWithPrefix(env, prefix), prefix);
  const channelArn = read.required('CHANNEL_ARN');
  read.matching(
    'CHANNEL_ARN',
    channelArn || undefined,
    /^arn:[\w-]+:cloudtrail:[\w-]+:\d{12}:channel\/.+$/,
    'must be a CloudTrail channel ARN',
  );
  const dlqUrl = read.url('DLQ_URL');
  if (dlqUrl === undefined) read.problem('DLQ_URL', 'is required');
  const endpoint = read.url('ENDPOINT');
  const externalId = read.raw('EXTERNAL_ID');
  if (externalId !== undefined && (externalId.length < 2 || externalId.length > 1224))
    read.problem('EXTERNAL_ID', 'must be 2 to 1224 characters');
  const maxAttempts = read.integer('MAX_ATTEMPTS', 4, 1, 10);
  const timeoutMs = read.integer('TIMEOUT_MS', 5000, 100);
  const deliveredTable = read.raw('DELIVERED_TABLE');
  read.matching(
    'DELIVERED_TABLE',
    deliveredTable,
    /^[a-zA-Z0-9_.-]{3,255}$/,
    'must be a DynamoDB table name',
  );
  const parkingBucket = read.raw('PARKING_BUCKET');
  read.matching(
    'PARKING_BUCKET',
    parkingBucket,
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    'must be an S3 bucket name',
  );
  const metricsService = read.text('METRICS_SERVICE', 'mcp-identity', 255);
  const problems = read.all();
  const region = env.AWS_REGION;
  if (region === undefined || region === '') problems.push('AWS_REGION is required');
  if (problems.length > 0)
    throw new ConfigurationError(`invalid forwarder configuration: ${problems.join('; ')}`);
  return Object.freeze({
    region: region as string,
    channelArn,
    dlqUrl: dlqUrl as string,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(externalId === undefined ? {} : { externalId }),
    maxAttempts,
    timeoutMs,
    ...(deliveredTable === undefined ? {} : { deliveredTable }),
    ...(parkingBucket === undefined ? {} : { parkingBucket }),
    metricsService,
  });
}
