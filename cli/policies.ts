import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { CedarDecisionPoint } from '../lambda/adapters/cedar-decision-point';
import { cedar } from '../lambda/adapters/cedar-engine';
import {
  avpSchemaJson,
  cedarFiles,
  lineOf,
  loadPolicyBundle,
  policyIdFor,
  readPolicyFiles,
  SCHEMA_FILE,
} from '../lambda/adapters/policy-files';
import { readDecisionFixtures, runDecisionFixture } from '../lambda/adapters/policy-fixtures';
import { checkDeploymentLimits, planPolicies } from '../lib/policy-deployment';

/** `mcp-identity policies validate|format`: offline checks of the policy folder, with file and line. */

export interface Finding {
  readonly severity: 'error' | 'warning';
  readonly file: string;
  readonly line?: number;
  readonly policyId?: string;
  readonly message: string;
}

interface LocatedPolicy {
  readonly id: string;
  readonly file: string;
  readonly text: string;
  /** 1-based line of the policy's first character in its file. */
  readonly line: number;
}

function explain(error: cedar.DetailedError): string {
  return error.help ? `${error.message} — ${error.help}` : error.message;
}

/** Splits every file into policies, recording where each starts; parse errors become findings. */
function locatePolicies(dir: string, findings: Finding[]): LocatedPolicy[] {
  const located: LocatedPolicy[] = [];
  const ids = new Map<string, string>();
  for (const path of cedarFiles(dir)) {
    const file = relative(dir, path);
    const text = readFileSync(path, 'utf8');
    const parts = cedar.policySetTextToParts(text);
    if (parts.type === 'failure') {
      for (const error of parts.errors) {
        const at = error.sourceLocations?.[0];
        findings.push({
          severity: 'error',
          file,
          ...(at ? { line: lineOf(text, at.start) } : {}),
          message: explain(error),
        });
      }
      continue;
    }
    if (parts.policy_templates.length > 0)
      findings.push({ severity: 'error', file, message: 'policy templates are not supported here' });
    let cursor = 0;
    parts.policies.forEach((policyText, index) => {
      const at = text.indexOf(policyText, cursor);
      cursor = at >= 0 ? at + policyText.length : cursor;
      const json = cedar.policyToJson(policyText);
      const annotations = json.type === 'success' ? (json.json.annotations ?? {}) : {};
      const stem = basename(file, '.cedar');
      const id = policyIdFor(annotations, stem, index, parts.policies.length);
      const clash = ids.get(id);
      if (clash !== undefined)
        findings.push({
          severity: 'error',
          file,
          policyId: id,
          message: `policy id '${id}' is also used in ${clash}`,
        });
      ids.set(id, file);
      located.push({ id, file, text: policyText, line: at >= 0 ? lineOf(text, at) : 1 });
    });
  }
  return located;
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
        findings.push({
          severity: 'warning',
          file: policy.file,
          line: at < 0 ? policy.line : policy.line + lineOf(policy.text, at) - 1,
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
}

/** STRICT validation of every policy against the schema (as Verified Permissions validates), plus the lint. */
export function validatePolicyFolder(dir: string): ValidationReport {
  const findings: Finding[] = [];
  const schemaPath = join(dir, SCHEMA_FILE);
  if (!existsSync(schemaPath))
    return {
      policies: 0,
      findings: [{ severity: 'error', file: SCHEMA_FILE, message: `no ${SCHEMA_FILE} in ${dir}` }],
    };
  const schemaText = readFileSync(schemaPath, 'utf8');
  const resolved = cedar.schemaToJsonWithResolvedTypes(schemaText);
  if (resolved.type === 'failure') {
    return {
      policies: 0,
      findings: resolved.errors.map((error) => {
        const at = error.sourceLocations?.[0];
        return {
          severity: 'error' as const,
          file: SCHEMA_FILE,
          ...(at ? { line: lineOf(schemaText, at.start) } : {}),
          message: explain(error),
        };
      }),
    };
  }
  const policies = locatePolicies(dir, findings);
  if (policies.length > 0) {
    const result = cedar.validate({
      schema: schemaText,
      policies: { staticPolicies: Object.fromEntries(policies.map((policy) => [policy.id, policy.text])) },
      validationSettings: { mode: 'strict' },
    });
    const byId = new Map(policies.map((policy) => [policy.id, policy]));
    if (result.type === 'failure') {
      for (const error of result.errors)
        findings.push({ severity: 'error', file: '(policy set)', message: explain(error) });
    } else {
      for (const issue of [
        ...result.validationErrors.map((e) => ['error', e] as const),
        ...result.validationWarnings.map((e) => ['warning', e] as const),
      ]) {
        const [severity, { policyId, error }] = issue;
        const policy = byId.get(policyId);
        const at = error.sourceLocations?.[0];
        findings.push({
          severity,
          file: policy?.file ?? policyId,
          ...(policy ? { line: policy.line + (at ? lineOf(policy.text, at.start) - 1 : 0) } : {}),
          policyId,
          message: explain(error),
        });
      }
    }
    const namespace = Object.keys(resolved.json).find((name) => !name.includes('::')) ?? '';
    for (const policy of policies) findings.push(...unguardedReads(policy, resolved.json, namespace));
  }
  if (!findings.some((finding) => finding.severity === 'error'))
    findings.push(...deploymentFindings(dir, schemaText));
  return { policies: policies.length, findings };
}

export function formatFinding(finding: Finding): string {
  const where = finding.line === undefined ? finding.file : `${finding.file}:${finding.line}`;
  return `${where}: ${finding.severity}${finding.policyId ? ` [${finding.policyId}]` : ''}: ${finding.message}`;
}

/** `policies format [--check]`: the Cedar formatter on every file; returns the files that changed (or would). */
export function formatPolicyFolder(
  dir: string,
  check: boolean,
): { readonly changed: string[]; readonly errors: Finding[] } {
  const changed: string[] = [];
  const errors: Finding[] = [];
  for (const path of cedarFiles(dir)) {
    const file = relative(dir, path);
    const text = readFileSync(path, 'utf8');
    const formatted = cedar.formatPolicies({ policyText: text, lineWidth: 100, indentWidth: 2 });
    if (formatted.type === 'failure') {
      errors.push({ severity: 'error', file, message: formatted.errors.map(explain).join('; ') });
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
  return { changed, errors };
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
