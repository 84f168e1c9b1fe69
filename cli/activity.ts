import { readFileSync, statSync } from 'node:fs';
import {
  CancelQueryCommand,
  type CloudTrailClient,
  DescribeQueryCommand,
  GetQueryResultsCommand,
  StartQueryCommand,
} from '@aws-sdk/client-cloudtrail';
import {
  type CloudWatchLogsClient,
  GetQueryResultsCommand as GetInsightsResultsCommand,
  StartQueryCommand as StartInsightsQueryCommand,
  StopQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { type AuditEventData, auditFlag, auditList } from '../lambda/core/audit-event';
import { ActivityError } from './errors';

/**
 * `mcp-identity activity`: who did what through agents, from CloudTrail Lake, CloudWatch Logs Insights or the
 * local JSONL store. One filter model generates the Lake SQL and the Insights query; every user-supplied value
 * is escaped for the language it lands in, so no input can change a query's meaning.
 *
 * Every backend counts each audit event once: delivery is at least once, so a store may hold copies of one
 * event (same UID). The Lake SQL groups by UID, the Insights query ends in `dedup`, and the local store and
 * the reports keep the first row of each UID.
 */

export type Decision = 'allow' | 'deny';

export interface ActivityFilter {
  readonly user?: string;
  readonly tool?: string;
  readonly decision?: Decision;
  readonly agent?: string;
  readonly uid?: string;
  readonly since: Date;
  readonly until: Date;
  readonly limit: number;
  /** Decisions only (the REQUEST phase), or outcomes too. @default 'request' */
  readonly phase?: 'request' | 'response' | 'all';
}

export interface ActivityRow {
  readonly time: string;
  readonly uid: string;
  readonly user: string;
  readonly tool: string;
  readonly agent: string;
  readonly decision: string;
  readonly enforced: string;
  readonly errorCode: string;
  readonly reason: string;
  readonly policies: string;
  readonly phase: string;
  /** Ties a decision to its outcome (same caller, session, JSON-RPC id and request). */
  readonly requestKey: string;
  /** The tool call's arguments as the audit recorded them (JSON text, already redacted), or ''. */
  readonly arguments: string;
}

export { parseWhen } from './activity-when';
export { ActivityError } from './errors';

/** True when a value holds a control character (U+0000–U+001F): refused in filters rather than smuggled. */
export function hasControlCharacters(value: string): boolean {
  for (let index = 0; index < value.length; index += 1) if (value.charCodeAt(index) < 0x20) return true;
  return false;
}

/** Trino string literal: single quotes doubled. Control characters are refused rather than smuggled. */
export function sqlString(value: string): string {
  if (hasControlCharacters(value)) throw new ActivityError('filter values cannot contain control characters');
  return `'${value.replace(/'/g, "''")}'`;
}

/** Logs Insights string literal: double-quoted, backslash and double quote escaped. */
export function insightsString(value: string): string {
  if (hasControlCharacters(value)) throw new ActivityError('filter values cannot contain control characters');
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function lakeTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

const EDS_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;
/** An event data store ARN in any partition (aws, aws-cn, aws-us-gov, …): the id is its suffix. */
const EDS_ARN =
  /^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:eventdatastore\/([A-Za-z0-9][A-Za-z0-9-]{0,127})$/;

/** The event data store id from an id or an ARN of any partition; SQL's `FROM` takes the id. */
export function eventDataStoreId(value: string): string {
  const fromArn = EDS_ARN.exec(value);
  if (fromArn) return fromArn[1] as string;
  if (!EDS_ID.test(value))
    throw new ActivityError(`'${value}' is not an event data store id (the ARN suffix) or ARN`);
  return value;
}

/**
 * The CloudTrail Lake SQL for a filter (fields of the integration event live under `eventData`). Rows are
 * grouped by UID, so copies of one event (at-least-once delivery) count once; the copies are identical, so
 * `arbitrary` picks the same value from any of them.
 */
export function buildLakeSql(filter: ActivityFilter, eventDataStore: string): string {
  const storeId = eventDataStoreId(eventDataStore);
  return [
    'SELECT eventData.uid AS uid, min(eventData.eventTime) AS time, arbitrary(eventData.userIdentity.principalId) AS user,',
    "  arbitrary(eventData.eventName) AS tool, arbitrary(element_at(eventData.userIdentity.details, 'agent')) AS agent,",
    "  arbitrary(element_at(eventData.responseElements, 'decision')) AS decision, arbitrary(element_at(eventData.responseElements, 'enforced')) AS enforced,",
    '  arbitrary(eventData.errorCode) AS errorCode, arbitrary(eventData.errorMessage) AS reason,',
    "  arbitrary(element_at(eventData.responseElements, 'determiningPolicies')) AS policies, arbitrary(element_at(eventData.additionalEventData, 'phase')) AS phase,",
    "  arbitrary(element_at(eventData.additionalEventData, 'requestKey')) AS requestKey, arbitrary(element_at(eventData.requestParameters, 'arguments')) AS arguments",
    `FROM ${storeId}`,
    `WHERE ${lakeConditions(filter).join('\n  AND ')}`,
    'GROUP BY eventData.uid',
    'ORDER BY max(eventTime) DESC',
    `LIMIT ${Math.trunc(filter.limit)}`,
  ].join('\n');
}

/** The WHERE conditions of a filter in Lake SQL (ANDed), shared by every query over the audit events. */
export function lakeConditions(filter: ActivityFilter): string[] {
  const where = [
    `eventTime >= ${sqlString(lakeTime(filter.since))}`,
    `eventTime < ${sqlString(lakeTime(filter.until))}`,
  ];
  if (filter.user !== undefined) where.push(`eventData.userIdentity.principalId = ${sqlString(filter.user)}`);
  if (filter.tool !== undefined) where.push(`eventData.eventName = ${sqlString(filter.tool)}`);
  if (filter.agent !== undefined)
    where.push(`element_at(eventData.userIdentity.details, 'agent') = ${sqlString(filter.agent)}`);
  if (filter.decision !== undefined)
    where.push(`element_at(eventData.responseElements, 'decision') = ${sqlString(filter.decision)}`);
  if (filter.uid !== undefined) where.push(`eventData.uid = ${sqlString(filter.uid)}`);
  const phase = filter.phase ?? 'request';
  if (phase !== 'all') where.push(`element_at(eventData.additionalEventData, 'phase') = ${sqlString(phase)}`);
  return where;
}

/** The CloudWatch Logs Insights query for a filter (the time range goes in StartQuery's start/end). */
export function buildInsightsQuery(filter: ActivityFilter): string {
  const lines = [
    'fields auditEvent.eventTime as time, auditEvent.UID as uid, auditEvent.userIdentity.principalId as user,',
    '  auditEvent.eventName as tool, auditEvent.userIdentity.details.agent as agent, auditEvent.responseElements.decision as decision,',
    '  auditEvent.responseElements.enforced as enforced, auditEvent.errorCode as errorCode, auditEvent.errorMessage as reason,',
    '  auditEvent.responseElements.determiningPolicies as policies, auditEvent.additionalEventData.phase as phase,',
    '  auditEvent.additionalEventData.requestKey as requestKey, auditEvent.requestParameters.arguments as arguments',
    '| filter ispresent(auditEvent.UID)',
    ...insightsFilters(filter),
  ];
  // `dedup` keeps the first row per UID in sort order: copies of one event count once.
  lines.push('| sort @timestamp desc', '| dedup auditEvent.UID', `| limit ${Math.trunc(filter.limit)}`);
  return lines.join('\n');
}

/** The `filter` commands of a filter in Logs Insights, shared by every query over the audit events. */
export function insightsFilters(filter: ActivityFilter): string[] {
  const lines: string[] = [];
  if (filter.user !== undefined)
    lines.push(`| filter auditEvent.userIdentity.principalId = ${insightsString(filter.user)}`);
  if (filter.tool !== undefined) lines.push(`| filter auditEvent.eventName = ${insightsString(filter.tool)}`);
  if (filter.agent !== undefined)
    lines.push(`| filter auditEvent.userIdentity.details.agent = ${insightsString(filter.agent)}`);
  if (filter.decision !== undefined)
    lines.push(`| filter auditEvent.responseElements.decision = ${insightsString(filter.decision)}`);
  if (filter.uid !== undefined) lines.push(`| filter auditEvent.UID = ${insightsString(filter.uid)}`);
  const phase = filter.phase ?? 'request';
  if (phase !== 'all') lines.push(`| filter auditEvent.additionalEventData.phase = ${insightsString(phase)}`);
  return lines;
}

/**
 * One row from a stored event. Map values are strings (Lake's `map<string,string>`); events written before
 * that encoding hold real lists and booleans, and both read the same.
 */
export function rowFromEvent(event: AuditEventData): ActivityRow {
  const response: Readonly<Record<string, unknown>> = event.responseElements ?? {};
  const details: Readonly<Record<string, unknown>> = event.userIdentity.details ?? {};
  const additional: Readonly<Record<string, unknown>> = event.additionalEventData ?? {};
  const enforced = auditFlag(response.enforced);
  return {
    time: event.eventTime,
    uid: event.UID,
    user: event.userIdentity.principalId,
    tool: event.eventName,
    agent: typeof details.agent === 'string' ? details.agent : '',
    decision: text(response.decision),
    enforced: enforced === undefined ? '' : String(enforced),
    errorCode: event.errorCode ?? '',
    reason: event.errorMessage ?? '',
    policies: auditList(response.determiningPolicies).join(','),
    phase: text(additional.phase),
    requestKey: text(additional.requestKey),
    arguments: text(event.requestParameters?.arguments),
  };
}

/** Keeps the first row of each UID (copies of one event); rows without a UID are kept as they are. */
export function distinctByUid<T extends { readonly uid: string }>(rows: readonly T[]): T[] {
  const seen = new Set<string>();
  return rows.filter((row) => {
    if (row.uid === '') return true;
    if (seen.has(row.uid)) return false;
    seen.add(row.uid);
    return true;
  });
}

/** Matches one local event against the filter, with the same semantics as the queries. */
export function matchesFilter(event: AuditEventData, filter: ActivityFilter): boolean {
  const row = rowFromEvent(event);
  const time = Date.parse(event.eventTime);
  const phase = filter.phase ?? 'request';
  return (
    time >= filter.since.getTime() &&
    time < filter.until.getTime() &&
    (filter.user === undefined || row.user === filter.user) &&
    (filter.tool === undefined || row.tool === filter.tool) &&
    (filter.agent === undefined || row.agent === filter.agent) &&
    (filter.decision === undefined || row.decision === filter.decision) &&
    (filter.uid === undefined || row.uid === filter.uid) &&
    (phase === 'all' || row.phase === phase)
  );
}

/** The local JSONL store: newest first. Unreadable lines are counted, never fatal. */
export function queryLocal(
  file: string,
  filter: ActivityFilter,
): { rows: ActivityRow[]; events: AuditEventData[]; unreadable: number } {
  let text: string;
  try {
    if (!statSync(file).isFile())
      throw new ActivityError(`${file} is not a file: pass the audit store's JSONL file with --file`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof ActivityError) throw error;
    throw new ActivityError(
      `cannot read the local audit store ${file}: ${(error as Error).message}. Run \`npm start\` and make some calls first.`,
    );
  }
  const events: AuditEventData[] = [];
  const seen = new Set<string>();
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const event = JSON.parse(line) as AuditEventData;
      // Copies of one event (same UID) count once, like on the other backends.
      if (
        typeof event.UID === 'string' &&
        event.userIdentity !== undefined &&
        !seen.has(event.UID) &&
        matchesFilter(event, filter)
      ) {
        seen.add(event.UID);
        events.push(event);
      }
    } catch {
      unreadable += 1;
    }
  }
  // Newest first; within the same second, later lines first (the file is in write order).
  events.reverse().sort((a, b) => b.eventTime.localeCompare(a.eventTime));
  const limited = events.slice(0, filter.limit);
  return { rows: limited.map(rowFromEvent), events: limited, unreadable };
}

export interface QueryProgress {
  readonly status: string;
  readonly elapsedMs: number;
  readonly bytesScanned?: number;
  readonly eventsScanned?: number;
}

export interface RemoteQueryOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: QueryProgress) => void;
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function text(value: unknown): string {
  return value === undefined || value === null ? '' : String(value);
}

function rowFromColumns(columns: Record<string, unknown>): ActivityRow {
  return {
    time: text(columns.time),
    uid: text(columns.uid),
    user: text(columns.user),
    tool: text(columns.tool),
    agent: text(columns.agent),
    decision: text(columns.decision),
    enforced: text(columns.enforced),
    errorCode: text(columns.errorCode),
    reason: text(columns.reason),
    policies: auditList(text(columns.policies)).join(','),
    phase: text(columns.phase),
    requestKey: text(columns.requestKey),
    arguments: text(columns.arguments),
  };
}

/** Polls until done; on timeout or abort, cancels the remote query and says so. */
async function waitFor<T>(
  poll: () => Promise<{ done: boolean; failed?: string; progress: QueryProgress; value?: T }>,
  cancel: () => Promise<unknown>,
  options: RemoteQueryOptions,
): Promise<T | undefined> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const started = now();
  for (;;) {
    if (options.signal?.aborted) {
      await cancel().catch(() => undefined);
      throw new ActivityError('cancelled: the query was stopped');
    }
    const state = await poll();
    options.onProgress?.(state.progress);
    if (state.failed !== undefined) throw new ActivityError(state.failed);
    if (state.done) return state.value;
    if (now() - started >= options.timeoutMs) {
      await cancel().catch(() => undefined);
      throw new ActivityError(
        `the query did not finish within ${Math.round(options.timeoutMs / 1000)} s and was cancelled; narrow --since/--until or raise --timeout`,
      );
    }
    await sleep(options.pollMs ?? 1000);
  }
}

export async function queryLake(
  client: CloudTrailClient,
  eventDataStore: string,
  filter: ActivityFilter,
  options: RemoteQueryOptions,
): Promise<ActivityRow[]> {
  const rows = await runLakeQuery(client, buildLakeSql(filter, eventDataStore), options);
  return distinctByUid(rows.map(rowFromColumns));
}

/** Runs one Lake SQL query to the end (progress, timeout, cancel) and returns every row as column → value. */
export async function runLakeQuery(
  client: CloudTrailClient,
  sql: string,
  options: RemoteQueryOptions,
): Promise<Record<string, string>[]> {
  const started = (options.now ?? Date.now)();
  // Describe/GetQueryResults/CancelQuery take the query id alone: their `EventDataStore` member is deprecated.
  const { QueryId } = await client.send(new StartQueryCommand({ QueryStatement: sql }));
  if (QueryId === undefined) throw new ActivityError('CloudTrail Lake did not return a query id');
  await waitFor(
    async () => {
      const described = await client.send(new DescribeQueryCommand({ QueryId }));
      const status = described.QueryStatus ?? 'UNKNOWN';
      const progress = {
        status,
        elapsedMs: (options.now ?? Date.now)() - started,
        ...(described.QueryStatistics?.BytesScanned === undefined
          ? {}
          : { bytesScanned: described.QueryStatistics.BytesScanned }),
        ...(described.QueryStatistics?.EventsScanned === undefined
          ? {}
          : { eventsScanned: described.QueryStatistics.EventsScanned }),
      };
      if (status === 'FAILED' || status === 'CANCELLED' || status === 'TIMED_OUT') {
        return {
          done: true,
          failed: `CloudTrail Lake query ${status.toLowerCase()}: ${described.ErrorMessage ?? 'no message'}`,
          progress,
        };
      }
      return { done: status === 'FINISHED', progress };
    },
    () => client.send(new CancelQueryCommand({ QueryId })),
    options,
  );
  const rows: Record<string, string>[] = [];
  let NextToken: string | undefined;
  do {
    const page = await client.send(
      new GetQueryResultsCommand({ QueryId, ...(NextToken ? { NextToken } : {}) }),
    );
    for (const row of page.QueryResultRows ?? []) rows.push(Object.assign({}, ...row));
    NextToken = page.NextToken;
  } while (NextToken);
  return rows;
}

export async function queryInsights(
  client: CloudWatchLogsClient,
  logGroup: string,
  filter: ActivityFilter,
  options: RemoteQueryOptions,
): Promise<ActivityRow[]> {
  const rows = await runInsightsQuery(
    client,
    {
      logGroup,
      since: filter.since,
      until: filter.until,
      query: buildInsightsQuery(filter),
      limit: filter.limit,
    },
    options,
  );
  return distinctByUid(rows.map(rowFromColumns));
}

/** Logs Insights returns at most this many rows per query. */
export const INSIGHTS_MAX_ROWS = 10_000;

/** Runs one Logs Insights query to the end (progress, timeout, stop) and returns every row as field → value. */
export async function runInsightsQuery(
  client: CloudWatchLogsClient,
  query: {
    readonly logGroup: string;
    readonly since: Date;
    readonly until: Date;
    readonly query: string;
    readonly limit: number;
  },
  options: RemoteQueryOptions,
): Promise<Record<string, string>[]> {
  const started = (options.now ?? Date.now)();
  const { queryId } = await client.send(
    new StartInsightsQueryCommand({
      logGroupNames: [query.logGroup],
      startTime: Math.floor(query.since.getTime() / 1000),
      endTime: Math.ceil(query.until.getTime() / 1000),
      queryString: query.query,
      limit: Math.min(query.limit, INSIGHTS_MAX_ROWS),
    }),
  );
  if (queryId === undefined) throw new ActivityError('CloudWatch Logs did not return a query id');
  const results = await waitFor(
    async () => {
      const answer = await client.send(new GetInsightsResultsCommand({ queryId }));
      const status = answer.status ?? 'Unknown';
      const progress = {
        status,
        elapsedMs: (options.now ?? Date.now)() - started,
        ...(answer.statistics?.bytesScanned === undefined
          ? {}
          : { bytesScanned: answer.statistics.bytesScanned }),
        ...(answer.statistics?.recordsScanned === undefined
          ? {}
          : { eventsScanned: answer.statistics.recordsScanned }),
      };
      if (status === 'Failed' || status === 'Cancelled' || status === 'Timeout')
        return { done: true, failed: `Logs Insights query ${status.toLowerCase()}`, progress };
      return { done: status === 'Complete', progress, value: answer.results ?? [] };
    },
    () => client.send(new StopQueryCommand({ queryId })),
    options,
  );
  return (results ?? []).map((fields) =>
    Object.fromEntries(fields.map((field) => [field.field ?? '', field.value ?? ''])),
  );
}

// --- reports -----------------------------------------------------------------------------------------------

/**
 * One request's story: the event found by UID and its counterpart — for a decision, the first outcome with the
 * same request key in the ten minutes that follow (audited by the RESPONSE step); for an outcome, the decision
 * just before it.
 */
export async function requestStory(
  uid: string,
  filter: ActivityFilter,
  query: (filter: ActivityFilter) => Promise<ActivityRow[]>,
): Promise<ActivityRow[]> {
  const [found] = await query({ ...filter, uid, phase: 'all', limit: 1 });
  if (found === undefined) return [];
  const at = Date.parse(found.time);
  if (Number.isNaN(at)) return [found];
  const related = await query({
    since: new Date(at - 60_000),
    until: new Date(at + 10 * 60_000),
    user: found.user,
    tool: found.tool,
    phase: 'all',
    limit: 200,
  });
  const same = distinctByUid(related).filter(
    (row) => row.uid !== found.uid && row.requestKey !== '' && row.requestKey === found.requestKey,
  );
  const counterpart =
    found.phase === 'request'
      ? same
          .filter((row) => row.phase === 'response' && row.time >= found.time)
          .sort((a, b) => a.time.localeCompare(b.time))[0]
      : same
          .filter((row) => row.phase === 'request' && row.time <= found.time)
          .sort((a, b) => b.time.localeCompare(a.time))[0];
  return [found, ...(counterpart ? [counterpart] : [])].sort(
    (a, b) => a.time.localeCompare(b.time) || a.phase.localeCompare(b.phase),
  );
}

export interface UserSummary {
  readonly user: string;
  readonly calls: number;
  readonly denials: number;
  readonly tools: string;
}

/** Per user: calls (each UID once), denials and tools. */
export function summarizeByUser(rows: readonly ActivityRow[]): UserSummary[] {
  const users = new Map<string, { calls: number; denials: number; tools: Set<string> }>();
  for (const row of distinctByUid(rows)) {
    const entry = users.get(row.user) ?? { calls: 0, denials: 0, tools: new Set<string>() };
    entry.calls += 1;
    if (row.decision === 'deny') entry.denials += 1;
    entry.tools.add(row.tool);
    users.set(row.user, entry);
  }
  return [...users.entries()]
    .map(([user, entry]) => ({
      user,
      calls: entry.calls,
      denials: entry.denials,
      tools: [...entry.tools].sort().join(', '),
    }))
    .sort((a, b) => b.calls - a.calls || a.user.localeCompare(b.user));
}

export interface DenialSummary {
  readonly policy: string;
  readonly denials: number;
  readonly users: string;
  readonly tools: string;
}

/** Denials grouped by determining policy (or the error code when no policy decided: default deny, spoofing…). */
export function denialsByPolicy(rows: readonly ActivityRow[]): DenialSummary[] {
  const groups = new Map<string, { denials: number; users: Set<string>; tools: Set<string> }>();
  for (const row of distinctByUid(rows)) {
    if (row.decision !== 'deny') continue;
    const key =
      row.policies !== ''
        ? row.policies
        : `(${row.errorCode === 'AccessDenied' ? 'no permit: default deny' : row.errorCode || 'unknown'})`;
    const entry = groups.get(key) ?? { denials: 0, users: new Set<string>(), tools: new Set<string>() };
    entry.denials += 1;
    entry.users.add(row.user);
    entry.tools.add(row.tool);
    groups.set(key, entry);
  }
  return [...groups.entries()]
    .map(([policy, entry]) => ({
      policy,
      denials: entry.denials,
      users: [...entry.users].sort().join(', '),
      tools: [...entry.tools].sort().join(', '),
    }))
    .sort((a, b) => b.denials - a.denials || a.policy.localeCompare(b.policy));
}

// --- output ------------------------------------------------------------------------------------------------

/** Table cells are cut at this many characters, unless `maxWidth` says otherwise (`activity --wide`: none). */
export const TABLE_CELL_CHARS = 60;

/**
 * A cell as the terminal may show it: C0 and C1 control characters (escape sequences, bells, carriage returns)
 * as `\x1b`-style escapes, and Unicode format characters (bidi overrides such as U+202E, zero-width marks) as
 * `\u202e`-style escapes, so audit data (a tool name, a reason) can neither drive the terminal nor reorder what
 * it shows. Lone surrogates become U+FFFD.
 */
export function terminalSafe(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]|\p{Cs}/gu, (char) => {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0xd800 && code <= 0xdfff) return '\ufffd';
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

export function toTable(
  rows: readonly Record<string, string | number>[],
  columns: readonly string[],
  { maxWidth = TABLE_CELL_CHARS }: { readonly maxWidth?: number } = {},
): string {
  if (rows.length === 0) return '(no matching activity)';
  const text = (row: Record<string, string | number>, column: string) =>
    terminalSafe(String(row[column] ?? ''));
  const widths = columns.map((column) =>
    Math.min(maxWidth, Math.max(column.length, ...rows.map((row) => text(row, column).length))),
  );
  const cell = (value: string, width: number) =>
    value.length > width ? `${value.slice(0, width - 1)}…` : value.padEnd(width);
  const line = (values: string[]) =>
    values
      .map((value, index) => cell(value, widths[index] ?? 10))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((column) => column.toUpperCase())),
    ...rows.map((row) => line(columns.map((column) => text(row, column)))),
  ].join('\n');
}

export function toCsv(rows: readonly Record<string, string | number>[], columns: readonly string[]): string {
  const csvCell = (value: string) => {
    // Cells starting with = + - @ (or a tab or carriage return, which some spreadsheets skip before reading
    // one of those: OWASP's CSV injection list) are neutralised so audit data is never evaluated as a formula.
    const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  return [
    columns.join(','),
    ...rows.map((row) => columns.map((column) => csvCell(String(row[column] ?? ''))).join(',')),
  ].join('\n');
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}
