import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { cedar } from '../../lambda/adapters/cedar-engine';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import { type AuthorizerSettings, authorizeOperation } from '../../lambda/core/authorize';
import { callerFromClaims } from '../../lambda/core/caller';
import { decisionFromAnswer } from '../../lambda/core/decision';
import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import { parseMcpRequest } from '../../lambda/core/mcp-operation';
import { POLICY_DIR } from '../helpers/harness';

/**
 * Adversarial cases in the manner of cedar-for-agents: what an attacker or a careless policy author can do
 * with missing attributes, wrong types, case and whitespace, quotes, forbid/permit interplay and odd roles.
 * Every case runs the real path: claims → Caller → Cedar request → cedar-wasm → Decision.
 */
function engine(extra: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'adversarial-'));
  cpSync(POLICY_DIR, dir, { recursive: true });
  for (const [file, text] of Object.entries(extra)) writeFileSync(join(dir, file), text);
  const bundle = loadPolicyBundle(dir);
  const settings: AuthorizerSettings = {
    model: { namespace: 'McpIdentity', resourceId: 'gateway', inputTypes: bundle.inputTypes },
    injection: DEFAULT_INJECTION,
    mode: 'enforce',
    catalog: bundle.catalog,
  };
  const pdp = new CedarDecisionPoint(bundle);
  return async (claims: Record<string, unknown>, tool: string, args: Record<string, unknown> = {}) => {
    const parsed = parseMcpRequest({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: tool, arguments: args },
    });
    if (!parsed.ok) return { kind: 'malformed' as const };
    const caller = callerFromClaims({ iss: 'idp', exp: 4102444800, ...claims });
    return (await authorizeOperation(caller, parsed.operation, pdp, settings)).decision;
  };
}

const decide = engine();
const kind = async (promise: Promise<{ kind: string }>) => (await promise).kind;

describe('missing attributes', () => {
  it('an erroring forbid is skipped by Cedar — so an allow with errors is denied, and the loader refuses such a forbid', () => {
    const policies = {
      allowAll: 'permit (principal, action, resource);',
      noContractors: 'forbid (principal, action, resource) when { principal.department == "contractors" };',
    };
    const raw = cedar.isAuthorized({
      principal: { type: 'McpIdentity::User', id: 'mallory' },
      action: { type: 'McpIdentity::Action', id: 'orders___get_order' },
      resource: { type: 'McpIdentity::Gateway', id: 'gateway' },
      context: {},
      policies: { staticPolicies: policies },
      entities: [{ uid: { type: 'McpIdentity::User', id: 'mallory' }, attrs: {}, parents: [] }],
    });
    if (raw.type !== 'success') throw new Error('evaluation failed');
    // Cedar itself allows: the forbid errored (no `department`) and was skipped.
    expect(raw.response.decision).toBe('allow');
    expect(raw.response.diagnostics.errors.map((error) => error.policyId)).toEqual(['noContractors']);
    const decision = decisionFromAnswer(
      {
        decision: 'allow',
        determiningPolicies: raw.response.diagnostics.reason,
        errors: raw.response.diagnostics.errors.map((error) => ({
          policyId: error.policyId,
          detail: error.error.message,
        })),
      },
      { who: 'mallory', what: 'x' },
    );
    expect(decision).toMatchObject({ kind: 'deny', code: 'policy-error', policies: ['noContractors'] });
    expect(() =>
      engine({
        'contractors.cedar':
          'forbid (principal, action, resource) when { principal.email like "*@contractor.example" };',
      }),
    ).toThrow(/contractors\.cedar/);
  });

  it('a guarded rule on an optional claim simply does not apply when the claim is absent', async () => {
    const guarded = engine({
      'email-domain.cedar':
        '@id("company-email-only")\nforbid (principal, action, resource) unless { principal has email && principal.email like "*@example.com" };',
    });
    expect(
      await kind(guarded({ sub: 'bob', roles: ['order-admin'] }, 'orders___get_order', { order_id: '1' })),
    ).toBe('deny');
    expect(
      await kind(
        guarded({ sub: 'bob', roles: ['order-admin'], email: 'bob@example.com' }, 'orders___get_order', {
          order_id: '1',
        }),
      ),
    ).toBe('allow');
    expect(
      await kind(
        guarded(
          { sub: 'bob', roles: ['order-admin'], email: 'bob@example.com.evil.io' },
          'orders___get_order',
          { order_id: '1' },
        ),
      ),
    ).toBe('deny');
  });

  it('a missing required argument is refused, never evaluated as absent', async () => {
    expect(
      await decide({ sub: 'bob', roles: ['order-admin'] }, 'orders___update_order', { order_id: '1' }),
    ).toMatchObject({
      kind: 'deny',
      code: 'unknown-tool-arguments',
      reason: expect.stringContaining('input.status is required'),
    });
  });
});

describe('wrong types', () => {
  it.each([
    [{ order_id: '1', status: 'refunded', amount: '9000' }, 'a string where an integer is declared'],
    [{ order_id: '1', status: 'refunded', amount: 9000.5 }, 'a float where an integer is declared'],
    [{ order_id: 1001, status: 'shipped' }, 'a number where a string is declared'],
    [{ order_id: '1', status: true }, 'a boolean where a string is declared'],
    [
      { order_id: '1', status: 'refunded', amount: { __extn: { fn: 'decimal', arg: '1.0' } } },
      'a Cedar escape smuggled in',
    ],
  ] as [Record<string, unknown>, string][])('refuses %j (%s)', async (args) => {
    expect(
      await kind(decide({ sub: 'bob', roles: ['order-admin'] }, 'orders___update_order', args)),
    ).not.toBe('allow');
  });

  it('cannot dodge the refund limit with a large amount in another shape', async () => {
    for (const amount of [501, 10 ** 12, Number.MAX_SAFE_INTEGER]) {
      expect(
        await decide({ sub: 'bob', roles: ['order-admin'] }, 'orders___update_order', {
          order_id: '1',
          status: 'refunded',
          amount,
        }),
      ).toMatchObject({
        kind: 'deny',
        policies: ['large-refunds-need-finance'],
      });
    }
  });
});

describe('case, whitespace and look-alikes', () => {
  it.each([
    ['Order-Admin'],
    ['ORDER-ADMIN'],
    ['order_admin'],
    ['оrder-admin'], // Cyrillic о
    ['order-admin\u200b'], // zero-width space
  ])('role %j is not order-admin', async (role) => {
    expect(
      await kind(
        decide({ sub: 'eve', roles: [role] }, 'orders___update_order', { order_id: '1', status: 'shipped' }),
      ),
    ).toBe('deny');
  });

  it.each([' order-admin ', '\u00a0order-admin', 'order-admin\u3000'])(
    'role %j is used exactly as issued and does not grant order-admin (issue 10 #6)',
    async (role) => {
      expect(
        await kind(
          decide({ sub: 'eve', roles: [role] }, 'orders___update_order', {
            order_id: '1',
            status: 'shipped',
          }),
        ),
      ).toBe('deny');
    },
  );

  it('a subject with surrounding whitespace is refused, never trimmed into another user (issue 10 #6)', async () => {
    await expect(
      decide({ sub: 'bob ', roles: ['order-admin'] }, 'orders___update_order', {
        order_id: '1',
        status: 'shipped',
      }),
    ).rejects.toThrow(/leading or trailing whitespace/);
  });

  it('inner whitespace splits a string claim', async () => {
    expect(
      await kind(
        decide({ sub: 'eve', roles: 'order admin' }, 'orders___update_order', {
          order_id: '1',
          status: 'shipped',
        }),
      ),
    ).toBe('deny');
  });

  it.each(['Orders___Get_Order', 'orders___get_order ', 'ORDERS___GET_ORDER', 'orders__get_order'])(
    'tool %j is not orders___get_order',
    async (tool) => {
      expect(await kind(decide({ sub: 'bob', roles: ['order-admin'] }, tool, { order_id: '1' }))).not.toBe(
        'allow',
      );
    },
  );
});

describe('quotes in identifiers', () => {
  it('a subject crafted to look like Cedar is just an id', async () => {
    const onlyBob = engine({
      'only-bob.cedar':
        '@id("only-bob")\nforbid (principal, action, resource) unless { principal == McpIdentity::User::"bob" };',
    });
    expect(
      await kind(
        onlyBob(
          { sub: 'alice" || principal == McpIdentity::User::"bob', roles: ['order-admin'] },
          'orders___get_order',
          { order_id: '1' },
        ),
      ),
    ).toBe('deny');
    expect(
      await kind(onlyBob({ sub: 'bob', roles: ['order-admin'] }, 'orders___get_order', { order_id: '1' })),
    ).toBe('allow');
  });

  it('a tool name with quotes never reaches Cedar', async () => {
    expect(
      await kind(
        decide({ sub: 'bob', roles: ['order-admin'] }, 'orders___get_order" || true || "', { order_id: '1' }),
      ),
    ).toBe('malformed');
  });

  it('an argument value with quotes is data', async () => {
    expect(
      await kind(
        decide({ sub: 'bob', roles: ['order-admin'] }, 'orders___update_order', {
          order_id: '1',
          status: 'shipped" || true || "',
        }),
      ),
    ).toBe('allow');
    expect(
      await kind(
        decide({ sub: 'bob', roles: ['order-admin'] }, 'orders___update_order', {
          order_id: '1',
          status: 'refunded" && false || "refunded',
          amount: 9000,
        }),
      ),
    ).toBe('allow');
  });
});

describe('forbid beats permit', () => {
  it('a forbid wins over a permit that names the user explicitly', async () => {
    const vip = engine({
      'vip.cedar':
        '@id("dana-may-update")\npermit (principal == McpIdentity::User::"dana", action == McpIdentity::Action::"orders___update_order", resource);',
    });
    expect(
      await kind(
        vip({ sub: 'dana', roles: [] }, 'orders___update_order', { order_id: '1', status: 'shipped' }),
      ),
    ).toBe('allow');
    expect(
      await vip({ sub: 'dana', roles: [] }, 'orders___update_order', {
        order_id: '1',
        status: 'refunded',
        amount: 900,
      }),
    ).toMatchObject({ kind: 'deny', policies: ['large-refunds-need-finance'] });
  });

  it('an agent can be blocked for everyone, through the delegation context', async () => {
    const blocked = engine({
      'blocked-agent.cedar':
        '@id("no-untrusted-agent")\nforbid (principal, action in McpIdentity::Action::"tools/call", resource) when { context has agent && context.agent == "untrusted" };',
    });
    expect(
      await kind(
        blocked({ sub: 'bob', roles: ['order-admin'], client_id: 'untrusted' }, 'orders___get_order', {
          order_id: '1',
        }),
      ),
    ).toBe('deny');
    expect(
      await kind(
        blocked({ sub: 'bob', roles: ['order-admin'], client_id: 'trusted' }, 'orders___get_order', {
          order_id: '1',
        }),
      ),
    ).toBe('allow');
  });
});

describe('roles claim edge cases', () => {
  it.each([
    [{ roles: { 0: 'order-admin' } }, 'an object'],
    [{ roles: 7 }, 'a number'],
    [{ roles: null }, 'null'],
    [{ roles: [['order-admin']] }, 'a nested array'],
    [{}, 'absent'],
  ] as [Record<string, unknown>, string][])('roles as %j (%s) grant nothing', async (claims) => {
    expect(await kind(decide({ sub: 'eve', ...claims }, 'orders___get_order', { order_id: '1' }))).toBe(
      'deny',
    );
  });

  it('comma- and space-separated strings and duplicates work', async () => {
    expect(
      await kind(
        decide({ sub: 'eve', roles: 'developer,order-admin' }, 'orders___update_order', {
          order_id: '1',
          status: 'shipped',
        }),
      ),
    ).toBe('allow');
    expect(
      await kind(
        decide({ sub: 'eve', roles: ['order-admin', 'order-admin'] }, 'orders___update_order', {
          order_id: '1',
          status: 'shipped',
        }),
      ),
    ).toBe('allow');
  });

  it('caps the roles at 100 (AVP allows at most 100 parents): roles beyond the cap are not granted', async () => {
    const many = Array.from({ length: 150 }, (_, index) => `team-${index}`);
    expect(
      await kind(
        decide({ sub: 'eve', roles: [...many, 'order-admin'] }, 'orders___update_order', {
          order_id: '1',
          status: 'shipped',
        }),
      ),
    ).toBe('deny');
    expect(
      await kind(
        decide({ sub: 'eve', roles: ['order-admin', ...many] }, 'orders___update_order', {
          order_id: '1',
          status: 'shipped',
        }),
      ),
    ).toBe('allow');
  });
});
