import { createHash } from 'node:crypto';
import { avpPolicyDefinition, avpPolicyName } from '../lambda/adapters/avp-policy-definitions';
import { cedar } from '../lambda/adapters/cedar-engine';
import type { PolicyFile } from '../lambda/adapters/policy-files';

/**
 * How policies/ becomes CloudFormation, and the size limits on the way — shared by the CDK construct (synth) and
 * `mcp-identity policies validate` (which must find every limit long before synth). No aws-cdk-lib import here,
 * so the CLI stays light.
 *
 * Layout: one `AWS::VerifiedPermissions::Policy` per policy, spread over {@link POLICY_STACK_COUNT} nested stacks
 * by a hash of the policy's stable id. A CloudFormation stack holds at most 500 resources and a template at most
 * 1 MB, so 1,000 policies cannot live in the root stack. Nested stacks keep each policy a real CloudFormation
 * resource (drift detection, per-policy events, rollback) — a custom resource syncing the whole set would hide
 * all that behind one opaque resource and its own Lambda. The bucket depends on the id alone, so a policy never
 * moves between nested stacks when others are added, removed or edited: a replacement (below) always happens
 * inside one stack, where CloudFormation creates the new resource before it deletes the old one.
 *
 * Replacement: Verified Permissions cannot change a static policy's effect, principal or resource in an update
 * (UpdatePolicy / UpdateStaticPolicyDefinition allows the action and the conditions only). The logical id and the
 * Verified Permissions name therefore carry a hash of effect + principal scope + resource scope: an edit there
 * is a new resource (created in the update phase) and the old one is removed in the cleanup phase; an edit to
 * the action or the conditions keeps the logical id and updates in place. The name must change too, because
 * names are unique within a store and both policies exist for a moment.
 */

/** Fixed on purpose: changing it would move policies between nested stacks. */
export const POLICY_STACK_COUNT = 16;

/** Documented service limits (Verified Permissions quotas; CloudFormation quotas). */
export const DEPLOYMENT_LIMITS = {
  /** Verified Permissions: maximum size of one policy (not adjustable). */
  policyBytes: 10_000,
  /** Verified Permissions: maximum size of a policy store's schema (not adjustable). */
  schemaBytes: 100_000,
  /** Verified Permissions: all policies referencing one principal + resource combination (not adjustable). */
  principalResourceBytes: 200_000,
  /** Verified Permissions: all policies referencing one resource (default quota; adjustable). */
  resourceBytes: 1_000_000,
  /** Older default of the per-resource quota, still what some accounts have: warn above it. */
  resourceBytesWarning: 200_000,
  /** CloudFormation: resources per stack is 500; keep room for what CDK may add. */
  resourcesPerStack: 490,
  /** CloudFormation: template body in S3 (nested stacks) is at most 1 MB. */
  templateBytes: 1_000_000,
} as const;

export interface PlannedPolicy {
  readonly id: string;
  readonly file: string;
  readonly reason?: string;
  /** Verified Permissions name: `name/<id>__<scope hash>`. */
  readonly name: string;
  readonly statement: string;
  readonly description: string;
  /** 8 hex characters of SHA-256 over effect, principal scope and resource scope. */
  readonly scopeHash: string;
  /** Index of the nested stack holding it. */
  readonly stack: number;
  readonly principalScope: string;
  readonly resourceScope: string;
  /** UTF-8 size of the statement as deployed. */
  readonly bytes: number;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  return `{${Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${stableStringify((value as Record<string, unknown>)[key])}`)
    .join(',')}}`;
}

/** The nested stack a policy lives in: depends on its stable id only. */
export function policyStackIndex(id: string): number {
  return Number.parseInt(sha256(id).slice(0, 8), 16) % POLICY_STACK_COUNT;
}

/** The part of a policy Verified Permissions cannot update in place. */
export function policyScopeHash(statement: string): string {
  const json = cedar.policyToJson(statement);
  if (json.type === 'failure') throw new Error(`cannot parse a policy statement: ${json.errors[0]?.message}`);
  const { effect, principal, resource } = json.json;
  return sha256(stableStringify({ effect, principal, resource })).slice(0, 8);
}

/** What a scope constraint refers to, as Verified Permissions counts policy size per principal / resource. */
function scopeKey(constraint: unknown): string {
  const scope = constraint as {
    op?: string;
    entity?: { type: string; id: string };
    in?: { entity?: { type: string; id: string } };
  };
  const entity = scope.entity ?? scope.in?.entity;
  return entity === undefined ? '(unspecified)' : `${entity.type}::${JSON.stringify(entity.id)}`;
}

/** Each policy with its deployed form, name, scope hash and nested stack. */
export function planPolicies(policies: readonly PolicyFile[]): PlannedPolicy[] {
  return policies.map((policy) => {
    const definition = avpPolicyDefinition(policy);
    const json = cedar.policyToJson(definition.statement);
    if (json.type === 'failure') throw new Error(`${policy.file}: cannot parse the deployed statement`);
    const scopeHash = policyScopeHash(definition.statement);
    return {
      id: policy.id,
      file: policy.file,
      ...(policy.reason === undefined ? {} : { reason: policy.reason }),
      name: `${avpPolicyName(policy.id)}__${scopeHash}`,
      statement: definition.statement,
      description: definition.description,
      scopeHash,
      stack: policyStackIndex(policy.id),
      principalScope: scopeKey(json.json.principal),
      resourceScope: scopeKey(json.json.resource),
      bytes: Buffer.byteLength(definition.statement, 'utf8'),
    };
  });
}

/**
 * Upper bound of the bytes one policy adds to its nested stack's template, as CDK writes it (JSON indented by one
 * space, with `aws:cdk:path` metadata).
 */
export function policyTemplateBytes(policy: PlannedPolicy): number {
  const resource = {
    [`PolicyStorePolicy${'x'.repeat(Math.min(policy.id.length, 200))}${policy.scopeHash}ABCDEF12`]: {
      Type: 'AWS::VerifiedPermissions::Policy',
      Properties: {
        Definition: { Static: { Description: policy.description, Statement: policy.statement } },
        Name: policy.name,
        PolicyStoreId: { Ref: 'referencetoMcpIdentityPolicyStoreStoreABCDEF12PolicyStoreId' },
      },
      Metadata: {
        'aws:cdk:path': `McpIdentity/PolicyStore/Policies00/Policy-${policy.id}-${policy.scopeHash}/Resource`,
      },
    },
  };
  // Nesting depth of the resource inside the template adds a few spaces per line.
  return Buffer.byteLength(JSON.stringify(resource, undefined, 1), 'utf8') + 64;
}

/** Fixed part of a nested stack template (parameters, outputs, structure). */
const TEMPLATE_BASE_BYTES = 4_000;

export interface DeploymentFinding {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly file?: string;
  readonly policyId?: string;
}

const kb = (bytes: number) => `${Math.round(bytes / 100) / 10} kB`;

/** Every size limit between policies/ and a deployed stack, as findings with what to do about them. */
export function checkDeploymentLimits(
  plan: readonly PlannedPolicy[],
  schemaJson: string,
): DeploymentFinding[] {
  const findings: DeploymentFinding[] = [];
  const limits = DEPLOYMENT_LIMITS;
  const schemaBytes = Buffer.byteLength(schemaJson, 'utf8');
  if (schemaBytes > limits.schemaBytes)
    findings.push({
      severity: 'error',
      file: 'schema.cedarschema',
      message: `the schema takes ${schemaBytes} bytes as deployed; Verified Permissions allows ${limits.schemaBytes}. Split tools across gateways or trim argument types.`,
    });
  for (const policy of plan) {
    if (policy.bytes > limits.policyBytes)
      findings.push({
        severity: 'error',
        file: policy.file,
        policyId: policy.id,
        message: `policy takes ${policy.bytes} bytes; Verified Permissions allows ${limits.policyBytes} per policy. Split it into several policies.`,
      });
  }
  const byResource = new Map<string, number>();
  const byPair = new Map<string, number>();
  for (const policy of plan) {
    byResource.set(policy.resourceScope, (byResource.get(policy.resourceScope) ?? 0) + policy.bytes);
    const pair = `${policy.principalScope} / ${policy.resourceScope}`;
    byPair.set(pair, (byPair.get(pair) ?? 0) + policy.bytes);
  }
  for (const [pair, bytes] of byPair) {
    if (bytes > limits.principalResourceBytes)
      findings.push({
        severity: 'error',
        file: '(policy set)',
        message: `policies scoped to principal / resource ${pair} take ${kb(bytes)}; Verified Permissions allows ${kb(limits.principalResourceBytes)} per principal and resource (not adjustable). Scope policies to roles or resources, or merge them.`,
      });
  }
  for (const [resource, bytes] of byResource) {
    if (bytes > limits.resourceBytes)
      findings.push({
        severity: 'error',
        file: '(policy set)',
        message: `policies scoped to resource ${resource} take ${kb(bytes)}; Verified Permissions allows ${kb(limits.resourceBytes)} per resource by default. Request a quota increase, or scope policies to resources.`,
      });
    else if (bytes > limits.resourceBytesWarning)
      findings.push({
        severity: 'warning',
        file: '(policy set)',
        message: `policies scoped to resource ${resource} take ${kb(bytes)}; some accounts still have the older ${kb(limits.resourceBytesWarning)} per-resource quota — check "Policy size per resource" in Service Quotas before deploying.`,
      });
  }
  const stacks = new Map<number, { count: number; bytes: number }>();
  for (const policy of plan) {
    const stack = stacks.get(policy.stack) ?? { count: 0, bytes: TEMPLATE_BASE_BYTES };
    stack.count += 1;
    stack.bytes += policyTemplateBytes(policy);
    stacks.set(policy.stack, stack);
  }
  for (const [index, stack] of [...stacks].sort(([a], [b]) => a - b)) {
    if (stack.count > limits.resourcesPerStack)
      findings.push({
        severity: 'error',
        file: '(policy set)',
        message: `${stack.count} policies fall into nested stack Policies${String(index).padStart(2, '0')}; CloudFormation allows 500 resources per stack (${limits.resourcesPerStack} kept for policies). That is about ${limits.resourcesPerStack * POLICY_STACK_COUNT} policies in all: merge policies.`,
      });
    if (stack.bytes > limits.templateBytes)
      findings.push({
        severity: 'error',
        file: '(policy set)',
        message: `the policies of nested stack Policies${String(index).padStart(2, '0')} make a template of about ${kb(stack.bytes)}; CloudFormation allows ${kb(limits.templateBytes)}. Shorten or merge policies.`,
      });
  }
  return findings;
}
