/**
 * What went wrong with AWS, as one line for the operator. Kept apart from aws-context.ts (which loads the SDK's
 * credential chain) so bin/cli.ts can report these without loading the AWS SDK at start.
 */

/** The region or credentials are missing or unusable: an expected, operator-facing failure. */
export class AwsSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AwsSetupError';
  }
}

/** The first line of an SDK message, without its stack or the chain's advice paragraphs. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').trim().replace(/\.$/, '');
}

/**
 * One line for an error an AWS service returned (access denied, not found, throttled, expired token…), or
 * undefined when the error did not come from an AWS service or the credential chain.
 */
export function describeAwsError(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const name = error.name;
  if (name === 'CredentialsProviderError' || name === 'TokenProviderError')
    return `no usable AWS credentials (${firstLine(error)}): set AWS_PROFILE to a configured profile (aws configure, aws sso login), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`;
  const metadata = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  if (metadata === undefined) return undefined;
  const status = metadata.httpStatusCode === undefined ? '' : ` (HTTP ${metadata.httpStatusCode})`;
  return `AWS answered ${name}${status}: ${firstLine(error) || 'no message'}`;
}
