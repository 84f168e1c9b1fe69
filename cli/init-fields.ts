/**
 * One question of `mcp-identity init`: asked on a terminal, given as a flag (`--<kebab-case id>`) otherwise.
 * The same check runs on a typed answer and on a flag value, so both ways refuse the same input.
 */

/** Answers so far, by field id. List fields hold comma-separated text until the preset reads them. */
export type Answers = Readonly<Record<string, string>>;

/** Where `init` can point the audit trail (the `--audit-store` choices). */
export const AUDIT_STORES = ['cloudwatch', 'cloudtrail-lake'] as const;
export type AuditStore = (typeof AUDIT_STORES)[number];

export interface Choice {
  readonly value: string;
  readonly name: string;
  readonly description?: string;
}

export interface Field {
  /** Answer key; its flag is `--` + the id in kebab case (`userPoolId` → `--user-pool-id`). */
  readonly id: string;
  readonly message: string;
  /** What the flag's help says about its value. */
  readonly hint: string;
  /** A fixed set of answers (a select prompt; the flag value must be one of them). */
  readonly choices?: readonly Choice[];
  /** Several comma-separated values. */
  readonly list?: boolean;
  /** @default required */
  readonly optional?: boolean;
  /** The default answer, given the answers so far (a flag left out takes it too). */
  readonly default?: (answers: Answers) => string | undefined;
  /** Whether the question applies, given the answers so far. @default always */
  readonly when?: (answers: Answers) => boolean;
  /** Why the question does not apply when `when` says so (for a flag given anyway). */
  readonly whenNot?: string;
  /** A problem with the value, in words, or undefined when it is fine. */
  readonly check?: (value: string, answers: Answers) => string | undefined;
}

/** `userPoolId` → `user-pool-id` (the flag name without dashes in front). */
export const kebab = (id: string): string => id.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

/** `--user-pool-id` as users type it. */
export const flagOf = (field: Pick<Field, 'id'>): string => `--${kebab(field.id)}`;

/** The comma-separated values of a list answer, trimmed, empty ones left out. */
export const listOf = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/** The problem with an answer, or undefined: choices, control characters, emptiness, the field's own check. */
export function fieldProblem(field: Field, value: string, answers: Answers): string | undefined {
  if (field.choices !== undefined && !field.choices.some((choice) => choice.value === value))
    return `must be one of ${field.choices.map((choice) => choice.value).join(', ')}`;
  // A terminal passes control keys it does not handle (Ctrl-U, escape sequences) into the answer.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'must not contain control characters';
  if (value.trim() === '') return field.optional ? undefined : 'is required';
  if (field.list && listOf(value).length === 0) return 'needs at least one value';
  return field.check?.(value.trim(), answers);
}

// Checks shared by presets and target questions.

export const httpsUrl = (value: string): string | undefined => {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:') return 'must be an https:// URL';
    if (url.search !== '' || url.hash !== '') return 'must have no query or fragment';
    return undefined;
  } catch {
    return 'must be a URL such as https://idp.example.com';
  }
};

/**
 * A host name (with an optional port), without scheme or path: `dev-123.okta.com`, `teleport.example.com:443`.
 * The shape alone is not enough: a URL parser reads an all-digit last label as an IPv4 address (`08`, `idp.08`
 * fail to parse, `1.2.3` becomes `1.2.0.3`) and refuses a port over 65535, so the host must also come back from
 * `new URL` exactly as given — the issuer and discovery URL are built from it.
 */
export const hostName = (value: string): string | undefined => {
  const problem = 'a host name such as idp.example.com (no https://, no path)';
  if (
    !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:\d{1,5})?$/.test(
      value,
    )
  )
    return problem;
  try {
    const url = new URL(`https://${value}/`);
    const given = value.toLowerCase().replace(/:443$/, '');
    return url.host === given ? undefined : problem;
  } catch {
    return problem;
  }
};

/** Accepts `https://host/` as well as `host` where a host is asked for: people paste URLs. */
export const bareHost = (value: string): string =>
  value
    .trim()
    .replace(/^https?:\/\//i, '')
    .replace(/\/+$/, '');

export const noSpaces = (value: string): string | undefined =>
  /\s/.test(value) ? 'must not contain spaces' : undefined;

export const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
