import type { AuthorizationRequest, EntityUid } from '../core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../core/decision';
import { DecisionPointError } from '../core/errors';
import { cedar } from './cedar-engine';
import { type ActionConstraint, actionKey, type PolicyBundle, type PolicyFile } from './policy-files';
import { type TokenReads, tokenReads } from './policy-token-reads';

let generation = 0;

type ActionEntity = { uid: EntityUid; attrs: Record<string, never>; parents: readonly EntityUid[] };

/** The policies whose action scope can match one action, and the action's entities for partial evaluation. */
interface ActionSlice {
  /** Indexes into the engine's policy list. */
  readonly members: readonly number[];
  /** The action and every group it is in (transitively): partial evaluation runs without the schema. */
  readonly actionEntities: readonly ActionEntity[];
  /** Set on first decision for this action. */
  policySetId?: string;
  /** The slice's permits alone, preparsed on first need (explaining a denial by a forbid). */
  permitSetId?: string;
}

/** A policy as the engine uses it: its scope, and whether its conditions read `action` (rare). */
interface IndexedPolicy {
  readonly policy: PolicyFile;
  readonly json: cedar.PolicyJson;
  readonly forbid: boolean;
  readonly action: ActionConstraint;
  /** The policy with its action scope widened to every action, for one partial evaluation across all tools;
   * undefined when its conditions read `action`, whose answer then depends on the tool. */
  readonly unscoped?: cedar.PolicyJson;
}

function indexPolicy(policy: PolicyFile): IndexedPolicy {
  let json = policy.json;
  if (json === undefined) {
    const parsed = cedar.policyToJson(policy.text);
    if (parsed.type === 'failure') throw new DecisionPointError(`cannot read policy ${policy.id}`);
    json = parsed.json;
  }
  const action = json.action as ActionConstraint;
  const readsAction = JSON.stringify(json.conditions).includes('{"Var":"action"}');
  const forbid = json.effect === 'forbid';
  return readsAction
    ? { policy, json, forbid, action }
    : { policy, json, forbid, action, unscoped: { ...json, action: { op: 'All' } } };
}

/**
 * The real Cedar engine (cedar-wasm) over the `policies/` files: the local stack's decision point, and the
 * reference the AVP requests are checked against in tests.
 *
 * Cedar evaluates every policy it is given, so each decision runs on the slice of the policy set whose action
 * scope can match its action (the indexing Verified Permissions does too): a policy whose scope names other
 * actions can be neither satisfied, erroring nor determining, so leaving it out changes no answer. Slices are
 * computed, and preparsed for decisions, on first use of an action; decisions use the preparsed schema, so
 * requests are validated as AVP validates them.
 *
 * `tools/list` filtering asks "could some input be allowed?" by partial evaluation with `context.input` unknown
 * (cedar-wasm has no preparsed form of it). Per tool, that answer is Cedar's partial decision over the tool's
 * slice: hidden when a forbid is satisfied whatever the input, or when no permit is satisfied or left with a
 * residual. Within a slice each policy's scope already matched, and for one caller the principal, resource and
 * context are the same for every tool, so a policy's status does not depend on the tool unless its conditions
 * read `action`. The engine therefore evaluates every policy the listed tools' slices hold once, scope widened
 * to all actions, and combines the statuses per tool; only policies that read `action` are evaluated per tool.
 * One partial evaluation per list instead of one per tool, each of which re-parsed the whole schema: listing
 * N tools cost O(N²) before.
 */
export class CedarDecisionPoint implements PolicyDecisionPoint {
  private readonly generation: number;
  private readonly schemaName: string;
  private readonly indexed: readonly IndexedPolicy[];
  private readonly slices = new Map<string, ActionSlice>();
  readonly tokenReads: TokenReads;

  constructor(readonly bundle: PolicyBundle) {
    generation += 1;
    this.generation = generation;
    this.schemaName = `schema-${generation}`;
    const schema = cedar.preparseSchema(this.schemaName, bundle.schemaText);
    if (schema.type === 'failure')
      throw new DecisionPointError(`cannot preparse schema: ${schema.errors[0]?.message}`);
    this.indexed = bundle.policies.map(indexPolicy);
    this.tokenReads = tokenReads(this.indexed.map((entry) => entry.json));
  }

  /** The action and its ancestors (the schema's transitive `in [...]`), as entities. */
  private hierarchy(action: EntityUid): ActionEntity[] {
    const entities: ActionEntity[] = [];
    const seen = new Set<string>();
    const pending: EntityUid[] = [action];
    while (pending.length > 0) {
      const uid = pending.pop() as EntityUid;
      const key = actionKey(uid.type, uid.id);
      if (seen.has(key)) continue;
      seen.add(key);
      const parents = this.bundle.actionParents.get(key) ?? [];
      entities.push({ uid: { type: uid.type, id: uid.id }, attrs: {}, parents });
      pending.push(...parents);
    }
    return entities;
  }

  private sliceFor(action: EntityUid): ActionSlice {
    const key = actionKey(action.type, action.id);
    const cached = this.slices.get(key);
    if (cached !== undefined) return cached;
    const actionEntities = this.hierarchy(action);
    const lineage = new Set(actionEntities.map((entity) => actionKey(entity.uid.type, entity.uid.id)));
    const applies = (constraint: ActionConstraint): boolean => {
      switch (constraint.op) {
        case 'All':
          return true;
        case '==':
          return actionKey(constraint.entity.type, constraint.entity.id) === key;
        case 'in':
          return 'entities' in constraint
            ? constraint.entities.some((entity) => lineage.has(actionKey(entity.type, entity.id)))
            : lineage.has(actionKey(constraint.entity.type, constraint.entity.id));
      }
    };
    const members: number[] = [];
    this.indexed.forEach((entry, index) => {
      if (applies(entry.action)) members.push(index);
    });
    const slice: ActionSlice = { members, actionEntities };
    this.slices.set(key, slice);
    return slice;
  }

  private preparsed(slice: ActionSlice): string {
    if (slice.policySetId !== undefined) return slice.policySetId;
    const policySetId = `policies-${this.generation}-${this.slices.size}-${slice.members.length}-${Math.random()}`;
    const staticPolicies = Object.fromEntries(
      slice.members.map((index) => {
        const { policy } = this.indexed[index] as IndexedPolicy;
        return [policy.id, policy.text];
      }),
    );
    const parsed = cedar.preparsePolicySet(policySetId, { staticPolicies });
    if (parsed.type === 'failure')
      throw new DecisionPointError(`cannot preparse policies: ${parsed.errors[0]?.message}`);
    slice.policySetId = policySetId;
    return policySetId;
  }

  private preparsedPermits(slice: ActionSlice): string {
    if (slice.permitSetId !== undefined) return slice.permitSetId;
    const permitSetId = `permits-${this.generation}-${Math.random()}`;
    const staticPolicies = Object.fromEntries(
      slice.members.flatMap((index) => {
        const entry = this.indexed[index] as IndexedPolicy;
        return entry.forbid ? [] : [[entry.policy.id, entry.policy.text]];
      }),
    );
    const parsed = cedar.preparsePolicySet(permitSetId, { staticPolicies });
    if (parsed.type === 'failure')
      throw new DecisionPointError(`cannot preparse policies: ${parsed.errors[0]?.message}`);
    slice.permitSetId = permitSetId;
    return permitSetId;
  }

  /** Exact: the request decided on the permits of its action's slice alone. */
  async permits(request: AuthorizationRequest): Promise<boolean> {
    if (!this.bundle.actions.has(request.action.id)) return false;
    return (
      (await this.decide(request, this.preparsedPermits(this.sliceFor(request.action)))).decision === 'allow'
    );
  }

  async isAuthorized(request: AuthorizationRequest): Promise<PolicyAnswer> {
    if (!this.bundle.actions.has(request.action.id)) {
      // Not in the schema: no policy can be about it. Deny by default, as AVP would.
      return { decision: 'deny', determiningPolicies: [], errors: [] };
    }
    return this.decide(request, this.preparsed(this.sliceFor(request.action)));
  }

  private async decide(request: AuthorizationRequest, policySetId: string): Promise<PolicyAnswer> {
    const answer = cedar.statefulIsAuthorized({
      principal: request.principal,
      action: request.action,
      resource: request.resource,
      context: request.context as cedar.Context,
      entities: request.entities as unknown as cedar.Entities,
      preparsedPolicySetId: policySetId,
      preparsedSchemaName: this.schemaName,
      validateRequest: true,
    });
    if (answer.type === 'failure') {
      throw new DecisionPointError(
        `Cedar could not evaluate the request: ${answer.errors.map((e) => e.message).join('; ')}`,
      );
    }
    const { decision, diagnostics } = answer.response;
    return {
      decision,
      determiningPolicies: diagnostics.reason,
      errors: diagnostics.errors.map((error) => ({ policyId: error.policyId, detail: error.error.message })),
    };
  }

  /**
   * Exact "some input could be allowed", as Cedar's partial decision with `context.input` unknown would answer
   * it per tool (see the class comment): requests of one caller share one partial evaluation.
   */
  async couldBeAllowed(requests: readonly AuthorizationRequest[]): Promise<readonly boolean[]> {
    const groups = new Map<string, number[]>();
    requests.forEach((request, index) => {
      const key = JSON.stringify([request.principal, request.resource, request.context, request.entities]);
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [index]);
      else group.push(index);
    });
    const answers: boolean[] = new Array(requests.length).fill(false);
    for (const indexes of groups.values()) {
      const first = requests[indexes[0] as number] as AuthorizationRequest;
      const known = indexes.filter((index) =>
        this.bundle.actions.has((requests[index] as AuthorizationRequest).action.id),
      );
      const slices = new Map(
        known.map((index) => [index, this.sliceFor((requests[index] as AuthorizationRequest).action)]),
      );
      const shared = new Set<number>();
      for (const slice of slices.values())
        for (const member of slice.members)
          if (this.indexed[member]?.unscoped !== undefined) shared.add(member);
      const status = this.partialStatus(
        first,
        first.action,
        [],
        Object.fromEntries(
          [...shared].map((member) => [
            String(member),
            (this.indexed[member] as IndexedPolicy).unscoped as cedar.PolicyJson,
          ]),
        ),
      );
      for (const [index, slice] of slices) {
        const request = requests[index] as AuthorizationRequest;
        const own = slice.members.filter((member) => this.indexed[member]?.unscoped === undefined);
        const ownStatus =
          own.length === 0
            ? status
            : this.partialStatus(
                request,
                request.action,
                slice.actionEntities,
                Object.fromEntries(
                  own.map((member) => [String(member), (this.indexed[member] as IndexedPolicy).policy.text]),
                ),
              );
        let permitted = false;
        let forbidden = false;
        for (const member of slice.members) {
          const entry = this.indexed[member] as IndexedPolicy;
          const state = (entry.unscoped === undefined ? ownStatus : status).get(String(member));
          if (entry.forbid) {
            if (state === 'satisfied') forbidden = true;
          } else if (state === 'satisfied' || state === 'residual') permitted = true;
        }
        answers[index] = permitted && !forbidden;
      }
    }
    return answers;
  }

  /** Each policy's status under partial evaluation with `context.input` unknown: satisfied whatever the input,
   * residual (depends on the input), or absent (false, or erroring: Cedar skips an erroring policy). */
  private partialStatus(
    request: AuthorizationRequest,
    action: EntityUid,
    actionEntities: readonly ActionEntity[],
    policies: Record<string, cedar.Policy>,
  ): Map<string, 'satisfied' | 'residual'> {
    const status = new Map<string, 'satisfied' | 'residual'>();
    if (Object.keys(policies).length === 0) return status;
    const answer = cedar.isAuthorizedPartial({
      principal: request.principal,
      action,
      resource: request.resource,
      context: { ...(request.context as cedar.Context), input: { __extn: { fn: 'unknown', arg: 'input' } } },
      entities: [...request.entities, ...actionEntities] as unknown as cedar.Entities,
      policies: { staticPolicies: policies },
      validateRequest: false,
    });
    if (answer.type === 'failure') {
      throw new DecisionPointError(
        `Cedar partial evaluation failed: ${answer.errors.map((e) => e.message).join('; ')}`,
      );
    }
    for (const id of answer.response.nontrivialResiduals) status.set(id, 'residual');
    for (const id of answer.response.satisfied) status.set(id, 'satisfied');
    return status;
  }
}
