/** How tool arguments appear in audit events. */
export interface RedactionConfig {
  /** `values`: arguments with redactions applied; `names`: argument names only; `none`: nothing. @default 'values' */
  readonly arguments: 'values' | 'names' | 'none';
  /** Argument keys (any depth, case/separator-insensitive) whose values are replaced. */
  readonly keys: readonly string[];
  /** Patterns whose matches inside string values are replaced. */
  readonly valuePatterns: readonly RegExp[];
}

export const REDACTED = '[REDACTED]';

export const DEFAULT_REDACTED_KEYS: readonly string[] = Object.freeze([
  'password',
  'passwd',
  'secret',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'api_key',
  'authorization',
  'cookie',
  'private_key',
  'client_secret',
]);

/** JWTs, bearer credentials and AWS access key ids never reach the audit trail, whatever key carries them. */
export const DEFAULT_VALUE_PATTERNS: readonly RegExp[] = Object.freeze([
  /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
  /\bBearer\s+[A-Za-z0-9._~+/=-]{16,}/gi,
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
]);

export const DEFAULT_REDACTION: RedactionConfig = Object.freeze({
  arguments: 'values',
  keys: DEFAULT_REDACTED_KEYS,
  valuePatterns: DEFAULT_VALUE_PATTERNS,
});

function fold(key: string): string {
  // Upper then lower case: `ı` (dotless i) and `ſ` (long s) fold to `i` and `s`, as a tool that upper-cases
  // names would read them; lower case alone would keep `tokenıd` apart from `tokenid`.
  // Stryker disable next-line MethodExpression: dropping the final toLowerCase() folds exactly the same keys together (upper case alone already does: checked over every code point), only in the other case; the other mutants of this chain are killed
  return key
    .normalize('NFKC')
    .toUpperCase()
    .toLowerCase()
    .replace(/[\s\p{Z}\p{Cf}\p{Cc}_\-.]/gu, '');
}

export function redactString(value: string, patterns: readonly RegExp[]): string {
  let result = value;
  for (const pattern of patterns) {
    const global = pattern.flags.includes('g') ? pattern : new RegExp(pattern.source, `${pattern.flags}g`);
    result = result.replace(global, REDACTED);
  }
  return result;
}

/** Redacts any JSON value; never throws, never returns an input object (copies). */
export function redactValue(value: unknown, config: RedactionConfig): unknown {
  const keys = new Set(config.keys.map(fold));
  const walk = (node: unknown, depth: number): unknown => {
    if (typeof node === 'string') return redactString(node, config.valuePatterns);
    if (node === null || typeof node !== 'object') return node;
    if (depth > 32) return '[TOO DEEP]';
    if (Array.isArray(node)) return node.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(node)) {
      out[redactString(key, config.valuePatterns)] = keys.has(fold(key)) ? REDACTED : walk(item, depth + 1);
    }
    return out;
  };
  return walk(value, 0);
}

/** Tool arguments as the audit trail records them, per {@link RedactionConfig.arguments}. */
export function auditArguments(args: Readonly<Record<string, unknown>>, config: RedactionConfig): unknown {
  switch (config.arguments) {
    // Stryker disable next-line StringLiteral: a mode that matches no case returns undefined too, exactly what 'none' returns
    case 'none':
      return undefined;
    case 'names':
      return Object.keys(args).map((key) => redactString(key, config.valuePatterns));
    case 'values':
      return redactValue(args, config);
  }
}
