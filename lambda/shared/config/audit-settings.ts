import { ConfigurationError } from '../../core/errors';
import { DEFAULT_VALUE_PATTERNS } from '../../core/redaction';
import { isStringArray, PREFIX, type SettingsReader } from './settings-reader';

/**
 * Where audit events go and which values they hide, read alike by the guard (interceptor and API Gateway proxy),
 * the API Gateway authorizer and the grants-table auditor.
 */

/** `AUDIT_EVENT_SOURCE` (at most 256 characters) and the required 12-digit `RECIPIENT_ACCOUNT_ID`. */
export function readAuditDestination(read: SettingsReader): {
  eventSource: string;
  recipientAccountId: string;
} {
  const eventSource = read.text('AUDIT_EVENT_SOURCE', 'mcp-identity', 256);
  const recipientAccountId = read.required('RECIPIENT_ACCOUNT_ID');
  read.matching(
    'RECIPIENT_ACCOUNT_ID',
    recipientAccountId || undefined,
    /^\d{12}$/,
    'must be a 12-digit AWS account id',
  );
  return { eventSource, recipientAccountId };
}

/**
 * `REDACT_PATTERNS`: a JSON list of regular expressions' sources. Compiled only by {@link valuePatterns}, once
 * every other setting has been checked.
 */
export function readRedactPatterns(read: SettingsReader): string[] {
  const redactPatterns = read.json('REDACT_PATTERNS') ?? [];
  if (!isStringArray(redactPatterns)) read.problem('REDACT_PATTERNS', 'must be a JSON list of strings');
  return redactPatterns as string[];
}

/** The default value patterns followed by the configured ones; an invalid one throws. */
export function valuePatterns(redactPatterns: readonly string[]): RegExp[] {
  return [...DEFAULT_VALUE_PATTERNS, ...redactPatterns.map(compileRegex)];
}

function compileRegex(source: string): RegExp {
  try {
    return new RegExp(source, 'g');
  } catch (error) {
    throw new ConfigurationError(`${PREFIX}REDACT_PATTERNS: '${source}' is not a valid regular expression`, {
      cause: error,
    });
  }
}
