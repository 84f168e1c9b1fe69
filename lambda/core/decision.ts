import type { AuthorizationRequest } from './cedar-request';
import type { McpIdentityError } from './errors';

/** What a policy engine answered for one request. */
export interface PolicyAnswer {
  readonly decision: 'allow' | 'deny';
  /** Ids of the policies that determined the decision (permits for allow, forbids for an explicit deny). */
  readonly determiningPolicies: readonly string[];
  /** Policies that failed to evaluate. An erroring forbid is skipped by Cedar, so we never allow alongside one.
   * `detail` is engine text for logs only; it never reaches a response. */
  readonly errors: readonly { readonly policyId?: string; readonly detail: string }[];
}

/**
 * The port both engines implement: Amazon Verified Permissions in AWS, cedar-wasm over `policies/` locally.
 * Implementations throw {@link DecisionPointError} when they cannot answer; they never guess.
 */
export interface PolicyDecisionPoint {
  isAuthorized(request: AuthorizationRequest): Promise<PolicyAnswer>;
  /**
   * For each discovery request (no `context.input`), whether some input could be allowed — used to filter
   * `tools/list`. Same order and length as the requests.
   */
  couldBeAllowed(requests: readonly AuthorizationRequest[]): Promise<readonly boolean[]>;
  /**
   * Which facts of `context.token` any policy can read (`'all'` when unknown). A decision cache leaves the
   * others out of its key, so a fresh token with the same claims reuses an answer. @default 'all'
   */
  readonly tokenReads?: 'all' | ReadonlySet<string>;
  /**
   * Whether some permit alone would allow this request, forbids aside: tells a denial by a forbid that mattered
   * from one that only added to a default deny. Engines that cannot answer exactly leave it out.
   */
  permits?(request: AuthorizationRequest): Promise<boolean>;
}

/** Stable, human names and explanations for policies, when the engine only knows opaque ids (AVP). */
export interface PolicyExplanation {
  readonly name: string;
  readonly reason?: string;
}
export type PolicyCatalog = ReadonlyMap<string, PolicyExplanation>;

export type DenyCode =
  | 'policy'
  | 'policy-error'
  | 'spoofing'
  | 'unsupported-method'
  | 'unknown-tool-arguments';

/** A decision is a value. Every path that is not `allow` ends in a deny. */
export type Decision =
  | { readonly kind: 'allow'; readonly policies: readonly string[] }
  | {
      readonly kind: 'deny';
      readonly code: DenyCode;
      readonly reason: string;
      readonly policies: readonly string[];
    }
  | { readonly kind: 'error'; readonly reason: string; readonly error: McpIdentityError };

export function isAllowed(decision: Decision): boolean {
  switch (decision.kind) {
    case 'allow':
      return true;
    case 'deny':
    case 'error':
      return false;
  }
}

function describe(policyId: string, catalog: PolicyCatalog | undefined): string {
  const entry = catalog?.get(policyId);
  if (entry === undefined) return `policy '${policyId}'`;
  return entry.reason === undefined ? `policy '${entry.name}'` : `policy '${entry.name}' (${entry.reason})`;
}

export function policyNames(ids: readonly string[], catalog: PolicyCatalog | undefined): string[] {
  return ids.map((id) => catalog?.get(id)?.name ?? id);
}

/**
 * Turns an engine answer into a {@link Decision} with a reason a person (or the agent relaying it) can act on:
 * which forbid applied, or that no permit covers this caller and action.
 */
export function decisionFromAnswer(
  answer: PolicyAnswer,
  subject: {
    readonly who: string;
    readonly what: string;
    /** False when no permit would allow the request even without the forbids: the reason then says so. */
    readonly permitted?: boolean;
  },
  catalog?: PolicyCatalog,
): Decision {
  if (answer.errors.length > 0) {
    const ids = answer.errors.flatMap((error) => (error.policyId === undefined ? [] : [error.policyId]));
    const which = ids.length > 0 ? ids.map((id) => describe(id, catalog)).join(', ') : 'a policy';
    return {
      kind: 'deny',
      code: 'policy-error',
      reason: `Denied: ${which} could not be evaluated for this request, so it was denied.`,
      policies: policyNames(ids, catalog),
    };
  }
  const policies = policyNames(answer.determiningPolicies, catalog);
  if (answer.decision === 'allow') return { kind: 'allow', policies };
  if (answer.determiningPolicies.length > 0 && subject.permitted !== false) {
    return {
      kind: 'deny',
      code: 'policy',
      reason: `Denied by ${answer.determiningPolicies.map((id) => describe(id, catalog)).join(', ')}.`,
      policies,
    };
  }
  return {
    kind: 'deny',
    code: 'policy',
    reason: `Denied: no policy permits ${subject.who} to ${subject.what} (denied by default).`,
    // A forbid that also applied stays on record for the audit trail; it just is not the reason given.
    policies,
  };
}
