import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { readDecisionFixtures, runDecisionFixture } from '../../lambda/adapters/policy-fixtures';
import { POLICY_DIR, policyBundle } from '../helpers/harness';

const bundle = policyBundle();
const pdp = new CedarDecisionPoint(bundle);
const model = { namespace: 'McpIdentity', resourceId: 'gateway', inputTypes: bundle.inputTypes };
const fixtures = readDecisionFixtures(POLICY_DIR);

describe('policies/fixtures decided by the real Cedar engine', () => {
  it('has fixtures for both outcomes', () => {
    expect(fixtures.filter((fixture) => fixture.expected === 'allow').length).toBeGreaterThan(3);
    expect(fixtures.filter((fixture) => fixture.expected === 'deny').length).toBeGreaterThan(3);
  });

  it.each(
    fixtures.map((fixture) => [`${fixture.expected.toUpperCase()} ${fixture.description}`, fixture] as const),
  )('%s', async (_name, fixture) => {
    const result = await runDecisionFixture(fixture, model, pdp);
    expect({
      decision: result.answer.decision,
      policies: result.answer.determiningPolicies,
      errors: result.answer.errors,
    }).toEqual({
      decision: fixture.expected,
      policies: fixture.determiningPolicies ?? result.answer.determiningPolicies,
      errors: [],
    });
    expect(result.passed).toBe(true);
  });
});
