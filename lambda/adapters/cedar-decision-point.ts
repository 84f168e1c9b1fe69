import type { AuthorizationRequest } from '../core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../core/decision';
import { DecisionPointError } from '../core/errors';
import { cedar } from './cedar-engine';
import type { PolicyBundle } from './policy-files';

let generation = 0;

/**
 * The real Cedar engine (cedar-wasm) over the `policies/` files: the local stack's decision point, and the
 * reference the AVP requests are checked against in tests. Policies and schema are preparsed once per bundle;
 * the schema is passed so action groups resolve and requests are validated like AVP validates them.
 */
export class CedarDecisionPoint implements PolicyDecisionPoint {
  private readonly policySetId: string;
  private readonly schemaName: string;
  private readonly policies: Record<string, string>;

  constructor(readonly bundle: PolicyBundle) {
    generation += 1;
    this.policySetId = `policies-${generation}`;
    this.schemaName = `schema-${generation}`;
    this.policies = Object.fromEntries(bundle.policies.map((policy) => [policy.id, policy.text]));
    const parsed = cedar.preparsePolicySet(this.policySetId, { staticPolicies: this.policies });
    if (parsed.type === 'failure')
      throw new DecisionPointError(`cannot preparse policies: ${parsed.errors[0]?.message}`);
    const schema = cedar.preparseSchema(this.schemaName, bundle.schemaText);
    if (schema.type === 'failure')
      throw new DecisionPointError(`cannot preparse schema: ${schema.errors[0]?.message}`);
  }

  async isAuthorized(request: AuthorizationRequest): Promise<PolicyAnswer> {
    if (!this.bundle.actions.has(request.action.id)) {
      // Not in the schema: no policy can be about it. Deny by default, as AVP would.
      return { decision: 'deny', determiningPolicies: [], errors: [] };
    }
    const answer = cedar.statefulIsAuthorized({
      principal: request.principal,
      action: request.action,
      resource: request.resource,
      context: request.context as cedar.Context,
      entities: request.entities as unknown as cedar.Entities,
      preparsedPolicySetId: this.policySetId,
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
   * Exact "some input could be allowed" by partial evaluation with `context.input` unknown: `deny` means no
   * input can be permitted; `allow` or a residual (depends on the input) means some may be.
   */
  async couldBeAllowed(requests: readonly AuthorizationRequest[]): Promise<readonly boolean[]> {
    return requests.map((request) => {
      if (!this.bundle.actions.has(request.action.id)) return false;
      const answer = cedar.isAuthorizedPartial({
        principal: request.principal,
        action: request.action,
        resource: request.resource,
        context: {
          ...(request.context as cedar.Context),
          input: { __extn: { fn: 'unknown', arg: 'input' } },
        },
        entities: request.entities as unknown as cedar.Entities,
        policies: { staticPolicies: this.policies },
        schema: this.bundle.schemaText,
        validateRequest: false,
      });
      if (answer.type === 'failure') {
        throw new DecisionPointError(
          `Cedar partial evaluation failed: ${answer.errors.map((e) => e.message).join('; ')}`,
        );
      }
      const { decision, nontrivialResiduals } = answer.response;
      if (decision === 'allow') return true;
      if (decision === 'deny') return false;
      return nontrivialResiduals.length > 0;
    });
  }
}
