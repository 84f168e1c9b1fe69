import { Sha256 } from '@aws-crypto/sha256-js';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import {
  type AuditEventsClient,
  AuditRequestError,
  type PutAuditEvent,
  type PutAuditEventsResult,
} from '../core/audit-delivery';

/**
 * `PutAuditEvents` on the CloudTrail Data service, signed with SigV4 (signing name `cloudtrail-data`).
 *
 * Hand-written because `@aws-sdk/client-cloudtrail-data` is not available from our registry; it is built from
 * the SDK's own parts (the signer, the credential chain, the HTTP handler) and follows the official service
 * model (restJson1, `POST /PutAuditEvents?channelArn=…[&externalId=…]`), which the tests check it against.
 */
export interface CloudTrailDataSettings {
  readonly region: string;
  readonly channelArn: string;
  readonly externalId?: string;
  /** @default {@link cloudTrailDataEndpoint}(region): the DNS suffix of the region's partition */
  readonly endpoint?: string;
  /** Per-request deadline. @default 5000 */
  readonly timeoutMs?: number;
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

export interface AwsPartition {
  /** The ARN partition: `aws`, `aws-cn`, `aws-us-gov`, … */
  readonly name: string;
  readonly dnsSuffix: string;
}

/**
 * AWS partitions other than `aws`, with the regions they hold and their DNS suffix, as the SDK's
 * partitions.json lists them. A region that matches none is in `aws`.
 */
const PARTITIONS: readonly (AwsPartition & { readonly regions: RegExp })[] = [
  { name: 'aws-cn', regions: /^cn-\w+-\d+$/, dnsSuffix: 'amazonaws.com.cn' },
  { name: 'aws-us-gov', regions: /^us-gov-\w+-\d+$/, dnsSuffix: 'amazonaws.com' },
  { name: 'aws-iso', regions: /^us-iso-\w+-\d+$/, dnsSuffix: 'c2s.ic.gov' },
  { name: 'aws-iso-b', regions: /^us-isob-\w+-\d+$/, dnsSuffix: 'sc2s.sgov.gov' },
  { name: 'aws-iso-e', regions: /^eu-isoe-\w+-\d+$/, dnsSuffix: 'cloud.adc-e.uk' },
  { name: 'aws-iso-f', regions: /^us-isof-\w+-\d+$/, dnsSuffix: 'csp.hci.ic.gov' },
  { name: 'aws-eusc', regions: /^eusc-de-\w+-\d+$/, dnsSuffix: 'amazonaws.eu' },
];

/** The partition a region belongs to. */
export function awsPartition(region: string): AwsPartition {
  const found = PARTITIONS.find((partition) => partition.regions.test(region));
  return found === undefined
    ? { name: 'aws', dnsSuffix: 'amazonaws.com' }
    : { name: found.name, dnsSuffix: found.dnsSuffix };
}

/** The CloudTrail Data endpoint of a region, in its partition (`cloudtrail-data.cn-north-1.amazonaws.com.cn`). */
export function cloudTrailDataEndpoint(region: string): string {
  return `https://cloudtrail-data.${region}.${awsPartition(region).dnsSuffix}`;
}

/** A CloudTrail channel ARN, any partition: `arn:<partition>:cloudtrail:<region>:<account>:channel/<id>`. */
const CHANNEL_ARN = /^arn:(aws[a-z-]*):cloudtrail:([a-z0-9-]+):(\d{12}):channel\/[A-Za-z0-9._/-]+$/;

/**
 * The region and partition of a channel ARN, or why it is not one. `PutAuditEvents` must be sent to the
 * channel's region, whose partition must be the one the ARN names.
 */
export function parseChannelArn(
  channelArn: string,
):
  | { readonly region: string; readonly partition: string; readonly account: string }
  | { readonly error: string } {
  const match = CHANNEL_ARN.exec(channelArn);
  if (match === null) return { error: `not a CloudTrail channel ARN: ${channelArn}` };
  const [, partition, region, account] = match as unknown as [string, string, string, string];
  const expected = awsPartition(region).name;
  if (partition !== expected)
    return {
      error: `the channel ARN names partition ${partition}, but its region ${region} is in ${expected}`,
    };
  return { region, partition, account };
}

/** Request-level error codes worth retrying besides 5xx (CONTRACTS §5 lists the non-retriable ones). */
const RETRIABLE_CODES = new Set([
  'ThrottlingException',
  'Throttling',
  'ServiceUnavailable',
  'InternalFailure',
  'RequestTimeout',
]);

function errorCode(headers: Record<string, string>, body: string): string {
  const header = headers['x-amzn-errortype'];
  if (header !== undefined) return header.split(':')[0] ?? header;
  try {
    const parsed = JSON.parse(body) as { code?: string; __type?: string };
    const code = parsed.code ?? parsed.__type;
    if (code !== undefined) return code.includes('#') ? (code.split('#').pop() ?? code) : code;
  } catch {
    // not JSON: fall through
  }
  return 'UnknownError';
}

function isResult(value: unknown): value is PutAuditEventsResult {
  const candidate = value as PutAuditEventsResult | null;
  return (
    candidate !== null &&
    typeof candidate === 'object' &&
    Array.isArray(candidate.successful) &&
    Array.isArray(candidate.failed)
  );
}

export class CloudTrailDataClient implements AuditEventsClient {
  private readonly signer: SignatureV4;
  private readonly http: NodeHttpHandler;
  private readonly endpoint: URL;

  constructor(private readonly settings: CloudTrailDataSettings) {
    this.endpoint = new URL(settings.endpoint ?? cloudTrailDataEndpoint(settings.region));
    this.signer = new SignatureV4({
      service: 'cloudtrail-data',
      region: settings.region,
      credentials: settings.credentials ?? defaultProvider(),
      sha256: Sha256,
    });
    const timeout = settings.timeoutMs ?? 5000;
    this.http = new NodeHttpHandler({ connectionTimeout: timeout, requestTimeout: timeout });
  }

  async put(events: readonly PutAuditEvent[]): Promise<PutAuditEventsResult> {
    const body = JSON.stringify({ auditEvents: events });
    const request = new HttpRequest({
      method: 'POST',
      protocol: this.endpoint.protocol,
      hostname: this.endpoint.hostname,
      ...(this.endpoint.port === '' ? {} : { port: Number(this.endpoint.port) }),
      path: '/PutAuditEvents',
      query: {
        channelArn: this.settings.channelArn,
        ...(this.settings.externalId === undefined ? {} : { externalId: this.settings.externalId }),
      },
      headers: { host: this.endpoint.host, 'content-type': 'application/json' },
      body,
    });
    let status: number;
    let headers: Record<string, string>;
    let text: string;
    try {
      const signed = await this.signer.sign(request);
      const { response } = await this.http.handle(signed as HttpRequest, {
        abortSignal: AbortSignal.timeout(this.settings.timeoutMs ?? 5000),
      });
      status = response.statusCode;
      headers = Object.fromEntries(
        Object.entries(response.headers).map(([key, value]) => [key.toLowerCase(), String(value)]),
      );
      const chunks: Buffer[] = [];
      for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
      text = Buffer.concat(chunks).toString('utf8');
    } catch (error) {
      throw new AuditRequestError(
        `PutAuditEvents did not complete: ${(error as Error).message}`,
        'NetworkError',
        true,
        { cause: error },
      );
    }
    if (status === 200) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new AuditRequestError(
          'PutAuditEvents answered 200 with a body that is not JSON',
          'InvalidResponse',
          true,
        );
      }
      if (!isResult(parsed))
        throw new AuditRequestError(
          'PutAuditEvents answered 200 without successful/failed lists',
          'InvalidResponse',
          true,
        );
      return parsed;
    }
    const code = errorCode(headers, text);
    throw new AuditRequestError(
      `PutAuditEvents failed with HTTP ${status} ${code}`,
      code,
      status >= 500 || status === 429 || RETRIABLE_CODES.has(code),
    );
  }
}
