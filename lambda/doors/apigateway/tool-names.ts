/**
 * Tool names as the door exposes them. With a target name, the upstream's tools are offered as
 * `${target}___${tool}` — as AgentCore Gateway names a target's tools (CONTRACTS §8) — so one set of policies,
 * one schema and one audit vocabulary serve both doors. Requests lose the prefix on their way upstream, listings
 * gain it on their way back (before the guard filters them, so it filters the names clients see). Pure.
 */
import { decodeResponseMessages, encodeResponseMessages } from '../../core/response-messages';
import { isRecord } from './headers';

const SEPARATOR = '___';

export type Upstreamed =
  | { readonly ok: true; readonly message: unknown; readonly mcpName?: string }
  | { readonly ok: false };

/**
 * The forwarded message as the upstream knows it: a `tools/call` name without the target prefix, and the
 * `Mcp-Name` value that mirrors it (MCP 2026-07-28 servers compare the header with the body). Not ok when the
 * call names a tool that does not carry this target's prefix: no such tool exists here.
 */
export function toUpstream(message: unknown, target: string | undefined): Upstreamed {
  if (target === undefined || !isRecord(message) || message.method !== 'tools/call')
    return { ok: true, message };
  const params = isRecord(message.params) ? message.params : undefined;
  const name = params?.name;
  const prefix = `${target}${SEPARATOR}`;
  if (typeof name !== 'string' || !name.startsWith(prefix) || name.length === prefix.length)
    return { ok: false };
  const tool = name.slice(prefix.length);
  return { ok: true, message: { ...message, params: { ...params, name: tool } }, mcpName: tool };
}

function prefixed(message: unknown, prefix: string): unknown {
  if (!isRecord(message) || !isRecord(message.result) || !Array.isArray(message.result.tools)) return message;
  const tools = message.result.tools.map((tool) =>
    isRecord(tool) && typeof tool.name === 'string' ? { ...tool, name: `${prefix}${tool.name}` } : tool,
  );
  return { ...message, result: { ...message.result, tools } };
}

/**
 * A response body (JSON text, or SSE text) with every listed tool named as clients see it. Bodies that list no
 * tools, or cannot be read, come back unchanged (the guard then decides what to do with them).
 */
export function fromUpstream(body: string, target: string | undefined): string {
  if (target === undefined) return body;
  const decoded = decodeResponseMessages(body);
  if (decoded.form === 'unreadable') return body;
  const prefix = `${target}${SEPARATOR}`;
  const lists = (message: unknown) =>
    isRecord(message) && isRecord(message.result) && Array.isArray(message.result.tools);
  const messages =
    decoded.form === 'sse'
      ? decoded.events.flatMap((event) => ('message' in event ? [event.message] : []))
      : decoded.messages;
  if (!messages.some(lists)) return body;
  return String(encodeResponseMessages(decoded, (message) => prefixed(message, prefix), body));
}
