import { basename, dirname, resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudTrailClient, ListEventDataStoresCommand } from '@aws-sdk/client-cloudtrail';
import { ListPolicyStoresCommand, VerifiedPermissionsClient } from '@aws-sdk/client-verifiedpermissions';
import { JwtTokenVerifier } from '../lambda/adapters/jwt-token-verifier';
import { PolicyFolderError } from '../lambda/adapters/policy-diagnostics';
import { loadPolicyBundle } from '../lambda/adapters/policy-files';
import { callerFromClaims } from '../lambda/core/caller';
import { unmetClaimRequirements } from '../lambda/core/claim-requirements';
import { CONTEXT_KEY, parseStackConfig, type StackConfig } from '../lib/config';
import { CONFIG_FILE, isObject, loadProjectConfig, readJsonFile } from '../lib/config-source';
import { probeAgentCore } from './agentcore-probe';
import { type AwsContext, awsContext, describeAwsError } from './aws-context';
import { resolveToken } from './bearer-token';
import { claimNamesOf, decodeSampleToken } from './sample-token';

/**
 * `mcp-identity doctor`: a pre-deploy checklist. Each check passes (✓), fails (✗, with the fix) or is skipped
 * (–, with why). Checks that need the network are skipped with `--offline`; AWS checks are skipped when there
 * are no region and credentials (which is itself a failure). Every AWS call is read-only and cheap.
 */

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly check: string;
  readonly status: CheckStatus;
  readonly detail: string;
  readonly fix?: string;
}

export interface DoctorOptions {
  /** cdk.json (its context with mcp-identity.config.json merged over it) or a whole configuration file. */
  readonly configFile: string;
  /** A sample access token (decoded; its signature checked only online). */
  readonly tokenFile?: string;
  readonly offline: boolean;
  readonly region?: string;
  /** @default region and credentials from the SDK's default chains ({@link awsContext}) */
  readonly aws?: () => Promise<AwsContext>;
  /** @default the Region's AgentCore control endpoint */
  readonly agentCoreEndpoint?: string;
  readonly now?: Date;
  readonly timeoutMs?: number;
  /** For the AgentCore probe. @default the platform fetch */
  readonly fetch?: typeof fetch;
}

const pass = (check: string, detail: string): CheckResult => ({ check, status: 'pass', detail });
const fail = (check: string, detail: string, fix: string): CheckResult => ({
  check,
  status: 'fail',
  detail,
  fix,
});
const skip = (check: string, detail: string): CheckResult => ({ check, status: 'skip', detail });

/** One line for a failed AWS call: what the service answered, or why it could not be reached. */
function awsReason(error: unknown): string {
  const described = describeAwsError(error);
  if (described !== undefined) return described;
  const code = (error as { code?: string }).code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `the endpoint does not resolve (${code}): the service may not be offered in this Region`;
  return ((error as Error).message ?? String(error)).split('\n')[0] ?? 'failed';
}

/**
 * cdk.json: what the CDK app in its folder reads (context, with mcp-identity.config.json merged over it:
 * lib/config-source.ts). Any other file: a whole configuration, as `-c mcpIdentityConfigFile=` takes one.
 */
function readConfig(configFile: string): { config: StackConfig; sources: readonly string[] } {
  const raw = readJsonFile(configFile);
  if (isCdkJson(configFile, raw)) return loadProjectConfig(configFile);
  return { config: parseStackConfig(raw, configFile), sources: [configFile] };
}

/**
 * A file named cdk.json, or any object with the keys of one (`app`, `context`): a new CDK project's cdk.json
 * may have no `context` yet, and `init` then writes the whole configuration to mcp-identity.config.json.
 */
const isCdkJson = (configFile: string, raw: unknown): boolean =>
  basename(configFile) === 'cdk.json' ||
  (isObject(raw) && (Object.hasOwn(raw, 'app') || Object.hasOwn(raw, 'context')));

function configCheck(configFile: string): { result: CheckResult; config?: StackConfig } {
  try {
    const { config, sources } = readConfig(configFile);
    const doors = [config.doors.agentcore ? 'AgentCore' : '', config.doors.apiGateway ? 'API Gateway' : '']
      .filter(Boolean)
      .join(' + ');
    return {
      config,
      result: pass(
        'configuration',
        `${sources.join(' + ') || configFile}: issuer ${config.identity.issuer}, ${doors}, audit store ${config.audit.store}`,
      ),
    };
  } catch (error) {
    return {
      result: fail(
        'configuration',
        (error as Error).message,
        `edit the file and key named above (${CONFIG_FILE} or the "${CONTEXT_KEY}" context in cdk.json), or write a new one with npx mcp-identity init; see docs/configuration.md`,
      ),
    };
  }
}

function policyCheck(configFile: string, config: StackConfig): CheckResult {
  const dir = resolve(dirname(resolve(configFile)), config.authorization.policyDir);
  try {
    const bundle = loadPolicyBundle(dir);
    return pass('policies', `${dir}: ${bundle.policies.length} policies, STRICT-valid against the schema`);
  } catch (error) {
    // A checklist line holds the first located error (path:line:column); `policies validate` shows them all,
    // each with its excerpt.
    const more = error instanceof PolicyFolderError ? error.diagnostics.length - 1 : 0;
    return fail(
      'policies',
      error instanceof PolicyFolderError
        ? `${error.message.split('\n')[0] as string}${more > 0 ? ` (and ${more} more)` : ''}`
        : `${dir}: ${(error as Error).message}`,
      `npx mcp-identity policies validate --dir ${dir}`,
    );
  }
}

async function bootstrapCheck(aws: AwsContext): Promise<CheckResult> {
  const name = 'CDK bootstrap';
  try {
    const { Stacks } = await new CloudFormationClient(aws).send(
      new DescribeStacksCommand({ StackName: 'CDKToolkit' }),
    );
    const stack = Stacks?.[0];
    const status = stack?.StackStatus ?? 'unknown';
    const version = stack?.Outputs?.find((output) => output.OutputKey === 'BootstrapVersion')?.OutputValue;
    if (/_COMPLETE$/.test(status) && !/ROLLBACK|DELETE/.test(status))
      return pass(
        name,
        `CDKToolkit is ${status} in ${aws.region}${version ? ` (bootstrap version ${version})` : ''}`,
      );
    return fail(
      name,
      `CDKToolkit is ${status} in ${aws.region}`,
      `npx cdk bootstrap (fix or delete the stack first)`,
    );
  } catch (error) {
    if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message))
      return fail(
        name,
        `no CDKToolkit stack in ${aws.region}`,
        `npx cdk bootstrap aws://<account>/${aws.region}`,
      );
    return fail(name, awsReason(error), 'check the credentials can call cloudformation:DescribeStacks');
  }
}

async function verifiedPermissionsCheck(aws: AwsContext): Promise<CheckResult> {
  const name = 'Verified Permissions';
  try {
    await new VerifiedPermissionsClient(aws).send(new ListPolicyStoresCommand({ maxResults: 1 }));
    return pass(name, `answers in ${aws.region}`);
  } catch (error) {
    return fail(
      name,
      awsReason(error),
      'deploy to a Region that offers Amazon Verified Permissions, with credentials allowed verifiedpermissions:*',
    );
  }
}

async function agentCoreCheck(aws: AwsContext, options: DoctorOptions): Promise<CheckResult> {
  const name = 'AgentCore';
  const answer = await probeAgentCore({
    region: aws.region,
    credentials: aws.credentials,
    ...(options.agentCoreEndpoint === undefined ? {} : { endpoint: options.agentCoreEndpoint }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  if (answer.ok) return pass(name, `AgentCore Gateway answers in ${aws.region}`);
  return fail(
    name,
    answer.reason,
    answer.unavailable
      ? 'deploy to a Region that offers Amazon Bedrock AgentCore, or use the API Gateway door (doors.apiGateway)'
      : 'check the credentials can call bedrock-agentcore:ListGateways',
  );
}

async function lakeCheck(aws: AwsContext, config: StackConfig | undefined): Promise<CheckResult> {
  const name = 'CloudTrail Lake';
  if (config?.audit.store === 'cloudwatch') return skip(name, 'not used: audit.store is "cloudwatch"');
  try {
    const { EventDataStores } = await new CloudTrailClient(aws).send(
      new ListEventDataStoresCommand({ MaxResults: 1 }),
    );
    if ((EventDataStores ?? []).length === 0)
      return pass(
        name,
        `answers in ${aws.region}, with no event data store yet; Lake is closed to new customers, so if the deploy cannot create one, set audit.store to "cloudwatch"`,
      );
    return pass(name, `answers in ${aws.region}; this account already uses Lake`);
  } catch (error) {
    return fail(
      name,
      `${awsReason(error)}: CloudTrail Lake cannot be used here`,
      'set "audit": { "store": "cloudwatch" } in the configuration',
    );
  }
}

async function discoveryCheck(config: StackConfig, timeoutMs: number): Promise<CheckResult> {
  const name = 'discovery document';
  const url = config.identity.discoveryUrl;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    return fail(
      name,
      `${url} is not reachable (${cause})`,
      'check identity.discoveryUrl and that it is public',
    );
  }
  if (response.status !== 200)
    return fail(name, `${url} answered HTTP ${response.status}`, 'check identity.discoveryUrl');
  let document: { issuer?: unknown; jwks_uri?: unknown };
  try {
    document = (await response.json()) as typeof document;
  } catch {
    return fail(name, `${url} is not JSON`, 'identity.discoveryUrl must name an OIDC discovery document');
  }
  if (document.issuer !== config.identity.issuer)
    return fail(
      name,
      `its issuer is ${JSON.stringify(document.issuer)}, the configuration says ${JSON.stringify(config.identity.issuer)}`,
      'set identity.issuer to the discovery document’s issuer exactly (trailing slash included)',
    );
  if (typeof document.jwks_uri !== 'string' && config.identity.jwksUri === undefined)
    return fail(name, `${url} has no jwks_uri`, 'set identity.jwksUri');
  return pass(name, `${url} is reachable; issuer matches`);
}

function audienceOf(claims: Readonly<Record<string, unknown>>): string[] {
  if (typeof claims.aud === 'string') return [claims.aud];
  return Array.isArray(claims.aud)
    ? claims.aud.filter((value): value is string => typeof value === 'string')
    : [];
}

/** What the configuration requires of a token that this one does not have (signature aside). */
function tokenProblems(
  header: Readonly<Record<string, unknown>>,
  claims: Readonly<Record<string, unknown>>,
  config: StackConfig,
  agent: string | undefined,
): string[] {
  const { identity } = config;
  const problems: string[] = [];
  if (!(identity.algorithms as readonly unknown[]).includes(header.alg))
    problems.push(`alg ${JSON.stringify(header.alg)} is not one of ${identity.algorithms.join(', ')}`);
  if (claims.iss !== identity.issuer)
    problems.push(`iss is ${JSON.stringify(claims.iss)}, not ${JSON.stringify(identity.issuer)}`);
  const audience = audienceOf(claims);
  if (!audience.some((value) => identity.audience.includes(value)))
    problems.push(
      audience.length === 0
        ? `no aud claim; the configuration expects one of ${identity.audience.join(', ')} (an access token without aud, e.g. Cognito's, carries client_id instead)`
        : `aud ${audience.join(', ')} is not one of ${identity.audience.join(', ')}`,
    );
  // The same check the guard's verifier makes on every door (lambda/core/claim-requirements.ts).
  for (const unmet of unmetClaimRequirements(claims, agent, identity))
    problems.push(
      unmet.kind === 'client'
        ? `the client ${agent ?? '(none)'} is not in identity.allowedClients`
        : `claim ${unmet.requirement.name} does not satisfy ${unmet.requirement.match} ${unmet.requirement.values.join(', ')}`,
    );
  return problems;
}

async function tokenCheck(options: DoctorOptions, config: StackConfig, now: Date): Promise<CheckResult> {
  const name = 'sample token';
  let token: string;
  let from: string;
  try {
    const source = resolveToken({ tokenFile: options.tokenFile as string }, {});
    if (source === undefined) return skip(name, 'no --token-file');
    token = source.token;
    from = source.from;
  } catch (error) {
    return fail(name, (error as Error).message, 'paste one access token into the file');
  }
  const fixForIdp =
    'get a token from the identity provider for the configured audience, or fix identity.* in the configuration';
  let decoded: ReturnType<typeof decodeSampleToken>;
  try {
    decoded = decodeSampleToken(token, from);
  } catch (error) {
    return fail(name, (error as Error).message, fixForIdp);
  }
  const claimNames = claimNamesOf(config.identity.claims);
  let caller: ReturnType<typeof callerFromClaims>;
  try {
    caller = callerFromClaims(decoded.claims, claimNames);
  } catch (error) {
    return fail(name, `the gateway would refuse it: ${(error as Error).message}`, fixForIdp);
  }
  const problems = tokenProblems(decoded.header, decoded.claims, config, caller.agent);
  const maps = `${caller.subject} with roles [${caller.roles.join(', ')}] (claim ${claimNames.roles})${caller.agent === undefined ? '' : `, agent ${caller.agent}`}`;
  const expired = caller.expiresAt <= Math.floor(now.getTime() / 1000);
  const expiry = expired ? `; it expired at ${new Date(caller.expiresAt * 1000).toISOString()}` : '';
  if (problems.length > 0) return fail(name, `${problems.join('; ')} (maps to ${maps}${expiry})`, fixForIdp);
  if (options.offline)
    return pass(
      name,
      `maps to ${maps}; audience, issuer, algorithm and required claims match${expiry}; signature not checked (offline)`,
    );
  if (expired)
    return pass(name, `maps to ${maps}; claims match; signature not checked: the token has expired${expiry}`);
  try {
    const verifier = new JwtTokenVerifier({
      issuer: config.identity.issuer,
      audience: config.identity.audience,
      discoveryUrl: config.identity.discoveryUrl,
      ...(config.identity.jwksUri === undefined ? {} : { jwksUri: config.identity.jwksUri }),
      algorithms: config.identity.algorithms,
      graceSeconds: 0,
      claimNames,
      fetchTimeoutMs: options.timeoutMs ?? 5000,
    });
    await verifier.verify(token);
  } catch (error) {
    return fail(
      name,
      `the signature does not verify: ${(error as Error).message} (maps to ${maps})`,
      fixForIdp,
    );
  }
  return pass(name, `maps to ${maps}; signature verified with the issuer's keys`);
}

/** Runs every check, in order; never throws for an expected problem (each is a ✗ with its fix). */
export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const now = options.now ?? new Date();
  const timeoutMs = options.timeoutMs ?? 5000;
  const results: CheckResult[] = [];
  const { result, config } = configCheck(options.configFile);
  results.push(result);
  if (config !== undefined) results.push(policyCheck(options.configFile, config));

  const awsChecks = ['CDK bootstrap', 'Verified Permissions', 'AgentCore', 'CloudTrail Lake'];
  if (options.offline) {
    results.push(skip('region and credentials', 'offline'));
    for (const check of awsChecks) results.push(skip(check, 'offline'));
  } else {
    let aws: AwsContext | undefined;
    try {
      aws = await (
        options.aws ?? (() => awsContext(options.region === undefined ? {} : { region: options.region }))
      )();
      const identity = await aws.credentials();
      results.push(
        pass('region and credentials', `${aws.region}, access key …${identity.accessKeyId.slice(-4)}`),
      );
    } catch (error) {
      results.push(
        fail(
          'region and credentials',
          (error as Error).message,
          'set AWS_REGION (or --region) and AWS_PROFILE (aws configure, aws sso login)',
        ),
      );
    }
    if (aws === undefined)
      for (const check of awsChecks) results.push(skip(check, 'needs region and credentials'));
    else {
      results.push(await bootstrapCheck(aws));
      results.push(await verifiedPermissionsCheck(aws));
      results.push(
        config !== undefined && config.doors.agentcore === undefined
          ? skip('AgentCore', 'not used: no AgentCore door in the configuration')
          : await agentCoreCheck(aws, options),
      );
      results.push(await lakeCheck(aws, config));
    }
  }

  if (config === undefined) {
    results.push(skip('discovery document', 'needs a valid configuration'));
    results.push(skip('sample token', 'needs a valid configuration'));
    return results;
  }
  results.push(
    options.offline ? skip('discovery document', 'offline') : await discoveryCheck(config, timeoutMs),
  );
  results.push(
    options.tokenFile === undefined
      ? skip('sample token', 'no --token-file')
      : await tokenCheck(options, config, now),
  );
  return results;
}

const MARK: Record<CheckStatus, string> = { pass: '✓', fail: '✗', skip: '–' };

export function formatResults(results: readonly CheckResult[]): string[] {
  const width = Math.max(...results.map((result) => result.check.length));
  const lines = results.flatMap((result) => [
    `${MARK[result.status]} ${result.check.padEnd(width)}  ${result.detail}`,
    ...(result.fix === undefined ? [] : [`  ${' '.repeat(width)}  fix: ${result.fix}`]),
  ]);
  const failed = results.filter((result) => result.status === 'fail').length;
  const skipped = results.filter((result) => result.status === 'skip');
  lines.push('');
  lines.push(
    `${results.length - failed - skipped.length} passed, ${failed} failed, ${skipped.length} skipped${skipped.length > 0 ? ` (${skipped.map((result) => result.check).join(', ')})` : ''}`,
  );
  return lines;
}
