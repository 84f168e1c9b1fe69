import { LRUCache } from 'lru-cache';
import { type AuthorizationRequest, isSharedPart } from '../core/cedar-request';
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
 * JSON text of the caller's shared request parts (principal, resource, entities, shared context), written once
 * per part: they are frozen all the way down (core/cedar-request.ts), so the text cannot go stale. Any other
 * object is written each time.
 */
const sharedJson = new WeakMap<object, string>();
/** The same for a shared context with its token facts cut to a set of reads. */
const sharedContextJson = new WeakMap<
  object,
  { readonly reads: ReadonlySet<string>; readonly text: string }
>();

function jsonOf(part: object): string {
  if (!isSharedPart(part)) return JSON.stringify(part);
  let text = sharedJson.get(part);
  if (text === undefined) {
    text = JSON.stringify(part);
    sharedJson.set(part, text);
  }
  return text;
}

/** The context as the key holds it: the token facts cut to those some policy reads. */
function contextJson(context: AuthorizationRequest['context'], reads: 'all' | ReadonlySet<string>): string {
  const token = context.token;
  if (reads === 'all' || token === null || typeof token !== 'object' || Array.isArray(token))
    return jsonOf(context);
  const shared = isSharedPart(context);
  const known = shared ? sharedContextJson.get(context) : undefined;
  if (known !== undefined && known.reads === reads) return known.text;
  const kept: Record<string, unknown> = {};
  for (const fact of Object.keys(token))
    if (reads.has(fact)) kept[fact] = (token as Record<string, unknown>)[fact];
  const text = JSON.stringify({ ...context, token: kept });
  if (shared) sharedContextJson.set(context, { reads, text });
  return text;
}

/**
 * The cache key of a request: everything a policy can read — principal, its attributes and roles (the
 * entities), action, resource, and the context (arguments, agent, delegation chain) — but of the token facts
 * (`context.token`: expiry, issue time, id) only those some policy reads. A refreshed token with the same
 * claims therefore reuses the answer, unless a policy looks at the token itself. A JSON array of the five
 * parts' JSON texts, so two keys are equal exactly when the parts are; the caller's frozen parts are written
 * once (core/cedar-request.ts shares them across one caller's requests).
 */
export function decisionCacheKey(request: AuthorizationRequest, reads: 'all' | ReadonlySet<string>): string {
  return `[${jsonOf(request.principal)},${JSON.stringify(request.action)},${jsonOf(request.resource)},${jsonOf(request.entities)},${contextJson(request.context, reads)}]`;
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
