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
import { avpPolicyName, avpSchemaJson, MANAGED_BY_TAG } from '../lambda/adapters/avp-policy-definitions';
import { cedar } from '../lambda/adapters/cedar-engine';
import { loadPolicyBundle } from '../lambda/adapters/policy-files';
import { planPolicies, stableStringify } from '../lib/policy-deployment';
import { PolicyStoreError } from './errors';

/**
 * `mcp-identity policies diff|push --store <id>`: compare the policy folder with a Verified Permissions policy
 * store and apply the difference — for stores managed outside CloudFormation.
 *
 * Names are the stack's (lib/policy-deployment.ts): `name/<id>__<hash of effect + principal + resource scope>`,
 * so a diff against a stack-deployed store shows no spurious renames. A remote policy is matched to a local one
 * by that exact name, else by a name of the same id (`name/<id>` as older pushes wrote it, or another scope
 * hash), else by the `<id>` / `<id>: …` description the stack and this command both write.
 *
 * What Verified Permissions can change in place (UpdatePolicy): the name, the action scope, the conditions and
 * the description. It cannot change the effect, the principal scope or the resource scope: such a policy is
 * replaced, and the new one is always created before the old one is deleted, so a forbid never vanishes — a
 * failure in between leaves both in the store (both apply; a forbid stays in force), never neither.
 */

export { PolicyStoreError };

export interface LocalPolicy {
  readonly id: string;
  /** Verified Permissions name, as the stack deploys it: `name/<id>__<scope hash>`. */
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
    // The stack's own plan: the same name, statement and description as a deployed CfnPolicy.
    policies: planPolicies(bundle.policies).map(({ id, name, statement, description }) => ({
      id,
      name,
      statement,
      description,
    })),
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

function policyJson(statement: string | undefined): cedar.PolicyJson | undefined {
  if (statement === undefined) return undefined;
  const json = cedar.policyToJson(statement);
  return json.type === 'success' ? json.json : undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `name/<id>` (older pushes) or `name/<id>__<8 hex>` (the stack, this command): a name this policy had. */
function isNameOf(name: string | undefined, id: string): boolean {
  if (name === undefined) return false;
  return new RegExp(`^${escapeRegExp(avpPolicyName(id))}(__[0-9a-f]{8})?$`).test(name);
}

function isDescriptionOf(description: string | undefined, id: string): boolean {
  return description === id || description?.startsWith(`${id}:`) === true;
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
  // Matching in rounds, strongest first over all policies, so a remote policy that holds a local policy's
  // exact name is always matched to that policy: a rename or a replacement can then never collide with a
  // name another policy still holds (names are unique within a store).
  const matches = new Map<LocalPolicy, RemotePolicy>();
  const unmatched = new Set(remote.policies);
  const rounds: ((policy: LocalPolicy, candidate: RemotePolicy) => boolean)[] = [
    (policy, candidate) => candidate.name === policy.name,
    (policy, candidate) => isNameOf(candidate.name, policy.id),
    (policy, candidate) => isDescriptionOf(candidate.description, policy.id),
  ];
  for (const round of rounds)
    for (const policy of local.policies) {
      if (matches.has(policy)) continue;
      const match = remote.policies.find((candidate) => unmatched.has(candidate) && round(policy, candidate));
      if (match === undefined) continue;
      matches.set(policy, match);
      unmatched.delete(match);
    }

  const added: LocalPolicy[] = [];
  const changed: StoreDiff['changed'][number][] = [];
  let unchanged = 0;
  for (const policy of local.policies) {
    const match = matches.get(policy);
    if (match === undefined) {
      added.push(policy);
      continue;
    }
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
    // UpdatePolicy can change the name, the action, the conditions and the description; not the effect, the
    // principal scope or the resource scope (nor a statement we cannot read).
    const replace =
      theirs === undefined ||
      mine === undefined ||
      mine.effect !== theirs.effect ||
      stableStringify(mine.principal) !== stableStringify(theirs.principal) ||
      stableStringify(mine.resource) !== stableStringify(theirs.resource);
    changed.push({ local: policy, remote: match, replace, what });
  }
  return { schema, added, changed, removed: [...unmatched], unchanged };
}

export function describeDiff(diff: StoreDiff): string[] {
  const lines: string[] = [];
  if (diff.schema !== 'unchanged') lines.push(`~ schema (${diff.schema})`);
  for (const policy of diff.added) lines.push(`+ ${policy.id}`);
  for (const change of diff.changed) {
    const rename = change.what.includes('name')
      ? ` (${change.remote.name ?? '(no name)'} → ${change.local.name})`
      : '';
    const how = change.replace
      ? ' — replaced: effect or principal/resource scope changed (new policy created first, then the old one deleted)'
      : '';
    lines.push(`~ ${change.local.id}: ${change.what.join(', ')} changed${rename}${how}`);
  }
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

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const name = error.name && error.name !== 'Error' ? `${error.name}: ` : '';
    return `${name}${error.message}`;
  }
  return String(error);
}

/**
 * Applies a diff in an order that never leaves a gap: the schema first (policies are validated against it),
 * then new policies, then in-place updates (renames included), then replacements (create the new policy, then
 * delete the old), then deletions of policies gone from the folder. Stops at the first failure with a
 * {@link PolicyStoreError} saying what is in the store now.
 */
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
  const run = async <T>(
    label: string,
    send: () => Promise<T>,
    afterFailure = 'no other change was made by this step',
  ): Promise<T | undefined> => {
    operations.push(label);
    options.onProgress?.(`${options.dryRun ? '(dry run) ' : ''}${label}`);
    if (options.dryRun) return undefined;
    try {
      return await send();
    } catch (error) {
      const done = operations.length - 1;
      throw new PolicyStoreError(
        `${label} failed (${errorText(error)}); ${afterFailure}. ${done} earlier operation(s) were applied and nothing after this one was attempted: run \`policies diff\` to see what is left, then push again.`,
        { cause: error },
      );
    }
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
  const remove = (policyId: string) => client.send(new DeletePolicyCommand({ policyStoreId, policyId }));

  if (diff.schema !== 'unchanged')
    await run('PutSchema', () =>
      client.send(new PutSchemaCommand({ policyStoreId, definition: { cedarJson: local.schemaJson } })),
    );
  for (const policy of diff.added) await run(`CreatePolicy ${policy.id}`, () => create(policy));

  for (const change of diff.changed.filter((candidate) => !candidate.replace)) {
    const { local: policy, remote } = change;
    const definitionChanged = change.what.includes('statement') || change.what.includes('description');
    const renamed = change.what.includes('name');
    await run(
      `UpdatePolicy ${remote.policyId} (${policy.id}${renamed ? `, renamed to ${policy.name}` : ''})`,
      () =>
        client.send(
          new UpdatePolicyCommand({
            policyStoreId,
            policyId: remote.policyId,
            ...(definitionChanged
              ? { definition: { static: { statement: policy.statement, description: policy.description } } }
              : {}),
            ...(renamed ? { name: policy.name } : {}),
          }),
        ),
      `policy ${remote.policyId} is unchanged`,
    );
  }

  for (const change of diff.changed.filter((candidate) => candidate.replace)) {
    const { local: policy, remote } = change;
    // The stack's names carry the scope hash, so the new policy's name normally differs from the old one's.
    // When it does not (a hand-made policy under that name), the old policy gives its name up first — it keeps
    // applying while it has no name — so the new one can be created under it.
    const freed = remote.name === policy.name;
    if (freed)
      await run(
        `UpdatePolicy ${remote.policyId} (${policy.id}, name cleared before its replacement is created)`,
        () => client.send(new UpdatePolicyCommand({ policyStoreId, policyId: remote.policyId, name: '' })),
        `policy ${remote.policyId} is unchanged and still applies`,
      );
    const created = await run(
      `CreatePolicy ${policy.id} (replaces ${remote.policyId})`,
      () => create(policy),
      `the old policy ${remote.policyId} is still in the store and still applies${freed ? ' (without a name now; the next push deletes it once its replacement exists)' : ''}; nothing was deleted`,
    );
    await run(
      `DeletePolicy ${remote.policyId} (${policy.id}, replaced)`,
      () => remove(remote.policyId),
      `both the new policy ${created?.policyId ?? policy.name} and the old ${remote.policyId} are in the store and both apply (a forbid stays in force): delete ${remote.policyId}, or push again to do it`,
    );
  }

  for (const policy of diff.removed)
    await run(
      `DeletePolicy ${policy.policyId}`,
      () => remove(policy.policyId),
      `policy ${policy.policyId} is still in the store`,
    );
  return { diff, operations };
}
