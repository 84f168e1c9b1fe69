import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { AuditEventData } from '../lambda/core/audit-event';
import {
  ActivityError,
  type ActivityFilter,
  eventDataStoreId,
  INSIGHTS_MAX_ROWS,
  insightsFilters,
  lakeConditions,
  queryLocal,
  type RemoteQueryOptions,
  runInsightsQuery,
  runLakeQuery,
} from './activity';

/**
 * Where `policies replay` reads recorded decisions: the local JSONL store, CloudTrail Lake or CloudWatch Logs
 * Insights, with `activity`'s filter model and query runners (`cli/activity.ts`), so the same `--user`,
 * `--tool`, `--decision`, `--agent`, `--since`, `--until` select the same events. `activity` shows a few
 * columns; replay needs every field the Cedar request is rebuilt from, so it projects those and turns each row
 * back into the audit event it came from.
 */

/** Fields replay reads, as [column alias, Lake expression, Logs Insights field]. */
const FIELDS: readonly (readonly [string, string, string])[] = [
  ['uid', 'eventData.uid', 'auditEvent.UID'],
  ['time', 'eventData.eventTime', 'auditEvent.eventTime'],
  ['version', 'eventData.version', 'auditEvent.version'],
  ['identityType', 'eventData.userIdentity.type', 'auditEvent.userIdentity.type'],
  ['user', 'eventData.userIdentity.principalId', 'auditEvent.userIdentity.principalId'],
  ['eventName', 'eventData.eventName', 'auditEvent.eventName'],
  ['errorCode', 'eventData.errorCode', 'auditEvent.errorCode'],
  ...map('d', 'userIdentity.details', [
    'agent',
    'roles',
    'email',
    'username',
    'issuer',
    'tokenId',
    'actors',
    'tokenIssuedAt',
    'tokenExpiresAt',
    'truncated',
  ]),
  ...map('q', 'requestParameters', ['method', 'tool', 'arguments', 'truncated']),
  ...map('r', 'responseElements', ['decision', 'enforced', 'determiningPolicies']),
  ...map('a', 'additionalEventData', [
    'phase',
    'door',
    'uri',
    'mode',
    'truncated',
    // tools/list answers (--listings)
    'listedTools',
    'hiddenTools',
    'hiddenByGates',
    'schemaRead',
  ]),
];

function map(prefix: string, path: string, keys: readonly string[]): [string, string, string][] {
  return keys.map((key) => [
    `${prefix}_${key}`,
    `element_at(eventData.${path}, '${key}')`,
    `auditEvent.${path}.${key}`,
  ]);
}

/** The Lake SQL reading every replay field of the events a filter selects, each UID once. */
export function replayLakeSql(filter: ActivityFilter, eventDataStore: string): string {
  const columns = FIELDS.map(([alias, expression]) =>
    alias === 'uid' ? `${expression} AS uid` : `arbitrary(${expression}) AS ${alias}`,
  );
  return [
    `SELECT ${columns.join(',\n  ')}`,
    `FROM ${eventDataStoreId(eventDataStore)}`,
    `WHERE ${lakeConditions(filter).join('\n  AND ')}`,
    'GROUP BY eventData.uid',
    'ORDER BY min(eventTime) ASC',
    `LIMIT ${Math.trunc(filter.limit)}`,
  ].join('\n');
}

/** The Logs Insights query reading every replay field (the time range goes in StartQuery). */
export function replayInsightsQuery(filter: ActivityFilter): string {
  return [
    `fields ${FIELDS.map(([alias, , field]) => `${field} as ${alias}`).join(',\n  ')}`,
    '| filter ispresent(auditEvent.UID)',
    ...insightsFilters(filter),
    '| sort @timestamp asc',
    '| dedup auditEvent.UID',
    `| limit ${Math.min(Math.trunc(filter.limit), INSIGHTS_MAX_ROWS)}`,
  ].join('\n');
}

/** Lake shows times as `2026-11-21 10:11:12.000`; the event has `2026-11-21T10:11:12Z`. */
function isoTime(value: string): string {
  const lake = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?$/.exec(value);
  return lake === null ? value : `${lake[1]}T${lake[2]}Z`;
}

function mapOf(
  columns: Readonly<Record<string, string>>,
  prefix: string,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [alias, value] of Object.entries(columns))
    if (alias.startsWith(`${prefix}_`) && value !== '' && value !== undefined && value !== null)
      out[alias.slice(prefix.length + 1)] = value;
  return Object.keys(out).length === 0 ? undefined : out;
}

/** The audit event a row of {@link replayLakeSql} or {@link replayInsightsQuery} came from (replay's fields). */
export function eventFromColumns(columns: Readonly<Record<string, string>>): AuditEventData {
  const value = (key: string) => (columns[key] === '' ? undefined : columns[key]);
  const details = mapOf(columns, 'd');
  const requestParameters = mapOf(columns, 'q');
  const responseElements = mapOf(columns, 'r');
  const additionalEventData = mapOf(columns, 'a');
  const errorCode = value('errorCode');
  return {
    version: value('version') ?? '',
    UID: value('uid') ?? '',
    eventTime: isoTime(value('time') ?? ''),
    eventSource: '',
    eventName: value('eventName') ?? '',
    recipientAccountId: '',
    userIdentity: {
      type: value('identityType') ?? '',
      principalId: value('user') ?? '',
      ...(details === undefined ? {} : { details }),
    },
    ...(errorCode === undefined ? {} : { errorCode }),
    ...(requestParameters === undefined ? {} : { requestParameters }),
    ...(responseElements === undefined ? {} : { responseElements }),
    ...(additionalEventData === undefined ? {} : { additionalEventData }),
  };
}

/** Decisions from the local JSONL store, oldest first; unreadable lines are counted, never fatal. */
export function localEvents(
  file: string,
  filter: ActivityFilter,
): { events: AuditEventData[]; unreadable: number } {
  const { events, unreadable } = queryLocal(file, filter);
  return { events: events.reverse(), unreadable };
}

/** Decisions from CloudTrail Lake, oldest first. */
export async function lakeEvents(
  client: CloudTrailClient,
  eventDataStore: string,
  filter: ActivityFilter,
  options: RemoteQueryOptions,
): Promise<AuditEventData[]> {
  const rows = await runLakeQuery(client, replayLakeSql(filter, eventDataStore), options);
  return distinct(rows.map(eventFromColumns));
}

/**
 * Decisions from CloudWatch Logs Insights, oldest first. One query returns at most 10,000 rows, so a window
 * that fills it is split in two and each half queried, down to one second (more than 10,000 decisions in one
 * second is refused with a message rather than replayed in part).
 */
export async function insightsEvents(
  client: CloudWatchLogsClient,
  logGroup: string,
  filter: ActivityFilter,
  options: RemoteQueryOptions & { readonly onWindow?: (since: Date, until: Date) => void },
): Promise<AuditEventData[]> {
  const found: AuditEventData[] = [];
  const windows: { since: Date; until: Date }[] = [{ since: filter.since, until: filter.until }];
  while (windows.length > 0 && found.length < filter.limit) {
    const window = windows.shift() as { since: Date; until: Date };
    options.onWindow?.(window.since, window.until);
    const part = { ...filter, ...window };
    const rows = await runInsightsQuery(
      client,
      {
        logGroup,
        since: window.since,
        until: window.until,
        query: replayInsightsQuery(part),
        limit: INSIGHTS_MAX_ROWS,
      },
      options,
    );
    if (rows.length < INSIGHTS_MAX_ROWS) {
      found.push(...rows.map(eventFromColumns));
      continue;
    }
    const span = window.until.getTime() - window.since.getTime();
    // Insights takes whole seconds: a window under two seconds has no whole-second middle to split at.
    if (span < 2000)
      throw new ActivityError(
        `more than ${INSIGHTS_MAX_ROWS} audit events between ${window.since.toISOString()} and ${window.until.toISOString()}: Logs Insights cannot return them all; narrow the filter (--user, --tool)`,
      );
    const middle = new Date(window.since.getTime() + Math.floor(span / 2000) * 1000);
    windows.unshift({ since: window.since, until: middle }, { since: middle, until: window.until });
  }
  return distinct(found).slice(0, filter.limit);
}

/** Each UID once (delivery is at least once; split windows share their edge second), oldest first. */
function distinct(events: readonly AuditEventData[]): AuditEventData[] {
  const seen = new Set<string>();
  return events
    .filter((event) => {
      if (event.UID === '') return true;
      if (seen.has(event.UID)) return false;
      seen.add(event.UID);
      return true;
    })
    .sort((a, b) => a.eventTime.localeCompare(b.eventTime));
}
