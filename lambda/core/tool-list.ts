import { type InjectionConfig, reservedParameters } from './injection';

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The tool names in a `tools/list` JSON-RPC response, or undefined when the body is not one. */
export function listedToolNames(body: unknown): string[] | undefined {
  if (!isRecord(body) || !isRecord(body.result) || !Array.isArray(body.result.tools)) return undefined;
  return body.result.tools.flatMap((tool) =>
    isRecord(tool) && typeof tool.name === 'string' ? [tool.name] : [],
  );
}

/** A tool's input schema without the parameters the gateway injects: the model must not be asked for them. */
function withoutReserved(
  tool: Record<string, unknown>,
  reserved: readonly string[],
): Record<string, unknown> {
  const schema = tool.inputSchema;
  if (!isRecord(schema)) return tool;
  const properties = isRecord(schema.properties)
    ? Object.fromEntries(Object.entries(schema.properties).filter(([name]) => !reserved.includes(name)))
    : schema.properties;
  const required = Array.isArray(schema.required)
    ? schema.required.filter((name) => typeof name !== 'string' || !reserved.includes(name))
    : schema.required;
  const cleaned: Record<string, unknown> = { ...schema };
  if (properties !== undefined) cleaned.properties = properties;
  if (required !== undefined) cleaned.required = required;
  return { ...tool, inputSchema: cleaned };
}

/**
 * Keeps only the tools the caller could call, strips injected parameters from their schemas, and marks the
 * result private when the server speaks the cache-aware protocol (2026-07-28: per-user lists are `private`).
 * A malformed entry (no string name) is dropped: we cannot decide on what we cannot name.
 */
export function filterToolList(
  body: Record<string, unknown>,
  callable: ReadonlySet<string>,
  injection: InjectionConfig,
): { readonly body: Record<string, unknown>; readonly shown: string[]; readonly hidden: string[] } {
  const result = body.result as Record<string, unknown>;
  const tools = result.tools as unknown[];
  const shown: string[] = [];
  const hidden: string[] = [];
  const kept: Record<string, unknown>[] = [];
  for (const tool of tools) {
    if (!isRecord(tool) || typeof tool.name !== 'string') continue;
    if (callable.has(tool.name)) {
      shown.push(tool.name);
      kept.push(withoutReserved(tool, reservedParameters(injection, tool.name)));
    } else {
      hidden.push(tool.name);
    }
  }
  const filtered: Record<string, unknown> = { ...result, tools: kept };
  if ('cacheScope' in result || 'ttlMs' in result) filtered.cacheScope = 'private';
  return { body: { ...body, result: filtered }, shown, hidden };
}
