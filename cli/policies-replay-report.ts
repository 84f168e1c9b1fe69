import type { PolicyBundle } from '../lambda/adapters/policy-files';
import { toCsv, toTable } from './activity';
import { type PolicyReference, references, where } from './policies-authorize';
import {
  type ListingChange,
  MAY_HIDE_A_CHANGE,
  type ReplayChange,
  type ReplayResult,
} from './policies-replay-engine';

/**
 * The report of `policies replay` for people (tables), scripts (`--json`) and spreadsheets (`--csv`). Policies
 * are named as `policies authorize` names them (effect, @id, file:line, reason).
 */

export type FailOn = 'newly-denied' | 'newly-allowed' | 'any';

/** Exit code when the `--fail-on` condition holds. 0 otherwise; 1 errors; 2 bad usage. */
export const EXIT_CHANGED = 4;

/**
 * Whether the `--fail-on` condition holds: changed calls, and changed tools/list answers (`--listings`) — a tool
 * newly hidden is a denial to that caller, one newly shown an allow.
 */
export function failed(result: ReplayResult, failOn: FailOn | undefined): boolean {
  const denied = result.newlyDenied.length + result.listings.newlyHidden.length > 0;
  const allowed = result.newlyAllowed.length + result.listings.newlyShown.length > 0;
  switch (failOn) {
    case undefined:
      return false;
    case 'newly-denied':
      return denied;
    case 'newly-allowed':
      return allowed;
    case 'any':
      return denied || allowed;
  }
}

/** Whether the replay decided anything again: a call, or a tools/list answer. */
export function checkedSomething(result: ReplayResult): boolean {
  return result.replayed > 0 || result.listings.replayed > 0;
}

/**
 * The events a `--fail-on` gate cannot vouch for: not replayable for a reason that could hide the change it
 * checks (arguments or token facts not recorded, truncated, an unknown format). A gate on newly denied calls
 * cannot be hidden by a recorded denial, nor one on newly allowed calls by a recorded allow.
 */
export function unverifiedFor(result: ReplayResult, failOn: FailOn): number {
  const { allow, deny, unknown } = result.unverified;
  switch (failOn) {
    case 'newly-denied':
      return allow + unknown;
    case 'newly-allowed':
      return deny + unknown;
    case 'any':
      return allow + deny + unknown;
  }
}

/**
 * Why a `--fail-on` gate cannot pass on this replay, or undefined when it checked what it was asked to. A CI gate
 * fails closed: a replay cut short by `--limit` has not seen every change; one that read events but could
 * replay none of them checked nothing; and an event that stayed unreplayed for a reason that could hide a change
 * (arguments recorded by name only and read by a candidate policy, say) may be exactly the change — unless
 * `--allow-unreplayable` accepts that. No events at all is no traffic, which a policy change cannot break.
 */
export function incompleteGate(
  result: ReplayResult,
  failOn: FailOn | undefined,
  truncated: boolean,
  allowUnreplayable = false,
): string | undefined {
  if (failOn === undefined) return undefined;
  if (truncated)
    return 'the source returned the --limit of events, so later ones were not replayed: raise --limit or narrow --since/--until';
  if (result.events > 0 && !checkedSomething(result))
    return `none of the ${result.events} event(s) read could be replayed (see "not replayable" in the report), so the gate checked nothing`;
  const unverified = unverifiedFor(result, failOn);
  if (unverified > 0 && !allowUnreplayable) {
    const reasons = REASON_ORDER.filter((reason) => MAY_HIDE_A_CHANGE.has(reason))
      .flatMap((reason) => {
        const count = result.notReplayable[reason];
        return count === undefined ? [] : [`${reason} ${count}`];
      })
      .join(', ');
    return `${unverified} event(s) could not be replayed for a reason that could hide a ${failOn === 'any' ? 'change' : failOn.replace('-', ' ')} call (${reasons}); pass --allow-unreplayable to accept that`;
  }
  return undefined;
}

export interface ReportContext {
  readonly bundle: PolicyBundle;
  readonly dir: string;
  readonly source: string;
  readonly since: Date;
  readonly until: Date;
  readonly showArguments: boolean;
}

/** What decided the candidate's answer, in words: the policies (file:line), or the default deny, or why not. */
function decidedBy(change: ReplayChange, reference: (id: string) => PolicyReference): string {
  const { candidate } = change;
  const named = candidate.policies.map((id) => where(reference(id)));
  if (candidate.decision === 'allow') return named.join('; ') || 'no policy (not a policy decision)';
  switch (candidate.code) {
    case 'policy':
      if (candidate.forAnyArguments === true) return 'denied for any arguments (tools/list check)';
      // The core names the forbid only when a permit would otherwise have allowed the call.
      return candidate.reason?.startsWith('Denied by') === true && named.length > 0
        ? named.join('; ')
        : 'default deny: no permit applies';
    case 'policy-error':
      return `policy error: ${named.join('; ') || 'a policy could not be evaluated'}`;
    case 'unknown-tool-arguments':
      return 'arguments do not match the schema';
    default:
      return candidate.code ?? 'deny';
  }
}

const REASON_ORDER = [
  'arguments-not-recorded',
  'arguments-redacted',
  'token-facts-not-recorded',
  'truncated',
  'refused-credential',
  'malformed-request',
  'spoofing-attempt',
  'unsupported-method',
  'service-error',
  'revoked',
  'not-a-policy-decision',
  'unknown-format',
] as const;

function notReplayableTotal(result: ReplayResult): number {
  return Object.values(result.notReplayable).reduce((sum, count) => sum + (count ?? 0), 0);
}

/** Rows for the changed calls (table and CSV). */
function changeRows(result: ReplayResult, context: ReportContext): Record<string, string>[] {
  const reference = references(context.bundle, context.dir);
  const row = (change: ReplayChange, kind: string): Record<string, string> => ({
    change: kind,
    time: change.time,
    uid: change.uid,
    user: change.user,
    email: change.email ?? '',
    agent: change.agent ?? '',
    tool: change.tool,
    recorded: `${change.recorded.decision}${change.recorded.policies.length > 0 ? ` (${change.recorded.policies.join(', ')})` : ''}`,
    candidate: change.candidate.decision,
    'decided by': decidedBy(change, reference),
    reason: change.candidate.reason ?? '',
    arguments: change.arguments === undefined ? '' : JSON.stringify(change.arguments),
  });
  const listed = (change: ListingChange, kind: 'newly-hidden' | 'newly-shown'): Record<string, string> => ({
    change: kind,
    time: change.time,
    uid: change.uid,
    user: change.user,
    email: '',
    agent: '',
    tool: change.tool,
    recorded: kind === 'newly-hidden' ? 'listed' : 'hidden',
    candidate: kind === 'newly-hidden' ? 'hidden' : 'listed',
    'decided by': 'tools/list: could some input be allowed?',
    reason: '',
    arguments: '',
  });
  return [
    ...result.newlyDenied.map((change) => row(change, 'newly-denied')),
    ...result.newlyAllowed.map((change) => row(change, 'newly-allowed')),
    ...result.listings.newlyHidden.map((change) => listed(change, 'newly-hidden')),
    ...result.listings.newlyShown.map((change) => listed(change, 'newly-shown')),
  ];
}

export function formatCsv(result: ReplayResult, context: ReportContext): string {
  const columns = [
    'change',
    'time',
    'uid',
    'user',
    'email',
    'agent',
    'tool',
    'recorded',
    'candidate',
    'decided by',
    'reason',
    ...(context.showArguments ? ['arguments'] : []),
  ];
  return `${toCsv(changeRows(result, context), columns)}\n`;
}

export function formatJson(result: ReplayResult, context: ReportContext): string {
  const reference = references(context.bundle, context.dir);
  const change = (item: ReplayChange) => {
    const { arguments: args, ...rest } = item;
    return {
      ...rest,
      candidate: { ...item.candidate, policies: item.candidate.policies.map(reference) },
      decidedBy: decidedBy(item, reference),
      ...(context.showArguments && args !== undefined ? { arguments: args } : {}),
    };
  };
  return `${JSON.stringify(
    {
      source: context.source,
      policies: context.dir,
      since: context.since.toISOString(),
      until: context.until.toISOString(),
      events: result.events,
      replayed: result.replayed,
      unchanged: result.unchanged,
      unchangedOtherPolicies: result.unchangedOtherPolicies,
      newlyDenied: result.newlyDenied.map(change),
      newlyAllowed: result.newlyAllowed.map(change),
      notReplayable: result.notReplayable,
      outcomesSkipped: result.outcomes,
      accessChangesSkipped: result.accessChanges,
      unverified: result.unverified,
      listings: result.listings,
      byTool: result.byTool,
      byUser: result.byUser,
      distinctRequests: result.distinctRequests,
    },
    null,
    2,
  )}\n`;
}

function counts(map: ReplayResult['byTool'], label: string): string {
  const rows = Object.entries(map)
    .filter(([, entry]) => entry.newlyDenied + entry.newlyAllowed > 0)
    .map(([name, entry]) => ({
      [label]: name,
      'newly denied': entry.newlyDenied,
      'newly allowed': entry.newlyAllowed,
      unchanged: entry.unchanged,
    }));
  return rows.length === 0 ? '' : toTable(rows, [label, 'newly denied', 'newly allowed', 'unchanged']);
}

export function formatTable(result: ReplayResult, context: ReportContext): string {
  const number = (value: number) => value.toLocaleString('en-US');
  const skipped = notReplayableTotal(result);
  const reasons = REASON_ORDER.flatMap((reason) => {
    const count = result.notReplayable[reason];
    return count === undefined ? [] : [`${reason} ${number(count)}`];
  });
  const lines = [
    `Replayed ${number(result.replayed)} recorded decision(s) from ${context.source} (${context.since.toISOString()} to ${context.until.toISOString()}) under ${context.dir}`,
    `  newly denied    ${number(result.newlyDenied.length)}`,
    `  newly allowed   ${number(result.newlyAllowed.length)}`,
    `  unchanged       ${number(result.unchanged)}${result.unchangedOtherPolicies > 0 ? ` (${number(result.unchangedOtherPolicies)} decided by other policies)` : ''}`,
    `  not replayable  ${number(skipped)}${reasons.length > 0 ? `: ${reasons.join(', ')}` : ''}`,
  ];
  const { listings } = result;
  if (listings.replayed > 0)
    lines.push(
      `  listings        ${number(listings.replayed)} tools/list answer(s): ${number(listings.newlyHidden.length)} tool(s) newly hidden, ${number(listings.newlyShown.length)} newly shown, ${number(listings.unchangedTools)} unchanged`,
    );
  const rows = changeRows(result, context);
  const columns = [
    'time',
    'user',
    'tool',
    'decided by',
    'agent',
    ...(context.showArguments ? ['arguments'] : []),
  ];
  const section = (title: string, kind: string) => {
    const selected = rows.filter((row) => row.change === kind);
    if (selected.length > 0) lines.push('', title, toTable(selected, columns));
  };
  section('NEWLY DENIED', 'newly-denied');
  section('NEWLY ALLOWED', 'newly-allowed');
  section('NEWLY HIDDEN FROM TOOLS/LIST', 'newly-hidden');
  section('NEWLY SHOWN IN TOOLS/LIST', 'newly-shown');
  const tools = counts(result.byTool, 'tool');
  const users = counts(result.byUser, 'user');
  if (tools !== '') lines.push('', 'BY TOOL', tools);
  if (users !== '') lines.push('', 'BY USER', users);
  return `${lines.join('\n')}\n`;
}
