import type { JsonRpcId } from './mcp-operation';

/** JSON-RPC bodies the gateway answers with itself. Text is fixed or a safe reason; never internals. */

export interface JsonRpcErrorBody {
  readonly jsonrpc: '2.0';
  readonly id: JsonRpcId | null;
  readonly error: { readonly code: number; readonly message: string };
}

export interface ToolErrorBody {
  readonly jsonrpc: '2.0';
  readonly id: JsonRpcId;
  readonly result: {
    readonly content: readonly { readonly type: 'text'; readonly text: string }[];
    readonly isError: true;
  };
}

/** Implementation-defined server error (JSON-RPC reserves -32000..-32099); used for access denials. */
export const ACCESS_DENIED_CODE = -32000;

export function jsonRpcError(id: JsonRpcId | null, code: number, message: string): JsonRpcErrorBody {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

/**
 * A denied `tools/call` answers as a tool result with `isError` (what AgentCore Policy returns), so the agent
 * can read the reason and relay it to the person instead of failing the whole turn.
 */
export function toolDenied(id: JsonRpcId, reason: string): ToolErrorBody {
  return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: reason }], isError: true } };
}
