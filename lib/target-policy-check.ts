import { join } from 'node:path';
import type { PolicyFile } from '../lambda/adapters/policy-files';
import { TOOL_SEPARATOR } from './target-config';

/**
 * Do the policies and the declared targets agree? Checked at synth (no aws-cdk-lib import here, so the CLI can
 * run it too): a policy that names a tool (`Action::"name___tool"`) or the tool group (`Action::"target:name"`)
 * of no declared target is a mistake that would otherwise deploy silently (a renamed or removed target, a typo)
 * and fails synth; a target that no permit policy can reach is denied for everyone: legal, but worth a warning.
 */

type EntityRef = { readonly type: string; readonly id: string };
type ActionParents = ReadonlyMap<string, readonly EntityRef[]>;

const isActionType = (type: string) => type === 'Action' || type.endsWith('::Action');
const key = (ref: EntityRef) => `${ref.type}::${JSON.stringify(ref.id)}`;

/** Every action entity a policy names, in its scope or its conditions (Cedar's JSON policy format). */
export function actionsNamed(policy: PolicyFile): EntityRef[] {
  if (policy.json === undefined) {
    // Not parsed (cannot happen for a validated bundle): read the text, so the check errs on the side of finding.
    return [...policy.text.matchAll(/((?:[A-Za-z_][A-Za-z0-9_]*::)*Action)::"((?:[^"\\]|\\.)*)"/g)].map(
      (match) => ({ type: match[1] as string, id: JSON.parse(`"${match[2]}"`) as string }),
    );
  }
  const found: EntityRef[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    if (typeof record.type === 'string' && typeof record.id === 'string' && isActionType(record.type))
      found.push({ type: record.type, id: record.id });
    for (const item of Object.values(record)) walk(item);
  };
  walk(policy.json);
  return found;
}

/** The target prefix of a tool name (`crm___find` → `crm`); undefined for unprefixed names (groups, system tools). */
export function toolPrefix(id: string): string | undefined {
  const at = id.indexOf(TOOL_SEPARATOR);
  return at > 0 ? id.slice(0, at) : undefined;
}

/** `schema generate` puts each target's tools in the group `target:<name>`. */
const TARGET_GROUP = 'target:';

/** The target an action names: its tool prefix, or the target of a `target:<name>` group. */
function namedTarget(id: string): string | undefined {
  if (id.startsWith(TARGET_GROUP) && id.length > TARGET_GROUP.length) return id.slice(TARGET_GROUP.length);
  return toolPrefix(id);
}

export interface UnknownTargetFinding {
  /** Path of the policy file, as the operator knows it (policy folder + file). */
  readonly file: string;
  readonly policyId: string;
  /** The action named: a tool (`target___tool`) or a target's group (`target:<name>`). */
  readonly tool: string;
  readonly target: string;
}

export interface TargetPolicyFindings {
  /** Policies naming a tool whose prefix is no declared target: synth fails. */
  readonly unknownTargets: readonly UnknownTargetFinding[];
  /** Declared targets no permit policy can reach: synth warns. */
  readonly targetsWithoutPolicy: readonly string[];
}

/** Every ancestor group (transitively) of an action, by {@link key}. */
function ancestors(action: string, parents: ActionParents): Set<string> {
  const seen = new Set<string>();
  const queue = [...(parents.get(action) ?? [])];
  while (queue.length > 0) {
    const next = queue.pop() as EntityRef;
    const id = key(next);
    if (seen.has(id)) continue;
    seen.add(id);
    queue.push(...(parents.get(id) ?? []));
  }
  return seen;
}

/**
 * Checks `policies` against the declared target names. A target counts as reached by a permit that leaves the
 * action unconstrained, names one of its tools, or names an action group one of its tools (per the schema)
 * belongs to.
 */
export function checkTargetPolicies(
  policies: readonly PolicyFile[],
  targets: readonly string[],
  actionParents: ActionParents,
  policyDir: string,
): TargetPolicyFindings {
  const declared = new Set(targets);
  const unknownTargets: UnknownTargetFinding[] = [];
  const reached = new Set<string>();
  // Group → the targets whose tools are in it, from the schema's action hierarchy.
  const groupTargets = new Map<string, Set<string>>();
  for (const action of actionParents.keys()) {
    const id = JSON.parse(action.slice(action.lastIndexOf('::') + 2)) as string;
    const prefix = toolPrefix(id);
    if (prefix === undefined) continue;
    for (const group of ancestors(action, actionParents)) {
      const set = groupTargets.get(group) ?? new Set<string>();
      set.add(prefix);
      groupTargets.set(group, set);
    }
  }

  for (const policy of policies) {
    const permit = (policy.scope?.effect ?? policy.json?.effect) === 'permit';
    if (permit && policy.scope?.action.op === 'All') for (const target of declared) reached.add(target);
    const seen = new Set<string>();
    for (const action of actionsNamed(policy)) {
      const prefix = namedTarget(action.id);
      if (prefix !== undefined && !declared.has(prefix) && !seen.has(action.id)) {
        seen.add(action.id);
        unknownTargets.push({
          file: join(policyDir, policy.file),
          policyId: policy.id,
          tool: action.id,
          target: prefix,
        });
      }
      if (!permit) continue;
      if (prefix !== undefined) reached.add(prefix);
      for (const target of groupTargets.get(key(action)) ?? []) reached.add(target);
    }
  }
  return {
    unknownTargets,
    targetsWithoutPolicy: targets.filter((target) => !reached.has(target)),
  };
}

/** Lines of the synth error before it summarises the rest (a policy set can name a missing target 1,000 times). */
const SHOWN_FINDINGS = 20;

/** The synth error for {@link TargetPolicyFindings.unknownTargets}: one line per policy and tool, then a count. */
export function unknownTargetMessage(
  findings: readonly UnknownTargetFinding[],
  targets: readonly string[],
): string {
  const declared = targets.length === 0 ? 'none' : targets.join(', ');
  const missing = [...new Set(findings.map((finding) => finding.target))].sort().join(', ');
  const lines = findings
    .slice(0, SHOWN_FINDINGS)
    .map(
      (finding) =>
        `  - ${finding.file} [${finding.policyId}] names ${finding.tool.startsWith(TARGET_GROUP) ? 'the action group' : 'the tool'} ${finding.tool}, but no target is named "${finding.target}"`,
    );
  const rest = findings.slice(SHOWN_FINDINGS);
  if (rest.length > 0)
    lines.push(
      `  - … and ${rest.length} more (in ${new Set(rest.map((finding) => finding.file)).size} policy file(s))`,
    );
  return `policies name tools of targets that are not declared in gateway.targets (missing: ${missing}; declared: ${declared}):\n${lines.join('\n')}\nDeclare the target in gateway.targets, or change or remove the policy.`;
}
