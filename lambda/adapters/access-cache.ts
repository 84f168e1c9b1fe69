import { LRUCache } from 'lru-cache';
import type { AccessStore, AccessSubject, SubjectAccess } from '../core/access';

export interface AccessCacheSettings {
  /**
   * Longest a subject's grants and revocations are reused: the bound on how long a new revocation (or a grant)
   * takes to reach this instance. 0 reads the store on every request.
   */
  readonly ttlSeconds: number;
  /** Bound on remembered subjects per instance. @default 1000 */
  readonly maxEntries?: number;
}

/**
 * A bounded, short-lived cache in front of the grant store, one entry per subject (user or agent). The entry is
 * stored when the read *starts*, so a read in flight is shared (one store read per subject at a time) and no
 * answer is served longer than `ttlSeconds` after its read began: a revocation written at time W is seen by
 * every request after W + ttl. A failed read is kept for at most a second (and never past the TTL).
 */
export class CachingAccessStore implements AccessStore {
  private readonly entries: LRUCache<string, Promise<SubjectAccess>> | undefined;
  private readonly failureTtlMs: number;
  hits = 0;
  misses = 0;

  constructor(
    private readonly inner: AccessStore,
    settings: AccessCacheSettings,
    now: () => number = Date.now,
  ) {
    this.failureTtlMs = Math.max(1, Math.min(1000, settings.ttlSeconds * 1000 - 1));
    this.entries =
      settings.ttlSeconds > 0
        ? new LRUCache<string, Promise<SubjectAccess>>({
            max: settings.maxEntries ?? 1000,
            // lru-cache keeps an entry until strictly more than `ttl` has passed: a millisecond less makes the
            // bound inclusive (a request at exactly W + ttl reads again).
            ttl: settings.ttlSeconds * 1000 - 1,
            // Read the clock on every lookup: the TTL is the promised revocation bound.
            ttlResolution: 0,
            perf: { now },
          })
        : undefined;
  }

  read(subject: AccessSubject): Promise<SubjectAccess> {
    const entries = this.entries;
    if (entries === undefined) return this.inner.read(subject);
    const key = `${subject.kind}\u0000${subject.id}`;
    const cached = entries.get(key);
    if (cached !== undefined) {
      this.hits += 1;
      return cached;
    }
    this.misses += 1;
    const read = this.inner.read(subject);
    entries.set(key, read);
    read.catch(() => {
      // A failed read is remembered briefly (at most a second, never past the TTL): during an outage the store
      // is not asked again by every request — the callers fail closed on the remembered failure meanwhile.
      if (entries.peek(key) === read) entries.set(key, read, { ttl: this.failureTtlMs });
    });
    return read;
  }
}
