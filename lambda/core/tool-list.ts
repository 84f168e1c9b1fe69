import type { InjectionConfig } from './injection';
import { filterListings } from './listings';

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

/**
 * A `tools/list` answer with only the tools the caller could call (see {@link filterListings}, which filters
 * every kind of listing): injected parameters stripped from their schemas, marked private when the server
 * speaks the cache-aware protocol (2026-07-28), and a malformed entry (no string name) dropped.
 */
export function filterToolList(
  body: Record<string, unknown>,
  callable: ReadonlySet<string>,
  injection: InjectionConfig,
): { readonly body: Record<string, unknown>; readonly shown: string[]; readonly hidden: string[] } {
  const names = listedToolNames(body) ?? [];
  const empty = new Set<string>();
  return {
    body: filterListings(
      body,
      { tools: callable, prompts: empty, resources: empty, templates: empty },
      injection,
    ),
    shown: names.filter((name) => callable.has(name)),
    hidden: names.filter((name) => !callable.has(name)),
  };
}
