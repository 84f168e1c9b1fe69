import {
  type AuthorizerSettings,
  authorizeOperation,
  callableTools,
  visibleListings,
} from '../../lambda/core/authorize';
import { type Caller, callerFromClaims } from '../../lambda/core/caller';
import type { AuthorizationRequest, CedarType } from '../../lambda/core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../../lambda/core/decision';
import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import type { McpOperation } from '../../lambda/core/mcp-operation';

/**
 * A tool with no entry in the Cedar schema (no action with `context.input`) is denied before any engine is
 * asked, with a reason that names the tool and the command that adds it; lists never ask about it either.
 */

const ALLOW: PolicyAnswer = { decision: 'allow', determiningPolicies: ['permit-everything'], errors: [] };
const STRING: CedarType = { type: 'String' };
const INPUT_TYPES: Record<string, CedarType> = {
  orders___get_order: { type: 'Record', attributes: { order_id: { ...STRING, required: true } } },
  x_amz_bedrock_agentcore_search: { type: 'Record', attributes: { query: { ...STRING, required: false } } },
};

function allowingPdp(): PolicyDecisionPoint & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    isAuthorized: async (request: AuthorizationRequest) => {
      asked.push(request.action.id);
      return ALLOW;
    },
    couldBeAllowed: async (requests) => {
      asked.push(...requests.map((request) => request.action.id));
      return requests.map(() => true);
    },
  };
}

function settings(overrides: Partial<AuthorizerSettings> = {}): AuthorizerSettings {
  return {
    model: { namespace: 'Ns', resourceId: 'gw', inputTypes: INPUT_TYPES },
    injection: DEFAULT_INJECTION,
    mode: 'enforce',
    ...overrides,
  };
}

const bob: Caller = callerFromClaims({
  sub: 'u-bob',
  iss: 'https://idp.example.com',
  exp: 2000000000,
  username: 'bob',
  roles: ['order-admin'],
});

function call(full: string, args: Record<string, unknown> = { id: '1' }): McpOperation {
  const at = full.indexOf('___');
  return {
    kind: 'tool-call',
    id: 1,
    tool: at > 0 ? { full, target: full.slice(0, at), tool: full.slice(at + 3) } : { full, tool: full },
    arguments: args,
  };
}

const DENIED_BILLING = {
  kind: 'deny',
  code: 'policy',
  reason:
    "Denied: no policy permits bob to call the tool 'billing___delete_invoice': it has no entry in the Cedar schema. An operator adds it with `npx mcp-identity schema generate --from-url <gateway MCP URL> --target billing`, then writes a policy for it and deploys.",
  policies: [],
};

describe('a tools/call of a tool the schema does not know', () => {
  it('is denied without asking the engine (which here would allow anything), naming the fix', async () => {
    const pdp = allowingPdp();

    const verdict = await authorizeOperation(bob, call('billing___delete_invoice'), pdp, settings());

    expect(verdict).toStrictEqual({ decision: DENIED_BILLING, forward: false, enforced: true });
    expect(pdp.asked).toStrictEqual([]);
  });

  it('names the whole-schema command for a system tool, which has no target', async () => {
    const verdict = await authorizeOperation(bob, call('x_new_system_tool'), allowingPdp(), settings());

    expect(verdict.decision).toStrictEqual({
      kind: 'deny',
      code: 'policy',
      reason:
        "Denied: no policy permits bob to call the tool 'x_new_system_tool': it has no entry in the Cedar schema. An operator adds it with `npx mcp-identity schema generate --from-url <gateway MCP URL>`, then writes a policy for it and deploys.",
      policies: [],
    });
  });

  it('is denied even with arguments Cedar could not take (the schema is the first thing missing)', async () => {
    const verdict = await authorizeOperation(
      bob,
      call('billing___delete_invoice', { id: { __entity: { type: 'Ns::User', id: 'x' } } }),
      allowingPdp(),
      settings(),
    );

    expect(verdict.decision).toStrictEqual(DENIED_BILLING);
  });

  it('does not take a name of the object prototype for a schema entry', async () => {
    const pdp = allowingPdp();

    const verdict = await authorizeOperation(bob, call('constructor'), pdp, settings());

    expect(verdict.forward).toBe(false);
    expect(verdict.decision).toMatchObject({ kind: 'deny', code: 'policy' });
    expect(pdp.asked).toStrictEqual([]);
  });

  it('goes through in log-only mode like any policy denial, recorded as not enforced', async () => {
    const verdict = await authorizeOperation(
      bob,
      call('billing___delete_invoice'),
      allowingPdp(),
      settings({ mode: 'log-only' }),
    );

    expect(verdict).toStrictEqual({
      decision: DENIED_BILLING,
      forward: true,
      enforced: false,
      arguments: { id: '1', _caller_user: 'u-bob', _caller_roles: ['order-admin'] },
      injected: ['_caller_user', '_caller_roles'],
    });
  });

  it('is still decided by the engine when the schema is known and has the tool', async () => {
    const pdp = allowingPdp();

    const verdict = await authorizeOperation(
      bob,
      call('orders___get_order', { order_id: '1' }),
      pdp,
      settings(),
    );

    expect(verdict.decision).toStrictEqual({ kind: 'allow', policies: ['permit-everything'] });
    expect(pdp.asked).toStrictEqual(['orders___get_order']);
  });

  it('is left to the engine when the model carries no input types (nothing to check against)', async () => {
    const pdp = allowingPdp();

    const verdict = await authorizeOperation(
      bob,
      call('billing___delete_invoice'),
      pdp,
      settings({ model: { namespace: 'Ns', resourceId: 'gw' } }),
    );

    expect(verdict.decision).toStrictEqual({ kind: 'allow', policies: ['permit-everything'] });
    expect(pdp.asked).toStrictEqual(['billing___delete_invoice']);
  });
});

describe('listings with tools the schema does not know', () => {
  const listed = ['orders___get_order', 'billing___delete_invoice', 'x_amz_bedrock_agentcore_search'];

  it('callableTools hides them without asking the engine', async () => {
    const pdp = allowingPdp();

    const result = await callableTools(bob, listed, pdp, settings());

    expect(result).toStrictEqual({
      callable: new Set(['orders___get_order', 'x_amz_bedrock_agentcore_search']),
    });
    expect(pdp.asked).toStrictEqual(['orders___get_order', 'x_amz_bedrock_agentcore_search']);
  });

  it('visibleListings hides them without asking the engine', async () => {
    const pdp = allowingPdp();

    const result = await visibleListings(
      bob,
      { tools: listed, prompts: [], resources: [], templates: [] },
      pdp,
      settings(),
    );

    expect(result.visible.tools).toStrictEqual(
      new Set(['orders___get_order', 'x_amz_bedrock_agentcore_search']),
    );
    expect(pdp.asked).toStrictEqual(['orders___get_order', 'x_amz_bedrock_agentcore_search']);
  });

  it('asks the engine about every tool when the model carries no input types', async () => {
    const pdp = allowingPdp();
    const untyped = settings({ model: { namespace: 'Ns', resourceId: 'gw' } });

    expect((await callableTools(bob, listed, pdp, untyped)).callable).toStrictEqual(new Set(listed));
    expect(
      (await visibleListings(bob, { tools: listed, prompts: [], resources: [], templates: [] }, pdp, untyped))
        .visible.tools,
    ).toStrictEqual(new Set(listed));
  });
});
