import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListPoliciesCommand, VerifiedPermissionsClient } from '@aws-sdk/client-verifiedpermissions';
import { mockClient } from 'aws-sdk-client-mock';
import { AvpPolicyNames, StableIdDecisionPoint } from '../../lambda/adapters/avp-policy-names';
import type { AuthorizationRequest } from '../../lambda/core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../../lambda/core/decision';
import { loadInterceptorConfig } from '../../lambda/shared/config';

const BY_NAME = new Map([
  ['name/large-refunds-need-finance__0a1b2c3d', 'large-refunds-need-finance'],
  ['name/orders-readers__11111111', 'orders-readers'],
]);

function engine(answer: PolicyAnswer): PolicyDecisionPoint {
  return { isAuthorized: async () => answer, couldBeAllowed: async (requests) => requests.map(() => true) };
}

const request = {} as AuthorizationRequest;

describe('Verified Permissions policy ids mapped to stable ids', () => {
  const avp = mockClient(VerifiedPermissionsClient);
  afterEach(() => avp.reset());

  it('walks every page of ListPolicies and names answers by stable id', async () => {
    avp
      .on(ListPoliciesCommand, { nextToken: undefined })
      .resolves({
        policies: [{ policyId: 'SP1', name: 'name/large-refunds-need-finance__0a1b2c3d' } as never],
        nextToken: 'page2',
      })
      .on(ListPoliciesCommand, { nextToken: 'page2' })
      .resolves({
        policies: [
          { policyId: 'SP2', name: 'name/orders-readers__11111111' } as never,
          // Pushed by `policies push`: named by the id alone.
          { policyId: 'SP3', name: 'name/orders-readers' } as never,
          { policyId: 'SP4' } as never,
        ],
      });
    const names = new AvpPolicyNames(new VerifiedPermissionsClient({ region: 'eu-west-1' }), 'PS1', BY_NAME);
    await names.hydrate();
    expect(avp).toHaveReceivedCommandTimes(ListPoliciesCommand, 2);
    expect(avp).toHaveReceivedCommandWith(ListPoliciesCommand, { policyStoreId: 'PS1', maxResults: 50 });
    const pdp = new StableIdDecisionPoint(
      engine({
        decision: 'deny',
        determiningPolicies: ['SP1', 'SP3'],
        errors: [{ policyId: 'SP2', detail: 'x' }],
      }),
      names,
    );
    await expect(pdp.isAuthorized(request)).resolves.toEqual({
      decision: 'deny',
      determiningPolicies: ['large-refunds-need-finance', 'orders-readers'],
      errors: [{ policyId: 'orders-readers', detail: 'x' }],
    });
    await expect(pdp.couldBeAllowed([request])).resolves.toEqual([true]);
  });

  it('keeps the raw id, and the decision, when the names cannot be listed', async () => {
    avp.on(ListPoliciesCommand).rejects(new Error('AccessDenied'));
    const names = new AvpPolicyNames(new VerifiedPermissionsClient({ region: 'eu-west-1' }), 'PS1', BY_NAME, {
      waitMs: 50,
    });
    const pdp = new StableIdDecisionPoint(
      engine({ decision: 'deny', determiningPolicies: ['SP9'], errors: [] }),
      names,
    );
    await expect(pdp.isAuthorized(request)).resolves.toMatchObject({
      decision: 'deny',
      determiningPolicies: ['SP9'],
    });
  });

  it('looks again for a policy it does not know, at most once a minute', async () => {
    let now = 0;
    avp.on(ListPoliciesCommand).resolves({ policies: [] });
    const names = new AvpPolicyNames(new VerifiedPermissionsClient({ region: 'eu-west-1' }), 'PS1', BY_NAME, {
      now: () => now,
    });
    await names.hydrate();
    const pdp = new StableIdDecisionPoint(
      engine({ decision: 'allow', determiningPolicies: ['SPnew'], errors: [] }),
      names,
    );
    await pdp.isAuthorized(request);
    expect(avp).toHaveReceivedCommandTimes(ListPoliciesCommand, 1);
    now = 61_000;
    avp
      .on(ListPoliciesCommand)
      .resolves({ policies: [{ policyId: 'SPnew', name: 'name/orders-readers__11111111' } as never] });
    await expect(pdp.isAuthorized(request)).resolves.toMatchObject({
      determiningPolicies: ['orders-readers'],
    });
    expect(avp).toHaveReceivedCommandTimes(ListPoliciesCommand, 2);
  });
});

describe('the catalogue file the stack ships in the code asset', () => {
  it('reads names and reasons by stable id, and the Verified Permissions names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    writeFileSync(
      join(dir, 'policy-catalog.json'),
      JSON.stringify({
        'large-refunds-need-finance': {
          name: 'large-refunds-need-finance',
          reason: 'needs finance',
          avpName: 'name/large-refunds-need-finance__0a1b2c3d',
        },
      }),
    );
    const config = loadInterceptorConfig({
      MCP_IDENTITY_ISSUER: 'https://idp.example.com',
      MCP_IDENTITY_AUDIENCE: 'mcp',
      MCP_IDENTITY_DISCOVERY_URL: 'https://idp.example.com/.well-known/openid-configuration',
      MCP_IDENTITY_POLICY_STORE_ID: 'PSabc',
      MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
      MCP_IDENTITY_POLICY_CATALOG_FILE: join(dir, 'policy-catalog.json'),
    });
    expect(config.catalog?.get('large-refunds-need-finance')).toEqual({
      name: 'large-refunds-need-finance',
      reason: 'needs finance',
    });
    expect(config.policyNames?.get('name/large-refunds-need-finance__0a1b2c3d')).toBe(
      'large-refunds-need-finance',
    );
  });

  it('names the file and the entry when an entry is malformed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ p1: { reason: 'no name' } }));
    expect(() =>
      loadInterceptorConfig({
        MCP_IDENTITY_ISSUER: 'https://idp.example.com',
        MCP_IDENTITY_AUDIENCE: 'mcp',
        MCP_IDENTITY_DISCOVERY_URL: 'https://idp.example.com/.well-known/openid-configuration',
        MCP_IDENTITY_POLICY_STORE_ID: 'PSabc',
        MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
        MCP_IDENTITY_POLICY_CATALOG_FILE: join(dir, 'c.json'),
      }),
    ).toThrow(/MCP_IDENTITY_POLICY_CATALOG_FILE .*c\.json: entry 'p1' must be/);
  });
});
