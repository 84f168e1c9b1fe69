import { readFileSync } from 'node:fs';
import { ConfigurationError } from '../core/errors';
import { parseToolName } from '../core/mcp-operation';
import { isToolDigest, TOOL_DIGEST_ANNOTATION } from '../core/tool-pins';
import { parseJsonText } from '../shared/json-syntax';

/**
 * Where pinned tool digests live: on the tools' actions in the Cedar schema (`@mcp_tool_digest("sha256:…")`,
 * written by `mcp-identity schema generate`), and, for the Lambda, in a small JSON file made from the schema at
 * synth time (`tool-pins.json` in the code asset: the Lambda does not bundle Cedar to read the schema).
 * Both forms are read here into one map, tool name → digest. A malformed pin fails the load (cold start or
 * local stack start), never a request.
 */

/** The file in the Lambda's code asset. */
export const TOOL_PINS_FILE = 'tool-pins.json';

export type ToolPinMap = ReadonlyMap<string, string>;

function checkedPin(tool: string, digest: unknown, where: string): [string, string] {
  if (parseToolName(tool) === undefined)
    throw new ConfigurationError(`${where}: '${tool}' carries a tool digest but is not a tool name`);
  if (!isToolDigest(digest))
    throw new ConfigurationError(
      `${where}: the digest of '${tool}' must be "sha256:" and 64 lowercase hex digits`,
    );
  return [tool, digest];
}

/** The pins on the actions of a schema in Cedar's JSON form (annotations kept, as cedar-wasm returns them). */
export function pinsFromSchemaJson(json: unknown, where = 'schema'): ToolPinMap {
  const pins = new Map<string, string>();
  const namespaces = json !== null && typeof json === 'object' ? Object.values(json) : [];
  for (const namespace of namespaces) {
    const actions = (namespace as { actions?: Record<string, { annotations?: Record<string, unknown> }> })
      .actions;
    for (const [name, action] of Object.entries(actions ?? {})) {
      const annotations = action.annotations ?? {};
      if (!Object.hasOwn(annotations, TOOL_DIGEST_ANNOTATION)) continue;
      const [tool, digest] = checkedPin(name, annotations[TOOL_DIGEST_ANNOTATION], where);
      pins.set(tool, digest);
    }
  }
  return pins;
}

/** The JSON file form: `{ "<tool>": "sha256:…" }`, keys sorted so a synth is reproducible. */
export function toolPinsFileContent(pins: ToolPinMap): string {
  return JSON.stringify(Object.fromEntries([...pins].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** Reads {@link TOOL_PINS_FILE}. Throws {@link ConfigurationError} naming the file when it is not valid. */
export function readToolPinsFile(path: string): ToolPinMap {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`cannot read the tool pins ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const json = parseJsonText(text);
  if (!json.ok)
    throw new ConfigurationError(`cannot read the tool pins ${path}: not valid JSON (${json.place})`);
  const parsed = json.value;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigurationError(`${path} must hold an object of tool name → "sha256:…" digest`);
  return new Map(Object.entries(parsed).map(([tool, digest]) => checkedPin(tool, digest, path)));
}
