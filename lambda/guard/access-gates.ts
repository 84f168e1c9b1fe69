import {
  type AccessStore,
  accessReads,
  activeRevocation,
  revocationMessage,
  withGrants,
} from '../core/access';
import type { Caller, TokenVerifier } from '../core/caller';
import { listedIn } from '../core/listings';
import type { DiagnosticLog } from '../shared/logger';
import type { AllowedRequest, Gate, GateRefusal, OfferedListing } from './hooks';

/**
 * Access over time in the guard (issue 15): just-in-time grants add roles to the verified caller, and the kill
 * switch refuses a revoked user or agent (any agent claim or delegation actor) before policy is asked. Both read
 * one cached {@link AccessStore} (`adapters/access-cache.ts`), so a subject costs one store read per cache period,
 * shared by both.
 */

/**
 * A verifier that adds the user's active grants to the verified caller's roles (the principal's `Role` parents),
 * so the decision — and the decision cache, which keys on the principal's parents — sees the effective roles.
 * It fails closed for the grant lookup only: when the store cannot be read, the caller keeps the token's roles
 * (grants ignored), the failure is logged, and the audit event notes it (`grantLookup: unavailable`).
 */
export class GrantingVerifier implements TokenVerifier {
  constructor(
    private readonly inner: TokenVerifier,
    private readonly store: AccessStore,
    private readonly log: DiagnosticLog,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(token: string): Promise<Caller> {
    const caller = await this.inner.verify(token);
    // Start the other reads (the user's other names, the agents) beside the user's: the revocation gate then
    // finds them in the cache (reads in flight are shared), so a cold caller costs one store round trip.
    for (const subject of accessReads(caller).slice(1)) this.store.read(subject).catch(() => undefined);
    let grants: Awaited<ReturnType<AccessStore['read']>>['grants'];
    try {
      grants = (await this.store.read({ kind: 'user', id: caller.subject })).grants;
    } catch (error) {
      this.log.warn('the grant store could not be read; deciding on the token roles alone', {
        error: error instanceof Error ? error.name : 'unknown',
      });
      return Object.freeze({ ...caller, grantLookup: 'unavailable' as const });
    }
    return withGrants(caller, grants, this.now() / 1000);
  }
}

/** Thrown when a revocation cannot be checked; the gate runner turns it into a refusal (fail closed). */
export class RevocationLookupError extends Error {
  constructor(cause: unknown) {
    super('the revocation list could not be read', { cause });
    this.name = 'RevocationLookupError';
  }
}

/**
 * The kill switch as a guard gate. `onCaller` runs on every request before policy and the decision cache: a
 * revoked user (subject) or agent (client id) is refused with the revocation's reason, audited as `Revoked`.
 * A store that cannot be read refuses too — a kill switch that fails open is not one. `onCall` repeats the check
 * for the RESPONSE step's outcome audit, and `onListing` hides every listed tool from a revoked caller (a list
 * answered after the revocation, for a request let through before it).
 */
export function revocationGate(store: AccessStore, now: () => number = Date.now): Gate {
  async function refusal(caller: Caller): Promise<GateRefusal | undefined> {
    let revocations: Awaited<ReturnType<AccessStore['read']>>['revocations'][number][];
    try {
      // The user by subject, username and email, and every agent the request acts through (client id, other
      // agent claims, the delegation chain): a few reads, side by side, each cached per subject.
      const reads = accessReads(caller).map((subject) => store.read(subject));
      revocations = (await Promise.all(reads)).flatMap((access) => access.revocations);
    } catch (error) {
      throw new RevocationLookupError(error);
    }
    const revoked = activeRevocation(caller, revocations, now() / 1000);
    return revoked === undefined ? undefined : { reason: revocationMessage(revoked), errorCode: 'Revoked' };
  }
  return {
    name: 'revocations',
    onCaller: (request: AllowedRequest) => refusal(request.caller),
    onCall: (request: AllowedRequest) => refusal(request.caller),
    async onListing(listing: OfferedListing): Promise<ReadonlyMap<string, string>> {
      const revoked = await refusal(listing.caller);
      if (revoked === undefined) return new Map();
      // Read as a list and as a search tool's result: every name the caller could learn is hidden.
      const tools = listing.messages.flatMap((message) => [
        ...listedIn(message, false).tools,
        ...listedIn(message, true).tools,
      ]);
      return new Map(tools.map((tool) => [tool, revoked.reason]));
    },
  };
}
