import { LRUCache } from 'lru-cache';
import type { Caller, TokenVerifier } from '../core/caller';
import { sha256Base64url } from '../core/digest';

export interface VerifiedCallerCacheSettings {
  /** Longest a verified caller is reused, whatever the token's expiry. @default 300 */
  readonly maxAgeSeconds?: number;
  /** Bound on remembered tokens per instance. @default 1000 */
  readonly maxEntries?: number;
}

/**
 * Verifies a token once and reuses the verified caller: the AgentCore interceptor sees every request twice
 * (REQUEST and RESPONSE phases) and an agent sends many requests with one token. Keyed by the SHA-256 of the
 * token (the token itself is never kept), bounded in entries, and never reused past the token's `exp` nor past
 * `maxAgeSeconds` (the bound on how long a key removed from the issuer's JWKS keeps verifying). Failures are
 * never cached: a refused token is checked again each time.
 */
export class CachingTokenVerifier implements TokenVerifier {
  private readonly callers: LRUCache<string, Caller>;
  private readonly maxAgeMs: number;
  hits = 0;

  constructor(
    private readonly inner: TokenVerifier,
    settings: VerifiedCallerCacheSettings = {},
    private readonly now: () => number = Date.now,
  ) {
    this.maxAgeMs = (settings.maxAgeSeconds ?? 300) * 1000;
    this.callers = new LRUCache<string, Caller>({
      max: settings.maxEntries ?? 1000,
      ttl: this.maxAgeMs,
      ttlResolution: 0,
      perf: { now },
    });
  }

  async verify(token: string): Promise<Caller> {
    const key = sha256Base64url(token);
    const cached = this.callers.get(key);
    if (cached !== undefined && cached.expiresAt * 1000 > this.now()) {
      this.hits += 1;
      return cached;
    }
    const caller = await this.inner.verify(token);
    const ttl = Math.min(this.maxAgeMs, caller.expiresAt * 1000 - this.now());
    if (ttl > 0) this.callers.set(key, caller, { ttl });
    return caller;
  }
}
