import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCedarSchema } from '../cli/schema';
import type { ListedTool } from './harness';
import { POLICY_DIR } from './harness';

/**
 * Generated policy folders at scale: N MCP tools spread over a few targets, their Cedar schema made by the
 * project's own generator (`schema generate`, from policies/schema-stub.cedarschema), and policies spread over
 * tools and roles the way a real deployment has them (per-tool permits, argument rules, a few catch-alls). Each
 * generator also says, independently of Cedar, what the answer must be, so the bench can check every outcome.
 */

const NS = 'McpIdentity';
const TARGETS = 5;
const INJECTED = ['_caller_user', '_caller_roles'];

export function toolName(index: number): string {
  return `svc${index % TARGETS}___op_${index}`;
}

/** N tools as a target lists them: an id and an optional amount, plus the parameters the gateway injects. */
export function generatedTools(count: number): ListedTool[] {
  return Array.from({ length: count }, (_, index) => ({
    name: toolName(index),
    description: `Generated tool ${index}`,
    inputSchema: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        amount: { type: 'integer' },
        _caller_user: { type: 'string' },
        _caller_roles: { type: 'array', items: { type: 'string' } },
      },
      required: ['id', '_caller_user', '_caller_roles'],
    },
  }));
}

export interface PolicyFolder {
  readonly dir: string;
  readonly policyCount: number;
  remove(): void;
}

const action = (tool: string) => `${NS}::Action::"${tool}"`;
const role = (name: string) => `${NS}::Role::"${name}"`;
const amountBelow = (limit: number) =>
  `context has input && context.input has amount && context.input.amount < ${limit}`;
const amountAbove = (limit: number) =>
  `context has input && context.input has amount && context.input.amount > ${limit}`;

function writeFolder(
  prefix: string,
  tools: readonly ListedTool[],
  policies: Readonly<Record<string, string>>,
): PolicyFolder {
  const dir = mkdtempSync(join(tmpdir(), `mcp-identity-bench-${prefix}-`));
  const stub = readFileSync(join(POLICY_DIR, 'schema-stub.cedarschema'), 'utf8');
  writeFileSync(join(dir, 'schema.cedarschema'), generateCedarSchema(stub, tools, INJECTED).text);
  mkdirSync(join(dir, 'generated'));
  for (const [id, text] of Object.entries(policies))
    writeFileSync(
      join(dir, 'generated', `${id}.cedar`),
      `@id("${id}")\n@reason("generated for the bench")\n${text}\n`,
    );
  return {
    dir,
    policyCount: Object.keys(policies).length,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The caller the tools/list scenarios list for. */
export const LIST_READER = { user: 'rita', roles: ['reader'] } as const;

/**
 * N tools and five policies that touch every kind of listing answer: a target-wide permit, a permit that
 * depends on the arguments (listed: some input is allowed), an unconditional forbid (hidden), an argument
 * forbid over everything (hides nothing), and an admin catch-all the reader does not match.
 */
export function toolListFolder(
  count: number,
): PolicyFolder & { tools: ListedTool[]; visible: ReadonlySet<string> } {
  const tools = generatedTools(count);
  const names = tools.map((tool) => tool.name);
  const some = (predicate: (index: number) => boolean) =>
    names.filter((_, index) => predicate(index)).map(action);
  const conditional = some((index) => index % 3 === 1);
  const blocked = some((index) => index % 7 === 0);
  const policies: Record<string, string> = {
    'readers-svc0': `permit (principal in ${role('reader')}, action in ${NS}::Action::"target:svc0", resource);`,
    'admins-everything': `permit (principal in ${role('admin')}, action in ${NS}::Action::"tools/call", resource);`,
    'huge-amounts': `forbid (principal, action in ${NS}::Action::"tools/call", resource) when { ${amountAbove(1000)} };`,
  };
  if (conditional.length > 0)
    policies['readers-small-amounts'] =
      `permit (principal in ${role('reader')}, action in [${conditional.join(', ')}], resource) when { ${amountBelow(100)} };`;
  if (blocked.length > 0)
    policies['blocked-tools'] = `forbid (principal, action in [${blocked.join(', ')}], resource);`;
  const visible = new Set(
    names.filter((_, index) => (index % TARGETS === 0 || index % 3 === 1) && index % 7 !== 0),
  );
  return { ...writeFolder(`list-${count}`, tools, policies), tools, visible };
}

/** Tools in the policy-scale folders. */
export const SCALE_TOOLS = 50;

export interface AllowedCall {
  readonly user: string;
  readonly roles: readonly string[];
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/**
 * P policies over 50 tools and P/5 roles: four catch-alls (admins may do anything, suspended users nothing,
 * amounts over 10,000 need finance, auditors read target svc0 for audit ids), then per-(role, tool) policies
 * cycling through a plain permit, a permit below an amount, a permit for an id prefix and an argument forbid.
 * The calls returned are allowed by exactly one plain permit and touched by no forbid.
 */
export function policyScaleFolder(policyCount: number): PolicyFolder & { allowed: AllowedCall[] } {
  const tools = generatedTools(SCALE_TOOLS);
  const roles = Math.max(4, Math.ceil(policyCount / 5));
  const policies: Record<string, string> = {
    'catch-all-admins': `permit (principal in ${role('admin')}, action in ${NS}::Action::"tools/call", resource);`,
    'catch-all-suspended': `forbid (principal in ${role('suspended')}, action, resource);`,
    'catch-all-large-amounts': `forbid (principal, action in ${NS}::Action::"tools/call", resource) when { ${amountAbove(10_000)} } unless { principal in ${role('finance')} };`,
    'catch-all-auditors': `permit (principal in ${role('auditor')}, action in ${NS}::Action::"target:svc0", resource) when { context has input && context.input.id like "audit-*" };`,
  };
  const allowed: AllowedCall[] = [];
  for (let k = 0; Object.keys(policies).length < policyCount; k += 1) {
    const roleName = `role-${k % roles}`;
    const tool = toolName((k * 7) % SCALE_TOOLS);
    const head = `(principal in ${role(roleName)}, action == ${action(tool)}, resource)`;
    switch (k % 4) {
      case 0:
        policies[`p${k}-permit`] = `permit ${head};`;
        if (allowed.length < 32)
          allowed.push({
            user: `user-${k}`,
            roles: [roleName],
            tool,
            args: { id: `order-${k}`, amount: 10 },
          });
        break;
      case 1:
        policies[`p${k}-permit-small`] = `permit ${head} when { ${amountBelow(500)} };`;
        break;
      case 2:
        policies[`p${k}-permit-prefix`] =
          `permit ${head} when { context has input && context.input.id like "${k}-*" };`;
        break;
      default:
        policies[`p${k}-forbid-large`] = `forbid ${head} when { ${amountAbove(5000)} };`;
    }
  }
  return { ...writeFolder(`policies-${policyCount}`, tools, policies), allowed };
}
