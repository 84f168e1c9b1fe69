import { createHash } from 'node:crypto';
import { parseToolName } from './mcp-operation';
import { regenerateCommand } from './schema-remedy';

/**
 * Pinned tool definitions ("rug pull" protection). `mcp-identity schema generate` records a digest of each
 * tool's definition on its action in the Cedar schema (`@mcp_tool_digest("sha256:…")`); at run time a listed
 * tool whose definition no longer matches its pin is hidden and refused until an operator regenerates the
 * schema and accepts the change. The CLI and the guard use this one module, so both compute the same digest.
 *
 * Pins are opt-in per target: a target is pinned when at least one of its tools has a digest in the schema
 * (system tools, which have no target, count as one group). In a pinned target a tool without a pin is
 * refused like a changed one: it appeared after the definitions were reviewed. Tools of unpinned targets are
 * left alone here (policy still decides them).
 */

/** The schema annotation on a tool's action that holds its pinned digest. */
export const TOOL_DIGEST_ANNOTATION = 'mcp_tool_digest';

/** The parts of an MCP tool definition a pin covers: what the model reads and what the target promises. */
export const PINNED_FIELDS = ['name', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const MAX_DEPTH = 64;

/** A tool definition that cannot be digested (not an object, no name, nested too deeply, not JSON). */
export class ToolDefinitionError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units, as `Array.prototype.sort` does), no whitespace,
 * values as `JSON.stringify` writes them; `undefined` members left out, as JSON does. For the JSON a
 * `tools/list` carries this is the JSON Canonicalization Scheme (RFC 8785).
 */
export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_DEPTH) throw new ToolDefinitionError(`nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value))
    return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item, depth + 1))).join(',')}]`;
  if (isRecord(value)) {
    const members = Object.keys(value)
      .sort()
      .filter((key) => value[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key], depth + 1)}`);
    return `{${members.join(',')}}`;
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number')
    return JSON.stringify(value);
  throw new ToolDefinitionError(`a ${typeof value} is not JSON`);
}

/**
 * The pinned part of a tool definition: {@link PINNED_FIELDS}, with the parameters the gateway injects removed
 * from the input schema (properties and `required`), as the gateway removes them from the listing the model
 * sees. A definition read before or after that filtering therefore has the same digest.
 */
export function pinnedDefinition(tool: unknown, reserved: readonly string[]): Record<string, unknown> {
  if (!isRecord(tool) || typeof tool.name !== 'string')
    throw new ToolDefinitionError('a tool definition must be an object with a name');
  const definition: Record<string, unknown> = {};
  for (const field of PINNED_FIELDS) if (tool[field] !== undefined) definition[field] = tool[field];
  const schema = definition.inputSchema;
  if (isRecord(schema)) {
    const cleaned: Record<string, unknown> = { ...schema };
    if (isRecord(schema.properties))
      cleaned.properties = Object.fromEntries(
        Object.entries(schema.properties).filter(([name]) => !reserved.includes(name)),
      );
    if (Array.isArray(schema.required))
      cleaned.required = schema.required.filter(
        (name) => typeof name !== 'string' || !reserved.includes(name),
      );
    definition.inputSchema = cleaned;
  }
  return definition;
}

/** `sha256:<hex>` over the canonical JSON of the tool's pinned definition. */
export function toolDigest(tool: unknown, reserved: readonly string[]): string {
  const canonical = canonicalJson(pinnedDefinition(tool, reserved));
  return `sha256:${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
}

export function isToolDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

/** The pin group of a tool: its target, or `''` for system tools. */
function groupOf(name: string): string {
  // Stryker disable next-line StringLiteral: any name no target can have serves as the system tools' group
  return parseToolName(name)?.target ?? '';
}

export type PinVerdict =
  | { readonly kind: 'ok' }
  | {
      readonly kind: 'drifted';
      readonly tool: string;
      /** `changed`: differs from its pin; `unpinned`: no pin in a pinned target; `unreadable`: cannot be
       * digested. */
      readonly change: 'changed' | 'unpinned' | 'unreadable';
      /** For the caller and the audit: names the tool and the command that fixes it. */
      readonly reason: string;
      readonly pinned?: string;
      readonly listed?: string;
    };

const OK: PinVerdict = Object.freeze({ kind: 'ok' });

function remedy(tool: string): string {
  return `An operator reviews it with \`${regenerateCommand(tool)}\`, then checks the policies and deploys.`;
}

function changed(tool: string, pinned: string, listed?: string): PinVerdict {
  return {
    kind: 'drifted',
    tool,
    change: listed === undefined ? 'unreadable' : 'changed',
    reason:
      listed === undefined
        ? `Refused: the tool '${tool}' is pinned, and its listed definition cannot be read to check it. ${remedy(tool)}`
        : `Refused: the definition of the tool '${tool}' changed since it was reviewed (its description, schemas or annotations no longer match its pin). ${remedy(tool)}`,
    pinned,
    ...(listed === undefined ? {} : { listed }),
  };
}

function unpinned(tool: string): PinVerdict {
  const target = parseToolName(tool)?.target;
  return {
    kind: 'drifted',
    tool,
    change: 'unpinned',
    reason: `Refused: the tool '${tool}' has no pinned definition, and ${target === undefined ? 'system tools are' : `the target '${target}' is`} pinned. ${remedy(tool)}`,
  };
}

/**
 * The pins loaded with the policies, and what this process has seen drift. A call carries no definition, so
 * a call is refused on what the listings this process saw said: a deployed instance that has not seen the
 * drifted listing cannot refuse the call by itself (the tool is still hidden from every listing it filters).
 */
export class ToolPins {
  private readonly pinnedGroups: ReadonlySet<string>;
  /** Pinned tool → digest last listed that did not match. Keys are pinned names only, so it is bounded. */
  private readonly drifted = new Map<string, string | undefined>();

  /**
   * @param pins tool name → `sha256:…` digest (from the schema's `@mcp_tool_digest` annotations)
   * @param reserved the parameters the gateway injects into a tool (left out of its digest)
   */
  constructor(
    private readonly pins: ReadonlyMap<string, string>,
    private readonly reserved: (tool: string) => readonly string[],
  ) {
    this.pinnedGroups = new Set([...pins.keys()].map(groupOf));
  }

  /** Whether the tool's target (or the system tools' group) has pins. */
  isPinned(tool: string): boolean {
    return this.pinnedGroups.has(groupOf(tool));
  }

  /**
   * A tool definition as a listing shows it: ok when its target is unpinned or it matches its pin; otherwise
   * drifted (hide it), and remembered so calls to it are refused until a listing matches the pin again.
   */
  checkListed(tool: unknown): PinVerdict {
    const name = isRecord(tool) && typeof tool.name === 'string' ? tool.name : undefined;
    if (name === undefined || parseToolName(name) === undefined)
      return {
        kind: 'drifted',
        tool: '',
        change: 'unreadable',
        reason: 'Refused: a listed tool has no valid name.',
      };
    if (!this.isPinned(name)) return OK;
    const pinned = this.pins.get(name);
    if (pinned === undefined) return unpinned(name);
    let listed: string | undefined;
    try {
      listed = toolDigest(tool, this.reserved(name));
    } catch {
      listed = undefined;
    }
    if (listed === pinned) {
      this.drifted.delete(name);
      return OK;
    }
    this.drifted.set(name, listed);
    return changed(name, pinned, listed);
  }

  /**
   * Every tool definition in the `tools/list` results among a response's JSON-RPC messages, checked: the names
   * to hide from this listing, and why. Only `tools/list` results are read: a search tool's result quotes
   * definitions in its own form, which must not count as a drift (its entries are hidden by name anyway).
   */
  checkListing(messages: readonly unknown[]): {
    readonly hidden: ReadonlySet<string>;
    readonly drifted: readonly Extract<PinVerdict, { kind: 'drifted' }>[];
  } {
    const hidden = new Set<string>();
    const drifted: Extract<PinVerdict, { kind: 'drifted' }>[] = [];
    for (const message of messages) {
      const result = isRecord(message) ? message.result : undefined;
      if (!isRecord(result) || !Array.isArray(result.tools)) continue;
      for (const tool of result.tools) {
        const verdict = this.checkListed(tool);
        if (verdict.kind === 'ok') continue;
        drifted.push(verdict);
        if (verdict.tool !== '') hidden.add(verdict.tool);
      }
    }
    return { hidden, drifted };
  }

  /** A `tools/call` of this tool: refused when its target is pinned and it has no pin, or it was seen drifted. */
  checkCall(name: string): PinVerdict {
    if (!this.isPinned(name)) return OK;
    const pinned = this.pins.get(name);
    if (pinned === undefined) return unpinned(name);
    if (!this.drifted.has(name)) return OK;
    return changed(name, pinned, this.drifted.get(name));
  }

  /**
   * The same register over reloaded pins: a drift seen against a pin that did not change is still a drift; a
   * tool whose pin changed (the operator accepted a new definition) starts clean.
   */
  withPins(pins: ReadonlyMap<string, string>): ToolPins {
    const next = new ToolPins(pins, this.reserved);
    for (const [name, listed] of this.drifted)
      if (pins.get(name) === this.pins.get(name)) next.drifted.set(name, listed);
    return next;
  }
}
