import { ConfigurationError } from '../../core/errors';
import { readAuditDestination, readRedactPatterns, valuePatterns } from './audit-settings';
import type { InterceptorConfig } from './interceptor';
import { readJwtSettings } from './jwt-settings';
import { deepFreeze, PREFIX, SettingsReader, settingsWithPrefix } from './settings-reader';

/** The API Gateway door's Lambda REQUEST authorizer: it only authenticates (the proxy decides each call). */
export interface AuthorizerConfig {
  readonly jwt: InterceptorConfig['jwt'];
  /**
   * The authorizer's result cache TTL as configured on API Gateway (`AUTHORIZER_CACHE_TTL_SECONDS`, 0–3600). A
   * token whose remaining lifetime is shorter is refused, so no cached Allow outlives its token.
   */
  readonly cacheTtlSeconds: number;
  /** Its refusals are audited like the proxy's (same event source and account, same value patterns). */
  readonly audit: InterceptorConfig['audit'];
  readonly valuePatterns: readonly RegExp[];
}

/** Reads the authorizer's MCP_IDENTITY_* variables (the token settings, the cache TTL, audit settings). */
export function loadAuthorizerConfig(env: NodeJS.ProcessEnv = process.env): AuthorizerConfig {
  const read = new SettingsReader(settingsWithPrefix(env, PREFIX), PREFIX);
  const jwt = readJwtSettings(read);
  const cacheTtlSeconds = read.integer('AUTHORIZER_CACHE_TTL_SECONDS', 60, 0, 3600);
  const { eventSource, recipientAccountId } = readAuditDestination(read);
  const redactPatterns = readRedactPatterns(read);
  const problems = read.all();
  if (problems.length > 0)
    throw new ConfigurationError(`invalid authorizer configuration: ${problems.join('; ')}`);
  return deepFreeze({
    jwt,
    cacheTtlSeconds,
    audit: { eventSource, recipientAccountId },
    valuePatterns: valuePatterns(redactPatterns),
  });
}
