import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { ORDER_STATUSES, OrdersDemo } from '../demo/orders';

/**
 * The demo orders tools as an AgentCore Gateway Lambda target (CONTRACTS §2): the event is the tool's
 * arguments (identity already injected by the interceptor), the tool name is in the client context as
 * `target___tool`. A refusal is thrown, so the gateway reports it as a tool error.
 */
const demo = new OrdersDemo();

const injected = { _caller_user: z.string().min(1), _caller_roles: z.array(z.string()) };
const schemas = {
  get_order: z.object({ order_id: z.string(), ...injected }),
  update_order: z.object({
    order_id: z.string(),
    status: z.enum(ORDER_STATUSES),
    amount: z.number().int().min(0).optional(),
    ...injected,
  }),
  get_recent_activity: z.object({ ...injected }),
};

export class ToolError extends Error {}

/** The tool name from the gateway's client context (`bedrockAgentCoreToolName`, prefixed by the target). */
export function toolNameOf(context: Pick<Context, 'clientContext'>): string {
  const clientContext = context.clientContext as unknown as
    | { custom?: Record<string, unknown>; Custom?: Record<string, unknown> }
    | undefined;
  const custom = clientContext?.custom ?? clientContext?.Custom;
  const name = custom?.bedrockAgentCoreToolName;
  if (typeof name !== 'string') throw new ToolError('no tool name in the client context');
  const at = name.indexOf('___');
  return at >= 0 ? name.slice(at + 3) : name;
}

export const handler = async (event: unknown, context: Pick<Context, 'clientContext'>): Promise<string> => {
  const tool = toolNameOf(context);
  let result: { text: string; isError: boolean };
  switch (tool) {
    case 'get_order':
      result = demo.getOrder(schemas.get_order.parse(event));
      break;
    case 'update_order':
      result = demo.updateOrder(schemas.update_order.parse(event));
      break;
    case 'get_recent_activity':
      result = demo.recentActivity(schemas.get_recent_activity.parse(event));
      break;
    default:
      throw new ToolError(`unknown tool ${tool}`);
  }
  if (result.isError) throw new ToolError(result.text);
  return result.text;
};
