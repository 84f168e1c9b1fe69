import { generateSchema } from '@cedar-policy/mcp-schema-generator-wasm';
import { cedar } from '../lambda/adapters/cedar-engine';
import { parseToolName } from '../lambda/core/mcp-operation';
import { TOOL_DIGEST_ANNOTATION, toolDigest } from '../lambda/core/tool-pins';
import { parseJsonText } from '../lambda/shared/json-syntax';
import { SchemaGenerationError } from './errors';

/**
 * `mcp-identity schema generate`: the Cedar schema from MCP tool descriptions, made by the Cedar team's MCP
 * schema generator from our stub, then completed with what the generator does not do for us:
 *  - each tool action joins the action groups `"target:<target>"` (created as needed) and `"tools/call"`;
 *  - the shared context every action gets (`agent`, `actors`, `token`) is added next to `input`;
 *  - `input` becomes optional, so the tools/list discovery request is valid on Verified Permissions;
 *  - enum-typed arguments, which the generator models as enum entity types, become plain `String`s so policies
 *    compare them with string literals (`context.input.status == "refunded"`);
 *  - parameters the gateway injects (`_caller_user`, `_caller_roles`, bindings) are left out of `input`: policy
 *    decides on what the client sent;
 *  - with pins on, each tool action carries `@mcp_tool_digest("sha256:…")`, the digest of the tool's definition
 *    (lambda/core/tool-pins.ts), which the guard checks listings and calls against.
 */

export interface McpTool {
  readonly name: string;
  readonly description?: string;
  readonly inputSchema: {
    readonly type?: string;
    readonly properties?: Record<string, unknown>;
    readonly required?: readonly string[];
  } & Record<string, unknown>;
  readonly outputSchema?: unknown;
  readonly annotations?: unknown;
  /** Whatever else the server sent (title, icons, execution, _meta): kept, not pinned. */
  readonly [field: string]: unknown;
}

export { SchemaGenerationError };

/** Tools from a `tools/list` result file: a JSON-RPC response, a `{ tools }` result, or a bare array. */
export function toolsFromJson(text: string, source = 'tools file'): McpTool[] {
  const json = parseJsonText(text);
  if (!json.ok) throw new SchemaGenerationError(`${source} is not JSON (${json.place})`);
  const parsed = json.value;
  const candidate = parsed as { result?: { tools?: unknown }; tools?: unknown };
  const tools = Array.isArray(parsed) ? parsed : (candidate.result?.tools ?? candidate.tools);
  if (!Array.isArray(tools))
    throw new SchemaGenerationError(
      `${source} has no tools: expected a tools/list result ({ "tools": [...] })`,
    );
  return tools.map((tool, index) => {
    const entry = tool as Partial<McpTool>;
    if (typeof entry.name !== 'string' || parseToolName(entry.name) === undefined) {
      throw new SchemaGenerationError(`${source}: tool #${index + 1} has no valid name`);
    }
    if (entry.inputSchema === null || typeof entry.inputSchema !== 'object')
      throw new SchemaGenerationError(`${source}: tool ${entry.name} has no inputSchema`);
    return entry as McpTool;
  });
}

function withoutParameters(tool: McpTool, injected: readonly string[]): McpTool {
  const properties = Object.fromEntries(
    Object.entries(tool.inputSchema.properties ?? {}).filter(([name]) => !injected.includes(name)),
  );
  const required = (tool.inputSchema.required ?? []).filter((name) => !injected.includes(name));
  return { ...tool, inputSchema: { ...tool.inputSchema, properties, required } };
}

type SchemaJson = cedar.SchemaJson<string>;
type Json = Record<string, unknown>;

function namespaceOf(json: SchemaJson): string {
  const names = Object.keys(json).filter(
    (name) => Object.keys(json[name]?.actions ?? {}).length > 0 || name.split('::').length === 1,
  );
  const root = names.find((name) => !name.includes('::'));
  if (root === undefined) throw new SchemaGenerationError('the stub must declare one namespace');
  return root;
}

/** Replaces references to enum entity types with String, recursively. */
function flattenEnums(type: unknown, enums: ReadonlySet<string>): unknown {
  if (Array.isArray(type)) return type.map((item) => flattenEnums(item, enums));
  if (type === null || typeof type !== 'object') return type;
  const node = type as Json;
  if (
    (node.type === 'Entity' || node.type === 'EntityOrCommon') &&
    typeof node.name === 'string' &&
    enums.has(node.name)
  ) {
    return { ...node, type: 'EntityOrCommon', name: 'String' };
  }
  return Object.fromEntries(
    Object.entries(node)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key, flattenEnums(value, enums)]),
  );
}

export interface GeneratedSchema {
  readonly text: string;
  readonly json: SchemaJson;
  readonly tools: readonly string[];
}

export interface GenerationOptions {
  /** Record each tool's definition digest on its action (`@mcp_tool_digest`). @default false */
  readonly pins?: boolean;
}

export function generateCedarSchema(
  stub: string,
  tools: readonly McpTool[],
  injected: readonly string[],
  options: GenerationOptions = {},
): GeneratedSchema {
  const prepared = tools.map((tool) => withoutParameters(tool, injected));
  const result = JSON.parse(
    generateSchema(
      stub,
      JSON.stringify(prepared),
      JSON.stringify({ objectsAsRecords: true, numbersAsDecimal: true }),
    ),
  ) as {
    isOk: boolean;
    error: string | null;
    schemaJson: string | null;
  };
  if (!result.isOk || result.schemaJson === null)
    throw new SchemaGenerationError(`the MCP schema generator refused the input: ${result.error}`);
  const generated = cedar.schemaToJson(JSON.parse(result.schemaJson) as SchemaJson);
  if (generated.type === 'failure')
    throw new SchemaGenerationError(
      `generated schema is invalid: ${generated.errors.map((error) => error.message).join('; ')}`,
    );
  const json = structuredClone(generated.json) as SchemaJson;
  const namespace = namespaceOf(json);
  const root = json[namespace] as cedar.NamespaceDefinition<string>;

  // Enum entity types live in per-tool namespaces (`Ns::tool::Input`): turn them into String.
  const enums = new Set<string>();
  for (const [name, definition] of Object.entries(json)) {
    for (const [entity, type] of Object.entries(definition.entityTypes ?? {}))
      if ('enum' in type) enums.add(`${name}::${entity}`);
  }
  if (enums.size > 0 && root.entityTypes) {
    root.entityTypes = Object.fromEntries(
      Object.entries(root.entityTypes).filter(([entity]) => !enums.has(`${namespace}::${entity}`)),
    );
  }
  for (const name of Object.keys(json))
    if (name !== namespace) json[name] = flattenEnums(json[name], enums) as cedar.NamespaceDefinition<string>;
  root.commonTypes = flattenEnums(root.commonTypes, enums) as typeof root.commonTypes;
  for (const name of Object.keys(json)) {
    const definition = json[name];
    if (name === namespace || definition === undefined) continue;
    definition.entityTypes = Object.fromEntries(
      Object.entries(definition.entityTypes ?? {}).filter(([entity]) => !enums.has(`${name}::${entity}`)),
    );
    if (
      Object.keys(definition.entityTypes).length === 0 &&
      Object.keys(definition.actions ?? {}).length === 0 &&
      Object.keys(definition.commonTypes ?? {}).length === 0
    ) {
      delete json[name];
    }
  }

  const stringType = { type: 'EntityOrCommon', name: 'String' };
  const sharedContext = {
    agent: { ...stringType, required: false },
    actors: { type: 'Set', element: stringType },
    token: { type: 'EntityOrCommon', name: 'Token' },
  };
  if (root.actions['tools/call'] === undefined) root.actions['tools/call'] = {};
  for (const tool of tools) {
    const name = parseToolName(tool.name);
    const action = root.actions[tool.name];
    if (name === undefined || action === undefined) continue;
    const group = name.target === undefined ? 'tools/call' : `target:${name.target}`;
    if (name.target !== undefined && root.actions[group] === undefined)
      root.actions[group] = { memberOf: [{ id: 'tools/call' }] };
    action.memberOf = [{ id: group }];
    const context = (action.appliesTo?.context ?? { type: 'Record', attributes: {} }) as {
      type: 'Record';
      attributes: Record<string, Json>;
    };
    const input = context.attributes.input;
    context.attributes = { ...(input ? { input: { ...input, required: false } } : {}), ...sharedContext };
    if (action.appliesTo) action.appliesTo.context = context as never;
    if (options.pins === true)
      (action as { annotations?: Record<string, string> }).annotations = {
        [TOOL_DIGEST_ANNOTATION]: toolDigest(tool, injected),
      };
  }

  // Cedar renders declarations in its own fixed order (whatever the JSON's): the same tools, the same text.
  return { text: renderSchema(json), json, tools: tools.map((tool) => tool.name) };
}

/** Cedar's text form of the schema, checked to parse back, with the generated-file header. */
function renderSchema(json: SchemaJson): string {
  const text = cedar.schemaToText(json);
  if (text.type === 'failure')
    throw new SchemaGenerationError(
      `cannot render the schema: ${text.errors.map((error) => error.message).join('; ')}`,
    );
  const check = cedar.checkParseSchema(text.text);
  if (check.type === 'failure')
    throw new SchemaGenerationError(
      `generated schema does not parse: ${check.errors.map((error) => error.message).join('; ')}`,
    );
  return `${GENERATED_HEADER}${text.text}`;
}

/** Whether a schema declaration (action, common type or namespace) belongs to the target's tools. */
function ofTarget(name: string, target: string): boolean {
  return name.startsWith(`${target}___`) || name === `target:${target}`;
}

/**
 * The committed schema with one target's tool actions (its `target___*` actions, their group and their
 * `context.input` types) replaced by those generated from the target's listed tools. Everything else — other
 * targets' actions, system tools, the stub's declarations — is kept as the committed schema has it.
 */
export function mergeTargetSchema(
  previousText: string,
  part: GeneratedSchema,
  target: string,
): GeneratedSchema {
  const parsed = cedar.schemaToJson(previousText);
  if (parsed.type === 'failure')
    throw new SchemaGenerationError(
      `the committed schema does not parse (${parsed.errors.map((error) => error.message).join('; ')}); fix it or generate it whole (without --target)`,
    );
  const merged = structuredClone(parsed.json) as SchemaJson;
  const root = namespaceOf(merged);
  const partRoot = namespaceOf(part.json);
  if (root !== partRoot)
    throw new SchemaGenerationError(
      `the stub's namespace ${partRoot} is not the committed schema's ${root}; generate it whole (without --target)`,
    );
  const prefix = `${root}::`;
  const perTool = (name: string) => name.startsWith(prefix) && ofTarget(name.slice(prefix.length), target);
  for (const name of Object.keys(merged)) if (perTool(name)) delete merged[name];
  const into = merged[root] as cedar.NamespaceDefinition<string>;
  const from = part.json[root] as cedar.NamespaceDefinition<string>;
  into.actions = Object.fromEntries(Object.entries(into.actions).filter(([name]) => !ofTarget(name, target)));
  into.commonTypes = Object.fromEntries(
    Object.entries(into.commonTypes ?? {}).filter(([name]) => !ofTarget(name, target)),
  );
  for (const [name, action] of Object.entries(from.actions))
    if (ofTarget(name, target)) into.actions[name] = action;
  for (const [name, type] of Object.entries(from.commonTypes ?? {}))
    if (ofTarget(name, target)) into.commonTypes[name] = type;
  if (into.actions['tools/call'] === undefined) into.actions['tools/call'] = {};
  for (const [name, definition] of Object.entries(part.json)) if (perTool(name)) merged[name] = definition;
  const tools = Object.keys(into.actions).filter((name) => parseToolName(name) !== undefined);
  return { text: renderSchema(merged), json: merged, tools };
}

/** A declared action as the diff compares it: its `context` with types inlined, and its pinned digest. */
export interface DeclaredAction {
  readonly context: string;
  readonly pin?: string;
}

/** Every action of a schema text, or undefined when it does not parse. */
export function declaredActions(text: string): Map<string, DeclaredAction> | undefined {
  const resolved = cedar.schemaToJsonWithResolvedTypes(text);
  if (resolved.type === 'failure') return undefined;
  const json = resolved.json as SchemaJson;
  return new Map(
    Object.values(json).flatMap((definition) =>
      Object.entries(definition.actions ?? {}).map(([name, action]) => {
        const pin = (action as { annotations?: Record<string, string> }).annotations?.[
          TOOL_DIGEST_ANNOTATION
        ];
        const context = JSON.stringify(inlineTypes(json, action.appliesTo?.context ?? null));
        return [name, pin === undefined ? { context } : { context, pin }] as const;
      }),
    ),
  );
}

/** Contexts refer to common types (`orders___get_orderInput`): inlined, so a changed argument shows. */
function inlineTypes(json: SchemaJson, type: unknown, depth = 0): unknown {
  if (depth > 32 || type === null || typeof type !== 'object') return type;
  if (Array.isArray(type)) return type.map((item) => inlineTypes(json, item, depth + 1));
  const node = type as Json;
  if (typeof node.type === 'string' && !['Record', 'Set', 'Entity', 'Extension'].includes(node.type)) {
    const name = node.type.split('::').pop() ?? '';
    const common = Object.values(json).find((definition) => definition.commonTypes?.[name] !== undefined)
      ?.commonTypes?.[name];
    if (common !== undefined)
      return inlineTypes(
        json,
        { ...(common as Json), ...(node.required === false ? { required: false } : {}) },
        depth + 1,
      );
  }
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [key, inlineTypes(json, value, depth + 1)]),
  );
}

export const GENERATED_HEADER =
  '// Generated by `npx mcp-identity schema generate` from the MCP tools and policies/schema-stub.cedarschema.\n' +
  '// Edit the stub (or the tools), not this file. Argument rules: guard with `context has input && …`.\n';

/** Human-readable changes between two schemas: actions added/removed, tool inputs changed. */
export function schemaChanges(before: string | undefined, after: string): string[] {
  const now = declaredActions(after);
  if (now === undefined) return ['the new schema does not parse'];
  if (before === undefined) return ['(new schema file)'];
  const was = declaredActions(before);
  if (was === undefined) return ['(the previous schema did not parse; replaced)'];
  const lines: string[] = [];
  for (const [name, action] of now) {
    if (!was.has(name)) lines.push(`+ action "${name}"`);
    else if (was.get(name)?.context !== action.context) lines.push(`~ action "${name}": context changed`);
  }
  for (const name of was.keys()) if (!now.has(name)) lines.push(`- action "${name}"`);
  return lines;
}
