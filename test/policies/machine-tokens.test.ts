import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import { type AuthorizerSettings, authorizeOperation } from '../../lambda/core/authorize';
import { callerFromClaims } from '../../lambda/core/caller';
import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import { parseMcpRequest } from '../../lambda/core/mcp-operation';
import { POLICY_DIR } from '../helpers/harness';

/**
 * docs/identity-providers.md, "Machine (app-only) tokens": the Cedar it tells operators to add, taken from the
 * page itself, refuses machine tokens shaped as each provider documents them and still allows people.
 */

const DOC = readFileSync(join(__dirname, '..', '..', 'docs', 'identity-providers.md'), 'utf8');
const SECTION = DOC.slice(DOC.indexOf('## Machine (app-only) tokens'));
const MACHINE_POLICIES = /```cedar\n([\s\S]*?)```/.exec(SECTION)?.[1] ?? '';

function engine(extra: string) {
  const dir = mkdtempSync(join(tmpdir(), 'machine-tokens-'));
  cpSync(POLICY_DIR, dir, { recursive: true });
  writeFileSync(join(dir, 'machine-tokens.cedar'), extra);
  const bundle = loadPolicyBundle(dir);
  const settings: AuthorizerSettings = {
    model: { namespace: 'McpIdentity', resourceId: 'gateway', inputTypes: bundle.inputTypes },
    injection: DEFAULT_INJECTION,
    mode: 'enforce',
    catalog: bundle.catalog,
  };
  const pdp = new CedarDecisionPoint(bundle);
  return async (claims: Record<string, unknown>): Promise<string> => {
    const parsed = parseMcpRequest({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'orders___get_order', arguments: { order_id: '1' } },
    });
    if (!parsed.ok) throw new Error('the request did not parse');
    const caller = callerFromClaims({ iss: 'idp', exp: 4102444800, ...claims });
    return (await authorizeOperation(caller, parsed.operation, pdp, settings)).decision.kind;
  };
}

// Each holds a role the shipped policies allow get_order for: what matters is that it is a machine.
const MACHINES: ReadonlyArray<[string, Record<string, unknown>]> = [
  ['a Cognito client-credentials token', { sub: '1example23456789', client_id: '1example23456789' }],
  ['an Entra ID app-only token', { sub: 'sp', oid: 'sp', azp: 'daemon-app', idtyp: 'app' }],
  ['an Auth0 client-credentials token', { sub: 'abc@clients', gty: 'client-credentials', azp: 'abc' }],
  [
    'a Keycloak service-account token',
    { sub: 'f1e2', preferred_username: 'service-account-orders-job', azp: 'orders-job' },
  ],
];

describe('the documented machine-token policies', () => {
  it('are on the page and load against the schema', () => {
    expect(MACHINE_POLICIES).toContain('forbid');
    expect(() => engine(MACHINE_POLICIES)).not.toThrow();
  });

  it.each(MACHINES)('refuse %s even with a role a policy permits', async (_, claims) => {
    const decide = engine(MACHINE_POLICIES);
    expect(await decide({ ...claims, roles: ['db-reader'] })).toBe('deny');
  });

  it('still allow a person with a username and the role', async () => {
    const decide = engine(MACHINE_POLICIES);
    expect(await decide({ sub: 'alice', preferred_username: 'alice', roles: ['db-reader'] })).toBe('allow');
  });

  it('are what refuses them: without the page’s policies the same machine tokens are allowed', async () => {
    const decide = engine('');
    for (const [, claims] of MACHINES)
      expect(await decide({ ...claims, roles: ['db-reader'] })).toBe('allow');
  });
});
