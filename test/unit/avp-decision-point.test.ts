import {
  BatchIsAuthorizedCommand,
  IsAuthorizedCommand,
  ThrottlingException,
  VerifiedPermissionsClient,
} from '@aws-sdk/client-verifiedpermissions';
import { mockClient } from 'aws-sdk-client-mock';
import { AVP_BATCH_LIMIT, AvpDecisionPoint } from '../../lambda/adapters/avp-decision-point';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { fixtureRequest, readDecisionFixtures } from '../../lambda/adapters/policy-fixtures';
import { callerFromClaims } from '../../lambda/core/caller';
import { authorizationRequest, discoveryRequest } from '../../lambda/core/cedar-request';
import { decisionFromAnswer } from '../../lambda/core/decision';
import { DecisionPointError } from '../../lambda/core/errors';
import { POLICY_DIR, policyBundle } from '../helpers/harness';

const avp = mockClient(VerifiedPermissionsClient);
const client = new VerifiedPermissionsClient({ region: 'eu-west-1' });
const pdp = new AvpDecisionPoint(client, { policyStoreId: 'PSEXAMPLEabcdefg111111', timeoutMs: 200 });
const bundle = policyBundle();
const model = { namespace: 'McpIdentity', resourceId: 'gw-1', inputTypes: bundle.inputTypes };
const alice = callerFromClaims({
  sub: 'alice',
  iss: 'https://idp',
  exp: 2000000000,
  iat: 1999999000,
  jti: 't-1',
  email: 'alice@example.com',
  roles: ['db-reader'],
  client_id: 'agent-7',
});
const getOrder = authorizationRequest(
  alice,
  {
    kind: 'tool-call',
    id: 1,
    tool: { full: 'orders___get_order', target: 'orders', tool: 'get_order' },
    arguments: { order_id: '42' },
  },
  model,
);

beforeEach(() => avp.reset());

describe('AvpDecisionPoint.isAuthorized', () => {
  it('sends exactly the documented IsAuthorized input, in the cedarJson forms', async () => {
    avp
      .on(IsAuthorizedCommand)
      .resolves({ decision: 'ALLOW', determiningPolicies: [{ policyId: 'SPabc' }], errors: [] });

    const answer = await pdp.isAuthorized(getOrder);

    expect(answer).toEqual({ decision: 'allow', determiningPolicies: ['SPabc'], errors: [] });
    expect(avp).toHaveReceivedCommandTimes(IsAuthorizedCommand, 1);
    const input = avp.commandCalls(IsAuthorizedCommand)[0]?.args[0].input;
    expect(input).toEqual({
      policyStoreId: 'PSEXAMPLEabcdefg111111',
      principal: { entityType: 'McpIdentity::User', entityId: 'alice' },
      action: { actionType: 'McpIdentity::Action', actionId: 'orders___get_order' },
      resource: { entityType: 'McpIdentity::Gateway', entityId: 'gw-1' },
      context: { cedarJson: expect.any(String) },
      entities: { cedarJson: expect.any(String) },
    });
    expect(JSON.parse(input?.context?.cedarJson ?? '')).toEqual({
      actors: [],
      token: { expiresAt: 2000000000, issuedAt: 1999999000, id: 't-1' },
      agent: 'agent-7',
      input: { order_id: '42' },
    });
    expect(JSON.parse(input?.entities?.cedarJson ?? '')).toEqual([
      {
        uid: { type: 'McpIdentity::User', id: 'alice' },
        attrs: { email: 'alice@example.com' },
        parents: [{ type: 'McpIdentity::Role', id: 'db-reader' }],
      },
      { uid: { type: 'McpIdentity::Role', id: 'db-reader' }, attrs: {}, parents: [] },
    ]);
  });

  it('maps DENY with a determining forbid, and keeps evaluation errors (which the core turns into a deny)', async () => {
    avp.on(IsAuthorizedCommand).resolves({
      decision: 'ALLOW',
      determiningPolicies: [{ policyId: 'SP1' }],
      errors: [{ errorDescription: 'overflow in SP9' }],
    });
    const answer = await pdp.isAuthorized(getOrder);
    expect(answer.errors).toEqual([{ detail: 'overflow in SP9' }]);
    const decision = decisionFromAnswer(answer, { who: 'alice', what: 'x' });
    expect(decision).toMatchObject({ kind: 'deny', code: 'policy-error' });
    expect(JSON.stringify(decision)).not.toContain('overflow');
  });

  it('turns throttling into a DecisionPointError', async () => {
    avp.on(IsAuthorizedCommand).rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    await expect(pdp.isAuthorized(getOrder)).rejects.toThrow(DecisionPointError);
    await expect(pdp.isAuthorized(getOrder)).rejects.toThrow(/ThrottlingException/);
  });

  it('turns a slow answer into a DecisionPointError at the deadline', async () => {
    avp
      .on(IsAuthorizedCommand)
      .callsFake(() => new Promise((resolve) => setTimeout(() => resolve({ decision: 'ALLOW' }), 1000)));
    const started = Date.now();
    await expect(pdp.isAuthorized(getOrder)).rejects.toThrow(/timed out after 200 ms/);
    expect(Date.now() - started).toBeLessThan(800);
  });

  it.each([[{}], [{ decision: 'MAYBE' }], [{ decision: 'ALLOW', determiningPolicies: [{}] }]])(
    'refuses a garbage response %j',
    async (response) => {
      avp.on(IsAuthorizedCommand).resolves(response as never);
      await expect(pdp.isAuthorized(getOrder)).rejects.toThrow(DecisionPointError);
    },
  );
});

describe('AvpDecisionPoint.couldBeAllowed (tools/list)', () => {
  const tools = Array.from({ length: AVP_BATCH_LIMIT + 5 }, (_, index) => `t${index}___tool`);
  const requests = tools.map((name) => discoveryRequest(alice, name, model));

  it('sends BatchIsAuthorized in chunks of 30 sharing principal and entities, and matches answers by action', async () => {
    avp.on(BatchIsAuthorizedCommand).callsFake((input) => ({
      // Answer in reverse order: the adapter must not rely on order.
      results: [...input.requests].reverse().map((request: { action: { actionId: string } }) => ({
        request,
        decision: request.action.actionId === 't3___tool' ? 'ALLOW' : 'DENY',
        determiningPolicies: [],
        errors: [],
      })),
    }));

    const answers = await pdp.couldBeAllowed(requests);

    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(answers[3]).toBe(true);
    expect(avp).toHaveReceivedCommandTimes(BatchIsAuthorizedCommand, 2);
    const [first, second] = avp.commandCalls(BatchIsAuthorizedCommand).map((call) => call.args[0].input);
    expect(first?.requests).toHaveLength(30);
    expect(second?.requests).toHaveLength(5);
    expect(first?.policyStoreId).toBe('PSEXAMPLEabcdefg111111');
    expect(JSON.parse(first?.entities?.cedarJson ?? '')[0].uid).toEqual({
      type: 'McpIdentity::User',
      id: 'alice',
    });
    expect(first?.requests?.[0]).toEqual({
      principal: { entityType: 'McpIdentity::User', entityId: 'alice' },
      action: { actionType: 'McpIdentity::Action', actionId: 't0___tool' },
      resource: { entityType: 'McpIdentity::Gateway', entityId: 'gw-1' },
      context: {
        cedarJson: JSON.stringify({
          actors: [],
          token: { expiresAt: 2000000000, issuedAt: 1999999000, id: 't-1' },
          agent: 'agent-7',
        }),
      },
    });
  });

  it('fails when a result is missing rather than guessing', async () => {
    avp.on(BatchIsAuthorizedCommand).resolves({ results: [] });
    await expect(pdp.couldBeAllowed(requests.slice(0, 2))).rejects.toThrow(/no result/);
  });

  it('turns a batch failure into a DecisionPointError', async () => {
    avp.on(BatchIsAuthorizedCommand).rejects(new Error('ResourceNotFoundException'));
    await expect(pdp.couldBeAllowed(requests.slice(0, 2))).rejects.toThrow(DecisionPointError);
  });

  it('asks nothing for an empty list', async () => {
    await expect(pdp.couldBeAllowed([])).resolves.toEqual([]);
    expect(avp).toHaveReceivedCommandTimes(BatchIsAuthorizedCommand, 0);
  });
});

describe('one request, two engines', () => {
  const local = new CedarDecisionPoint(bundle);
  const fixtures = readDecisionFixtures(POLICY_DIR);

  it.each(fixtures.map((fixture) => [fixture.file, fixture] as const))(
    '%s: the AVP request carries exactly what the local engine decides on',
    async (_file, fixture) => {
      const request = fixtureRequest(fixture, model);
      avp.on(IsAuthorizedCommand).resolves({
        decision: fixture.expected === 'allow' ? 'ALLOW' : 'DENY',
        determiningPolicies: [],
        errors: [],
      });

      await pdp.isAuthorized(request);
      const input = avp.commandCalls(IsAuthorizedCommand)[0]?.args[0].input;
      const replayed = {
        principal: { type: input?.principal?.entityType, id: input?.principal?.entityId },
        action: { type: input?.action?.actionType, id: input?.action?.actionId },
        resource: { type: input?.resource?.entityType, id: input?.resource?.entityId },
        context: JSON.parse(input?.context?.cedarJson ?? 'null'),
        entities: JSON.parse(input?.entities?.cedarJson ?? 'null'),
      };

      expect(replayed).toEqual(request);
      expect((await local.isAuthorized(replayed as typeof request)).decision).toBe(fixture.expected);
    },
  );
});
