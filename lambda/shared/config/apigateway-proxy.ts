import { ConfigurationError } from '../../core/errors';
import { type InterceptorConfig, loadInterceptorConfig } from './interceptor';
import { deepFreeze, PREFIX, SettingsReader, settingsWithPrefix } from './settings-reader';

/**
 * The API Gateway door's MCP proxy: the guard's settings (read by the interceptor's loader) plus where allowed
 * requests go (`MCP_IDENTITY_UPSTREAM_*`).
 */

const UPSTREAM = 'UPSTREAM_';

/** Where the API Gateway door's MCP proxy forwards allowed requests, and how. */
export interface UpstreamConfig {
  readonly target:
    | { readonly kind: 'lambda'; readonly functionArn: string }
    | {
        readonly kind: 'https';
        readonly url: string;
        /** Outbound credentials (Secrets Manager). @default - none */
        readonly secretArn?: string;
        /** How long a secret value is reused before it is read again. @default 300 */
        readonly secretTtlSeconds: number;
      };
  /** Deadline for the upstream's whole answer. @default 290000 */
  readonly timeoutMs: number;
  /** Largest upstream response read whole (JSON bodies, one SSE event). @default 6 MiB */
  readonly maxResponseBytes: number;
  /** SSE comment keep-alive while a streamed answer is idle (API Gateway's idle timeout is 5 min). @default 30 */
  readonly keepAliveSeconds: number;
  /** Tools exposed as `${targetName}___${tool}`, as on AgentCore Gateway. @default - the upstream's own names */
  readonly targetName?: string;
}

const LAMBDA_ARN =
  /^arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$/;
const SECRET_ARN = /^arn:aws[\w-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

/**
 * The proxy's configuration: every interceptor setting (same token, policy store, injection and audit) plus the
 * `MCP_IDENTITY_UPSTREAM_*` settings. One error names every bad key of both.
 */
export function loadProxyConfig(env: NodeJS.ProcessEnv = process.env): {
  readonly guard: InterceptorConfig;
  readonly upstream: UpstreamConfig;
} {
  const prefix = `${PREFIX}${UPSTREAM}`;
  const read = new SettingsReader(settingsWithPrefix(env, prefix), prefix);
  const functionArn = read.raw('LAMBDA_ARN');
  const url = read.raw('URL');
  const secretArn = read.raw('SECRET_ARN');
  read.matching('LAMBDA_ARN', functionArn, LAMBDA_ARN, 'must be a Lambda function ARN');
  read.matching('SECRET_ARN', secretArn, SECRET_ARN, 'must be a Secrets Manager secret ARN');
  if ((functionArn === undefined) === (url === undefined))
    read.problem('URL', `set exactly one of ${prefix}URL and ${prefix}LAMBDA_ARN`);
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      read.problem('URL', 'must be a URL');
    }
    try {
      if (parsed !== undefined) assertUpstreamUrl(parsed);
    } catch (error) {
      read.problem('URL', (error as Error).message);
    }
  }
  if (secretArn !== undefined && url === undefined)
    read.problem('SECRET_ARN', `applies to ${prefix}URL only (a Lambda upstream is invoked with IAM)`);
  const secretTtlSeconds = read.integer('SECRET_TTL_SECONDS', 300, 0, 86_400);
  const timeoutMs = read.integer('TIMEOUT_MS', 290_000, 1000, 900_000);
  const maxResponseBytes = read.integer('MAX_RESPONSE_BYTES', 6 * 1024 * 1024, 1024, 64 * 1024 * 1024);
  const keepAliveSeconds = read.integer('KEEPALIVE_SECONDS', 30, 1, 290);
  const targetName = read.raw('TARGET_NAME');
  read.matching(
    'TARGET_NAME',
    targetName,
    /^(?!.*___)[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/,
    'must be letters, digits, - and _ (no ___), at most 100',
  );
  const problems = read.all();
  const rest = Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith(prefix)));
  let guard: InterceptorConfig | undefined;
  try {
    guard = loadInterceptorConfig(rest);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    problems.push(error.message.replace(/^invalid configuration: /, ''));
  }
  if (problems.length > 0 || guard === undefined)
    throw new ConfigurationError(`invalid proxy configuration: ${problems.join('; ')}`);
  const target: UpstreamConfig['target'] =
    functionArn !== undefined
      ? { kind: 'lambda', functionArn }
      : {
          kind: 'https',
          url: url as string,
          ...(secretArn === undefined ? {} : { secretArn }),
          secretTtlSeconds,
        };
  return deepFreeze({
    guard,
    upstream: {
      target,
      timeoutMs,
      maxResponseBytes,
      keepAliveSeconds,
      ...(targetName === undefined ? {} : { targetName }),
    },
  });
}

/**
 * An upstream MCP server URL: https, or plain http to loopback only (the local stack and tests), with no
 * credentials in it (they belong in Secrets Manager) and no fragment.
 */
export function assertUpstreamUrl(url: URL): void {
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw new ConfigurationError('must be an https URL (plain http only to loopback)');
  if (url.username !== '' || url.password !== '')
    throw new ConfigurationError('must not carry credentials (use the secret)');
  if (url.hash !== '') throw new ConfigurationError('must not have a fragment');
}
