import { CedarDecisionPoint } from '../lambda/adapters/cedar-decision-point';
import { type ActionConstraint, actionKey, type PolicyBundle } from '../lambda/adapters/policy-files';
import { tokenReads } from '../lambda/adapters/policy-token-reads';
import type { AuditEventData } from '../lambda/core/audit-event';
import { type AuthorizerSettings, authorizeOperation, callableTools } from '../lambda/core/authorize';
import type { Caller } from '../lambda/core/caller';
import {
  ArgumentConversionError,
  type CedarType,
  type PolicyOperation,
  toCedarValue,
} from '../lambda/core/cedar-request';
import type { Decision } from '../lambda/core/decision';
import { DEFAULT_INJECTION } from '../lambda/core/injection';
import {
  type NotReplayableReason,
  type RecordedCall,
  type RecordedListing,
  recordedEvent,
} from '../lambda/core/recorded-call';

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
  /**
   * A denial decided without the arguments (they were not recorded): under the candidate no input to the tool
   * could be allowed for this caller, so the call is denied whatever its arguments were.
   */
  readonly forAnyArguments?: true;
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

/** A tool a recorded `tools/list` showed and the candidate would hide, or the reverse. */
export interface ListingChange {
  readonly uid: string;
  readonly time: string;
  readonly user: string;
  readonly tool: string;
}

export interface ListingResult {
  /** Listings decided again (each tool in them checked). */
  readonly replayed: number;
  /** Tool visibilities unchanged, over all replayed listings. */
  readonly unchangedTools: number;
  readonly newlyHidden: readonly ListingChange[];
  readonly newlyShown: readonly ListingChange[];
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
  /** Outcome events of calls (RESPONSE step): not decisions, not counted as replayable or not. */
  readonly outcomes: number;
  /** Access-change events (grants and revocations issued or lifted): not decisions, not counted either. */
  readonly accessChanges: number;
  /**
   * Events not replayable for a reason that could hide a change (see {@link MAY_HIDE_A_CHANGE}), by the recorded
   * decision (`unknown` when the event was not read that far, and for listings): what a `--fail-on` gate
   * cannot vouch for.
   */
  readonly unverified: { readonly allow: number; readonly deny: number; readonly unknown: number };
  /** `tools/list` answers (read only when asked for): which tools each caller would see. */
  readonly listings: ListingResult;
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

/** Which arguments (`context.input` attributes) a policy reads: a set of names, or 'all' when it cannot tell. */
export type InputReads = 'all' | ReadonlySet<string>;

function access(node: Record<string, unknown>): { left: unknown; attr: unknown } | undefined {
  for (const op of ['.', 'has']) {
    const inner = node[op];
    if (inner !== null && typeof inner === 'object' && 'left' in inner && 'attr' in inner)
      return inner as { left: unknown; attr: unknown };
  }
  return undefined;
}

function isVar(node: unknown, name: string): boolean {
  return node !== null && typeof node === 'object' && (node as Record<string, unknown>).Var === name;
}

/** `context.input` itself. */
function isContextInput(node: unknown): boolean {
  if (node === null || typeof node !== 'object') return false;
  const inner = (node as Record<string, unknown>)['.'] as { left?: unknown; attr?: unknown } | undefined;
  return inner !== undefined && inner !== null && inner.attr === 'input' && isVar(inner.left, 'context');
}

/**
 * The `context.input` attributes a policy's conditions (Cedar JSON) read, by `context.input.x` or
 * `context.input has x`. Anything else that could see the arguments — `context.input` or `context` used as a
 * value, a walk too deep — reads them all. Written by hand, like policy-token-reads.ts: no maintained package
 * answers "which attributes does this Cedar policy read".
 */
export function inputReads(node: unknown, into = new Set<string>(), depth = 0): InputReads {
  if (depth > 200) return 'all';
  if (Array.isArray(node)) {
    for (const item of node) if (inputReads(item, into, depth + 1) === 'all') return 'all';
    return into;
  }
  if (node === null || typeof node !== 'object') return into;
  const record = node as Record<string, unknown>;
  if (isVar(record, 'context')) return 'all';
  const read = access(record);
  if (read !== undefined) {
    if (isContextInput(read.left)) {
      if (typeof read.attr !== 'string') return 'all';
      into.add(read.attr);
      return into;
    }
    // `context.input` as a whole value, or `context has input` (always true for a tool call: harmless).
    if (isVar(read.left, 'context')) return read.attr === 'input' && '.' in record ? 'all' : into;
  }
  for (const value of Object.values(record)) if (inputReads(value, into, depth + 1) === 'all') return 'all';
  return into;
}

/** For each action, which of its arguments the candidate policies that can apply to it read. */
function argumentReaders(bundle: PolicyBundle, namespace: string): (action: string) => InputReads {
  const actionType = `${namespace}::Action`;
  // A policy whose JSON form is unknown counts as reading every argument (never replay on a guess).
  const reads = bundle.policies.map((policy) =>
    policy.json === undefined ? ('all' as const) : inputReads(policy.json.conditions),
  );
  const memo = new Map<string, InputReads>();
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
    let answer: InputReads = new Set<string>();
    for (const [index, policy] of bundle.policies.entries()) {
      if (!applies(policy.scope?.action, keys, own)) continue;
      const read = reads[index] as InputReads;
      if (read === 'all') {
        answer = 'all';
        break;
      }
      answer = new Set([...answer, ...read]);
    }
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

/** A value the redaction replaced or cut: not what the policy saw. */
function isMarked(value: unknown): boolean {
  const text = JSON.stringify(value) ?? '';
  return text.includes('[REDACTED]') || text.includes('[TOO DEEP]');
}

/**
 * Arguments with the recorded names: the given value where it is known (and not a redaction mark), a
 * stand-in of the candidate's declared type elsewhere, and an empty string for a name the candidate does not
 * declare (refused whatever its value). Built with `fromEntries`, so a name like `__proto__` stays a name.
 */
function namedStandIns(
  names: readonly string[],
  values: Readonly<Record<string, unknown>>,
  type: CedarType,
): Record<string, unknown> {
  return Object.fromEntries(
    names.map((name) => {
      if (Object.hasOwn(values, name) && !isMarked(values[name])) return [name, values[name]];
      const attribute =
        type.type === 'Record' && Object.hasOwn(type.attributes, name) ? type.attributes[name] : undefined;
      return [name, attribute === undefined ? '' : standInValue(attribute)];
    }),
  );
}

/** Whether the live path's argument check (the conversion to the declared Cedar type) refuses these. */
function conversionFails(args: Readonly<Record<string, unknown>>, type: CedarType): boolean {
  try {
    toCedarValue(args, type);
    return false;
  } catch (error) {
    if (error instanceof ArgumentConversionError) return true;
    throw error;
  }
}

/** The answer when the arguments were not recorded but no input at all could be allowed (the tools/list check). */
function deniedForAnyArguments(tool: string): ReplayedDecision {
  return {
    decision: 'deny',
    code: 'policy',
    reason: `Denied for any arguments: no input to the tool '${tool}' could be allowed for this caller (the tools/list check); the arguments themselves were not recorded.`,
    policies: [],
    forAnyArguments: true,
  };
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
  private readonly readsArguments: (action: string) => InputReads;
  private readonly tokenFields: 'all' | ReadonlySet<string>;
  private readonly cache = new Map<string, ReplayedDecision>();
  private readonly listings = new Map<string, ReadonlySet<string>>();
  private readonly callables = new Map<string, boolean | undefined>();

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

  private readsTokenTimes(): boolean {
    return this.readsToken('expiresAt') || this.readsToken('issuedAt');
  }

  /**
   * The call decided again under the candidate, or why it cannot be decided faithfully. Where the values a
   * candidate policy reads were not recorded, the live path's own checks that need no value still decide: a
   * tool the schema does not know, argument names the schema refuses (a required one missing, an undeclared
   * one), and the tools/list check "could some input be allowed?" — a caller who could not call the tool with
   * any input is denied whatever the arguments were.
   */
  async replay(call: RecordedCall): Promise<ReplayedDecision | NotReplayableReason> {
    if (!call.tokenFacts && this.readsTokenTimes()) return 'token-facts-not-recorded';
    if (call.operation.kind !== 'tool-call' || call.arguments === 'exact') return this.decide(call);
    const tool = call.operation.tool.full;
    const reason = call.arguments === 'redacted' ? 'arguments-redacted' : 'arguments-not-recorded';
    const type = this.bundle.inputTypes[tool];
    // Refused before any policy reads a value: not in the schema, or the recorded names do not fit it.
    if (type === undefined) return this.decide(call);
    const names = call.argumentNames;
    if (names !== undefined && conversionFails(namedStandIns(names, {}, type), type))
      return this.decide(call);
    if (names !== undefined && call.recorded.errorCode !== 'InvalidArguments') {
      // (A recorded refusal of the argument check itself cannot be redone without the values.)
      const reads = this.readsArguments(tool);
      const args = call.operation.arguments;
      const faithful =
        reads !== 'all' &&
        (call.arguments === 'names'
          ? reads.size === 0
          : ![...reads].some((name) => isMarked(args[name] ?? null)));
      if (faithful) return this.decide(call);
    }
    return (await this.callable(call.caller, tool)) === false ? deniedForAnyArguments(tool) : reason;
  }

  /** The tools/list check for one tool: false when no input could be allowed, undefined if the engine failed. */
  private async callable(caller: Caller, tool: string): Promise<boolean | undefined> {
    const normalised = this.normalised(caller);
    const key = JSON.stringify(['callable', normalised, tool]);
    if (this.callables.has(key)) return this.callables.get(key);
    const { callable, error } = await callableTools(normalised, [tool], this.pdp, this.settings);
    // An engine failure hides the tool on the live path; here it decides nothing.
    const answer = error === undefined ? callable.has(tool) : undefined;
    this.callables.set(key, answer);
    return answer;
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

  /**
   * The arguments the decision is made with: the recorded names, with the recorded values where a policy reads
   * them and type-correct stand-ins elsewhere (no policy can tell them apart), so calls that differ only in
   * what no policy reads share one decision. Names the candidate's schema refuses (missing, undeclared) and
   * recorded values of the wrong type are kept as they are, so the live path's check refuses them with its reason.
   */
  private decidedArguments(
    call: RecordedCall & { operation: { kind: 'tool-call' } },
  ): Readonly<Record<string, unknown>> {
    const tool = call.operation.tool.full;
    const type = this.bundle.inputTypes[tool];
    if (type === undefined) return {};
    const recorded = call.operation.arguments;
    const known =
      call.arguments === 'exact'
        ? recorded
        : namedStandIns(call.argumentNames ?? [], call.arguments === 'redacted' ? recorded : {}, type);
    const reads = this.readsArguments(tool);
    if (reads === 'all' || conversionFails(known, type)) return known;
    return namedStandIns(
      Object.keys(known),
      Object.fromEntries(
        [...reads].filter((name) => Object.hasOwn(known, name)).map((name) => [name, known[name]]),
      ),
      type,
    );
  }

  /** The tools of a recorded listing the caller would see under the candidate (the live list filter's check). */
  async visible(listing: RecordedListing): Promise<ReadonlySet<string> | 'token-facts-not-recorded'> {
    if (!listing.tokenFacts && this.readsTokenTimes()) return 'token-facts-not-recorded';
    const caller = this.normalised(listing.caller);
    const key = JSON.stringify(['list', caller, listing.tools]);
    const cached = this.listings.get(key);
    if (cached !== undefined) return cached;
    // Fails closed as the gateway does: an engine failure hides every tool.
    const { callable } = await callableTools(caller, listing.tools, this.pdp, this.settings);
    this.listings.set(key, callable);
    return callable;
  }

  /** Decides a recorded call under the candidate (cached on the whole request). */
  private async decide(call: RecordedCall): Promise<ReplayedDecision> {
    const caller = this.normalised(call.caller);
    let operation = call.operation;
    if (operation.kind === 'tool-call')
      operation = {
        ...operation,
        arguments: this.decidedArguments(call as RecordedCall & { operation: { kind: 'tool-call' } }),
      };
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

/**
 * Reasons an event stays unreplayed that a policy change could be hiding behind: the candidate might decide it
 * differently, and replay could not tell. The others are refusals no policy decides (a refused credential, a
 * revocation, spoofing, a malformed request, a gate, a failed decision point with no policy answer recorded).
 */
export const MAY_HIDE_A_CHANGE: ReadonlySet<NotReplayableReason> = new Set<NotReplayableReason>([
  'arguments-not-recorded',
  'arguments-redacted',
  'token-facts-not-recorded',
  'truncated',
  'unknown-format',
]);

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
  let listingsReplayed = 0;
  let unchangedTools = 0;
  const newlyHidden: ListingChange[] = [];
  const newlyShown: ListingChange[] = [];
  let accessChanges = 0;
  const unverified = { allow: 0, deny: 0, unknown: 0 };
  const unverify = (reason: NotReplayableReason, recorded: 'allow' | 'deny' | undefined) => {
    if (MAY_HIDE_A_CHANGE.has(reason)) unverified[recorded ?? 'unknown'] += 1;
  };
  for await (const event of events) {
    count += 1;
    if (options.onProgress !== undefined && count % every === 0)
      options.onProgress({ done: count, ...(options.total === undefined ? {} : { total: options.total }) });
    const read = recordedEvent(event);
    if (read.kind === 'outcome') {
      outcomes += 1;
      continue;
    }
    if (read.kind === 'access-change') {
      accessChanges += 1;
      continue;
    }
    if (read.kind === 'not-replayable') {
      notReplayable[read.reason] = (notReplayable[read.reason] ?? 0) + 1;
      unverify(read.reason, read.recorded);
      continue;
    }
    if (read.kind === 'listing') {
      const { listing } = read;
      const visible = await engine.visible(listing);
      if (visible === 'token-facts-not-recorded') {
        notReplayable[visible] = (notReplayable[visible] ?? 0) + 1;
        unverify(visible, undefined);
        continue;
      }
      listingsReplayed += 1;
      for (const tool of listing.tools) {
        const was = listing.visible.has(tool);
        const now = visible.has(tool);
        if (was === now) unchangedTools += 1;
        else
          (was ? newlyHidden : newlyShown).push({
            uid: listing.uid,
            time: listing.time,
            user: listing.caller.subject,
            tool,
          });
      }
      continue;
    }
    const { call } = read;
    const candidate = await engine.replay(call);
    if (typeof candidate === 'string') {
      notReplayable[candidate] = (notReplayable[candidate] ?? 0) + 1;
      unverify(candidate, call.recorded.decision);
      continue;
    }
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
    accessChanges,
    unverified,
    listings: { replayed: listingsReplayed, unchangedTools, newlyHidden, newlyShown },
    byTool: Object.fromEntries([...byTool.entries()].sort(([a], [b]) => a.localeCompare(b))),
    byUser: Object.fromEntries([...byUser.entries()].sort(([a], [b]) => a.localeCompare(b))),
    distinctRequests: engine.distinctRequests,
  };
}
