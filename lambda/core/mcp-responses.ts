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
    readonly resultType?: 'complete';
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
export function toolDenied(id: JsonRpcId, reason: string, stateless = false): ToolErrorBody {
  return {
    jsonrpc: '2.0',
    id,
    result: {
      content: [{ type: 'text', text: reason }],
      isError: true,
      // MCP 2026-07-28: every result says whether it is complete; clients of that version refuse one that does not.
      ...(stateless ? { resultType: 'complete' as const } : {}),
    },
  };
}

/** Whether a request's params announce MCP 2026-07-28 or later (`_meta["io.modelcontextprotocol/protocolVersion"]`). */
export function speaksStatelessMcp(params: Readonly<Record<string, unknown>> | undefined): boolean {
  const meta = params?._meta;
  const version =
    meta !== null && typeof meta === 'object' && !Array.isArray(meta)
      ? (meta as Record<string, unknown>)['io.modelcontextprotocol/protocolVersion']
      : undefined;
  return typeof version === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= '2026-07-28';
}
