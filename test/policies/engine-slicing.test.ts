import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { cedar } from '../../lambda/adapters/cedar-engine';
import { loadPolicyBundle, type PolicyBundle } from '../../lambda/adapters/policy-files';
import { callerFromClaims } from '../../lambda/core/caller';
import {
  type AuthorizationRequest,
  authorizationRequest,
  discoveryRequest,
} from '../../lambda/core/cedar-request';
import { generatePolicyFolder } from '../helpers/generated-policies';

/**
 * The local engine decides on per-action slices of the policy set and answers tools/list with one shared partial
 * evaluation per caller. Both must answer exactly what Cedar answers over the whole policy set and schema, as the
 * engine did before (one full partial evaluation per tool). This checks it against that reference on generated
 * policy sets, including the cases the shortcuts must handle: policies whose conditions read `action`, forbids
 * that hold whatever the input, group scopes (`action in`), lists of actions, and catch-alls.
 */
function referenceCouldBeAllowed(bundle: PolicyBundle, request: AuthorizationRequest): boolean {
  if (!bundle.actions.has(request.action.id)) return false;
  const answer = cedar.isAuthorizedPartial({
    principal: request.principal,
    action: request.action,
    resource: request.resource,
    context: { ...(request.context as cedar.Context), input: { __extn: { fn: 'unknown', arg: 'input' } } },
    entities: request.entities as unknown as cedar.Entities,
    policies: {
      staticPolicies: Object.fromEntries(bundle.policies.map((policy) => [policy.id, policy.text])),
    },
    schema: bundle.schemaText,
    validateRequest: false,
  });
  if (answer.type === 'failure') throw new Error(answer.errors.map((error) => error.message).join('; '));
  const { decision, nontrivialResiduals } = answer.response;
  return decision === 'allow' || (decision === null && nontrivialResiduals.length > 0);
}

function referenceDecision(bundle: PolicyBundle, request: AuthorizationRequest) {
  const answer = cedar.isAuthorized({
    principal: request.principal,
    action: request.action,
    resource: request.resource,
    context: request.context as cedar.Context,
    entities: request.entities as unknown as cedar.Entities,
    policies: {
      staticPolicies: Object.fromEntries(bundle.policies.map((policy) => [policy.id, policy.text])),
    },
    schema: bundle.schemaText,
    validateRequest: true,
  });
  if (answer.type === 'failure') throw new Error(answer.errors.map((error) => error.message).join('; '));
  return {
    decision: answer.response.decision,
    determiningPolicies: [...answer.response.diagnostics.reason].sort(),
    errored: answer.response.diagnostics.errors.map((error) => error.policyId).sort(),
  };
}

/** Generated policies plus the shapes the shortcuts must not get wrong. */
function trickyFolder(): { dir: string; toolNames: string[] } {
  const generated = generatePolicyFolder(24, 120);
  const extra = join(generated.dir, 'tricky');
  mkdirSync(extra);
  const files: Record<string, string> = {
    'reads-action.cedar': `permit (principal in McpIdentity::Role::"role-2", action, resource)
when { action == McpIdentity::Action::"t3___tool3" || action in McpIdentity::Action::"target:t5" };`,
    'forbid-always.cedar': `forbid (principal in McpIdentity::Role::"blocked", action in McpIdentity::Action::"target:t1", resource);`,
    'forbid-reads-action.cedar': `forbid (principal, action, resource)
when { principal in McpIdentity::Role::"auditor" && action == McpIdentity::Action::"t4___tool4" };`,
    'list-scope.cedar': `permit (principal in McpIdentity::Role::"role-9", action in [McpIdentity::Action::"t6___tool6", McpIdentity::Action::"target:t7"], resource)
when { context has input && context.input has amount && context.input.amount < 10 };`,
    'forbid-input.cedar': `forbid (principal, action in McpIdentity::Action::"tools/call", resource)
when { context has input && context.input has id && context.input.id == "secret" }
unless { principal in McpIdentity::Role::"role-1" };`,
    'erroring.cedar': `forbid (principal, action == McpIdentity::Action::"t8___tool8", resource)
when { context has input && context.input has amount && context.input.amount * 4000000000000000000 > 1 };`,
    'erroring-permit.cedar': `permit (principal, action == McpIdentity::Action::"t9___tool9", resource)
when { context has input && context.input has amount && context.input.amount * 4000000000000000000 > 1 };`,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(extra, name), `${text}\n`);
  return generated;
}

const folder = trickyFolder();
const bundle = loadPolicyBundle(folder.dir);
const model = { namespace: bundle.namespace, resourceId: 'gateway', inputTypes: bundle.inputTypes };
const ROLES = [
  'role-1',
  'role-2',
  'role-3',
  'role-9',
  'role-21',
  'blocked',
  'auditor',
  'admin-0',
  'approver-3',
];

const callerArb = fc.record({
  roles: fc.subarray(ROLES, { maxLength: 4 }),
  email: fc.option(fc.constantFrom('a@example.com', 'b@other.org'), { nil: undefined }),
  jti: fc.option(fc.constant('t-1'), { nil: undefined }),
});
const toCaller = (facts: { roles: string[]; email: string | undefined; jti: string | undefined }) =>
  callerFromClaims({
    sub: 'user-1',
    roles: facts.roles,
    iss: 'https://issuer.test',
    exp: 4_000_000_000,
    iat: 1,
    ...(facts.email === undefined ? {} : { email: facts.email }),
    ...(facts.jti === undefined ? {} : { jti: facts.jti }),
  });

describe('the local engine on slices of a larger policy set', () => {
  it('lists exactly the tools a full partial evaluation per tool would list, for any caller', async () => {
    const pdp = new CedarDecisionPoint(bundle);
    const tools = [...folder.toolNames, 'unknown___tool'];
    await fc.assert(
      fc.asyncProperty(callerArb, async (facts) => {
        const caller = toCaller(facts);
        const requests = tools.map((name) => discoveryRequest(caller, name, model));
        const answers = await pdp.couldBeAllowed(requests);
        expect(answers).toStrictEqual(requests.map((request) => referenceCouldBeAllowed(bundle, request)));
      }),
      { numRuns: 40 },
    );
  });

  it('decides every call exactly as Cedar over the whole policy set, with the same determining policies', async () => {
    const pdp = new CedarDecisionPoint(bundle);
    await fc.assert(
      fc.asyncProperty(
        callerArb,
        fc.constantFrom(...folder.toolNames),
        fc.record(
          { id: fc.constantFrom('x', 'secret'), amount: fc.integer({ min: 0, max: 2000 }) },
          { requiredKeys: [] },
        ),
        async (facts, tool, input) => {
          const caller = toCaller(facts);
          const request = authorizationRequest(
            caller,
            {
              kind: 'tool-call',
              id: 1,
              tool: {
                full: tool,
                target: tool.split('___')[0] as string,
                tool: tool.split('___')[1] as string,
              },
              arguments: input,
            },
            model,
          );
          const answer = await pdp.isAuthorized(request);
          expect({
            decision: answer.decision,
            determiningPolicies: [...answer.determiningPolicies].sort(),
            errored: answer.errors.map((error) => error.policyId).sort(),
          }).toStrictEqual(referenceDecision(bundle, request));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('answers a list of several callers at once like one list per caller', async () => {
    const pdp = new CedarDecisionPoint(bundle);
    const alice = toCaller({ roles: ['role-2'], email: undefined, jti: undefined });
    const blocked = toCaller({ roles: ['blocked', 'role-1'], email: undefined, jti: undefined });
    const tools = folder.toolNames.slice(0, 8);
    const mixed = await pdp.couldBeAllowed(
      tools.flatMap((name) => [discoveryRequest(alice, name, model), discoveryRequest(blocked, name, model)]),
    );
    const separate = [
      await pdp.couldBeAllowed(tools.map((name) => discoveryRequest(alice, name, model))),
      await pdp.couldBeAllowed(tools.map((name) => discoveryRequest(blocked, name, model))),
    ];
    expect(mixed).toStrictEqual(tools.flatMap((_, index) => [separate[0]?.[index], separate[1]?.[index]]));
    expect(mixed.some(Boolean)).toBe(true);
  });

  it('keeps the reference fast enough to be meaningful: the generated set has shared, grouped and own-action policies', () => {
    const texts = bundle.policies.map((policy) => policy.text).join('\n');
    expect(texts).toMatch(/action in McpIdentity::Action::"tools\/call"/);
    expect(texts).toMatch(/action in McpIdentity::Action::"target:t/);
    expect(texts).toMatch(/when \{ action ==/);
    expect(bundle.policies.length).toBeGreaterThan(120);
  });
});

describe('a policy folder without the tool a list names', () => {
  it('hides tools the schema does not declare', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-identity-empty-'));
    writeFileSync(
      join(dir, 'schema.cedarschema'),
      'namespace McpIdentity { entity Gateway; entity Role; entity User in [Role]; action "a___b" appliesTo { principal: [User], resource: [Gateway] }; }',
    );
    writeFileSync(join(dir, 'p.cedar'), 'permit (principal, action, resource);');
    const small = loadPolicyBundle(dir);
    const caller = toCaller({ roles: [], email: undefined, jti: undefined });
    const answers = await new CedarDecisionPoint(small).couldBeAllowed([
      discoveryRequest(caller, 'a___b', { namespace: 'McpIdentity', resourceId: 'gateway' }),
      discoveryRequest(caller, 'a___c', { namespace: 'McpIdentity', resourceId: 'gateway' }),
    ]);
    expect(answers).toStrictEqual([true, false]);
  });
});
