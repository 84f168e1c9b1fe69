import { MAX_BODY_NESTING, nestsDeeperThan } from '../core/json-depth';
import type { JsonRpcId } from '../core/mcp-operation';

/** What the guard reads off a JSON-RPC message before (or without) parsing it as an MCP request. */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function paramsOf(message: unknown): unknown {
  return isRecord(message) ? message.params : undefined;
}

/** The method for audit and logs, bounded; `unknown` when there is none. */
export function methodIn(message: unknown): string {
  const method =
    message !== null && typeof message === 'object' ? (message as Record<string, unknown>).method : undefined;
  return typeof method === 'string' ? method.slice(0, 128) : 'unknown';
}

/** The JSON-RPC id an answer must carry, when the message has a usable one. */
export function idIn(message: unknown): JsonRpcId | null {
  const id =
    message !== null && typeof message === 'object' ? (message as Record<string, unknown>).id : undefined;
  return typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id)) ? id : null;
}

/**
 * The message as the rest of the pipeline may walk it: one nested deeper than any request needs is replaced by
 * its top-level scalar fields (so the id and method can still be answered and audited) before anything
 * recursive — digest, size, redaction, Cedar — sees it.
 */
export function boundedMessage(message: unknown): { readonly message: unknown; readonly tooDeep: boolean } {
  if (!nestsDeeperThan(message, MAX_BODY_NESTING)) return { message, tooDeep: false };
  if (!isRecord(message)) return { message: undefined, tooDeep: true };
  const shallow = Object.fromEntries(
    Object.entries(message).filter(([, value]) => value === null || typeof value !== 'object'),
  );
  return { message: shallow, tooDeep: true };
}
