import { LRUCache } from 'lru-cache';
import type { AuthorizationRequest } from '../core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../core/decision';
import { DecisionPointError } from '../core/errors';

export interface DecisionCacheSettings {
  /** Longest an answer is reused: the maximum delay for a policy change to take effect. 0 turns caching off. */
  readonly ttlSeconds: number;
  /** Bound on cached answers per Lambda instance. @default 1000 */
  readonly maxEntries: number;
}

export type Clock = () => number;

/** Seconds until the token in the request expires (the context carries `token.expiresAt`). */
function tokenSecondsLeft(request: AuthorizationRequest, nowMs: number): number {
  const token = request.context.token as { expiresAt?: unknown } | undefined;
  const expiresAt = typeof token?.expiresAt === 'number' ? token.expiresAt : 0;
  return expiresAt - Math.floor(nowMs / 1000);
}

/**
 * The cache key of a request: everything a policy can read — principal, its attributes and roles (the
 * entities), action, resource, and the context (arguments, agent, delegation chain) — but of the token facts
 * (`context.token`: expiry, issue time, id) only those some policy reads. A refreshed token with the same
 * claims therefore reuses the answer, unless a policy looks at the token itself.
 */
export function decisionCacheKey(request: AuthorizationRequest, reads: 'all' | ReadonlySet<string>): string {
  const token = request.context.token;
  if (reads === 'all' || token === null || typeof token !== 'object' || Array.isArray(token))
    return JSON.stringify(request);
  const kept = Object.fromEntries(Object.entries(token).filter(([fact]) => reads.has(fact)));
  return JSON.stringify({ ...request, context: { ...request.context, token: kept } });
}

/**
 * A bounded, short-lived cache in front of a decision point, keyed on what policies can read
 * ({@link decisionCacheKey}). An entry never outlives the token it was decided for: its lifetime is the
 * smaller of the TTL and the time left on the token that caused it, so a later token with the same claims
 * and a later expiry re-decides once the first one's time is up. Failures are never cached.
 * `couldBeAllowed` (tools/list) answers are cached the same way, per tool: agents list tools often, and
 * BatchIsAuthorized has a low default quota (30 RPS per store).
 */
export class CachingDecisionPoint implements PolicyDecisionPoint {
  private readonly cache: LRUCache<string, PolicyAnswer> | undefined;
  private readonly listCache: LRUCache<string, { readonly allowed: boolean }> | undefined;
  hits = 0;
  misses = 0;

  constructor(
    private readonly inner: PolicyDecisionPoint,
    private readonly settings: DecisionCacheSettings,
    private readonly now: Clock = Date.now,
  ) {
    this.cache =
      settings.ttlSeconds > 0 && settings.maxEntries > 0
        ? new LRUCache<string, PolicyAnswer>({
            max: settings.maxEntries,
            ttl: settings.ttlSeconds * 1000,
            // Read the clock on every lookup: the TTL is the promised bound on policy-change delay.
            ttlResolution: 0,
            perf: { now },
          })
        : undefined;
    this.listCache =
      this.cache === undefined
        ? undefined
        : new LRUCache<string, { readonly allowed: boolean }>({
            max: settings.maxEntries,
            ttl: settings.ttlSeconds * 1000,
            ttlResolution: 0,
            perf: { now },
          });
  }

  get tokenReads(): 'all' | ReadonlySet<string> {
    return this.inner.tokenReads ?? 'all';
  }

  async isAuthorized(request: AuthorizationRequest): Promise<PolicyAnswer> {
    if (this.cache === undefined) return this.inner.isAuthorized(request);
    const key = decisionCacheKey(request, this.tokenReads);
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.hits += 1;
      return cached;
    }
    this.misses += 1;
    const answer = await this.inner.isAuthorized(request);
    const ttlSeconds = Math.min(this.settings.ttlSeconds, tokenSecondsLeft(request, this.now()));
    if (ttlSeconds > 0) this.cache.set(key, answer, { ttl: ttlSeconds * 1000 });
    return answer;
  }

  async couldBeAllowed(requests: readonly AuthorizationRequest[]): Promise<readonly boolean[]> {
    const cache = this.listCache;
    if (cache === undefined) return this.inner.couldBeAllowed(requests);
    const reads = this.tokenReads;
    const keys = requests.map((request) => decisionCacheKey(request, reads));
    const answers: (boolean | undefined)[] = keys.map((key) => cache.get(key)?.allowed);
    const missing = requests.filter((_, index) => answers[index] === undefined);
    this.hits += requests.length - missing.length;
    this.misses += missing.length;
    if (missing.length > 0) {
      // Only the tools not already known are asked, in one call (which a failure fails as a whole).
      const fresh = await this.inner.couldBeAllowed(missing);
      if (fresh.length !== missing.length)
        throw new DecisionPointError('decision point answered a different number of requests');
      let next = 0;
      answers.forEach((answer, index) => {
        if (answer !== undefined) return;
        const allowed = fresh[next] === true;
        next += 1;
        answers[index] = allowed;
        const request = requests[index] as AuthorizationRequest;
        const ttlSeconds = Math.min(this.settings.ttlSeconds, tokenSecondsLeft(request, this.now()));
        if (ttlSeconds > 0) cache.set(keys[index] as string, { allowed }, { ttl: ttlSeconds * 1000 });
      });
    }
    return answers.map((answer) => answer === true);
  }
}
