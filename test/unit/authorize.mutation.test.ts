import {
  type AuthorizerSettings,
  authorizeOperation,
  callableTools,
  type Verdict,
  visibleListings,
} from '../../lambda/core/authorize';
import { type Caller, callerFromClaims } from '../../lambda/core/caller';
import type { AuthorizationRequest } from '../../lambda/core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../../lambda/core/decision';
import {
  DecisionPointError,
  InvalidClaimsError,
  type McpIdentityError,
  SpoofingAttemptError,
} from '../../lambda/core/errors';
import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import type { McpOperation } from '../../lambda/core/mcp-operation';

const ALLOW: PolicyAnswer = { decision: 'allow', determiningPolicies: ['permit-orders'], errors: [] };
const DEFAULT_DENY: PolicyAnswer = { decision: 'deny', determiningPolicies: [], errors: [] };
const ERRORED: PolicyAnswer = {
  decision: 'allow',
  determiningPolicies: ['permit-orders'],
  errors: [{ policyId: 'forbid-large', detail: 'attribute missing' }],
};

/** A decision point that answers `answer` (or throws `failure`) and remembers what it was asked. */
function fakePdp(
  answer: PolicyAnswer,
  failure?: unknown,
): PolicyDecisionPoint & { asked: AuthorizationRequest[] } {
  const asked: AuthorizationRequest[] = [];
  return {
    asked,
    isAuthorized: async (request) => {
      asked.push(request);
      if (failure !== undefined) throw failure;
      return answer;
    },
    couldBeAllowed: async (requests) => requests.map(() => true),
  };
}

function settings(overrides: Partial<AuthorizerSettings> = {}): AuthorizerSettings {
  return {
    model: { namespace: 'Ns', resourceId: 'gw' },
    injection: DEFAULT_INJECTION,
    mode: 'enforce',
    ...overrides,
  };
}

function caller(claims: Record<string, unknown> = {}): Caller {
  return callerFromClaims({
    sub: 'u-1',
    iss: 'https://idp.example.com',
    exp: 2000000000,
    roles: ['clerk'],
    ...claims,
  });
}

const toolCall = (args: Record<string, unknown> = { order_id: 'o-1' }): McpOperation => ({
  kind: 'tool-call',
  id: 1,
  tool: { full: 'orders___update_order', target: 'orders', tool: 'update_order' },
  arguments: args,
});
const promptGet = (args: Record<string, unknown> = {}): McpOperation => ({
  kind: 'prompt-get',
  id: 2,
  name: 'summary',
  arguments: args,
});
const resourceRead: McpOperation = { kind: 'resource-read', id: 3, uri: 'file:///orders.csv' };

describe('operations that run no tool', () => {
  it.each<[string, McpOperation]>([
    ['initialize', { kind: 'protocol', id: 1, method: 'initialize' }],
    ['ping', { kind: 'protocol', id: 1, method: 'ping' }],
    ['a notification', { kind: 'notification', method: 'notifications/initialized' }],
    ['a client response', { kind: 'client-response', id: 4 }],
    ['tools/list', { kind: 'list', id: 1, method: 'tools/list' }],
  ])('forward %s without asking the decision point', async (_label, operation) => {
    const pdp = fakePdp(DEFAULT_DENY);

    const verdict = await authorizeOperation(caller(), operation, pdp, settings());

    expect(verdict).toStrictEqual({
      decision: { kind: 'allow', policies: [] },
      forward: true,
      enforced: true,
    });
    expect(pdp.asked).toStrictEqual([]);
  });
});

describe('an unsupported method', () => {
  it.each(['enforce', 'log-only'] as const)('is refused and enforced in %s mode', async (mode) => {
    const pdp = fakePdp(ALLOW);

    const verdict = await authorizeOperation(
      caller(),
      { kind: 'unsupported', id: 1, method: 'sampling/createMessage' },
      pdp,
      settings({ mode }),
    );

    expect(verdict).toStrictEqual({
      decision: {
        kind: 'deny',
        code: 'unsupported-method',
        reason: "The method 'sampling/createMessage' is not permitted through this gateway.",
        policies: [],
      },
      forward: false,
      enforced: true,
    });
    expect(pdp.asked).toStrictEqual([]);
  });
});

describe('spoofed identity arguments', () => {
  it.each(['enforce', 'log-only'] as const)(
    'refuse a tool call before any policy is asked, enforced in %s mode',
    async (mode) => {
      const pdp = fakePdp(ALLOW);

      const verdict = await authorizeOperation(
        caller(),
        toolCall({ order_id: 'o-1', _caller_user: 'admin' }),
        pdp,
        settings({ mode }),
      );

      expect(verdict).toStrictEqual({
        decision: {
          kind: 'deny',
          code: 'spoofing',
          reason: new SpoofingAttemptError(['_caller_user']).safeReason,
          policies: [],
        },
        forward: false,
        enforced: true,
      });
      expect(pdp.asked).toStrictEqual([]);
    },
  );

  it('refuse a prompt that sets an identity argument', async () => {
    const pdp = fakePdp(ALLOW);

    const verdict = await authorizeOperation(
      caller(),
      promptGet({ CallerRoles: ['admin'] }),
      pdp,
      settings(),
    );

    expect(verdict).toMatchObject({
      decision: { kind: 'deny', code: 'spoofing' },
      forward: false,
      enforced: true,
    });
    expect(pdp.asked).toStrictEqual([]);
  });

  it('refuse a parameter bound for the tool by name', async () => {
    const injection = {
      ...DEFAULT_INJECTION,
      bindings: { orders___update_order: { owner: 'email' as const } },
    };

    const verdict = await authorizeOperation(
      caller(),
      toolCall({ Owner: 'mallory@example.com' }),
      fakePdp(ALLOW),
      settings({ injection }),
    );

    expect(verdict).toMatchObject({
      decision: { kind: 'deny', code: 'spoofing' },
      forward: false,
      enforced: true,
    });
  });

  it('refuse a parameter bound for a prompt as prompt:<name>', async () => {
    const injection = {
      ...DEFAULT_INJECTION,
      bindings: { 'prompt:summary': { tenant: 'subject' as const } },
    };

    const bound = await authorizeOperation(
      caller(),
      promptGet({ tenant: 't' }),
      fakePdp(ALLOW),
      settings({ injection }),
    );
    const tool = await authorizeOperation(
      caller(),
      toolCall({ tenant: 't' }),
      fakePdp(ALLOW),
      settings({ injection }),
    );

    expect(bound).toMatchObject({ decision: { kind: 'deny', code: 'spoofing' }, forward: false });
    expect(tool).toMatchObject({ decision: { kind: 'allow' }, forward: true });
  });
});

describe('spoofed identity names elsewhere in params', () => {
  it.each<[string, McpOperation]>([
    [
      'tools/list with _meta',
      { kind: 'list', id: 1, method: 'tools/list', params: { _meta: { _caller_user: 'x' } } },
    ],
    [
      'ping at the top level',
      { kind: 'protocol', id: 1, method: 'ping', params: { CALLER_ROLES: ['admin'] } },
    ],
    [
      'a tool call with _meta',
      { ...toolCall(), params: { name: 'orders___update_order', _meta: { 'caller-user': 'x' } } },
    ],
  ])('are refused for %s, in log-only mode too', async (_label, operation) => {
    const pdp = fakePdp(ALLOW);

    const verdict = await authorizeOperation(caller(), operation, pdp, settings({ mode: 'log-only' }));

    expect(verdict).toMatchObject({
      decision: { kind: 'deny', code: 'spoofing' },
      forward: false,
      enforced: true,
    });
    expect(pdp.asked).toStrictEqual([]);
  });

  it('include the bindings of the called tool, and only of a called tool', async () => {
    const injection = {
      ...DEFAULT_INJECTION,
      bindings: { orders___update_order: { owner: 'email' as const } },
    };
    const call: McpOperation = { ...toolCall(), params: { name: 'orders___update_order', owner: 'x' } };
    const list: McpOperation = { kind: 'list', id: 1, method: 'tools/list', params: { owner: 'x' } };

    const called = await authorizeOperation(caller(), call, fakePdp(ALLOW), settings({ injection }));
    const listed = await authorizeOperation(caller(), list, fakePdp(ALLOW), settings({ injection }));

    expect(called).toMatchObject({ decision: { kind: 'deny', code: 'spoofing' }, forward: false });
    expect(listed).toMatchObject({ decision: { kind: 'allow' }, forward: true });
  });

  it('let clean params through', async () => {
    const operation: McpOperation = {
      kind: 'list',
      id: 1,
      method: 'tools/list',
      params: { cursor: 'c', _meta: {} },
    };

    const verdict = await authorizeOperation(caller(), operation, fakePdp(ALLOW), settings());

    expect(verdict).toStrictEqual({
      decision: { kind: 'allow', policies: [] },
      forward: true,
      enforced: true,
    });
  });
});

describe('an allowed tool call', () => {
  it('is forwarded with the verified identity injected, after asking about exactly the client arguments', async () => {
    // Arrange
    const pdp = fakePdp(ALLOW);

    // Act
    const verdict = await authorizeOperation(caller(), toolCall({ order_id: 'o-1' }), pdp, settings());

    // Assert
    expect(verdict).toStrictEqual({
      decision: { kind: 'allow', policies: ['permit-orders'] },
      forward: true,
      enforced: true,
      arguments: { order_id: 'o-1', _caller_user: 'u-1', _caller_roles: ['clerk'] },
      injected: ['_caller_user', '_caller_roles'],
    });
    expect(pdp.asked).toHaveLength(1);
    expect(pdp.asked[0]?.action).toStrictEqual({ type: 'Ns::Action', id: 'orders___update_order' });
    expect(pdp.asked[0]?.context.input).toStrictEqual({ order_id: 'o-1' });
  });

  it('names policies through the catalogue', async () => {
    const catalog = new Map([['permit-orders', { name: 'clerks-update-orders' }]]);

    const verdict = await authorizeOperation(caller(), toolCall(), fakePdp(ALLOW), settings({ catalog }));

    expect(verdict.decision).toStrictEqual({ kind: 'allow', policies: ['clerks-update-orders'] });
  });
});

describe('an allowed prompt or resource', () => {
  it.each<[string, McpOperation, string]>([
    ['prompt', promptGet(), 'prompts/get'],
    ['resource', resourceRead, 'resources/read'],
  ])('is forwarded as sent, with no arguments injected (%s)', async (_label, operation, action) => {
    const pdp = fakePdp(ALLOW);

    const verdict = await authorizeOperation(caller(), operation, pdp, settings());

    expect(verdict).toStrictEqual({
      decision: { kind: 'allow', policies: ['permit-orders'] },
      forward: true,
      enforced: true,
    });
    expect(pdp.asked[0]?.action).toStrictEqual({ type: 'Ns::Action', id: action });
  });
});

describe('a default deny', () => {
  it.each<[string, McpOperation, string]>([
    ['a tool call', toolCall(), "call the tool 'orders___update_order'"],
    ['a prompt', promptGet(), "get the prompt 'summary'"],
    ['a resource', resourceRead, "read the resource 'file:///orders.csv'"],
  ])('of %s is enforced and says what was refused', async (_label, operation, what) => {
    const verdict = await authorizeOperation(caller(), operation, fakePdp(DEFAULT_DENY), settings());

    expect(verdict).toMatchObject({
      decision: { kind: 'deny', code: 'policy' },
      forward: false,
      enforced: true,
    });
    expect(verdict).not.toHaveProperty('arguments');
    expect(verdict.decision.kind === 'deny' && verdict.decision.reason).toContain(what);
  });

  it.each([
    ['the username', { username: 'al', email: 'al@example.com' }, 'al '],
    ['the email without a username', { email: 'al@example.com' }, 'al@example.com'],
    ['the subject without username or email', {}, 'u-1'],
  ])('names the caller by %s', async (_label, claims, who) => {
    const verdict = await authorizeOperation(caller(claims), toolCall(), fakePdp(DEFAULT_DENY), settings());

    expect(verdict.decision.kind === 'deny' && verdict.decision.reason).toContain(`permits ${who}`);
  });
});

describe('log-only mode', () => {
  it('forwards a tool call denied by policy, with identity injected, marked not enforced', async () => {
    const verdict = await authorizeOperation(
      caller(),
      toolCall(),
      fakePdp(DEFAULT_DENY),
      settings({ mode: 'log-only' }),
    );

    expect(verdict).toMatchObject({
      decision: { kind: 'deny', code: 'policy' },
      forward: true,
      enforced: false,
      arguments: { order_id: 'o-1', _caller_user: 'u-1', _caller_roles: ['clerk'] },
      injected: ['_caller_user', '_caller_roles'],
    });
  });

  it('forwards a prompt denied by policy, marked not enforced, with nothing injected', async () => {
    const verdict = await authorizeOperation(
      caller(),
      promptGet(),
      fakePdp(DEFAULT_DENY),
      settings({ mode: 'log-only' }),
    );

    expect(verdict).toMatchObject({
      decision: { kind: 'deny', code: 'policy' },
      forward: true,
      enforced: false,
    });
    expect(Object.keys(verdict).sort()).toStrictEqual(['decision', 'enforced', 'forward']);
  });

  it('marks an allowed call enforced', async () => {
    const verdict = await authorizeOperation(
      caller(),
      toolCall(),
      fakePdp(ALLOW),
      settings({ mode: 'log-only' }),
    );

    expect(verdict).toMatchObject({ decision: { kind: 'allow' }, forward: true, enforced: true });
  });

  it('still enforces a policy that could not be evaluated', async () => {
    const verdict = await authorizeOperation(
      caller(),
      toolCall(),
      fakePdp(ERRORED),
      settings({ mode: 'log-only' }),
    );

    expect(verdict).toStrictEqual({
      decision: {
        kind: 'deny',
        code: 'policy-error',
        reason: "Denied: policy 'forbid-large' could not be evaluated for this request, so it was denied.",
        policies: ['forbid-large'],
      },
      forward: false,
      enforced: true,
    });
  });

  it('still enforces arguments that cannot be checked against policy', async () => {
    const model = { namespace: 'Ns', resourceId: 'gw' };

    const verdict = await authorizeOperation(
      caller(),
      toolCall({ amount: 1.23456 }),
      fakePdp(ALLOW),
      settings({ mode: 'log-only', model }),
    );

    expect(verdict).toMatchObject({
      decision: { code: 'unknown-tool-arguments' },
      forward: false,
      enforced: true,
    });
  });

  it('still enforces a decision point failure', async () => {
    const verdict = await authorizeOperation(
      caller(),
      toolCall(),
      fakePdp(ALLOW, new Error('socket hang up')),
      settings({ mode: 'log-only' }),
    );

    expect(verdict).toMatchObject({ decision: { kind: 'error' }, forward: false, enforced: true });
  });
});

describe('arguments that cannot be expressed in Cedar', () => {
  it('are denied with the reason, without asking the decision point', async () => {
    const pdp = fakePdp(ALLOW);

    const verdict = await authorizeOperation(caller(), toolCall({ amount: 1.23456 }), pdp, settings());

    expect(verdict).toStrictEqual({
      decision: {
        kind: 'deny',
        code: 'unknown-tool-arguments',
        reason:
          'Denied: the arguments cannot be checked against policy (input.amount: 1.23456 is not a Cedar decimal (at most 4 decimal places)).',
        policies: [],
      },
      forward: false,
      enforced: true,
    });
    expect(pdp.asked).toStrictEqual([]);
  });
});

describe('failures while deciding', () => {
  function expectError(verdict: Verdict): McpIdentityError {
    expect(verdict).toMatchObject({ forward: false, enforced: true });
    expect(verdict).not.toHaveProperty('arguments');
    if (verdict.decision.kind !== 'error')
      throw new Error(`expected an error decision, got ${verdict.decision.kind}`);
    expect(verdict.decision.reason).toBe(verdict.decision.error.safeReason);
    return verdict.decision.error;
  }

  it('wrap an unknown decision point failure, keeping it as the cause', async () => {
    const failure = new Error('socket hang up');

    const error = expectError(
      await authorizeOperation(caller(), toolCall(), fakePdp(ALLOW, failure), settings()),
    );

    expect(error).toBeInstanceOf(DecisionPointError);
    expect(error.message).toBe('decision point failed');
    expect(error.cause).toBe(failure);
  });

  it('keep a failure that is already one of ours', async () => {
    const failure = new DecisionPointError('throttled');

    const error = expectError(
      await authorizeOperation(caller(), resourceRead, fakePdp(ALLOW, failure), settings()),
    );

    expect(error).toBe(failure);
  });

  it('deny when building the request fails for another reason than the arguments', async () => {
    const failure = new InvalidClaimsError('broken model');
    const model = {
      namespace: 'Ns',
      resourceId: 'gw',
      get inputTypes(): never {
        throw failure;
      },
    };
    const pdp = fakePdp(ALLOW);

    const error = expectError(await authorizeOperation(caller(), toolCall(), pdp, settings({ model })));

    expect(error).toBe(failure);
    expect(pdp.asked).toStrictEqual([]);
  });

  it('wrap an unknown failure while building the request', async () => {
    const failure = new TypeError('boom');
    const model = {
      namespace: 'Ns',
      resourceId: 'gw',
      get inputTypes(): never {
        throw failure;
      },
    };

    const error = expectError(
      await authorizeOperation(caller(), toolCall(), fakePdp(ALLOW), settings({ model })),
    );

    expect(error).toBeInstanceOf(DecisionPointError);
    expect(error.cause).toBe(failure);
  });
});

describe('callableTools', () => {
  function listPdp(answers: (requests: readonly AuthorizationRequest[]) => Promise<readonly boolean[]>) {
    const asked: AuthorizationRequest[] = [];
    const pdp: PolicyDecisionPoint = {
      isAuthorized: async () => ALLOW,
      couldBeAllowed: async (requests) => {
        asked.push(...requests);
        return answers(requests);
      },
    };
    return { pdp, asked };
  }

  it('keeps exactly the tools the decision point could allow, asking one discovery request each', async () => {
    const { pdp, asked } = listPdp(async () => [true, false, true]);

    const result = await callableTools(caller(), ['a___one', 'a___two', 'b___three'], pdp, settings());

    expect(result).toStrictEqual({ callable: new Set(['a___one', 'b___three']) });
    expect(asked.map((request) => request.action.id)).toStrictEqual(['a___one', 'a___two', 'b___three']);
    expect(asked[0]?.context).not.toHaveProperty('input');
  });

  it('treats anything but true as not callable', async () => {
    const { pdp } = listPdp(async () => [1, 'yes', null] as unknown as boolean[]);

    const result = await callableTools(caller(), ['a___one', 'a___two', 'a___three'], pdp, settings());

    expect(result.callable).toStrictEqual(new Set());
  });

  it.each([
    ['fewer', [true]],
    ['more', [true, true, true]],
  ])('hides every tool when the decision point gives %s answers than questions', async (_label, answers) => {
    const { pdp } = listPdp(async () => answers);

    const result = await callableTools(caller(), ['a___one', 'a___two'], pdp, settings());

    expect(result.callable).toStrictEqual(new Set());
    expect(result.error).toBeInstanceOf(DecisionPointError);
    expect(result.error?.message).toBe('decision point answered a different number of requests');
  });

  it('hides every tool and wraps an unknown failure', async () => {
    const failure = new Error('timeout');
    const { pdp } = listPdp(async () => {
      throw failure;
    });

    const result = await callableTools(caller(), ['a___one'], pdp, settings());

    expect(result.callable).toStrictEqual(new Set());
    expect(result.error).toBeInstanceOf(DecisionPointError);
    expect(result.error?.cause).toBe(failure);
  });

  it('hides every tool and keeps a failure that is already one of ours', async () => {
    const failure = new DecisionPointError('throttled');
    const { pdp } = listPdp(async () => {
      throw failure;
    });

    const result = await callableTools(caller(), ['a___one'], pdp, settings());

    expect(result).toStrictEqual({ callable: new Set(), error: failure });
  });

  it('asks nothing and lists nothing for an empty list', async () => {
    const { pdp, asked } = listPdp(async () => []);

    const result = await callableTools(caller(), [], pdp, settings());

    expect(result).toStrictEqual({ callable: new Set() });
    expect(asked).toStrictEqual([]);
  });
});

describe('a denial by a forbid (issue 10 #23)', () => {
  const FORBIDDEN: PolicyAnswer = { decision: 'deny', determiningPolicies: ['forbid-large'], errors: [] };
  const NAMES_FORBID = "Denied by policy 'forbid-large'.";
  const NO_PERMIT =
    "Denied: no policy permits u-1 to call the tool 'orders___update_order' (denied by default).";

  /** A decision point answering its first request with `full` and any later one (the call without arguments)
   * with `withoutInput`; `permits` is the engine's permits-alone check when it has one (cedar-wasm). */
  function forbidPdp(
    full: PolicyAnswer,
    withoutInput: PolicyAnswer,
    permits?: (request: AuthorizationRequest) => Promise<boolean>,
  ) {
    const asked: AuthorizationRequest[] = [];
    const permitsAsked: AuthorizationRequest[] = [];
    const pdp: PolicyDecisionPoint = {
      isAuthorized: async (request) => {
        asked.push(request);
        return asked.length === 1 ? full : withoutInput;
      },
      couldBeAllowed: async (requests) => requests.map(() => true),
      ...(permits === undefined
        ? {}
        : {
            permits: async (request: AuthorizationRequest) => {
              permitsAsked.push(request);
              return permits(request);
            },
          }),
    };
    return { pdp, asked, permitsAsked };
  }

  const reasonOf = (verdict: Verdict) =>
    verdict.decision.kind === 'deny' ? verdict.decision.reason : `not a deny: ${verdict.decision.kind}`;

  it('names the forbid when the engine says a permit alone would allow, asking it about the same request', async () => {
    const { pdp, asked, permitsAsked } = forbidPdp(FORBIDDEN, ALLOW, async () => true);

    const verdict = await authorizeOperation(caller(), toolCall(), pdp, settings());

    expect(verdict).toStrictEqual({
      decision: { kind: 'deny', code: 'policy', reason: NAMES_FORBID, policies: ['forbid-large'] },
      forward: false,
      enforced: true,
    });
    expect(permitsAsked).toStrictEqual([asked[0]]);
    expect(asked).toHaveLength(1);
  });

  it('says no policy permits the caller when the engine says no permit would allow, keeping the forbid on record', async () => {
    const { pdp } = forbidPdp(FORBIDDEN, ALLOW, async () => false);

    const verdict = await authorizeOperation(caller(), toolCall(), pdp, settings());

    expect(verdict).toStrictEqual({
      decision: { kind: 'deny', code: 'policy', reason: NO_PERMIT, policies: ['forbid-large'] },
      forward: false,
      enforced: true,
    });
  });

  it('asks the permits-alone question for a prompt too, where the engine can answer it', async () => {
    const { pdp, permitsAsked } = forbidPdp(FORBIDDEN, ALLOW, async () => false);

    const verdict = await authorizeOperation(caller(), promptGet(), pdp, settings());

    expect(reasonOf(verdict)).toBe(
      "Denied: no policy permits u-1 to get the prompt 'summary' (denied by default).",
    );
    expect(permitsAsked).toHaveLength(1);
  });

  describe('on an engine that cannot evaluate permits alone (Verified Permissions)', () => {
    it('names the forbid when the call without arguments is allowed', async () => {
      const { pdp, asked } = forbidPdp(FORBIDDEN, ALLOW);

      const verdict = await authorizeOperation(caller(), toolCall(), pdp, settings());

      expect(reasonOf(verdict)).toBe(NAMES_FORBID);
      expect(asked).toHaveLength(2);
      expect(asked[1]?.action).toStrictEqual({ type: 'Ns::Action', id: 'orders___update_order' });
      expect(asked[1]?.context).not.toHaveProperty('input');
    });

    it('reads the answer without arguments by its decision, not by the policies it names', async () => {
      const { pdp } = forbidPdp(FORBIDDEN, { decision: 'allow', determiningPolicies: [], errors: [] });

      const verdict = await authorizeOperation(caller(), toolCall(), pdp, settings());

      expect(reasonOf(verdict)).toBe(NAMES_FORBID);
    });

    it('says no policy permits the caller when the call without arguments is denied by default', async () => {
      const { pdp } = forbidPdp(FORBIDDEN, DEFAULT_DENY);

      const verdict = await authorizeOperation(caller(), toolCall(), pdp, settings());

      expect(verdict).toStrictEqual({
        decision: { kind: 'deny', code: 'policy', reason: NO_PERMIT, policies: ['forbid-large'] },
        forward: false,
        enforced: true,
      });
    });

    it('names the forbid when a forbid still applies without arguments (it is the reason whatever the permits say)', async () => {
      const { pdp } = forbidPdp(FORBIDDEN, {
        decision: 'deny',
        determiningPolicies: ['forbid-agent'],
        errors: [],
      });

      const verdict = await authorizeOperation(caller(), toolCall(), pdp, settings());

      expect(reasonOf(verdict)).toBe(NAMES_FORBID);
    });

    it('names the forbid when the call without arguments could not be evaluated', async () => {
      const { pdp } = forbidPdp(FORBIDDEN, {
        decision: 'deny',
        determiningPolicies: [],
        errors: [{ policyId: 'permit-orders', detail: 'attribute missing' }],
      });

      const verdict = await authorizeOperation(caller(), toolCall(), pdp, settings());

      expect(reasonOf(verdict)).toBe(NAMES_FORBID);
    });

    it('names the forbid for a prompt or resource, without a second question (no argument-free form)', async () => {
      for (const operation of [promptGet(), resourceRead]) {
        const { pdp, asked } = forbidPdp(FORBIDDEN, DEFAULT_DENY);

        const verdict = await authorizeOperation(caller(), operation, pdp, settings());

        expect(reasonOf(verdict)).toBe(NAMES_FORBID);
        expect(asked).toHaveLength(1);
      }
    });
  });

  it.each<[string, PolicyAnswer]>([
    ['a default deny (no determining policy)', DEFAULT_DENY],
    ['an allow', ALLOW],
    [
      'a deny with a policy that could not be evaluated',
      { decision: 'deny', determiningPolicies: ['forbid-large'], errors: [{ policyId: 'x', detail: 'd' }] },
    ],
  ])('asks the engine only once for %s', async (_label, answer) => {
    const { pdp, asked, permitsAsked } = forbidPdp(answer, ALLOW, async () => true);

    await authorizeOperation(caller(), toolCall(), pdp, settings());

    expect(asked).toHaveLength(1);
    expect(permitsAsked).toStrictEqual([]);
  });

  it('decides on a permits-alone failure as on any engine failure: an enforced error', async () => {
    const failure = new DecisionPointError('throttled');
    const { pdp } = forbidPdp(FORBIDDEN, ALLOW, async () => {
      throw failure;
    });

    const verdict = await authorizeOperation(caller(), toolCall(), pdp, settings({ mode: 'log-only' }));

    expect(verdict).toStrictEqual({
      decision: { kind: 'error', reason: failure.safeReason, error: failure },
      forward: false,
      enforced: true,
    });
  });
});

describe('visibleListings', () => {
  const everything: PolicyDecisionPoint = {
    isAuthorized: async () => ALLOW,
    couldBeAllowed: async (requests) => requests.map(() => true),
  };

  it('never asks about, nor shows, a listed name no tools/call could carry', async () => {
    const asked: string[] = [];
    const pdp: PolicyDecisionPoint = {
      ...everything,
      couldBeAllowed: async (requests) => {
        asked.push(...requests.map((request) => request.action.id));
        return requests.map(() => true);
      },
    };

    const result = await visibleListings(
      caller(),
      { tools: ['a___one', 'bad name!', ''], prompts: [], resources: [], templates: [] },
      pdp,
      settings(),
    );

    expect(result).toStrictEqual({
      visible: {
        tools: new Set(['a___one']),
        prompts: new Set(),
        resources: new Set(),
        templates: new Set(),
      },
    });
    expect(asked).toStrictEqual(['a___one']);
  });

  it('shows nothing and reports no error for an empty listing', async () => {
    const result = await visibleListings(
      caller(),
      { tools: [], prompts: [], resources: [], templates: [] },
      everything,
      settings(),
    );

    expect(result).toStrictEqual({
      visible: { tools: new Set(), prompts: new Set(), resources: new Set(), templates: new Set() },
    });
  });

  it('hides everything when the engine answers a different number of requests, saying why', async () => {
    const pdp: PolicyDecisionPoint = { ...everything, couldBeAllowed: async () => [true, true, true] };

    const result = await visibleListings(
      caller(),
      { tools: ['a___one'], prompts: ['p'], resources: [], templates: [] },
      pdp,
      settings(),
    );

    expect(result.visible).toStrictEqual({
      tools: new Set(),
      prompts: new Set(),
      resources: new Set(),
      templates: new Set(),
    });
    expect(result.error).toBeInstanceOf(DecisionPointError);
    expect(result.error?.message).toBe('decision point answered a different number of requests');
  });
});
