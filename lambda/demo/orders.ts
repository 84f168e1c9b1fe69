/**
 * The demo orders domain (DESIGN §6), shared by the local MCP server and the AgentCore Lambda target. It
 * trusts only the identity the gateway injects (`_caller_user`, `_caller_roles`); the interceptor denies any
 * client that sends those arguments itself. State is in memory: a demo, not a database.
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

export interface InjectedCaller {
  readonly _caller_user: string;
  readonly _caller_roles: readonly string[];
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

/** The tools' MCP definitions (JSON Schema), as the Lambda target declares them inline to the gateway. */
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
      required: ['order_id', '_caller_user', '_caller_roles'],
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
      required: ['order_id', 'status', '_caller_user', '_caller_roles'],
    },
  },
  {
    name: 'get_recent_activity',
    description: 'What have I been working on? Recent order activity of the calling user only.',
    inputSchema: {
      type: 'object',
      properties: { ...CALLER_PROPERTIES },
      required: ['_caller_user', '_caller_roles'],
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
    const order = this.orders.get(input.order_id);
    const visible =
      order !== undefined && (order.owner === input._caller_user || input._caller_roles.includes(ADMIN_ROLE));
    this.record(input._caller_user, 'get_order', `order ${input.order_id}${visible ? '' : ' (not visible)'}`);
    // The same answer for "absent" and "not yours", so ids of other people's orders do not leak.
    return visible ? answer(order) : answer(`Order ${input.order_id} was not found.`, true);
  }

  updateOrder(
    input: { order_id: string; status: OrderStatus; amount?: number } & InjectedCaller,
  ): ToolAnswer {
    const order = this.orders.get(input.order_id);
    if (order === undefined) return answer(`Order ${input.order_id} was not found.`, true);
    order.status = input.status;
    this.record(
      input._caller_user,
      'update_order',
      `order ${input.order_id} → ${input.status}${input.amount === undefined ? '' : ` (${input.amount})`}`,
    );
    return answer({ ...order, updatedBy: input._caller_user });
  }

  recentActivity(input: InjectedCaller): ToolAnswer {
    const mine = this.activity.filter((item) => item.user === input._caller_user).slice(-20);
    return answer({ user: input._caller_user, activity: mine });
  }
}
