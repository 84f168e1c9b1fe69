import type { Context } from 'aws-lambda';
import { DEFAULT_CALLER_PARAMETERS, injectedCaller, ORDER_TOOLS, OrdersDemo } from '../../lambda/demo/orders';
import { callerParametersFromEnv, createHandler, ToolError } from '../../lambda/handlers/orders-target';

const context = (tool: string): Pick<Context, 'clientContext'> =>
  ({ clientContext: { custom: { bedrockAgentCoreToolName: `orders___${tool}` } } }) as unknown as Pick<
    Context,
    'clientContext'
  >;

const alice = { _caller_user: 'alice', _caller_roles: ['developer', 'db-reader'] };
const bob = { _caller_user: 'bob', _caller_roles: ['order-admin'] };

function target(callerParameters = DEFAULT_CALLER_PARAMETERS) {
  const demo = new OrdersDemo();
  return { demo, handler: createHandler({ demo, callerParameters }) };
}

const REFUSAL =
  /Refused: no verified caller identity \((.+)\)\. This tool acts only for the caller the mcp-identity gateway injects; call it through the gateway\.$/;

describe('demo tool schemas', () => {
  it('declare the injected identity but never require it (the gateway may validate before injection)', () => {
    for (const tool of ORDER_TOOLS) {
      const schema = tool.inputSchema as {
        properties: Record<string, unknown>;
        required?: readonly string[];
      };
      expect(Object.keys(schema.properties)).toEqual(
        expect.arrayContaining(['_caller_user', '_caller_roles']),
      );
      expect(schema.required ?? []).not.toContain('_caller_user');
      expect(schema.required ?? []).not.toContain('_caller_roles');
    }
    expect(
      ORDER_TOOLS.map((tool) => [tool.name, 'required' in tool.inputSchema ? tool.inputSchema.required : []]),
    ).toStrictEqual([
      ['get_order', ['order_id']],
      ['update_order', ['order_id', 'status']],
      ['get_recent_activity', []],
    ]);
  });
});

describe('the demo orders Lambda target', () => {
  it('answers for the injected caller', async () => {
    const { handler } = target();
    await expect(handler({ order_id: '1001', ...alice }, context('get_order'))).resolves.toContain(
      '"owner": "alice"',
    );
    await expect(handler({ order_id: '2001', ...alice }, context('get_order'))).rejects.toThrow(
      new ToolError('Order 2001 was not found.'),
    );
    await expect(handler({ order_id: '2001', ...bob }, context('get_order'))).resolves.toContain(
      '"owner": "bob"',
    );
  });

  it.each([
    ['get_order', { order_id: '1001' }],
    ['update_order', { order_id: '1001', status: 'shipped' }],
    ['get_recent_activity', {}],
  ])('refuses %s clearly when the injected identity is missing', async (tool, args) => {
    const { handler } = target();
    const call = handler(args, context(tool));
    await expect(call).rejects.toBeInstanceOf(ToolError);
    await expect(call).rejects.toThrow(
      `${tool}: Refused: no verified caller identity (_caller_user is missing; _caller_roles is missing). This tool acts only for the caller the mcp-identity gateway injects; call it through the gateway.`,
    );
  });

  it.each([
    [{ _caller_roles: ['order-admin'] }, '_caller_user is missing'],
    [{ _caller_user: 'bob' }, '_caller_roles is missing'],
    [{ _caller_user: '', _caller_roles: [] }, '_caller_user is not a non-empty string'],
    [{ _caller_user: 7, _caller_roles: [] }, '_caller_user is not a non-empty string'],
    [{ _caller_user: 'bob', _caller_roles: 'order-admin' }, '_caller_roles is not a list of strings'],
    [{ _caller_user: 'bob', _caller_roles: ['order-admin', 1] }, '_caller_roles is not a list of strings'],
  ])('refuses a partial or malformed identity %j (%s)', async (identity, problem) => {
    const { handler } = target();
    await expect(handler({ order_id: '2001', ...identity }, context('get_order'))).rejects.toThrow(
      `get_order: Refused: no verified caller identity (${problem}).`,
    );
  });

  it('checks the identity before the arguments, and changes nothing without it', async () => {
    const { handler, demo } = target();
    await expect(handler({ status: 'nonsense' }, context('update_order'))).rejects.toThrow(REFUSAL);
    await expect(handler({ order_id: '2001', status: 'cancelled' }, context('update_order'))).rejects.toThrow(
      REFUSAL,
    );
    expect(demo.getOrder({ order_id: '2001', ...bob }).text).toContain('"status": "pending"');
    // With the identity, the argument checks run as before.
    await expect(handler({ status: 'nonsense', ...bob }, context('update_order'))).rejects.toThrow(
      new ToolError('update_order: order_id is required; status is invalid'),
    );
  });

  it('reads the identity only under the configured names, so a client-sent _caller_user is never trusted', async () => {
    const { handler } = target({ user: '_who', roles: '_groups' });
    // Under renamed parameters the interceptor does not reserve `_caller_user`: a client could send it.
    await expect(handler({ order_id: '2001', ...bob }, context('get_order'))).rejects.toThrow(
      'get_order: Refused: no verified caller identity (_who is missing; _groups is missing).',
    );
    await expect(
      handler(
        { order_id: '2001', _who: 'bob', _groups: ['order-admin'], _caller_user: 'carol' },
        context('get_order'),
      ),
    ).resolves.toContain('"owner": "bob"');
    await expect(handler({ _who: 'bob', _groups: [] }, context('get_recent_activity'))).resolves.toContain(
      '"user": "bob"',
    );
  });

  it('takes the parameter names from the environment the stack sets, with the stack defaults', () => {
    expect(callerParametersFromEnv({})).toStrictEqual({ user: '_caller_user', roles: '_caller_roles' });
    expect(
      callerParametersFromEnv({
        MCP_IDENTITY_INJECT_USER_PARAM: '_who',
        MCP_IDENTITY_INJECT_ROLES_PARAM: '_groups',
      }),
    ).toStrictEqual({ user: '_who', roles: '_groups' });
    expect(callerParametersFromEnv({ MCP_IDENTITY_INJECT_USER_PARAM: ' ' })).toStrictEqual({
      user: '_caller_user',
      roles: '_caller_roles',
    });
  });

  it('refuses an unknown tool and non-object arguments', async () => {
    const { handler } = target();
    await expect(handler({ ...bob }, context('drop_tables'))).rejects.toThrow(
      new ToolError('unknown tool drop_tables'),
    );
    await expect(handler([bob], context('get_order'))).rejects.toThrow(
      new ToolError('get_order: arguments must be an object'),
    );
  });
});

describe('the demo tools themselves (also behind the local MCP server)', () => {
  it('refuse without an injected identity, record nothing and change nothing', () => {
    const demo = new OrdersDemo();
    expect(demo.getOrder({ order_id: '1001' })).toStrictEqual({
      isError: true,
      text: expect.stringMatching(REFUSAL),
    });
    expect(demo.updateOrder({ order_id: '1001', status: 'cancelled', _caller_user: 'bob' })).toMatchObject({
      isError: true,
      text: expect.stringContaining('_caller_roles is missing'),
    });
    expect(demo.recentActivity({ _caller_roles: ['order-admin'] })).toMatchObject({ isError: true });
    expect(demo.getOrder({ order_id: '1001', ...alice }).text).toContain('"status": "pending"');
    expect(JSON.parse(demo.recentActivity(bob).text)).toStrictEqual({ user: 'bob', activity: [] });
  });

  it('injectedCaller returns the verified caller when both parameters are well-formed', () => {
    expect(injectedCaller(alice)).toStrictEqual({
      ok: true,
      user: 'alice',
      roles: ['developer', 'db-reader'],
    });
    expect(injectedCaller({ u: 'x', r: [] }, { user: 'u', roles: 'r' })).toStrictEqual({
      ok: true,
      user: 'x',
      roles: [],
    });
  });
});
