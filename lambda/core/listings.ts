import { type InjectionConfig, reservedParameters } from './injection';
import { parseToolName } from './mcp-operation';

/**
 * Everything in a response that can tell a caller what exists — tool lists (`tools/list`, and tool definitions
 * a search tool returns inside a `tools/call` result), prompt lists, resource and resource-template lists, and
 * tool names quoted in a JSON-RPC error's `data` — found and filtered per caller, whatever request the
 * response answers. Pure: the caller decides which names are visible.
 */
export interface Listed {
  readonly tools: readonly string[];
  readonly prompts: readonly string[];
  readonly resources: readonly string[];
  readonly templates: readonly string[];
}

export interface Visible {
  readonly tools: ReadonlySet<string>;
  readonly prompts: ReadonlySet<string>;
  readonly resources: ReadonlySet<string>;
  readonly templates: ReadonlySet<string>;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function namesIn(list: unknown, key: 'name' | 'uri' | 'uriTemplate'): string[] {
  return Array.isArray(list)
    ? list.flatMap((entry) =>
        isRecord(entry) && typeof entry[key] === 'string' ? [entry[key] as string] : [],
      )
    : [];
}

/** Tool definitions a `tools/call` result carries (a search tool's answer): structured, or as JSON text. */
function embeddedToolLists(result: Json): { readonly lists: unknown[]; readonly unreadable: boolean } {
  // Stryker disable next-line ArrayDeclaration: namesIn reads only arrays of named records, so a stray entry adds no name
  const lists: unknown[] = [];
  let unreadable = false;
  if (isRecord(result.structuredContent) && Array.isArray(result.structuredContent.tools))
    lists.push(result.structuredContent.tools);
  if (Array.isArray(result.content)) {
    for (const item of result.content) {
      if (!isRecord(item) || item.type !== 'text' || typeof item.text !== 'string') continue;
      const text = item.text.trim();
      if (!text.startsWith('{') && !text.startsWith('[')) continue;
      try {
        const parsed: unknown = JSON.parse(text);
        const tools = isRecord(parsed) ? parsed.tools : Array.isArray(parsed) ? parsed : undefined;
        // Stryker disable next-line ConditionalExpression: namesIn reads only records with a string name, so pushing any other list adds no name; this only skips such lists
        if (Array.isArray(tools) && tools.some((tool) => isRecord(tool) && typeof tool.name === 'string'))
          lists.push(tools);
      } catch {
        unreadable = true;
      }
    }
  }
  return { lists, unreadable };
}

/** Strings in an error's `data` that name a tool (`target___tool`). Bounded walk: data comes from a target. */
function toolNamesInData(data: unknown): string[] {
  const found = new Set<string>();
  const pending: { value: unknown; depth: number }[] = [{ value: data, depth: 0 }];
  let visited = 0;
  while (pending.length > 0 && visited < 10_000) {
    const { value, depth } = pending.pop() as { value: unknown; depth: number };
    visited += 1;
    if (typeof value === 'string') {
      // Stryker disable next-line Regex: splitting on single characters only adds empty words, which hold no '___'
      for (const word of value.split(/[^A-Za-z0-9_.-]+/))
        if (word.includes('___') && parseToolName(word) !== undefined) found.add(word);
    } else if (value !== null && typeof value === 'object' && depth < 32) {
      for (const child of Array.isArray(value) ? value : [...Object.keys(value), ...Object.values(value)])
        pending.push({ value: child, depth: depth + 1 });
    }
  }
  return [...found];
}

/**
 * What a JSON-RPC response message lists. `searchResult` marks the answer to a `tools/call` of a tool that lists
 * tools (AgentCore's `x_amz_bedrock_agentcore_search`): its result is searched for tool definitions, and text
 * that looks like JSON but cannot be read is reported as `unreadable`. Other tools' results are their own data.
 */
export function listedIn(message: unknown, searchResult = false): Listed & { readonly unreadable: boolean } {
  const empty = { tools: [], prompts: [], resources: [], templates: [], unreadable: false };
  if (!isRecord(message)) return empty;
  if (isRecord(message.error)) return { ...empty, tools: toolNamesInData(message.error.data) };
  const result = message.result;
  if (!isRecord(result)) return empty;
  // Stryker disable next-line ArrayDeclaration: namesIn reads only arrays of named records, so a stray entry adds no name
  const embedded = searchResult ? embeddedToolLists(result) : { lists: [], unreadable: false };
  return {
    tools: [...namesIn(result.tools, 'name'), ...embedded.lists.flatMap((list) => namesIn(list, 'name'))],
    prompts: namesIn(result.prompts, 'name'),
    resources: namesIn(result.resources, 'uri'),
    templates: namesIn(result.resourceTemplates, 'uriTemplate'),
    unreadable: embedded.unreadable,
  };
}

/** A tool's input schema without the parameters the gateway injects: the model must not be asked for them. */
function withoutReserved(tool: Json, injection: InjectionConfig): Json {
  const schema = tool.inputSchema;
  if (!isRecord(schema) || typeof tool.name !== 'string') return tool;
  const reserved = reservedParameters(injection, tool.name);
  const cleaned: Json = { ...schema };
  if (isRecord(schema.properties))
    cleaned.properties = Object.fromEntries(
      Object.entries(schema.properties).filter(([name]) => !reserved.includes(name)),
    );
  if (Array.isArray(schema.required))
    cleaned.required = schema.required.filter((name) => typeof name !== 'string' || !reserved.includes(name));
  return { ...tool, inputSchema: cleaned };
}

function keep(list: unknown, key: 'name' | 'uri' | 'uriTemplate', visible: ReadonlySet<string>): unknown[] {
  // An entry without a readable name cannot be decided on, so it is not shown.
  return Array.isArray(list)
    ? list.filter(
        (entry) => isRecord(entry) && typeof entry[key] === 'string' && visible.has(entry[key] as string),
      )
    : // Stryker disable next-line ArrayDeclaration: every caller passes an array (checked before the call)
      [];
}

/**
 * The message with everything the caller may not see removed: list entries, search results, and an error's
 * `data` when it names a hidden tool. Filtered lists are marked `cacheScope: "private"` (MCP 2026-07-28).
 */
export function filterListings(
  message: Json,
  visible: Visible,
  injection: InjectionConfig,
  searchResult = false,
): Json {
  if (isRecord(message.error)) {
    const hidden = toolNamesInData(message.error.data).some((name) => !visible.tools.has(name));
    if (!hidden) return message;
    const { data: _dropped, ...error } = message.error;
    return { ...message, error };
  }
  const result = message.result;
  if (!isRecord(result)) return message;
  const filtered: Json = { ...result };
  let changed = false;
  const tools = (list: unknown) =>
    keep(list, 'name', visible.tools).map((tool) => withoutReserved(tool as Json, injection));
  if (Array.isArray(result.tools)) {
    filtered.tools = tools(result.tools);
    changed = true;
  }
  if (Array.isArray(result.prompts)) {
    filtered.prompts = keep(result.prompts, 'name', visible.prompts);
    changed = true;
  }
  if (Array.isArray(result.resources)) {
    filtered.resources = keep(result.resources, 'uri', visible.resources);
    changed = true;
  }
  if (Array.isArray(result.resourceTemplates)) {
    filtered.resourceTemplates = keep(result.resourceTemplates, 'uriTemplate', visible.templates);
    changed = true;
  }
  if (searchResult && isRecord(result.structuredContent) && Array.isArray(result.structuredContent.tools)) {
    filtered.structuredContent = {
      ...result.structuredContent,
      tools: tools(result.structuredContent.tools),
    };
  }
  if (searchResult && Array.isArray(result.content)) {
    filtered.content = result.content.map((item) => {
      if (!isRecord(item) || item.type !== 'text' || typeof item.text !== 'string') return item;
      const text = item.text.trim();
      // Stryker disable next-line StringLiteral: other text is either not JSON or JSON that is no list, left as it is below too; this only skips the parse
      if (!text.startsWith('{') && !text.startsWith('[')) return item;
      try {
        const parsed: unknown = JSON.parse(text);
        if (Array.isArray(parsed)) return { ...item, text: JSON.stringify(tools(parsed)) };
        if (isRecord(parsed) && Array.isArray(parsed.tools))
          return { ...item, text: JSON.stringify({ ...parsed, tools: tools(parsed.tools) }) };
      } catch {
        // Not JSON: left as it is (the caller refuses a search result it cannot read).
      }
      return item;
    });
  }
  if (changed && ('cacheScope' in result || 'ttlMs' in result)) filtered.cacheScope = 'private';
  return { ...message, result: filtered };
}
