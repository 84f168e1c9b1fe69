import { ListPoliciesCommand, type VerifiedPermissionsClient } from '@aws-sdk/client-verifiedpermissions';
import type { AuthorizationRequest } from '../core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../core/decision';

/**
 * Verified Permissions answers with opaque policy ids (`SP…`), assigned at deploy time; the catalogue that
 * explains policies ships in the code asset, keyed by stable id, because it cannot ride in the environment
 * (4 KB) at 1,000 policies. This maps one to the other through the policies' names, which the stack sets
 * (`name/<id>__<scope hash>`, listed in the catalogue as `avpName`) and `policies push` sets (`name/<id>`).
 *
 * One ListPolicies walk (50 per page) at cold start, started at module scope so the first request rarely
 * waits; again when an answer names a policy the map does not know (a policy replaced while this environment
 * was warm), at most once a minute. Waiting is bounded: past the deadline the answer keeps the raw id, which
 * changes the wording of a denial, never the decision.
 */
export class AvpPolicyNames {
  private readonly stableIds = new Map<string, string>();
  private loading: Promise<void> | undefined;
  private lastStarted = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly client: Pick<VerifiedPermissionsClient, 'send'>,
    private readonly policyStoreId: string,
    /** Verified Permissions name → stable id (from the catalogue). */
    private readonly byName: ReadonlyMap<string, string>,
    private readonly options: {
      readonly waitMs?: number;
      readonly refreshAfterMs?: number;
      readonly now?: () => number;
    } = {},
  ) {}

  /** Stable id for a Verified Permissions policy id, when known. */
  stableId(policyId: string): string | undefined {
    return this.stableIds.get(policyId);
  }

  /** Starts (or joins) a walk of the store's policies. Never rejects. */
  hydrate(): Promise<void> {
    if (this.loading !== undefined) return this.loading;
    this.lastStarted = (this.options.now ?? Date.now)();
    this.loading = this.load()
      .catch(() => undefined)
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  /** Waits, at most `waitMs`, for a walk: the running one, or a new one if the last started long enough ago. */
  async refresh(): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    const due = now - this.lastStarted >= (this.options.refreshAfterMs ?? 60_000);
    if (this.loading === undefined && !due) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.waitMs ?? 1000);
      timer.unref?.();
    });
    await Promise.race([this.hydrate(), deadline]);
    clearTimeout(timer);
  }

  private stableIdFromName(name: string | undefined): string | undefined {
    if (name === undefined) return undefined;
    const exact = this.byName.get(name);
    if (exact !== undefined) return exact;
    // `policies push` names policies `name/<id>` with characters outside [A-Za-z0-9_-] as `_` (policy-files.ts).
    for (const id of this.byName.values())
      if (name === `name/${id.replace(/[^A-Za-z0-9_-]/g, '_')}`) return id;
    return undefined;
  }

  private async load(): Promise<void> {
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListPoliciesCommand({ policyStoreId: this.policyStoreId, maxResults: 50, nextToken }),
      );
      for (const policy of page.policies ?? []) {
        const id = this.stableIdFromName(policy.name);
        if (policy.policyId !== undefined && id !== undefined) this.stableIds.set(policy.policyId, id);
      }
      nextToken = page.nextToken;
    } while (nextToken);
  }
}

/**
 * Wraps the Verified Permissions decision point so answers name policies by stable id, as the local engine
 * does: the catalogue, the audit trail and denial reasons then read the same in AWS and locally.
 */
export class StableIdDecisionPoint implements PolicyDecisionPoint {
  constructor(
    private readonly inner: PolicyDecisionPoint,
    private readonly names: AvpPolicyNames,
  ) {}

  async isAuthorized(request: AuthorizationRequest): Promise<PolicyAnswer> {
    const answer = await this.inner.isAuthorized(request);
    const ids = [
      ...answer.determiningPolicies,
      ...answer.errors.flatMap((error) => (error.policyId === undefined ? [] : [error.policyId])),
    ];
    if (ids.some((id) => this.names.stableId(id) === undefined)) await this.names.refresh();
    const name = (id: string) => this.names.stableId(id) ?? id;
    return {
      ...answer,
      determiningPolicies: answer.determiningPolicies.map(name),
      errors: answer.errors.map((error) =>
        error.policyId === undefined ? error : { ...error, policyId: name(error.policyId) },
      ),
    };
  }

  couldBeAllowed(requests: readonly AuthorizationRequest[]): Promise<readonly boolean[]> {
    return this.inner.couldBeAllowed(requests);
  }

  get tokenReads(): 'all' | ReadonlySet<string> {
    return this.inner.tokenReads ?? 'all';
  }
}
