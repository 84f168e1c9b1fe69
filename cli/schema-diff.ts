import { parseToolName } from '../lambda/core/mcp-operation';
import type { DeclaredAction } from './schema';

/**
 * What regenerating the schema changes, tool by tool: tools that appeared or disappeared, and tools whose
 * pinned definition or Cedar input changed. `schema generate` prints it (a table, or JSON) and `--check` fails
 * on it.
 */

export type ChangeKind = 'added' | 'removed' | 'changed';

export interface ToolChange {
  readonly change: ChangeKind;
  readonly tool: string;
  readonly detail: string;
  /** The digest the committed schema pinned, and the one the tool has now (when either exists). */
  readonly pinned?: string;
  readonly listed?: string;
}

const ORDER: Readonly<Record<ChangeKind, number>> = { added: 0, changed: 1, removed: 2 };

/** Tool actions only: action groups (`target:x`, `tools/call`) and prompts/resources are not tools. */
function tools(actions: ReadonlyMap<string, DeclaredAction>, inScope: (tool: string) => boolean) {
  return new Map([...actions].filter(([name]) => parseToolName(name) !== undefined && inScope(name)));
}

function pins(before?: string, after?: string): { pinned?: string; listed?: string } {
  return {
    ...(before === undefined ? {} : { pinned: before }),
    ...(after === undefined ? {} : { listed: after }),
  };
}

/** Changes from the committed schema's actions (`undefined`: no schema yet) to the regenerated ones. */
export function toolChanges(
  before: ReadonlyMap<string, DeclaredAction> | undefined,
  after: ReadonlyMap<string, DeclaredAction>,
  inScope: (tool: string) => boolean = () => true,
): ToolChange[] {
  const was = tools(before ?? new Map(), inScope);
  const now = tools(after, inScope);
  const changes: ToolChange[] = [];
  for (const [tool, action] of now) {
    const previous = was.get(tool);
    if (previous === undefined) {
      changes.push({
        change: 'added',
        tool,
        detail: `new tool${action.pin === undefined ? '' : ', pinned'}: no policy names it yet`,
        ...pins(undefined, action.pin),
      });
      continue;
    }
    const details: string[] = [];
    if (previous.pin !== undefined && action.pin !== undefined && previous.pin !== action.pin)
      details.push('definition changed since it was pinned (description, schemas or annotations)');
    else if (previous.pin === undefined && action.pin !== undefined) details.push('now pinned');
    else if (previous.pin !== undefined && action.pin === undefined) details.push('pin removed');
    if (previous.context !== action.context) details.push('Cedar input types changed');
    if (details.length > 0)
      changes.push({
        change: 'changed',
        tool,
        detail: details.join('; '),
        ...pins(previous.pin, action.pin),
      });
  }
  for (const [tool, action] of was)
    if (!now.has(tool))
      changes.push({
        change: 'removed',
        tool,
        detail: 'no longer listed: its action is removed (policies naming it stop validating)',
        ...pins(action.pin, undefined),
      });
  return changes.sort((a, b) => ORDER[a.change] - ORDER[b.change] || (a.tool < b.tool ? -1 : 1));
}

/**
 * Changes to the actions that are not tools (prompts, resources, schema reading, action groups), which come
 * from the stub: `+ action "x"`, `- action "x"`, `~ action "x": context changed`.
 */
export function otherActionChanges(
  before: ReadonlyMap<string, DeclaredAction> | undefined,
  after: ReadonlyMap<string, DeclaredAction>,
): string[] {
  const others = (actions: ReadonlyMap<string, DeclaredAction>) =>
    new Map([...actions].filter(([name]) => parseToolName(name) === undefined));
  const was = others(before ?? new Map());
  const now = others(after);
  const lines: string[] = [];
  for (const [name, action] of now) {
    const previous = was.get(name);
    if (previous === undefined) lines.push(`+ action "${name}"`);
    else if (previous.context !== action.context) lines.push(`~ action "${name}": context changed`);
  }
  for (const name of was.keys()) if (!now.has(name)) lines.push(`- action "${name}"`);
  return lines;
}

/** A plain table: CHANGE, TOOL, DETAIL (details are never cut). */
export function changeTable(changes: readonly ToolChange[]): string {
  const width = (values: string[]) => Math.max(...values.map((value) => value.length));
  const changeWidth = width(['CHANGE', ...changes.map((change) => change.change)]);
  const toolWidth = width(['TOOL', ...changes.map((change) => change.tool)]);
  const line = (change: string, tool: string, detail: string) =>
    `${change.padEnd(changeWidth)}  ${tool.padEnd(toolWidth)}  ${detail}`;
  return [
    line('CHANGE', 'TOOL', 'DETAIL'),
    ...changes.map((change) => line(change.change, change.tool, change.detail)),
  ].join('\n');
}
