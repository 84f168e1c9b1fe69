/**
 * What API Gateway does with a Lambda REQUEST authorizer's answer (CONTRACTS §7a), for the local emulation:
 * reads the returned policy, evaluates it against the method ARN of each request (an explicit Deny wins, no
 * matching Allow is a Deny), and caches it by the identity source's value for the configured TTL — the cached
 * policy then applies to every method of the API, which is why the authorizer must allow the whole API.
 */

/** Context values the authorizer may return: flat (CONTRACTS §7a: no object or array). */
export type AuthorizerContext = Readonly<Record<string, string | number | boolean>>;

interface Statement {
  readonly effect: 'Allow' | 'Deny';
  readonly actions: readonly string[];
  readonly resources: readonly string[];
}

/** An authorizer's answer, as API Gateway accepts it. */
export interface AuthorizerPolicy {
  readonly principalId: string;
  readonly statements: readonly Statement[];
  readonly context: AuthorizerContext;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function strings(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string'))
    return value as string[];
  return undefined;
}

/**
 * The authorizer's answer read as API Gateway reads it; undefined when API Gateway would reject it (a 500:
 * no principal, no policy, a statement it cannot read, or a context value that is not flat).
 */
export function readAuthorizerResult(result: unknown): AuthorizerPolicy | undefined {
  if (!isRecord(result) || typeof result.principalId !== 'string') return undefined;
  const document = result.policyDocument;
  if (!isRecord(document)) return undefined;
  const raw = Array.isArray(document.Statement) ? document.Statement : [document.Statement];
  const statements: Statement[] = [];
  for (const statement of raw) {
    if (!isRecord(statement)) return undefined;
    const actions = strings(statement.Action);
    const resources = strings(statement.Resource);
    if (
      (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') ||
      actions === undefined ||
      resources === undefined
    )
      return undefined;
    statements.push({ effect: statement.Effect, actions, resources });
  }
  const context: Record<string, string | number | boolean> = {};
  if (result.context !== undefined && result.context !== null) {
    if (!isRecord(result.context)) return undefined;
    for (const [key, value] of Object.entries(result.context)) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
        return undefined;
      context[key] = value;
    }
  }
  return { principalId: result.principalId, statements, context };
}

/** IAM wildcards: `*` any run of characters, `?` one character. */
function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern
    .split('')
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

/** Whether the policy lets this method ARN be invoked: an explicit Deny wins; no matching Allow denies. */
export function policyAllows(policy: AuthorizerPolicy, methodArn: string): boolean {
  const matching = policy.statements.filter(
    (statement) =>
      statement.actions.some((action) => wildcard(action, 'execute-api:Invoke', true)) &&
      statement.resources.some((resource) => wildcard(resource, methodArn, false)),
  );
  return (
    matching.some((statement) => statement.effect === 'Allow') &&
    !matching.some((statement) => statement.effect === 'Deny')
  );
}

/** API Gateway's authorizer result cache: by identity-source value, for the TTL (0 = off), bounded. */
export class AuthorizerCache {
  private readonly entries = new Map<string, { readonly policy: AuthorizerPolicy; readonly until: number }>();

  constructor(
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > 3600)
      throw new RangeError('the authorizer result TTL must be a whole number of seconds from 0 to 3600');
  }

  get(key: string): AuthorizerPolicy | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > this.now()) return entry.policy;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, policy: AuthorizerPolicy): void {
    if (this.ttlSeconds === 0) return;
    this.entries.delete(key);
    this.entries.set(key, { policy, until: this.now() + this.ttlSeconds * 1000 });
    // Oldest first out: a Map iterates in insertion order.
    while (this.entries.size > this.maxEntries)
      this.entries.delete(this.entries.keys().next().value as string);
  }

  /** `FlushStageAuthorizersCache`. */
  flush(): void {
    this.entries.clear();
  }
}
