import { LRUCache } from 'lru-cache';
import type { AuthorizationRequest } from '../core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../core/decision';

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
 * A bounded, short-lived cache in front of a decision point, keyed on the whole request (principal, action,
 * resource, context — so the arguments — and entities — so the roles). An entry never outlives the token it
 * was decided for. Failures are never cached. `couldBeAllowed` is passed through (it runs once per list).
 */
export class CachingDecisionPoint implements PolicyDecisionPoint {
  private readonly cache: LRUCache<string, PolicyAnswer> | undefined;
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
  }

  async isAuthorized(request: AuthorizationRequest): Promise<PolicyAnswer> {
    if (this.cache === undefined) return this.inner.isAuthorized(request);
    const key = JSON.stringify(request);
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

  couldBeAllowed(requests: readonly AuthorizationRequest[]): Promise<readonly boolean[]> {
    return this.inner.couldBeAllowed(requests);
  }
}
