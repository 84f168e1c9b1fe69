import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Caller } from '../core/caller';
import { AssertionSigningError } from '../core/errors';
import {
  type AssertionSettings,
  type AssertionSigner,
  assertionClaims,
  assertionHeader,
  assertionIdentity,
  checkAssertionTtl,
  compactJws,
  signingInput,
} from '../core/identity-assertion';

export interface AssertionCacheSettings extends AssertionSettings {
  /** Bound on cached assertions per Lambda instance. @default 1000 */
  readonly maxEntries?: number;
  /**
   * An assertion is replaced once it has less than this left to live (capped at half its lifetime, so short
   * lifetimes are still reused), so a target never receives one about to expire. @default 60
   */
  readonly refreshBeforeSeconds?: number;
}

/** A signed assertion and the times the cache needs. */
export interface SignedAssertion {
  /** The compact JWS to put in the header. */
  readonly token: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/**
 * Hands out the signed identity assertion for a caller and a target, signing only when needed: one Sign call
 * per (identity, target) per assertion lifetime instead of one per request.
 *
 * - Key: SHA-256 of the JSON of every identity claim (iss, sub, aud, roles, client_id, act) — built by the same
 *   function that builds the claims, so two callers share an entry only if their assertions would say exactly
 *   the same thing. A refreshed token with the same claims hits.
 * - Reuse: until `refreshBeforeSeconds` before `exp` (or half the lifetime, if shorter), and never past the
 *   current caller's own token expiry, nor past the earliest expiry of a grant that supplied a role.
 * - Bounded: an LRU of `maxEntries`.
 * - Singleflight: concurrent misses for one key share one Sign call.
 * - Fails closed: any signing failure is an {@link AssertionSigningError} (never cached, never an unsigned or
 *   stale assertion), which the guard turns into an audited refusal.
 */
/**
 * Until when an assertion may speak for this caller: the token's expiry, and no later than the earliest expiry
 * of the just-in-time grants that supplied a role (`Caller.grants`) — an assertion carrying a granted role
 * must not outlive the grant.
 */
export function validUntil(caller: Caller): number {
  return Math.min(caller.expiresAt, ...(caller.grants ?? []).map((grant) => grant.expiresAt));
}

export class AssertionCache {
  private readonly entries: LRUCache<string, SignedAssertion>;
  private readonly inflight = new Map<string, Promise<SignedAssertion>>();
  private readonly ttlSeconds: number;
  private readonly refreshBeforeSeconds: number;
  /** Counters for tests and the bench. */
  hits = 0;
  signs = 0;

  constructor(
    private readonly signer: AssertionSigner,
    private readonly settings: AssertionCacheSettings,
    private readonly now: () => number = Date.now,
    private readonly newId: () => string = randomUUID,
  ) {
    this.ttlSeconds = checkAssertionTtl(settings.ttlSeconds);
    this.refreshBeforeSeconds = settings.refreshBeforeSeconds ?? 60;
    this.entries = new LRUCache<string, SignedAssertion>({ max: settings.maxEntries ?? 1000 });
  }

  /** Whether a signed assertion may still be handed to this caller. */
  private usable(entry: SignedAssertion, caller: Caller): boolean {
    const nowSeconds = this.now() / 1000;
    const margin = Math.min(this.refreshBeforeSeconds, (entry.expiresAt - entry.issuedAt) / 2);
    return nowSeconds < entry.expiresAt - margin && entry.expiresAt <= validUntil(caller);
  }

  /**
   * The assertion for `caller` calling a tool of `target`. Throws {@link AssertionSigningError} when one
   * cannot be signed.
   */
  async assertion(caller: Caller, target: string): Promise<string> {
    const identity = assertionIdentity(caller, this.settings.issuer, target);
    const key = createHash('sha256').update(JSON.stringify(identity)).digest('base64url');
    const cached = this.entries.get(key);
    if (cached !== undefined && this.usable(cached, caller)) {
      this.hits += 1;
      return cached.token;
    }
    const flight = this.inflight.get(key);
    if (flight !== undefined) {
      const shared = await flight;
      // Shared unless it would outlive this caller's token (another token with the same claims started it).
      if (shared.expiresAt <= validUntil(caller)) return shared.token;
    }
    const signing = this.sign(identity, validUntil(caller));
    this.inflight.set(key, signing);
    try {
      const signed = await signing;
      this.entries.set(key, signed);
      return signed.token;
    } finally {
      if (this.inflight.get(key) === signing) this.inflight.delete(key);
    }
  }

  private async sign(
    identity: ReturnType<typeof assertionIdentity>,
    tokenExpiresAt: number,
  ): Promise<SignedAssertion> {
    this.signs += 1;
    try {
      const kid = await this.signer.keyId();
      const claims = assertionClaims(
        identity,
        { issuedAt: this.now() / 1000, ttlSeconds: this.ttlSeconds, tokenExpiresAt },
        this.newId(),
      );
      const input = signingInput(assertionHeader(kid), claims);
      const token = compactJws(input, await this.signer.sign(input));
      return { token, issuedAt: claims.iat, expiresAt: claims.exp };
    } catch (error) {
      if (error instanceof AssertionSigningError) throw error;
      throw new AssertionSigningError(
        `identity assertion signing failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}
