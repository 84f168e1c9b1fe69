import { cedar } from './cedar-engine';
import { diagnosticOf, PolicyFolderError, schemaError } from './policy-diagnostics';
import type { PolicyFile } from './policy-files';

/**
 * Policies and schema as Verified Permissions stores them, shared by the CDK stack (lib/policy-deployment.ts,
 * lib/constructs/policy-store.ts) and `policies diff|push` (cli/policy-store-sync.ts): one shape, so a pushed
 * store and a deployed one never differ.
 */

/** Tag on policy stores deployed by the CDK stack. */
export const MANAGED_BY_TAG = 'mcp-identity:managed-by';

/** The Verified Permissions policy name for a stable policy id (`name/…`, unique within the store). */
export function avpPolicyName(id: string): string {
  return `name/${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** Removes `annotations` keys everywhere: AVP evaluates Cedar 4.5 and we keep ids and reasons elsewhere. */
function withoutAnnotations(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutAnnotations);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'annotations')
      .map(([key, item]) => [key, withoutAnnotations(item)]),
  );
}

/**
 * A policy as it is stored in Verified Permissions (by the CDK stack and by `policies push` alike): the
 * statement without annotations, and `id: reason` as the description (the API allows 150 characters).
 */
export function avpPolicyDefinition(policy: Pick<PolicyFile, 'id' | 'file' | 'text' | 'reason'>): {
  readonly name: string;
  readonly statement: string;
  readonly description: string;
} {
  const json = cedar.policyToJson(policy.text);
  if (json.type === 'failure')
    throw new PolicyFolderError(
      json.errors.map((error) => diagnosticOf(error, policy.file, { policyId: policy.id })),
      new Map(),
    );
  const text = cedar.policyToText(withoutAnnotations(json.json) as cedar.PolicyJson);
  if (text.type === 'failure')
    throw new PolicyFolderError(
      text.errors.map((error) => diagnosticOf(error, policy.file, { policyId: policy.id })),
      new Map(),
    );
  const description = policy.reason === undefined ? policy.id : `${policy.id}: ${policy.reason}`;
  return {
    name: avpPolicyName(policy.id),
    statement: text.text,
    description: description.length <= 150 ? description : `${description.slice(0, 149)}…`,
  };
}

/** The schema in the JSON form Verified Permissions takes (`cedarJson`), without annotations. */
export function avpSchemaJson(schemaText: string): string {
  const schema = cedar.schemaToJson(schemaText);
  if (schema.type === 'failure') throw schemaError(schema.errors, schemaText);
  return JSON.stringify(withoutAnnotations(schema.json));
}
