import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { AwsSetupError, firstLine } from './aws-errors';

export { AwsSetupError, describeAwsError } from './aws-errors';

/**
 * Region and credentials for the AWS-facing commands (`policies diff/push`, `audit redrive`, `activity` against
 * AWS), from the SDK's own default chains: `--region`, else `AWS_REGION`, else the region of the profile
 * (`AWS_PROFILE`, `~/.aws/config`); credentials from the environment, SSO, the shared files, a credential
 * process, web identity or the container/instance role. Both are resolved once, up front, so a missing one is
 * one clear line instead of an SDK stack trace halfway through a command.
 */
export interface AwsContext {
  readonly region: string;
  readonly credentials: AwsCredentialIdentityProvider;
}

/** Resolves the default region the way the SDK's clients do (env, then the profile in the shared config). */
export type RegionResolver = () => Promise<string | undefined>;

export interface AwsContextOptions {
  /** `--region`, when given. */
  readonly region?: string;
  /** @default the SDK's default region chain */
  readonly resolveRegion?: RegionResolver;
  /** @default the SDK's default credential chain (`@aws-sdk/credential-provider-node`) */
  readonly credentials?: AwsCredentialIdentityProvider;
  readonly env?: NodeJS.ProcessEnv;
}

function profileName(env: NodeJS.ProcessEnv): string {
  return env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || 'default';
}

/** The SDK's default region chain, as its clients resolve it (a client is only built, never sent). */
export const sdkDefaultRegion: RegionResolver = async () => {
  const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
  const probe = new CloudFormationClient({});
  try {
    return await probe.config.region();
  } catch {
    return undefined;
  } finally {
    probe.destroy();
  }
};

const REGION_PATTERN = /^[a-z]{2,5}(-[a-z]+)+-\d+$/;

export async function awsContext(options: AwsContextOptions = {}): Promise<AwsContext> {
  const env = options.env ?? process.env;
  const region = options.region || (await (options.resolveRegion ?? sdkDefaultRegion)());
  if (region === undefined || region === '')
    throw new AwsSetupError(
      `no AWS Region: pass --region or set AWS_REGION, or set region for profile ${profileName(env)} in ~/.aws/config`,
    );
  if (!REGION_PATTERN.test(region))
    throw new AwsSetupError(`'${region}' is not an AWS Region (for example eu-west-1)`);
  const credentials = options.credentials ?? defaultProvider();
  try {
    await credentials();
  } catch (error) {
    throw new AwsSetupError(
      `no usable AWS credentials (${firstLine(error)}): set AWS_PROFILE to a configured profile (aws configure, aws sso login), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
      { cause: error },
    );
  }
  return { region, credentials };
}
