import { type ActivityFilter, buildInsightsQuery, insightsString } from './activity';

/**
 * The Logs Insights queries the stack saves (`AWS::Logs::QueryDefinition`, lib/constructs/observability.ts)
 * and the dashboard's log widgets run, built from the same builder as `mcp-identity activity` against the
 * `cloudwatch` store, so the console and the CLI ask the same question in the same words. Listings are the
 * CLI's query text verbatim; the per-user / per-tool reports (which the CLI computes from rows) are `stats`
 * over the same fields, each UID counted once (`count_distinct`, as the CLI keeps one row per UID).
 */

export interface SavedActivityQuery {
  /** Stable id (construct id, test handle). */
  readonly id: string;
  /** Name under the stack's folder in the Logs Insights console. */
  readonly name: string;
  readonly query: string;
  /** What the same question looks like on the command line. */
  readonly cli: string;
}

/** Placeholders an operator replaces in the console before running the query. */
export const USER_PLACEHOLDER = 'REPLACE-WITH-USER-SUBJECT';
export const DECISION_ID_PLACEHOLDER = 'REPLACE-WITH-DECISION-ID';

/** Rows a saved listing returns (the console shows at most 10,000 anyway). */
const LISTING_LIMIT = 1000;
/** The Insights text carries no time range (StartQuery and the console do): any dates will do here. */
const ANY_TIME: Pick<ActivityFilter, 'since' | 'until'> = { since: new Date(0), until: new Date(1) };

/** The fields the reports group on, as the activity listing names them. */
const REPORT_FIELDS = [
  'fields auditEvent.UID as uid, auditEvent.userIdentity.principalId as user, auditEvent.eventName as tool,',
  '  auditEvent.responseElements.decision as decision, auditEvent.responseElements.determiningPolicies as policies,',
  '  auditEvent.errorCode as errorCode',
  '| filter ispresent(auditEvent.UID)',
  `| filter auditEvent.additionalEventData.phase = ${insightsString('request')}`,
];

const report = (...lines: readonly string[]): string => [...REPORT_FIELDS, ...lines].join('\n');

/** Top denied users (the dashboard's table; also saved). */
export function topDeniedUsersQuery(limit = 10): string {
  return report(
    `| filter decision = ${insightsString('deny')}`,
    '| stats count_distinct(uid) as denials by user',
    '| sort denials desc',
    `| limit ${Math.trunc(limit)}`,
  );
}

/** Calls per tool and decision (the dashboard's table; also saved). */
export function callsPerToolQuery(): string {
  return report('| stats count_distinct(uid) as calls by tool, decision', '| sort calls desc');
}

export function savedActivityQueries(): readonly SavedActivityQuery[] {
  return [
    {
      id: 'Recent',
      name: 'recent decisions',
      query: buildInsightsQuery({ ...ANY_TIME, limit: LISTING_LIMIT }),
      cli: 'npx mcp-identity activity',
    },
    {
      id: 'Denials',
      name: 'denials',
      query: buildInsightsQuery({ ...ANY_TIME, decision: 'deny', limit: LISTING_LIMIT }),
      cli: 'npx mcp-identity activity --decision deny',
    },
    {
      id: 'OneUser',
      name: 'one user (replace the subject)',
      query: buildInsightsQuery({ ...ANY_TIME, user: USER_PLACEHOLDER, limit: LISTING_LIMIT }),
      cli: 'npx mcp-identity activity --user <subject>',
    },
    {
      id: 'DecisionById',
      name: 'one decision by id (replace the id)',
      query: buildInsightsQuery({ ...ANY_TIME, uid: DECISION_ID_PLACEHOLDER, phase: 'all', limit: 10 }),
      cli: 'npx mcp-identity activity --request <uid>',
    },
    {
      id: 'PerUser',
      name: 'calls per user and decision',
      query: report('| stats count_distinct(uid) as calls by user, decision', '| sort calls desc'),
      cli: 'npx mcp-identity activity --report summary',
    },
    {
      id: 'PerTool',
      name: 'calls per tool and decision',
      query: callsPerToolQuery(),
      cli: 'npx mcp-identity activity --tool <name>',
    },
    {
      id: 'DenialsByPolicy',
      name: 'denials by policy',
      query: report(
        `| filter decision = ${insightsString('deny')}`,
        '| stats count_distinct(uid) as denials by policies, errorCode',
        '| sort denials desc',
      ),
      cli: 'npx mcp-identity activity --report denials',
    },
    {
      id: 'TopDeniedUsers',
      name: 'top denied users',
      query: topDeniedUsersQuery(),
      cli: 'npx mcp-identity activity --decision deny --report summary',
    },
  ];
}
