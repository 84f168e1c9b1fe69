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

/** Printable ASCII without whitespace: NFKC and case folding reduce to `toLowerCase`, only `_ - .` go. */
const PLAIN_KEY = /^[\x21-\x7e]*$/;

/** How a key compares with the redacted keys: case, width and separators folded away. */
export function foldKey(key: string): string {
  // The common case (argument names are ASCII identifiers) without Unicode normalisation: the same result
  // (test/unit/redaction-fold.test.ts checks it against the full fold), and it runs for every argument key.
  if (PLAIN_KEY.test(key)) return key.toLowerCase().replace(/[_\-.]/g, '');
  return fullFold(key);
}

/** The full fold, for any text. */
export function fullFold(key: string): string {
  // Upper then lower case: `ı` (dotless i) and `ſ` (long s) fold to `i` and `s`, as a tool that upper-cases
  // names would read them; lower case alone would keep `tokenıd` apart from `tokenid`.
  // Stryker disable next-line MethodExpression: dropping the final toLowerCase() folds exactly the same keys together (upper case alone already does: checked over every code point), only in the other case; the other mutants of this chain are killed
  return key
    .normalize('NFKC')
    .toUpperCase()
    .toLowerCase()
    .replace(/[\s\p{Z}\p{Cf}\p{Cc}_\-.]/gu, '');
}

/** Folded redacted keys per configured list: built once, not per audited call (rebuilt if the list changed). */
const foldedKeys = new WeakMap<
  readonly string[],
  { readonly text: string; readonly set: ReadonlySet<string> }
>();

function foldedKeySet(keys: readonly string[]): ReadonlySet<string> {
  const text = keys.join('\u0000');
  const known = foldedKeys.get(keys);
  if (known !== undefined && known.text === text) return known.set;
  const set = new Set(keys.map(foldKey));
  foldedKeys.set(keys, { text, set });
  return set;
}

/** The global form of each pattern (replace needs `g` to replace every match), made once per pattern. */
const globalForms = new WeakMap<RegExp, RegExp>();

function globalForm(pattern: RegExp): RegExp {
  if (pattern.global) return pattern;
  let global = globalForms.get(pattern);
  if (global === undefined) {
    global = new RegExp(pattern.source, `${pattern.flags}g`);
    globalForms.set(pattern, global);
  }
  return global;
}

export function redactString(value: string, patterns: readonly RegExp[]): string {
  let result = value;
  for (const pattern of patterns) result = result.replace(globalForm(pattern), REDACTED);
  return result;
}

/** Redacts any JSON value; never throws, never returns an input object (copies). */
export function redactValue(value: unknown, config: RedactionConfig): unknown {
  const keys = foldedKeySet(config.keys);
  const walk = (node: unknown, depth: number): unknown => {
    if (typeof node === 'string') return redactString(node, config.valuePatterns);
    if (node === null || typeof node !== 'object') return node;
    if (depth > 32) return '[TOO DEEP]';
    if (Array.isArray(node)) return node.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(node)) {
      out[redactString(key, config.valuePatterns)] = keys.has(foldKey(key))
        ? REDACTED
        : walk(item, depth + 1);
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
