import {
  CreatePolicyCommand,
  DeletePolicyCommand,
  GetPolicyCommand,
  GetPolicyStoreCommand,
  GetSchemaCommand,
  ListPoliciesCommand,
  PutSchemaCommand,
  ResourceNotFoundException,
  UpdatePolicyCommand,
  type VerifiedPermissionsClient,
} from '@aws-sdk/client-verifiedpermissions';
import { cedar } from '../lambda/adapters/cedar-engine';
import {
  avpPolicyDefinition,
  avpSchemaJson,
  loadPolicyBundle,
  MANAGED_BY_TAG,
} from '../lambda/adapters/policy-files';

/**
 * `mcp-identity policies diff|push --store <id>`: compare the policy folder with a Verified Permissions policy
 * store and apply the difference (schema first, then create, update, delete) — for stores managed outside
 * CloudFormation. Policies are matched by their AVP name (`name/<id>`), else by the `id:` prefix of the
 * description, the same way the CDK stack stores them.
 */

export class PolicyStoreError extends Error {}

export interface LocalPolicy {
  readonly id: string;
  readonly name: string;
  readonly statement: string;
  readonly description: string;
}

export interface RemotePolicy {
  readonly policyId: string;
  readonly name?: string;
  readonly description?: string;
  readonly statement?: string;
}

export interface StoreState {
  readonly policyStoreId: string;
  /** Why pushing here would drift, when the store is managed by CloudFormation. */
  readonly managedBy?: string;
  readonly schema?: string;
  readonly policies: readonly RemotePolicy[];
}

export interface StoreDiff {
  readonly schema: 'unchanged' | 'changed' | 'added';
  readonly added: readonly LocalPolicy[];
  readonly changed: readonly {
    readonly local: LocalPolicy;
    readonly remote: RemotePolicy;
    readonly replace: boolean;
    readonly what: readonly string[];
  }[];
  readonly removed: readonly RemotePolicy[];
  readonly unchanged: number;
}

export function localPolicies(dir: string): {
  readonly schemaJson: string;
  readonly policies: LocalPolicy[];
} {
  const bundle = loadPolicyBundle(dir);
  return {
    schemaJson: avpSchemaJson(bundle.schemaText),
    policies: bundle.policies.map((policy) => ({ id: policy.id, ...avpPolicyDefinition(policy) })),
  };
}

function notFound(error: unknown): boolean {
  return (
    error instanceof ResourceNotFoundException ||
    (error as { name?: string })?.name === 'ResourceNotFoundException'
  );
}

export async function readStore(
  client: VerifiedPermissionsClient,
  policyStoreId: string,
): Promise<StoreState> {
  let tags: Record<string, string> = {};
  try {
    const store = await client.send(new GetPolicyStoreCommand({ policyStoreId, tags: true }));
    tags = store.tags ?? {};
  } catch (error) {
    if (notFound(error))
      throw new PolicyStoreError(
        `policy store ${policyStoreId} does not exist (check the id and the Region)`,
      );
    throw error;
  }
  const stack = tags['aws:cloudformation:stack-name'];
  const managedBy =
    stack !== undefined
      ? `CloudFormation stack ${stack}`
      : tags[MANAGED_BY_TAG] !== undefined
        ? `a deployment tagged ${MANAGED_BY_TAG}=${tags[MANAGED_BY_TAG]}`
        : undefined;

  let schema: string | undefined;
  try {
    schema = (await client.send(new GetSchemaCommand({ policyStoreId }))).schema;
  } catch (error) {
    if (!notFound(error)) throw error;
  }

  const policies: RemotePolicy[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListPoliciesCommand({ policyStoreId, maxResults: 50, ...(nextToken ? { nextToken } : {}) }),
    );
    for (const item of page.policies ?? []) {
      if (item.policyId === undefined) continue;
      if (item.policyType !== 'STATIC')
        throw new PolicyStoreError(
          `policy ${item.policyId} is template-linked; this command manages static policies only`,
        );
      const detail = await client.send(new GetPolicyCommand({ policyStoreId, policyId: item.policyId }));
      const definition = detail.definition as
        | { static?: { statement?: string; description?: string } }
        | undefined;
      policies.push({
        policyId: item.policyId,
        ...((detail.name ?? item.name) ? { name: detail.name ?? item.name } : {}),
        ...(definition?.static?.description ? { description: definition.static.description } : {}),
        ...(definition?.static?.statement ? { statement: definition.static.statement } : {}),
      });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return { policyStoreId, ...(managedBy ? { managedBy } : {}), ...(schema ? { schema } : {}), policies };
}

/** Schemas compared by meaning (resolved JSON, sorted keys), not by formatting. */
function canonicalSchema(json: string): string {
  const text = cedar.schemaToText(JSON.parse(json) as cedar.Schema);
  if (text.type === 'failure') return json;
  const resolved = cedar.schemaToJsonWithResolvedTypes(text.text);
  return resolved.type === 'success' ? stableStringify(resolved.json) : json;
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  return `{${Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${stableStringify((value as Record<string, unknown>)[key])}`)
    .join(',')}}`;
}

function policyJson(statement: string | undefined): cedar.PolicyJson | undefined {
  if (statement === undefined) return undefined;
  const json = cedar.policyToJson(statement);
  return json.type === 'success' ? json.json : undefined;
}

export function diffStore(
  local: { schemaJson: string; policies: readonly LocalPolicy[] },
  remote: StoreState,
): StoreDiff {
  const schema =
    remote.schema === undefined
      ? 'added'
      : canonicalSchema(remote.schema) === canonicalSchema(local.schemaJson)
        ? 'unchanged'
        : 'changed';
  const unmatched = new Set(remote.policies);
  const added: LocalPolicy[] = [];
  const changed: StoreDiff['changed'][number][] = [];
  let unchanged = 0;
  for (const policy of local.policies) {
    const match =
      remote.policies.find((candidate) => unmatched.has(candidate) && candidate.name === policy.name) ??
      remote.policies.find(
        (candidate) =>
          unmatched.has(candidate) &&
          (candidate.description === policy.id || candidate.description?.startsWith(`${policy.id}:`)),
      );
    if (match === undefined) {
      added.push(policy);
      continue;
    }
    unmatched.delete(match);
    const mine = policyJson(policy.statement);
    const theirs = policyJson(match.statement);
    const what: string[] = [];
    if (stableStringify(mine) !== stableStringify(theirs)) what.push('statement');
    if ((match.description ?? '') !== policy.description) what.push('description');
    if (match.name !== policy.name) what.push('name');
    if (what.length === 0) {
      unchanged += 1;
      continue;
    }
    // AVP cannot change a static policy's effect, principal or resource in place.
    const replace =
      theirs === undefined ||
      mine === undefined ||
      mine.effect !== theirs.effect ||
      stableStringify(mine.principal) !== stableStringify(theirs.principal) ||
      stableStringify(mine.resource) !== stableStringify(theirs.resource) ||
      what.includes('name');
    changed.push({ local: policy, remote: match, replace, what });
  }
  return { schema, added, changed, removed: [...unmatched], unchanged };
}

export function describeDiff(diff: StoreDiff): string[] {
  const lines: string[] = [];
  if (diff.schema !== 'unchanged') lines.push(`~ schema (${diff.schema})`);
  for (const policy of diff.added) lines.push(`+ ${policy.id}`);
  for (const change of diff.changed)
    lines.push(
      `~ ${change.local.id}: ${change.what.join(', ')} changed${change.replace ? ' (replaced: effect, scope or name changed)' : ''}`,
    );
  for (const policy of diff.removed)
    lines.push(`- ${policy.description ?? policy.name ?? policy.policyId} (${policy.policyId})`);
  if (lines.length === 0) lines.push('no differences');
  return lines;
}

export interface PushOptions {
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly onProgress?: (line: string) => void;
}

/** Applies a diff: schema first (policies are validated against it), then create, update, delete. */
export async function pushStore(
  client: VerifiedPermissionsClient,
  state: StoreState,
  local: { schemaJson: string; policies: readonly LocalPolicy[] },
  options: PushOptions,
): Promise<{ readonly diff: StoreDiff; readonly operations: readonly string[] }> {
  const diff = diffStore(local, state);
  if (state.managedBy !== undefined && !options.force) {
    throw new PolicyStoreError(
      `policy store ${state.policyStoreId} is managed by ${state.managedBy}. Pushing here would drift from the stack, and the next deploy would undo it: change policies/ and run \`npx cdk deploy\` instead, or pass --force to push anyway.`,
    );
  }
  const operations: string[] = [];
  const run = async (label: string, send: () => Promise<unknown>) => {
    operations.push(label);
    options.onProgress?.(`${options.dryRun ? '(dry run) ' : ''}${label}`);
    if (!options.dryRun) await send();
  };
  const policyStoreId = state.policyStoreId;
  const create = (policy: LocalPolicy) =>
    client.send(
      new CreatePolicyCommand({
        policyStoreId,
        name: policy.name,
        definition: { static: { statement: policy.statement, description: policy.description } },
      }),
    );
  if (diff.schema !== 'unchanged')
    await run('PutSchema', () =>
      client.send(new PutSchemaCommand({ policyStoreId, definition: { cedarJson: local.schemaJson } })),
    );
  for (const policy of diff.added) await run(`CreatePolicy ${policy.id}`, () => create(policy));
  for (const change of diff.changed) {
    if (change.replace) {
      await run(`DeletePolicy ${change.remote.policyId} (${change.local.id}, replaced)`, () =>
        client.send(new DeletePolicyCommand({ policyStoreId, policyId: change.remote.policyId })),
      );
      await run(`CreatePolicy ${change.local.id}`, () => create(change.local));
    } else {
      await run(`UpdatePolicy ${change.remote.policyId} (${change.local.id})`, () =>
        client.send(
          new UpdatePolicyCommand({
            policyStoreId,
            policyId: change.remote.policyId,
            definition: {
              static: { statement: change.local.statement, description: change.local.description },
            },
          }),
        ),
      );
    }
  }
  for (const policy of diff.removed)
    await run(`DeletePolicy ${policy.policyId}`, () =>
      client.send(new DeletePolicyCommand({ policyStoreId, policyId: policy.policyId })),
    );
  return { diff, operations };
}
