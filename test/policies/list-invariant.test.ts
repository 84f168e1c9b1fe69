import fc from 'fast-check';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { callerFromClaims } from '../../lambda/core/caller';
import { authorizationRequest, discoveryRequest } from '../../lambda/core/cedar-request';
import { policyBundle } from '../helpers/harness';

/**
 * tools/list must show a tool exactly when some input would be permitted. Locally this is answered by
 * partial evaluation; on Verified Permissions by a discovery request without input (the policy convention).
 * Both are checked here against brute force over generated inputs, for every user and tool.
 */
const bundle = policyBundle();
const pdp = new CedarDecisionPoint(bundle);
const model = { namespace: 'McpIdentity', resourceId: 'gateway', inputTypes: bundle.inputTypes };
const TOOLS = ['orders___get_order', 'orders___update_order', 'orders___get_recent_activity'];
const ROLE_SETS = [
  [],
  ['developer'],
  ['db-reader'],
  ['order-admin'],
  ['order-admin', 'finance-approver'],
  ['finance-approver'],
];

const inputFor = (tool: string) => {
  switch (tool) {
    case 'orders___get_order':
      return fc.record({ order_id: fc.string() });
    case 'orders___update_order':
      return fc.record(
        {
          order_id: fc.string(),
          status: fc.constantFrom('shipped', 'cancelled', 'refunded', 'pending'),
          amount: fc.integer({ min: -1000, max: 100000 }),
        },
        { requiredKeys: ['order_id', 'status'] },
      );
    default:
      return fc.constant({});
  }
};

/** Inputs that hit each policy edge, so "some input permits" is witnessed deterministically. */
const EDGE_INPUTS: Record<string, Record<string, unknown>[]> = {
  orders___get_order: [{ order_id: '1' }],
  orders___update_order: [
    { order_id: '1', status: 'shipped' },
    { order_id: '1', status: 'refunded', amount: 500 },
    { order_id: '1', status: 'refunded', amount: 501 },
  ],
  orders___get_recent_activity: [{}],
};

async function allowed(roles: string[], tool: string, input: Record<string, unknown>): Promise<boolean> {
  const caller = callerFromClaims({ sub: 'u', iss: 'i', exp: 4102444800, roles });
  const [target, name] = tool.split('___') as [string, string];
  const request = authorizationRequest(
    caller,
    { kind: 'tool-call', id: 1, tool: { full: tool, target, tool: name }, arguments: input },
    model,
  );
  return (await pdp.isAuthorized(request)).decision === 'allow';
}

describe.each(ROLE_SETS.map((roles) => [roles.join('+') || 'no roles', roles] as const))(
  'roles: %s',
  (_label, roles) => {
    const caller = callerFromClaims({ sub: 'u', iss: 'i', exp: 4102444800, roles });

    it.each(TOOLS)('%s is listed exactly when some input is permitted', async (tool) => {
      const [listed] = await pdp.couldBeAllowed([discoveryRequest(caller, tool, model)]);
      const witnesses = await Promise.all(
        (EDGE_INPUTS[tool] ?? []).map((input) => allowed(roles, tool, input)),
      );

      // never hide a tool some input permits
      if (witnesses.some(Boolean)) expect(listed).toBe(true);
      // never list a tool no input permits: listed ⇒ a witness exists, and random inputs never contradict a hide
      if (listed) expect(witnesses.some(Boolean)).toBe(true);
      else {
        await fc.assert(
          fc.asyncProperty(inputFor(tool), async (input) => {
            expect(await allowed(roles, tool, input as Record<string, unknown>)).toBe(false);
          }),
          { numRuns: 50 },
        );
      }
    });

    it.each(TOOLS)(
      '%s: the Verified Permissions discovery convention agrees with partial evaluation',
      async (tool) => {
        const request = discoveryRequest(caller, tool, model);
        const [exact] = await pdp.couldBeAllowed([request]);
        const convention = (await pdp.isAuthorized(request)).decision === 'allow';
        expect(convention).toBe(exact);
      },
    );
  },
);
