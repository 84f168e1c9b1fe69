import { existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { avpSchemaJson } from '../lambda/adapters/avp-policy-definitions';
import { CedarDecisionPoint } from '../lambda/adapters/cedar-decision-point';
import { cedar } from '../lambda/adapters/cedar-engine';
import {
  diagnosticOf,
  type PolicyDiagnostic,
  renderDiagnostic,
  SCHEMA_FILE,
  schemaDiagnostics,
  shownPath,
} from '../lambda/adapters/policy-diagnostics';
import {
  cedarFiles,
  loadPolicyBundle,
  readPolicyFiles,
  readSourceText,
  scanPolicyFiles,
  validationDiagnostics,
} from '../lambda/adapters/policy-files';
import { readDecisionFixtures, runDecisionFixture } from '../lambda/adapters/policy-fixtures';
import { positionAt } from '../lambda/adapters/source-excerpt';
import { checkDeploymentLimits, planPolicies } from '../lib/policy-deployment';

/** `mcp-identity policies validate|format|test`: offline checks of the policy folder, located to the column. */

/** An error or warning about a file of the policy folder, located (see policy-diagnostics.ts). */
export type Finding = PolicyDiagnostic;

/** A policy and its file, as the lint reads them. */
interface LocatedPolicy {
  readonly id: string;
  readonly file: string;
  readonly text: string;
  /** Where the policy starts in its file (UTF-16 index), when known. */
  readonly offset?: number;
}

// --- the unguarded-read lint ---------------------------------------------------------------------------

type Expr = cedar.Expr;
type ResolvedType = {
  type: string;
  attributes?: Record<string, ResolvedType & { required?: boolean }>;
  name?: string;
  required?: boolean;
};

function pathOf(expr: Expr): string | undefined {
  const node = expr as Record<string, unknown>;
  if ('Var' in node) return String(node.Var);
  if ('.' in node) {
    const access = node['.'] as { left: Expr; attr: string };
    const left = pathOf(access.left);
    return left === undefined ? undefined : `${left}.${access.attr}`;
  }
  return undefined;
}

function walk(expr: unknown, visit: (node: Record<string, unknown>) => void): void {
  if (Array.isArray(expr)) {
    for (const item of expr) walk(item, visit);
    return;
  }
  if (expr === null || typeof expr !== 'object') return;
  visit(expr as Record<string, unknown>);
  for (const value of Object.values(expr)) walk(value, visit);
}

/** Action ids a policy's action scope covers, with groups expanded. */
function scopedActions(
  policy: cedar.PolicyJson,
  actions: Record<string, cedar.ActionType<string>>,
): string[] {
  // Action groups have no principals or context; only actions that requests can name count.
  const withContext = Object.keys(actions).filter(
    (id) => (actions[id]?.appliesTo?.principalTypes?.length ?? 0) > 0,
  );
  const constraint = policy.action as {
    op: string;
    entity?: { id?: string; __entity?: { id: string } };
    entities?: { id?: string; __entity?: { id: string } }[];
  };
  const idOf = (uid: { id?: string; __entity?: { id: string } }) => uid.id ?? uid.__entity?.id ?? '';
  if (constraint.op === 'All') return withContext;
  if (constraint.op === '==' && constraint.entity) return [idOf(constraint.entity)];
  const groups = new Set((constraint.entities ?? (constraint.entity ? [constraint.entity] : [])).map(idOf));
  const inGroup = (id: string, seen = new Set<string>()): boolean => {
    if (groups.has(id)) return true;
    if (seen.has(id)) return false;
    seen.add(id);
    return (actions[id]?.memberOf ?? []).some((parent) => inGroup(parent.id, seen));
  };
  return withContext.filter((id) => inGroup(id));
}

/** Whether every segment of `path` (after its root) is a required attribute, in every scoped action. */
function requiredEverywhere(
  path: string,
  actions: string[],
  schema: cedar.SchemaJson<string>,
  namespace: string,
): boolean {
  const [root, ...segments] = path.split('.');
  const definition = schema[namespace];
  if (definition === undefined) return false;
  const roots: (ResolvedType | undefined)[] =
    root === 'context'
      ? actions.map((id) => definition.actions[id]?.appliesTo?.context as ResolvedType | undefined)
      : root === 'principal' || root === 'resource'
        ? actions.map((id) => {
            const types =
              root === 'principal'
                ? definition.actions[id]?.appliesTo?.principalTypes
                : definition.actions[id]?.appliesTo?.resourceTypes;
            const entity = types?.[0]?.split('::').pop();
            return (
              (entity
                ? (definition.entityTypes[entity] as { shape?: ResolvedType } | undefined)?.shape
                : undefined) ?? { type: 'Record', attributes: {} }
            );
          })
        : [];
  if (roots.length === 0) return false;
  // Common-type references (`{ type: "Ns::orders___update_orderInput" }`) are followed to their records.
  const deref = (type: ResolvedType | undefined): ResolvedType | undefined => {
    if (
      type === undefined ||
      ['Record', 'Set', 'String', 'Long', 'Boolean', 'Entity', 'Extension'].includes(type.type)
    )
      return type;
    const name = type.type.split('::').pop() ?? '';
    return deref(definition.commonTypes?.[name] as ResolvedType | undefined);
  };
  // Parents are checked (guard or requiredness) on their own; here only the last segment matters.
  return roots.every((start) => {
    let current: ResolvedType | undefined = deref(start);
    for (const segment of segments.slice(0, -1)) current = deref(current?.attributes?.[segment]);
    const attribute = current?.attributes?.[segments[segments.length - 1] ?? ''];
    return attribute !== undefined && attribute.required !== false;
  });
}

/**
 * Forbid policies that read an attribute without a `has` guard: if the attribute is absent at run time the
 * forbid errors, Cedar skips an erroring policy, and the call it was meant to stop may be allowed.
 */
function unguardedReads(
  policy: LocatedPolicy,
  fileText: string | undefined,
  schema: cedar.SchemaJson<string>,
  namespace: string,
): Finding[] {
  const json = cedar.policyToJson(policy.text);
  if (json.type === 'failure' || json.json.effect !== 'forbid') return [];
  const actions = scopedActions(json.json, schema[namespace]?.actions ?? {});
  const findings: Finding[] = [];
  const reported = new Set<string>();
  for (const clause of json.json.conditions) {
    const guards = new Set<string>();
    const reads: string[] = [];
    walk(clause.body, (node) => {
      if ('has' in node) {
        const has = node.has as { left: Expr; attr: string | string[] };
        const left = pathOf(has.left);
        if (left !== undefined) {
          let path = left;
          for (const attr of [has.attr].flat()) {
            path = `${path}.${attr}`;
            guards.add(path);
          }
        }
      }
      if ('.' in node) {
        const path = pathOf(node as Expr);
        if (path !== undefined) reads.push(path);
      }
    });
    for (const read of new Set(reads)) {
      const segments = read.split('.');
      for (let length = 2; length <= segments.length; length += 1) {
        const prefix = segments.slice(0, length).join('.');
        if (guards.has(prefix) || requiredEverywhere(prefix, actions, schema, namespace)) continue;
        if (reported.has(prefix)) break;
        reported.add(prefix);
        const parent = segments.slice(0, length - 1).join('.');
        const at = policy.text.indexOf(read);
        const place =
          fileText === undefined || policy.offset === undefined
            ? undefined
            : {
                start: positionAt(fileText, policy.offset + Math.max(at, 0)),
                end: positionAt(fileText, policy.offset + Math.max(at, 0) + (at < 0 ? 0 : prefix.length)),
              };
        findings.push({
          severity: 'warning',
          file: policy.file,
          ...(place === undefined
            ? {}
            : {
                line: place.start.line,
                column: place.start.column,
                endLine: place.end.line,
                endColumn: place.end.column,
              }),
          policyId: policy.id,
          message: `forbid reads ${prefix} without a \`has\` guard: when it is absent the forbid errors, Cedar skips it, and the call may be allowed. Write \`${parent} has ${segments[length - 1]} && …\`.`,
        });
        break;
      }
    }
  }
  return findings;
}

/**
 * Size limits between the folder and a deployed stack (Verified Permissions policy, schema and per-resource
 * quotas; CloudFormation resources and template size per nested stack), found here rather than at synth or,
 * worse, halfway through a deploy. The same checks run at synth.
 */
function deploymentFindings(dir: string, schemaText: string): Finding[] {
  try {
    const plan = planPolicies(readPolicyFiles(dir));
    return checkDeploymentLimits(plan, avpSchemaJson(schemaText)).map((finding) => ({
      severity: finding.severity,
      file: finding.file ?? '(policy set)',
      ...(finding.policyId ? { policyId: finding.policyId } : {}),
      message: finding.message,
    }));
  } catch (error) {
    return [
      {
        severity: 'error',
        file: '(policy set)',
        message: `cannot plan the deployment: ${(error as Error).message}`,
      },
    ];
  }
}

export interface ValidationReport {
  readonly policies: number;
  readonly findings: readonly Finding[];
  /** Each file's text by its name relative to the folder, for excerpts ({@link formatFinding}). */
  readonly sources: ReadonlyMap<string, string>;
}

/** STRICT validation of every policy against the schema (as Verified Permissions validates), plus the lint. */
export function validatePolicyFolder(dir: string): ValidationReport {
  const schemaPath = join(dir, SCHEMA_FILE);
  if (!existsSync(schemaPath))
    return {
      policies: 0,
      findings: [{ severity: 'error', file: SCHEMA_FILE, message: `no ${SCHEMA_FILE} in ${dir}` }],
      sources: new Map(),
    };
  const schemaText = readSourceText(schemaPath);
  const resolved = cedar.schemaToJsonWithResolvedTypes(schemaText);
  if (resolved.type === 'failure')
    return {
      policies: 0,
      findings: schemaDiagnostics(resolved.errors, schemaText),
      sources: new Map([[SCHEMA_FILE, schemaText]]),
    };
  const scan = scanPolicyFiles(dir);
  const sources = new Map([...scan.sources, [SCHEMA_FILE, schemaText]]);
  const findings: Finding[] = [...scan.diagnostics];
  findings.push(...validationDiagnostics(schemaText, scan.policies, scan.sources));
  const namespace = Object.keys(resolved.json).find((name) => !name.includes('::')) ?? '';
  for (const policy of scan.policies)
    findings.push(...unguardedReads(policy, scan.sources.get(policy.file), resolved.json, namespace));
  if (!findings.some((finding) => finding.severity === 'error'))
    findings.push(...deploymentFindings(dir, schemaText));
  return { policies: scan.policies.length, findings, sources };
}

/**
 * A finding for people: `file:line:column: severity [policy]: message`, the caret excerpt, and Cedar's help.
 * With `dir` (the policy folder), the file is shown as a path from the current directory, so a terminal or an
 * editor can open it at the spot.
 */
export function formatFinding(
  finding: Finding,
  sources: ReadonlyMap<string, string> = new Map(),
  dir?: string,
): string {
  return renderDiagnostic(
    finding,
    sources.get(finding.file),
    dir === undefined ? undefined : shownPath(dir, finding.file),
  );
}

/** `policies format [--check]`: the Cedar formatter on every file; returns the files that changed (or would). */
export function formatPolicyFolder(
  dir: string,
  check: boolean,
): { readonly changed: string[]; readonly errors: Finding[]; readonly sources: Map<string, string> } {
  const changed: string[] = [];
  const errors: Finding[] = [];
  const sources = new Map<string, string>();
  for (const path of cedarFiles(dir)) {
    const file = relative(dir, path);
    const text = readSourceText(path);
    const formatted = cedar.formatPolicies({ policyText: text, lineWidth: 100, indentWidth: 2 });
    if (formatted.type === 'failure') {
      sources.set(file, text);
      for (const error of formatted.errors)
        errors.push(diagnosticOf(error, { file, fileText: text, offset: 0 }));
      continue;
    }
    const next = formatted.formatted_policy.endsWith('\n')
      ? formatted.formatted_policy
      : `${formatted.formatted_policy}\n`;
    if (next !== text) {
      changed.push(file);
      if (!check) writeFileSync(path, next);
    }
  }
  return { changed, errors, sources };
}

// --- policies test ----------------------------------------------------------------------------------------

export interface FixtureOutcome {
  readonly file: string;
  readonly description: string;
  readonly expected: { readonly decision: 'allow' | 'deny'; readonly policies?: readonly string[] };
  readonly actual: {
    readonly decision: 'allow' | 'deny';
    readonly policies: readonly string[];
    readonly errors: readonly string[];
  };
  readonly passed: boolean;
  readonly request: unknown;
}

/** Runs the ALLOW/DENY fixtures with the real Cedar engine over the folder's policies. */
export async function testPolicyFolder(dir: string): Promise<FixtureOutcome[]> {
  const bundle = loadPolicyBundle(dir);
  const pdp = new CedarDecisionPoint(bundle);
  const model = { namespace: bundle.namespace, resourceId: 'gateway', inputTypes: bundle.inputTypes };
  const outcomes: FixtureOutcome[] = [];
  for (const fixture of readDecisionFixtures(dir)) {
    const result = await runDecisionFixture(fixture, model, pdp);
    outcomes.push({
      file: fixture.file,
      description: fixture.description,
      expected: {
        decision: fixture.expected,
        ...(fixture.determiningPolicies ? { policies: fixture.determiningPolicies } : {}),
      },
      actual: {
        decision: result.answer.decision,
        policies: result.answer.determiningPolicies,
        errors: [
          ...(result.refusedArguments === undefined
            ? []
            : [`arguments refused before policy: ${result.refusedArguments}`]),
          ...result.answer.errors.map((error) => `${error.policyId ?? '?'}: ${error.detail}`),
        ],
      },
      passed: result.passed,
      request: result.request,
    });
  }
  return outcomes;
}
