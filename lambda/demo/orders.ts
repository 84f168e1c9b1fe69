/**
 * The demo orders domain (DESIGN §6), shared by the local MCP server and the AgentCore Lambda target. It
 * trusts only the identity the gateway injects (`_caller_user`, `_caller_roles`); the interceptor denies any
 * client that sends those arguments itself. State is in memory: a demo, not a database.
 *
 * The injected parameters are declared (so a gateway that passes only declared arguments passes them) but never
 * `required`: whether AgentCore Gateway validates arguments against the schema before the REQUEST interceptor
 * injects them is undocumented, and a required injected parameter could make it refuse every call. So each tool
 * checks for the identity itself and refuses clearly without it.
 */

export const ORDER_STATUSES = ['pending', 'shipped', 'cancelled', 'refunded'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
const ADMIN_ROLE = 'order-admin';

export interface Order {
  readonly id: string;
  readonly owner: string;
  status: OrderStatus;
  readonly total: number;
}

export interface Activity {
  readonly user: string;
  readonly tool: string;
  readonly detail: string;
  readonly at: string;
}

/** The injected identity as the tools receive it: present and well-formed only behind the gateway. */
export interface InjectedCaller {
  readonly _caller_user?: unknown;
  readonly _caller_roles?: unknown;
}

/** The parameter names the identity arrives under (the stack's `injection.userParameter` / `rolesParameter`). */
export interface CallerParameters {
  readonly user: string;
  readonly roles: string;
}

export const DEFAULT_CALLER_PARAMETERS: CallerParameters = Object.freeze({
  user: '_caller_user',
  roles: '_caller_roles',
});

/** The verified caller the gateway injected, or why there is none. */
export type CallerCheck =
  | { readonly ok: true; readonly user: string; readonly roles: readonly string[] }
  | { readonly ok: false; readonly reason: string };

/**
 * Reads the injected identity. Missing or malformed means the call did not come through the mcp-identity
 * gateway (or the gateway is misconfigured): the tool must refuse rather than act for nobody.
 */
export function injectedCaller(
  args: object,
  names: CallerParameters = DEFAULT_CALLER_PARAMETERS,
): CallerCheck {
  const user = (args as Readonly<Record<string, unknown>>)[names.user];
  const roles = (args as Readonly<Record<string, unknown>>)[names.roles];
  const problems: string[] = [];
  if (user === undefined) problems.push(`${names.user} is missing`);
  else if (typeof user !== 'string' || user.length === 0)
    problems.push(`${names.user} is not a non-empty string`);
  if (roles === undefined) problems.push(`${names.roles} is missing`);
  else if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string'))
    problems.push(`${names.roles} is not a list of strings`);
  if (problems.length > 0 || typeof user !== 'string' || !Array.isArray(roles))
    return {
      ok: false,
      reason: `Refused: no verified caller identity (${problems.join('; ')}). This tool acts only for the caller the mcp-identity gateway injects; call it through the gateway.`,
    };
  return { ok: true, user, roles: roles as string[] };
}

export interface ToolAnswer {
  readonly text: string;
  readonly isError: boolean;
}

const CALLER_PROPERTIES = {
  _caller_user: {
    type: 'string',
    description: 'Set by the gateway from the verified token; never by the client.',
  },
  _caller_roles: {
    type: 'array',
    items: { type: 'string' },
    description: 'Set by the gateway from the verified token; never by the client.',
  },
} as const;

/**
 * The tools' MCP definitions (JSON Schema), as the Lambda target declares them inline to the gateway: the
 * injected parameters are declared, never required (see the top of this file).
 */
export const ORDER_TOOLS = [
  {
    name: 'get_order',
    description: 'Get one order. Admins see any order; everyone else only their own.',
    inputSchema: {
      type: 'object',
      properties: {
        order_id: { type: 'string', description: 'The order id, e.g. 1001' },
        ...CALLER_PROPERTIES,
      },
      required: ['order_id'],
    },
  },
  {
    name: 'update_order',
    description:
      'Change the status of an order (order admins only; refunds above 500 need finance approval).',
    inputSchema: {
      type: 'object',
      properties: {
        order_id: { type: 'string' },
        status: { type: 'string', description: `One of: ${ORDER_STATUSES.join(', ')}` },
        amount: { type: 'integer', description: 'Refund amount, for status "refunded"' },
        ...CALLER_PROPERTIES,
      },
      required: ['order_id', 'status'],
    },
  },
  {
    name: 'get_recent_activity',
    description: 'What have I been working on? Recent order activity of the calling user only.',
    inputSchema: {
      type: 'object',
      properties: { ...CALLER_PROPERTIES },
    },
  },
] as const;

function seed(): Map<string, Order> {
  return new Map(
    (
      [
        { id: '1001', owner: 'alice', status: 'pending', total: 120 },
        { id: '1002', owner: 'alice', status: 'shipped', total: 80 },
        { id: '2001', owner: 'bob', status: 'pending', total: 950 },
        { id: '3001', owner: 'carol', status: 'pending', total: 45 },
      ] satisfies Order[]
    ).map((order) => [order.id, { ...order }]),
  );
}

const answer = (value: unknown, isError = false): ToolAnswer => ({
  text: typeof value === 'string' ? value : JSON.stringify(value, null, 2),
  isError,
});

export class OrdersDemo {
  private readonly orders = seed();
  private readonly activity: Activity[] = [];

  private record(user: string, tool: string, detail: string): void {
    this.activity.push({ user, tool, detail, at: new Date().toISOString() });
    if (this.activity.length > 1000) this.activity.shift();
  }

  getOrder(input: { order_id: string } & InjectedCaller): ToolAnswer {
    const caller = injectedCaller(input);
    if (!caller.ok) return answer(caller.reason, true);
    const order = this.orders.get(input.order_id);
    const visible = order !== undefined && (order.owner === caller.user || caller.roles.includes(ADMIN_ROLE));
    this.record(caller.user, 'get_order', `order ${input.order_id}${visible ? '' : ' (not visible)'}`);
    // The same answer for "absent" and "not yours", so ids of other people's orders do not leak.
    return visible ? answer(order) : answer(`Order ${input.order_id} was not found.`, true);
  }

  updateOrder(
    input: { order_id: string; status: OrderStatus; amount?: number } & InjectedCaller,
  ): ToolAnswer {
    const caller = injectedCaller(input);
    if (!caller.ok) return answer(caller.reason, true);
    const order = this.orders.get(input.order_id);
    if (order === undefined) return answer(`Order ${input.order_id} was not found.`, true);
    order.status = input.status;
    this.record(
      caller.user,
      'update_order',
      `order ${input.order_id} → ${input.status}${input.amount === undefined ? '' : ` (${input.amount})`}`,
    );
    return answer({ ...order, updatedBy: caller.user });
  }

  recentActivity(input: InjectedCaller): ToolAnswer {
    const caller = injectedCaller(input);
    if (!caller.ok) return answer(caller.reason, true);
    const mine = this.activity.filter((item) => item.user === caller.user).slice(-20);
    return answer({ user: caller.user, activity: mine });
  }
}
