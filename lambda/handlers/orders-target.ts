import type { Context } from 'aws-lambda';
import {
  type CallerParameters,
  DEFAULT_CALLER_PARAMETERS,
  injectedCaller,
  ORDER_STATUSES,
  OrdersDemo,
} from '../demo/orders';

/**
 * The demo orders tools as an AgentCore Gateway Lambda target (CONTRACTS §2): the event is the tool's
 * arguments (identity already injected by the interceptor), the tool name is in the client context as
 * `target___tool`. A refusal is thrown, so the gateway reports it as a tool error.
 *
 * The identity arrives under the names the stack configures (`injection.userParameter` / `rolesParameter`,
 * passed here as MCP_IDENTITY_INJECT_USER_PARAM / MCP_IDENTITY_INJECT_ROLES_PARAM, as to the interceptor).
 * Only those names are read: were the user parameter renamed, a client-sent `_caller_user` would not be
 * reserved by the interceptor, so it must not be trusted here either. The injected parameters are not
 * `required` in the schema the gateway sees, so this checks for them first and refuses without them.
 */

type Arguments = Record<string, unknown>;
type Field = 'string' | 'status' | 'amount';

/**
 * The client's tool arguments checked by hand rather than with zod: the demo target is a Lambda bundle too,
 * and zod would be most of it (status from the list, amount a whole number ≥ 0).
 */
const TOOL_ARGUMENTS: Record<string, { required: Record<string, Field>; optional?: Record<string, Field> }> =
  {
    get_order: { required: { order_id: 'string' } },
    update_order: {
      required: { order_id: 'string', status: 'status' },
      optional: { amount: 'amount' },
    },
    get_recent_activity: { required: {} },
  };

function fits(field: Field, value: unknown): boolean {
  switch (field) {
    case 'string':
      return typeof value === 'string';
    case 'status':
      return (ORDER_STATUSES as readonly unknown[]).includes(value);
    case 'amount':
      return Number.isInteger(value) && (value as number) >= 0;
  }
}

export class ToolError extends Error {}

/** The client's arguments for a tool, or a {@link ToolError} naming each bad or missing one. */
function argumentsFor(tool: string, args: Arguments): Arguments {
  const spec = TOOL_ARGUMENTS[tool];
  if (spec === undefined) throw new ToolError(`unknown tool ${tool}`);
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
  return out;
}

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

/** The injected-parameter names from the environment the stack sets (defaults as the stack's). */
export function callerParametersFromEnv(env: NodeJS.ProcessEnv): CallerParameters {
  const user = env.MCP_IDENTITY_INJECT_USER_PARAM?.trim() || DEFAULT_CALLER_PARAMETERS.user;
  const roles = env.MCP_IDENTITY_INJECT_ROLES_PARAM?.trim() || DEFAULT_CALLER_PARAMETERS.roles;
  return Object.freeze({ user, roles });
}

export interface OrdersTargetDeps {
  readonly demo: OrdersDemo;
  readonly callerParameters: CallerParameters;
}

/** The Lambda handler over its dependencies (tests build their own; the module builds one from the env). */
export function createHandler(deps: OrdersTargetDeps) {
  return async (event: unknown, context: Pick<Context, 'clientContext'>): Promise<string> => {
    const tool = toolNameOf(context);
    if (TOOL_ARGUMENTS[tool] === undefined) throw new ToolError(`unknown tool ${tool}`);
    if (event === null || typeof event !== 'object' || Array.isArray(event))
      throw new ToolError(`${tool}: arguments must be an object`);
    // Identity first: without it the call did not come through the gateway, whatever its arguments.
    const caller = injectedCaller(event as Arguments, deps.callerParameters);
    if (!caller.ok) throw new ToolError(`${tool}: ${caller.reason}`);
    const args = argumentsFor(tool, event as Arguments);
    const identity = { _caller_user: caller.user, _caller_roles: caller.roles };
    let result: { text: string; isError: boolean };
    switch (tool) {
      case 'get_order':
        result = deps.demo.getOrder({ ...(args as { order_id: string }), ...identity });
        break;
      case 'update_order':
        result = deps.demo.updateOrder({
          ...(args as { order_id: string; status: (typeof ORDER_STATUSES)[number]; amount?: number }),
          ...identity,
        });
        break;
      case 'get_recent_activity':
        result = deps.demo.recentActivity(identity);
        break;
      default:
        throw new ToolError(`unknown tool ${tool}`);
    }
    if (result.isError) throw new ToolError(result.text);
    return result.text;
  };
}

export const handler = createHandler({
  demo: new OrdersDemo(),
  callerParameters: callerParametersFromEnv(process.env),
});
