import { type CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { AUDIT_LOG_KEY } from '../lambda/adapters/log-audit-sink';
import { auditEventsFromLogLines } from '../lambda/core/audit-delivery';
import type { AuditEventData } from '../lambda/core/audit-event';
import { JsonlTail } from '../local/console/jsonl-tail';
import {
  type ActivityFilter,
  type ActivityRow,
  matchesFilter,
  queryLocal,
  rowFromEvent,
  toCsv,
} from './activity';

/**
 * `mcp-identity activity --follow`: new audit events as they are written, with the same filters and columns as
 * `activity`. Two sources:
 * - the local JSONL store, read incrementally from the last offset by the console's tailer
 *   (local/console/jsonl-tail.ts: partial last lines wait, a truncated or replaced file is read from its start);
 * - a CloudWatch Logs audit log group, polled with FilterLogEvents. Near-real-time: an event shows up one poll
 *   after CloudWatch Logs has ingested it (usually seconds). Each poll re-reads a trailing window of
 *   {@link LATE_ARRIVAL_MS} so events ingested late are not missed, and events are de-duplicated by their
 *   CloudWatch event id (and the audit UID) across polls, so the overlap never prints one twice.
 * CloudTrail Lake is not tailed: its queries scan and bill, and events take minutes to become queryable. The
 * Lake store is fed from the same audit log group, which is what `--follow` reads.
 */

/** How far back each CloudWatch poll looks again for events ingested late. */
export const LATE_ARRIVAL_MS = 60_000;
/** The most FilterLogEvents pages one poll reads; the rest comes with the next poll. */
export const MAX_PAGES_PER_POLL = 20;
/** The audit lines LogAuditSink writes (the subscription filter's pattern, lib/constructs/audit-trail.ts). */
export const AUDIT_LINES_PATTERN = '{ $.auditEvent.UID = * }';
/** Consecutive failed polls (throttling, 5xx, network) tolerated before giving up. */
export const MAX_FAILED_POLLS = 5;

/** What follow matches events on: `activity`'s filter without a time range or limit. */
export type FollowFilter = Pick<ActivityFilter, 'user' | 'tool' | 'decision' | 'agent' | 'uid' | 'phase'>;

export interface FollowOptions {
  readonly filter: FollowFilter;
  /** Stops following (Ctrl-C). */
  readonly signal: AbortSignal;
  readonly pollMs: number;
  /** Called with each batch of new matching rows, oldest first. */
  readonly onRows: (rows: readonly ActivityRow[]) => void;
  /** Non-fatal problems (unreadable lines, a failed poll that will be retried). */
  readonly onWarning: (message: string) => void;
  /**
   * Called once the follow is positioned (and any backlog shown): from then on every appended event is news. Say
   * "following" here, not before — an event written between the message and the positioning would be history.
   */
  readonly onReady?: () => void;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly now?: () => number;
}

const EVERYTHING = { since: new Date(0), until: new Date(8.64e15), limit: Number.MAX_SAFE_INTEGER };

function matches(event: AuditEventData, filter: FollowFilter): boolean {
  return (
    typeof event?.UID === 'string' &&
    event.userIdentity !== undefined &&
    matchesFilter(event, { ...EVERYTHING, ...filter })
  );
}

/** Resolves after `ms`, or at once when the signal aborts (never rejects). */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Audit UIDs already shown, bounded: the oldest are forgotten first. */
class SeenUids {
  private readonly uids = new Set<string>();
  constructor(private readonly max = 50_000) {}
  /** True the first time a UID is offered. */
  add(uid: string): boolean {
    if (this.uids.has(uid)) return false;
    this.uids.add(uid);
    if (this.uids.size > this.max) this.uids.delete(this.uids.values().next().value as string);
    return true;
  }
}

/**
 * Follows the local JSONL store until the signal aborts. Only events appended after the start are shown, unless
 * `backlogSince` asks for the matching events from then on first (oldest first). The tail is positioned before
 * the backlog is read, and UIDs are de-duplicated, so an event written in between shows exactly once.
 */
export async function followLocal(
  file: string,
  options: FollowOptions & { readonly backlogSince?: Date; readonly backlogLimit?: number },
): Promise<void> {
  const sleep = options.sleep ?? abortableSleep;
  const seen = new SeenUids();
  // Bytes behind the end the tailer may start from: everything, so positioning skips nothing it must drop.
  const tail = new JsonlTail(file, { windowBytes: Number.MAX_SAFE_INTEGER, maxReadBytes: 64 * 1024 * 1024 });
  // Position at the current end: what is there now is history, not news. A read that returns neither a line
  // nor an unreadable one has reached the end (a longer stretch without a newline is counted as unreadable).
  for (;;) {
    const read = tail.read();
    for (const value of read.values) {
      const uid = (value as AuditEventData | null)?.UID;
      if (typeof uid === 'string') seen.add(uid);
    }
    if (read.values.length === 0 && read.unreadable === 0) break;
  }
  if (options.backlogSince !== undefined) {
    let backlog: ActivityRow[] = [];
    try {
      backlog = queryLocal(file, {
        ...options.filter,
        since: options.backlogSince,
        until: EVERYTHING.until,
        limit: options.backlogLimit ?? 1000,
      }).rows;
    } catch {
      // No store yet: nothing to show before the tail.
    }
    options.onRows(backlog.reverse());
    for (const row of backlog) seen.add(row.uid);
  }
  options.onReady?.();
  while (!options.signal.aborted) {
    await sleep(options.pollMs, options.signal);
    if (options.signal.aborted) break;
    const read = tail.read();
    if (read.unreadable > 0)
      options.onWarning(`${read.unreadable} unreadable line(s) in ${file} were skipped`);
    if (read.restarted && read.values.length > 0)
      options.onWarning(`${file} was truncated or replaced; reading it from its start`);
    const rows: ActivityRow[] = [];
    for (const value of read.values) {
      const event = value as AuditEventData;
      if (!matches(event, options.filter) || !seen.add(event.UID)) continue;
      rows.push(rowFromEvent(event));
    }
    if (rows.length > 0) options.onRows(rows);
  }
}

/** An AWS error worth another poll: throttling, a server-side failure, or the network. */
function transient(error: unknown): boolean {
  const candidate = error as { $retryable?: unknown; $metadata?: { httpStatusCode?: number }; name?: string };
  if (candidate?.$retryable !== undefined) return true;
  const status = candidate?.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  return ['ThrottlingException', 'TimeoutError', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT'].includes(
    candidate?.name ?? '',
  );
}

/**
 * Follows a CloudWatch Logs audit log group until the signal aborts, from `startTime` (ms; `activity --since`,
 * else now). Each poll asks for [max(startTime, previous successful poll − {@link LATE_ARRIVAL_MS}), now] and
 * prints what it has not printed before, oldest first. A failed poll is retried at the next tick (the window
 * still starts at the last successful poll, so nothing is skipped); {@link MAX_FAILED_POLLS} in a row, or an
 * error that is not transient (access denied, no such log group), ends the follow with that error. A window
 * with more than {@link MAX_PAGES_PER_POLL} pages is finished by the next polls, from its token.
 */
export async function followCloudWatch(
  client: CloudWatchLogsClient,
  logGroup: string,
  options: FollowOptions & { readonly startTime: number },
): Promise<void> {
  const sleep = options.sleep ?? abortableSleep;
  const now = options.now ?? Date.now;
  // CloudWatch event id → event timestamp, for the events inside the current window.
  const seenEvents = new Map<string, number>();
  const seenUids = new SeenUids();
  let lastSuccess: number | undefined;
  // A window whose pages did not all fit in one poll: the next poll goes on from its token, same bounds.
  let unfinished: { readonly start: number; readonly end: number; readonly token: string } | undefined;
  let failures = 0;
  while (!options.signal.aborted) {
    const window = unfinished ?? {
      start: Math.max(options.startTime, (lastSuccess ?? options.startTime) - LATE_ARRIVAL_MS),
      end: now(),
      token: undefined,
    };
    try {
      const fresh: { readonly timestamp: number; readonly event: AuditEventData }[] = [];
      let nextToken: string | undefined = window.token;
      let pages = 0;
      do {
        const page = await client.send(
          new FilterLogEventsCommand({
            logGroupName: logGroup,
            startTime: window.start,
            endTime: window.end,
            filterPattern: AUDIT_LINES_PATTERN,
            ...(nextToken === undefined ? {} : { nextToken }),
          }),
          { abortSignal: options.signal },
        );
        for (const logEvent of page.events ?? []) {
          const id = logEvent.eventId;
          const timestamp = logEvent.timestamp ?? window.end;
          if (id === undefined || seenEvents.has(id)) continue;
          seenEvents.set(id, timestamp);
          const { events, skipped } = auditEventsFromLogLines([logEvent.message ?? ''], AUDIT_LOG_KEY);
          if (skipped > 0) options.onWarning(`an unreadable line in ${logGroup} was skipped (event ${id})`);
          for (const event of events) fresh.push({ timestamp, event });
        }
        nextToken = page.nextToken;
        pages += 1;
      } while (nextToken !== undefined && pages < MAX_PAGES_PER_POLL && !options.signal.aborted);
      if (nextToken !== undefined) {
        unfinished = { start: window.start, end: window.end, token: nextToken };
        if (!options.signal.aborted)
          options.onWarning(`more than ${MAX_PAGES_PER_POLL} pages of events in one poll; the rest follow`);
      } else {
        unfinished = undefined;
        lastSuccess = window.end;
      }
      failures = 0;
      const rows = fresh
        .sort((a, b) => a.timestamp - b.timestamp)
        .filter(({ event }) => matches(event, options.filter) && seenUids.add(event.UID))
        .map(({ event }) => rowFromEvent(event));
      if (rows.length > 0) options.onRows(rows);
      // Ids older than the next window cannot come back: forget them.
      const nextStart =
        unfinished?.start ??
        Math.max(options.startTime, (lastSuccess ?? options.startTime) - LATE_ARRIVAL_MS);
      for (const [id, timestamp] of seenEvents) if (timestamp < nextStart) seenEvents.delete(id);
    } catch (error) {
      if (options.signal.aborted) break;
      failures += 1;
      if (!transient(error) || failures >= MAX_FAILED_POLLS) throw error;
      options.onWarning(
        `polling ${logGroup} failed (${(error as Error).name ?? 'error'}); retrying (${failures}/${MAX_FAILED_POLLS})`,
      );
    }
    await sleep(options.pollMs, options.signal);
  }
}

// --- output ------------------------------------------------------------------------------------------------

/** Column widths of the streamed table (a stream cannot measure its rows first). */
const WIDTHS: Readonly<Record<string, number>> = {
  time: 20,
  phase: 8,
  user: 16,
  tool: 30,
  decision: 8,
  enforced: 8,
  errorCode: 22,
  policies: 24,
  reason: 48,
  agent: 16,
  uid: 36,
  arguments: 48,
};

export type FollowFormat = 'table' | 'json' | 'csv';

/** Lines for one stream: a header once (table, CSV), then one line per row. */
export function followPrinter(
  format: FollowFormat,
  columns: readonly string[],
  options: { readonly wide: boolean; readonly showArguments: boolean },
): { readonly header: string | undefined; line(row: ActivityRow): string } {
  const record = (row: ActivityRow): Record<string, string> => {
    const { arguments: args, ...rest } = row;
    return options.showArguments ? { ...rest, arguments: args } : rest;
  };
  if (format === 'json')
    return {
      header: undefined,
      line: (row) => JSON.stringify(record(row)),
    };
  if (format === 'csv')
    return {
      header: columns.join(','),
      line: (row) =>
        toCsv([record(row)], columns)
          .split('\n')
          .slice(1)
          .join('\n'),
    };
  const cell = (column: string, value: string, last: boolean): string => {
    const width = WIDTHS[column] ?? 16;
    if (options.wide) return last ? value : value.padEnd(width);
    const cut = value.length > width ? `${value.slice(0, width - 1)}…` : value;
    return last ? cut : cut.padEnd(width);
  };
  const line = (values: readonly string[]) =>
    values
      .map((value, index) => cell(columns[index] as string, value, index === values.length - 1))
      .join('  ')
      .trimEnd();
  return {
    header: line(columns.map((column) => column.toUpperCase())),
    line: (row) =>
      line(columns.map((column) => String((record(row) as Record<string, string>)[column] ?? ''))),
  };
}
