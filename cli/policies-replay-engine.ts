import { CedarDecisionPoint } from '../lambda/adapters/cedar-decision-point';
import { type ActionConstraint, actionKey, type PolicyBundle } from '../lambda/adapters/policy-files';
import { tokenReads } from '../lambda/adapters/policy-token-reads';
import type { AuditEventData } from '../lambda/core/audit-event';
import { type AuthorizerSettings, authorizeOperation } from '../lambda/core/authorize';
import type { Caller } from '../lambda/core/caller';
import type { CedarType, PolicyOperation } from '../lambda/core/cedar-request';
import type { Decision } from '../lambda/core/decision';
import { DEFAULT_INJECTION } from '../lambda/core/injection';
import { type NotReplayableReason, type RecordedCall, recordedEvent } from '../lambda/core/recorded-call';

/**
 * The replay loop of `policies replay`: each recorded decision is read back as the caller and operation the
 * live path decided (`lambda/core/recorded-call.ts`) and decided again by the live path's own
 * `authorizeOperation` — the same schema check, Cedar request builder and reason — on the local Cedar engine
 * over the candidate policy folder (preparsed per action, loaded through the crash-safe `cedar-engine.ts`).
 *
 * Identical requests are decided once: many events share caller, tool and arguments. The cache key is the
 * whole request as the engine would see it, with the token facts no candidate policy reads left out (as the
 * live decision cache does), so two tokens of one person with the same claims share an answer.
 */

export type ReplayOutcome = 'unchanged' | 'newly-denied' | 'newly-allowed';

export interface ReplayedDecision {
  readonly decision: 'allow' | 'deny';
  /** deny code as the audit records it (policy, policy-error, unknown-tool-arguments, …) or 'error'. */
  readonly code?: string;
  readonly reason?: string;
  /** Determining policy ids: permits for an allow, forbids for a denial by forbid. */
  readonly policies: readonly string[];
}

export interface ReplayChange {
  readonly uid: string;
  readonly time: string;
  readonly user: string;
  readonly email?: string;
  readonly username?: string;
  readonly agent?: string;
  readonly tool: string;
  readonly recorded: RecordedCall['recorded'];
  readonly candidate: ReplayedDecision;
  /** The tool arguments as recorded (already redacted by the audit settings), when recorded with values. */
  readonly arguments?: Readonly<Record<string, unknown>>;
}

export interface ReplayCounts {
  newlyDenied: number;
  newlyAllowed: number;
  unchanged: number;
}

export interface ReplayResult {
  /** Events read from the source (outcomes and listings included). */
  readonly events: number;
  /** Decisions decided again. */
  readonly replayed: number;
  readonly unchanged: number;
  /** Same allow/deny as recorded, but other determining policies (a renamed or split policy, a new forbid). */
  readonly unchangedOtherPolicies: number;
  readonly newlyDenied: readonly ReplayChange[];
  readonly newlyAllowed: readonly ReplayChange[];
  readonly notReplayable: Readonly<Partial<Record<NotReplayableReason, number>>>;
  /** Outcome and listing events (RESPONSE step): not decisions, not counted as replayable or not. */
  readonly outcomes: number;
  readonly byTool: Readonly<Record<string, ReplayCounts>>;
  readonly byUser: Readonly<Record<string, ReplayCounts>>;
  /** Distinct requests the engine decided (the rest came from the replay's own cache). */
  readonly distinctRequests: number;
}

export interface ReplayProgress {
  readonly done: number;
  readonly total?: number;
}

export interface ReplayOptions {
  /** The Cedar resource id the gateway decides against (its `RESOURCE_ID`). @default 'gateway' */
  readonly resourceId?: string;
  /** Called every `progressEvery` events. */
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** @default 1000 */
  readonly progressEvery?: number;
  /** Known number of events, for progress. */
  readonly total?: number;
}

/** A policy's `conditions` read `context.input` (or the whole `context`, which includes it). Conservative. */
function readsInput(node: unknown, depth = 0): boolean {
  if (depth > 200) return true;
  if (Array.isArray(node)) return node.some((item) => readsInput(item, depth + 1));
  if (node === null || typeof node !== 'object') return false;
  const record = node as Record<string, unknown>;
  if (record.Var === 'context') return true;
  for (const op of ['.', 'has']) {
    const access = record[op] as { left?: unknown; attr?: unknown } | undefined;
    if (access !== undefined && access !== null && typeof access === 'object' && 'left' in access) {
      const left = access.left as Record<string, unknown> | null;
      if (left !== null && typeof left === 'object' && left.Var === 'context') return access.attr === 'input';
    }
  }
  return Object.values(record).some((value) => readsInput(value, depth + 1));
}

/** For each action, whether some candidate policy that can apply to it reads its arguments. */
function argumentReaders(bundle: PolicyBundle, namespace: string): (action: string) => boolean {
  const actionType = `${namespace}::Action`;
  // A policy whose JSON form is unknown counts as reading them (never replay on a guess).
  const readers = bundle.policies.filter(
    (policy) => policy.json === undefined || readsInput(policy.json.conditions),
  );
  const memo = new Map<string, boolean>();
  const lineage = (action: string): Set<string> => {
    const seen = new Set<string>();
    const pending = [{ type: actionType, id: action }];
    while (pending.length > 0) {
      const uid = pending.pop() as { type: string; id: string };
      const key = actionKey(uid.type, uid.id);
      if (seen.has(key)) continue;
      seen.add(key);
      pending.push(...(bundle.actionParents.get(key) ?? []));
    }
    return seen;
  };
  const applies = (constraint: ActionConstraint | undefined, keys: Set<string>, own: string): boolean => {
    if (constraint === undefined) return true;
    switch (constraint.op) {
      case 'All':
        return true;
      case '==':
        return actionKey(constraint.entity.type, constraint.entity.id) === own;
      case 'in':
        return 'entities' in constraint
          ? constraint.entities.some((entity) => keys.has(actionKey(entity.type, entity.id)))
          : keys.has(actionKey(constraint.entity.type, constraint.entity.id));
    }
  };
  return (action) => {
    const known = memo.get(action);
    if (known !== undefined) return known;
    const keys = lineage(action);
    const own = actionKey(actionType, action);
    const answer = readers.some((policy) => applies(policy.scope?.action, keys, own));
    memo.set(action, answer);
    return answer;
  };
}

/**
 * Arguments of the declared type that no policy reads: what replay decides with when the real ones were not
 * recorded and no candidate policy reads them (the request must still validate against the schema).
 */
export function standInArguments(type: CedarType | undefined): Record<string, unknown> {
  if (type === undefined || type.type !== 'Record') return {};
  const out: Record<string, unknown> = {};
  for (const [name, attribute] of Object.entries(type.attributes))
    if (attribute.required !== false) out[name] = standInValue(attribute);
  return out;
}

function standInValue(type: CedarType): unknown {
  switch (type.type) {
    case 'String':
    case 'Entity':
      return '';
    case 'Long':
      return 0;
    case 'Boolean':
      return false;
    case 'Extension':
      return 0;
    case 'Set':
      return [];
    case 'Record':
      return standInArguments(type);
  }
}

function replayed(decision: Decision): ReplayedDecision {
  switch (decision.kind) {
    case 'allow':
      return { decision: 'allow', policies: decision.policies };
    case 'deny':
      return { decision: 'deny', code: decision.code, reason: decision.reason, policies: decision.policies };
    case 'error':
      return { decision: 'deny', code: 'error', reason: decision.reason, policies: [] };
  }
}

function toolOf(operation: PolicyOperation): string {
  switch (operation.kind) {
    case 'tool-call':
      return operation.tool.full;
    case 'prompt-get':
      return `prompt:${operation.name}`;
    case 'resource-read':
      return `resource:${operation.uri}`;
  }
}

/** A candidate policy folder, ready to decide recorded calls. */
export class ReplayEngine {
  private readonly pdp: CedarDecisionPoint;
  private readonly settings: AuthorizerSettings;
  private readonly readsArguments: (action: string) => boolean;
  private readonly tokenFields: 'all' | ReadonlySet<string>;
  private readonly cache = new Map<string, ReplayedDecision>();

  constructor(
    readonly bundle: PolicyBundle,
    options: { readonly resourceId?: string } = {},
  ) {
    const namespace = bundle.namespace || 'McpIdentity';
    this.pdp = new CedarDecisionPoint(bundle);
    this.settings = {
      model: { namespace, resourceId: options.resourceId ?? 'gateway', inputTypes: bundle.inputTypes },
      injection: DEFAULT_INJECTION,
      mode: 'enforce',
      catalog: bundle.catalog,
    };
    this.readsArguments = argumentReaders(bundle, namespace);
    this.tokenFields = bundle.policies.every((policy) => policy.json !== undefined)
      ? tokenReads(bundle.policies.map((policy) => policy.json as NonNullable<typeof policy.json>))
      : 'all';
  }

  get distinctRequests(): number {
    return this.cache.size;
  }

  private readsToken(field: string): boolean {
    return this.tokenFields === 'all' || this.tokenFields.has(field);
  }

  /** Why this call cannot be decided faithfully under the candidate, or undefined when it can. */
  unfaithful(call: RecordedCall): NotReplayableReason | undefined {
    if (!call.tokenFacts && (this.readsToken('expiresAt') || this.readsToken('issuedAt')))
      return 'token-facts-not-recorded';
    if (call.operation.kind !== 'tool-call' || call.arguments === 'exact') return undefined;
    // The argument check itself failed when recorded: without the arguments it cannot be redone.
    if (call.recorded.errorCode === 'InvalidArguments' || this.readsArguments(call.operation.tool.full))
      return call.arguments === 'redacted' ? 'arguments-redacted' : 'arguments-not-recorded';
    return undefined;
  }

  /** The caller with the token facts no candidate policy reads left out: the cache key and the request. */
  private normalised(caller: Caller): Caller {
    const { tokenId, issuedAt, expiresAt, ...rest } = caller;
    return {
      ...rest,
      expiresAt: this.readsToken('expiresAt') ? expiresAt : 1,
      ...(tokenId !== undefined && this.readsToken('id') ? { tokenId } : {}),
      ...(issuedAt !== undefined && this.readsToken('issuedAt') ? { issuedAt } : {}),
    };
  }

  /** Decides a recorded call under the candidate (cached on the whole request). */
  async decide(call: RecordedCall): Promise<ReplayedDecision> {
    const caller = this.normalised(call.caller);
    let operation = call.operation;
    if (operation.kind === 'tool-call' && call.arguments !== 'exact')
      operation = { ...operation, arguments: standInArguments(this.bundle.inputTypes[operation.tool.full]) };
    const key = JSON.stringify([caller, operation]);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const verdict = await authorizeOperation(caller, operation, this.pdp, this.settings);
    const answer = replayed(verdict.decision);
    this.cache.set(key, answer);
    return answer;
  }
}

function samePolicies(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');
}

function bump(map: Map<string, ReplayCounts>, key: string, field: keyof ReplayCounts): void {
  let counts = map.get(key);
  if (counts === undefined) {
    counts = { newlyDenied: 0, newlyAllowed: 0, unchanged: 0 };
    map.set(key, counts);
  }
  counts[field] += 1;
}

/** Replays recorded events under the candidate and reports what would change. */
export async function replayEvents(
  events: Iterable<AuditEventData> | AsyncIterable<AuditEventData>,
  engine: ReplayEngine,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const every = options.progressEvery ?? 1000;
  const notReplayable: Partial<Record<NotReplayableReason, number>> = {};
  const newlyDenied: ReplayChange[] = [];
  const newlyAllowed: ReplayChange[] = [];
  const byTool = new Map<string, ReplayCounts>();
  const byUser = new Map<string, ReplayCounts>();
  let count = 0;
  let replayedCount = 0;
  let unchanged = 0;
  let unchangedOtherPolicies = 0;
  let outcomes = 0;
  for await (const event of events) {
    count += 1;
    if (options.onProgress !== undefined && count % every === 0)
      options.onProgress({ done: count, ...(options.total === undefined ? {} : { total: options.total }) });
    const read = recordedEvent(event);
    if (read.kind === 'outcome') {
      outcomes += 1;
      continue;
    }
    if (read.kind === 'not-replayable') {
      notReplayable[read.reason] = (notReplayable[read.reason] ?? 0) + 1;
      continue;
    }
    const { call } = read;
    const unfaithful = engine.unfaithful(call);
    if (unfaithful !== undefined) {
      notReplayable[unfaithful] = (notReplayable[unfaithful] ?? 0) + 1;
      continue;
    }
    const candidate = await engine.decide(call);
    replayedCount += 1;
    const tool = toolOf(call.operation);
    const user = call.caller.subject;
    if (candidate.decision === call.recorded.decision) {
      unchanged += 1;
      if (!samePolicies(candidate.policies, call.recorded.policies)) unchangedOtherPolicies += 1;
      bump(byTool, tool, 'unchanged');
      bump(byUser, user, 'unchanged');
      continue;
    }
    const change: ReplayChange = {
      uid: call.uid,
      time: call.time,
      user,
      ...(call.caller.email === undefined ? {} : { email: call.caller.email }),
      ...(call.caller.username === undefined ? {} : { username: call.caller.username }),
      ...(call.caller.agent === undefined ? {} : { agent: call.caller.agent }),
      tool,
      recorded: call.recorded,
      candidate,
      ...(call.operation.kind === 'tool-call' && call.arguments === 'exact'
        ? { arguments: call.operation.arguments }
        : {}),
    };
    const field = candidate.decision === 'deny' ? 'newlyDenied' : 'newlyAllowed';
    (field === 'newlyDenied' ? newlyDenied : newlyAllowed).push(change);
    bump(byTool, tool, field);
    bump(byUser, user, field);
  }
  options.onProgress?.({ done: count, ...(options.total === undefined ? {} : { total: options.total }) });
  const byTime = (a: ReplayChange, b: ReplayChange) =>
    a.time.localeCompare(b.time) || a.uid.localeCompare(b.uid);
  return {
    events: count,
    replayed: replayedCount,
    unchanged,
    unchangedOtherPolicies,
    newlyDenied: newlyDenied.sort(byTime),
    newlyAllowed: newlyAllowed.sort(byTime),
    notReplayable,
    outcomes,
    byTool: Object.fromEntries([...byTool.entries()].sort(([a], [b]) => a.localeCompare(b))),
    byUser: Object.fromEntries([...byUser.entries()].sort(([a], [b]) => a.localeCompare(b))),
    distinctRequests: engine.distinctRequests,
  };
}
