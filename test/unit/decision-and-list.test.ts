import { callableTools } from '../../lambda/core/authorize';
import { callerFromClaims } from '../../lambda/core/caller';
import { decisionFromAnswer, isAllowed } from '../../lambda/core/decision';
import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import { filterToolList, listedToolNames } from '../../lambda/core/tool-list';

const who = { who: 'alice', what: "call the tool 't'" };

describe('decisionFromAnswer', () => {
  it('explains a default deny', () => {
    const decision = decisionFromAnswer({ decision: 'deny', determiningPolicies: [], errors: [] }, who);
    expect(decision).toEqual({
      kind: 'deny',
      code: 'policy',
      reason: "Denied: no policy permits alice to call the tool 't' (denied by default).",
      policies: [],
    });
    expect(isAllowed(decision)).toBe(false);
  });

  it('names forbids by their catalogue name and reason', () => {
    const catalog = new Map([
      ['SP123', { name: 'large-refunds', reason: 'needs finance' }],
      ['SP9', { name: 'plain' }],
    ]);
    expect(
      decisionFromAnswer(
        { decision: 'deny', determiningPolicies: ['SP123', 'SP9', 'SPx'], errors: [] },
        who,
        catalog,
      ),
    ).toMatchObject({
      reason: "Denied by policy 'large-refunds' (needs finance), policy 'plain', policy 'SPx'.",
      policies: ['large-refunds', 'plain', 'SPx'],
    });
  });

  it('denies an allow that came with evaluation errors (an erroring forbid is skipped by Cedar)', () => {
    const decision = decisionFromAnswer(
      {
        decision: 'allow',
        determiningPolicies: ['p'],
        errors: [{ policyId: 'f', detail: 'x' }, { detail: 'y' }],
      },
      who,
    );
    expect(decision).toMatchObject({ kind: 'deny', code: 'policy-error', policies: ['f'] });
    expect(
      decisionFromAnswer({ decision: 'allow', determiningPolicies: [], errors: [{ detail: 'y' }] }, who),
    ).toMatchObject({
      reason: 'Denied: a policy could not be evaluated for this request, so it was denied.',
    });
  });

  it('allows with the determining permits', () => {
    const decision = decisionFromAnswer({ decision: 'allow', determiningPolicies: ['p'], errors: [] }, who);
    expect(decision).toEqual({ kind: 'allow', policies: ['p'] });
    expect(isAllowed(decision)).toBe(true);
  });
});

describe('tools/list filtering', () => {
  it('reads tool names only from a tools/list result', () => {
    expect(listedToolNames({ result: { tools: [{ name: 'a' }, { x: 1 }, 'b'] } })).toEqual(['a']);
    expect(listedToolNames({ error: {} })).toBeUndefined();
    expect(listedToolNames('x')).toBeUndefined();
  });

  it('keeps callable tools, strips reserved parameters, leaves other fields alone', () => {
    const body = {
      jsonrpc: '2.0',
      id: 1,
      result: {
        nextCursor: 'c',
        tools: [
          {
            name: 'a',
            title: 'A',
            inputSchema: {
              type: 'object',
              properties: { x: {}, _caller_user: {} },
              required: ['_caller_user', 'x'],
            },
          },
          { name: 'b', inputSchema: { type: 'object' } },
          { name: 'c', inputSchema: 'weird' },
        ],
      },
    };
    const { body: out, shown, hidden } = filterToolList(body, new Set(['a', 'c']), DEFAULT_INJECTION);
    expect(shown).toEqual(['a', 'c']);
    expect(hidden).toEqual(['b']);
    expect(out).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: {
        nextCursor: 'c',
        tools: [
          { name: 'a', title: 'A', inputSchema: { type: 'object', properties: { x: {} }, required: ['x'] } },
          { name: 'c', inputSchema: 'weird' },
        ],
      },
    });
    expect(body.result.tools).toHaveLength(3);
  });
});

describe('callableTools', () => {
  const caller = callerFromClaims({
    sub: 'bob',
    roles: ['order-admin'],
    iss: 'https://issuer.test',
    exp: 4e9,
  });
  const settings = {
    model: { namespace: 'McpIdentity', resourceId: 'gateway' },
    injection: DEFAULT_INJECTION,
    mode: 'enforce' as const,
  };

  it('never lists, nor asks about, a name no tools/call could carry', async () => {
    const asked: string[] = [];
    const pdp = {
      isAuthorized: async () => ({ decision: 'allow' as const, determiningPolicies: [], errors: [] }),
      couldBeAllowed: async (requests: readonly { action: { id: string } }[]) => {
        asked.push(...requests.map((request) => request.action.id));
        return requests.map(() => true);
      },
    };

    const result = await callableTools(
      caller,
      ['orders___get_order', 'prompts/get', 'bad name', ''],
      pdp,
      settings,
    );

    expect([...result.callable]).toStrictEqual(['orders___get_order']);
    expect(asked).toStrictEqual(['orders___get_order']);
    expect(result.error).toBeUndefined();
  });

  it('hides every tool when the engine answers a different number of requests', async () => {
    const pdp = {
      isAuthorized: async () => ({ decision: 'allow' as const, determiningPolicies: [], errors: [] }),
      couldBeAllowed: async () => [true],
    };

    const result = await callableTools(caller, ['a___b', 'a___c'], pdp, settings);

    expect(result.callable.size).toBe(0);
    expect(result.error?.message).toMatch(/different number/);
  });
});
