import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import { callerFromClaims } from '../../lambda/core/caller';
import type { AuthorizationRequest } from '../../lambda/core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../../lambda/core/decision';
import { parseToolName } from '../../lambda/core/mcp-operation';
import { mayReadSchema, SCHEMA_READ_ACTION } from '../../lambda/core/schema-read';
import { POLICY_DIR } from '../helpers/harness';

const model = { namespace: 'McpIdentity', resourceId: 'gateway' };
const caller = (roles: string[]) =>
  callerFromClaims({ sub: 'ops-1', iss: 'https://idp', exp: 2000000000, roles, client_id: 'cli' });

function pdp(answer: PolicyAnswer | Error): PolicyDecisionPoint & { asked: AuthorizationRequest[] } {
  const asked: AuthorizationRequest[] = [];
  return {
    asked,
    isAuthorized: async (request) => {
      asked.push(request);
      if (answer instanceof Error) throw answer;
      return answer;
    },
    couldBeAllowed: async () => [],
  };
}

describe('mayReadSchema', () => {
  it('asks policy about the schema/read action, with the shared context', async () => {
    const engine = pdp({ decision: 'allow', determiningPolicies: ['schema-readers'], errors: [] });

    expect(await mayReadSchema(caller(['platform-admin']), engine, model)).toBe(true);
    expect(engine.asked).toStrictEqual([
      {
        principal: { type: 'McpIdentity::User', id: 'ops-1' },
        action: { type: 'McpIdentity::Action', id: 'schema/read' },
        resource: { type: 'McpIdentity::Gateway', id: 'gateway' },
        context: { actors: [], token: { expiresAt: 2000000000 }, agent: 'cli' },
        entities: [
          {
            uid: { type: 'McpIdentity::User', id: 'ops-1' },
            attrs: {},
            parents: [{ type: 'McpIdentity::Role', id: 'platform-admin' }],
          },
          { uid: { type: 'McpIdentity::Role', id: 'platform-admin' }, attrs: {}, parents: [] },
        ],
      },
    ]);
  });

  it.each<[string, PolicyAnswer | Error]>([
    ['a deny', { decision: 'deny', determiningPolicies: [], errors: [] }],
    [
      'an allow with a policy that failed',
      { decision: 'allow', determiningPolicies: ['p'], errors: [{ detail: 'x' }] },
    ],
    ['an engine failure', new Error('throttled')],
  ])('says no on %s', async (_what, answer) => {
    expect(await mayReadSchema(caller(['platform-admin']), pdp(answer), model)).toBe(false);
  });

  it('is not a name a tools/call can carry', () => {
    expect(parseToolName(SCHEMA_READ_ACTION)).toBeUndefined();
  });

  it('is decided by the real engine on the demo schema: nobody by default, a role with a permit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'schema-read-'));
    cpSync(POLICY_DIR, dir, { recursive: true });
    const demo = new CedarDecisionPoint(loadPolicyBundle(dir));
    writeFileSync(
      join(dir, 'schema-readers.cedar'),
      'permit (principal in McpIdentity::Role::"platform-admin", action == McpIdentity::Action::"schema/read", resource);\n',
    );
    const granted = new CedarDecisionPoint(loadPolicyBundle(dir));

    expect(await mayReadSchema(caller(['order-admin']), demo, model)).toBe(false);
    expect(await mayReadSchema(caller(['platform-admin']), demo, model)).toBe(false);
    expect(await mayReadSchema(caller(['platform-admin']), granted, model)).toBe(true);
    expect(await mayReadSchema(caller(['order-admin']), granted, model)).toBe(false);
  });
});
