import type { Context } from 'aws-lambda';
import { ORDER_STATUSES, OrdersDemo } from '../demo/orders';

/**
 * The demo orders tools as an AgentCore Gateway Lambda target (CONTRACTS §2): the event is the tool's
 * arguments (identity already injected by the interceptor), the tool name is in the client context as
 * `target___tool`. A refusal is thrown, so the gateway reports it as a tool error.
 */
const demo = new OrdersDemo();

type Arguments = Record<string, unknown>;
type Field = 'string' | 'caller' | 'roles' | 'status' | 'amount';

/**
 * Tool arguments checked by hand rather than with zod: the demo target is a Lambda bundle too, and zod
 * would be most of it. Same rules as before (identity injected, status from the list, amount a whole number ≥ 0).
 */
const INJECTED: Record<string, Field> = { _caller_user: 'caller', _caller_roles: 'roles' };
const TOOL_ARGUMENTS: Record<string, { required: Record<string, Field>; optional?: Record<string, Field> }> =
  {
    get_order: { required: { order_id: 'string', ...INJECTED } },
    update_order: {
      required: { order_id: 'string', status: 'status', ...INJECTED },
      optional: { amount: 'amount' },
    },
    get_recent_activity: { required: { ...INJECTED } },
  };

function fits(field: Field, value: unknown): boolean {
  switch (field) {
    case 'string':
      return typeof value === 'string';
    case 'caller':
      return typeof value === 'string' && value.length > 0;
    case 'roles':
      return Array.isArray(value) && value.every((role) => typeof role === 'string');
    case 'status':
      return (ORDER_STATUSES as readonly unknown[]).includes(value);
    case 'amount':
      return Number.isInteger(value) && (value as number) >= 0;
  }
}

/** The tool's arguments, or a {@link ToolError} naming each bad or missing one. */
function argumentsFor<T>(tool: string, event: unknown): T {
  const spec = TOOL_ARGUMENTS[tool];
  if (spec === undefined) throw new ToolError(`unknown tool ${tool}`);
  if (event === null || typeof event !== 'object' || Array.isArray(event))
    throw new ToolError(`${tool}: arguments must be an object`);
  const args = event as Arguments;
  const problems: string[] = [];
  const out: Arguments = {};
  for (const [key, field] of Object.entries(spec.required)) {
    if (args[key] === undefined) problems.push(`${key} is required`);
    else if (!fits(field, args[key])) problems.push(`${key} is invalid`);
    else out[key] = args[key];
  }
  for (const [key, field] of Object.entries(spec.optional ?? {})) {
    if (args[key] === undefined) continue;
    if (!fits(field, args[key])) problems.push(`${key} is invalid`);
    else out[key] = args[key];
  }
  if (problems.length > 0) throw new ToolError(`${tool}: ${problems.join('; ')}`);
  return out as T;
}

type Demo = OrdersDemo;
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
      result = demo.getOrder(argumentsFor<Parameters<Demo['getOrder']>[0]>(tool, event));
      break;
    case 'update_order':
      result = demo.updateOrder(argumentsFor<Parameters<Demo['updateOrder']>[0]>(tool, event));
      break;
    case 'get_recent_activity':
      result = demo.recentActivity(argumentsFor<Parameters<Demo['recentActivity']>[0]>(tool, event));
      break;
    default:
      throw new ToolError(`unknown tool ${tool}`);
  }
  if (result.isError) throw new ToolError(result.text);
  return result.text;
};
