import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CloudTrailClient,
  DescribeQueryCommand,
  GetQueryResultsCommand,
  StartQueryCommand,
} from '@aws-sdk/client-cloudtrail';
import {
  CloudWatchLogsClient,
  GetQueryResultsCommand as GetInsightsResultsCommand,
  StartQueryCommand as StartInsightsQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import {
  type ActivityFilter,
  type ActivityRow,
  denialsByPolicy,
  distinctByUid,
  queryInsights,
  queryLake,
  queryLocal,
  requestStory,
  summarizeByUser,
} from '../../cli/activity';
import { type AuditRecord, buildAuditEvent, requestDigest } from '../../lambda/core/audit-event';
import { callerFromClaims } from '../../lambda/core/caller';
import { cli } from '../cli/helpers';

const settings = {
  eventSource: 'mcp-identity',
  recipientAccountId: '123456789012',
  mode: 'enforce' as const,
};
const filter: ActivityFilter = {
  since: new Date('2026-11-20T00:00:00Z'),
  until: new Date('2026-11-22T00:00:00Z'),
  limit: 100,
  phase: 'all',
};
const caller = (sub: string) =>
  callerFromClaims({ sub, iss: 'https://idp', exp: 2000000000, roles: ['r1', 'r2'], client_id: 'agent-1' });
const record = (overrides: Partial<AuditRecord>): AuditRecord => ({
  time: new Date('2026-11-21T10:00:00Z'),
  phase: 'request',
  caller: caller('alice'),
  method: 'tools/call',
  toolName: 'orders___update_order',
  arguments: { order_id: '1' },
  jsonRpcId: 1,
  decision: 'deny',
  enforced: true,
  errorCode: 'AccessDenied',
  reason: 'no',
  policies: ['p1', 'p2'],
  requestDigest: requestDigest('tools/call', { order_id: '1' }),
  ...overrides,
});

/** A JSONL store where every event was delivered twice, as at-least-once delivery may leave it. */
function storeWithCopies(lines: readonly unknown[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'audit-')), 'audit.jsonl');
  writeFileSync(
    file,
    `${lines.flatMap((line) => [JSON.stringify(line), JSON.stringify(line)]).join('\n')}\n`,
  );
  return file;
}

const rowOf = (overrides: Partial<ActivityRow>): ActivityRow => ({
  time: '2026-11-21T10:00:00Z',
  uid: 'u-1',
  user: 'alice',
  tool: 't',
  agent: '',
  decision: 'deny',
  enforced: 'true',
  errorCode: 'AccessDenied',
  reason: '',
  policies: 'p1',
  phase: 'request',
  requestKey: 'k',
  arguments: '',
  ...overrides,
});

describe('issue 10 #17: activity reads the string-encoded maps back on every backend', () => {
  it('local JSONL store: lists and flags from events built now and from events written before the encoding', () => {
    const encoded = buildAuditEvent(record({}), settings);
    const older = {
      ...buildAuditEvent(record({ caller: caller('bob') }), settings),
      userIdentity: { type: 'McpUser', principalId: 'bob', details: { agent: 'agent-1', roles: ['r1'] } },
      responseElements: { decision: 'deny', enforced: false, determiningPolicies: ['p3', 'p4'] },
    };
    const { rows } = queryLocal(storeWithCopies([encoded, older]), filter);
    expect(rows.map((row) => [row.user, row.agent, row.decision, row.enforced, row.policies])).toStrictEqual([
      ['bob', 'agent-1', 'deny', 'false', 'p3,p4'],
      ['alice', 'agent-1', 'deny', 'true', 'p1,p2'],
    ]);
  });

  it('CloudTrail Lake: the map values come back as the JSON text the builder wrote', async () => {
    const trail = mockClient(CloudTrailClient);
    trail.on(StartQueryCommand).resolves({ QueryId: 'q' });
    trail.on(DescribeQueryCommand).resolves({ QueryStatus: 'FINISHED' });
    trail.on(GetQueryResultsCommand).resolves({
      QueryResultRows: [
        [{ uid: 'u-1' }, { user: 'alice' }, { enforced: 'true' }, { policies: '["p1","p,2"]' }],
        [{ uid: 'u-2' }, { user: 'bob' }, { enforced: 'false' }, { policies: '[broken' }],
      ],
    });
    const rows = await queryLake(new CloudTrailClient({ region: 'eu-west-1' }), 'eds', filter, {
      timeoutMs: 1000,
    });
    expect(rows.map((row) => [row.user, row.enforced, row.policies])).toStrictEqual([
      ['alice', 'true', 'p1,p,2'],
      ['bob', 'false', '[broken'],
    ]);
    trail.restore();
  });

  it('Logs Insights: the same', async () => {
    const logs = mockClient(CloudWatchLogsClient);
    logs.on(StartInsightsQueryCommand).resolves({ queryId: 'q' });
    logs.on(GetInsightsResultsCommand).resolves({
      status: 'Complete',
      results: [
        [
          { field: 'uid', value: 'u-1' },
          { field: 'enforced', value: 'true' },
          { field: 'policies', value: '["p1","p2"]' },
        ],
      ],
    });
    const rows = await queryInsights(new CloudWatchLogsClient({ region: 'eu-west-1' }), 'g', filter, {
      timeoutMs: 1000,
    });
    expect(rows.map((row) => [row.enforced, row.policies])).toStrictEqual([['true', 'p1,p2']]);
    logs.restore();
  });
});

describe('issue 11 #4: queries count each call once', () => {
  it('local store: copies of one event (same UID) are one row, and the limit counts distinct events', () => {
    const events = [
      buildAuditEvent(record({}), settings),
      buildAuditEvent(record({ caller: caller('bob'), time: new Date('2026-11-21T10:00:01Z') }), settings),
    ];
    const file = storeWithCopies(events);
    expect(queryLocal(file, filter).rows.map((row) => row.uid)).toStrictEqual([
      events[1]?.UID,
      events[0]?.UID,
    ]);
    expect(queryLocal(file, { ...filter, limit: 2 }).rows).toHaveLength(2);
    expect(queryLocal(file, { ...filter, uid: events[0]?.UID ?? '' }).rows).toHaveLength(1);
  });

  it('two executions of the same call are two rows: they have different UIDs', () => {
    const file = storeWithCopies([
      buildAuditEvent(record({}), settings),
      buildAuditEvent(record({}), settings),
    ]);
    expect(queryLocal(file, filter).rows).toHaveLength(2);
  });

  it('CloudTrail Lake and Logs Insights rows: copies that reach the client still count once', async () => {
    const trail = mockClient(CloudTrailClient);
    trail.on(StartQueryCommand).resolves({ QueryId: 'q' });
    trail.on(DescribeQueryCommand).resolves({ QueryStatus: 'FINISHED' });
    trail
      .on(GetQueryResultsCommand)
      .resolvesOnce({ QueryResultRows: [[{ uid: 'u-1' }], [{ uid: 'u-2' }]], NextToken: 'n' })
      .resolves({ QueryResultRows: [[{ uid: 'u-1' }]] });
    const lake = await queryLake(new CloudTrailClient({ region: 'eu-west-1' }), 'eds', filter, {
      timeoutMs: 1000,
    });
    expect(lake.map((row) => row.uid)).toStrictEqual(['u-1', 'u-2']);
    trail.restore();

    const logs = mockClient(CloudWatchLogsClient);
    logs.on(StartInsightsQueryCommand).resolves({ queryId: 'q' });
    logs.on(GetInsightsResultsCommand).resolves({
      status: 'Complete',
      results: [[{ field: 'uid', value: 'u-1' }], [{ field: 'uid', value: 'u-1' }]],
    });
    const insights = await queryInsights(new CloudWatchLogsClient({ region: 'eu-west-1' }), 'g', filter, {
      timeoutMs: 1000,
    });
    expect(insights.map((row) => row.uid)).toStrictEqual(['u-1']);
    logs.restore();
  });

  it('reports count each UID once', () => {
    const rows = [
      rowOf({ uid: 'u-1' }),
      rowOf({ uid: 'u-1' }),
      rowOf({ uid: 'u-2', decision: 'allow', policies: 'p0', errorCode: '' }),
    ];
    expect(summarizeByUser(rows)).toStrictEqual([{ user: 'alice', calls: 2, denials: 1, tools: 't' }]);
    expect(denialsByPolicy(rows)).toStrictEqual([{ policy: 'p1', denials: 1, users: 'alice', tools: 't' }]);
  });

  it('--request tells the story once when the decision and the outcome were both delivered twice', async () => {
    const decision = rowOf({ uid: 'd', phase: 'request', time: '2026-11-21T10:00:00Z' });
    const outcome = rowOf({ uid: 'o', phase: 'response', time: '2026-11-21T10:00:01Z' });
    const story = await requestStory('d', filter, async (query) =>
      query.uid === undefined ? [outcome, outcome, decision, decision] : [decision, decision],
    );
    expect(story.map((row) => row.uid)).toStrictEqual(['d', 'o']);
  });

  it('keeps rows without a UID (nothing to join them on)', () => {
    expect(distinctByUid([rowOf({ uid: '' }), rowOf({ uid: '' })])).toHaveLength(2);
  });

  it('the CLI: activity, --report summary and --request on a local store where every event is doubled', () => {
    const alice = buildAuditEvent(record({}), settings);
    const outcome = buildAuditEvent(
      record({ phase: 'response', decision: 'deny', time: new Date('2026-11-21T10:00:01Z') }),
      settings,
    );
    const bob = buildAuditEvent(
      record({ caller: caller('bob'), decision: 'allow', errorCode: undefined, reason: undefined }),
      settings,
    );
    const file = storeWithCopies([alice, outcome, bob]);
    const window = ['--since', '2026-11-20', '--until', '2026-11-22', '--file', file, '--store', 'local'];

    const listed = cli(['activity', ...window, '--json']);
    expect(listed.stderr).toBe('');
    expect((JSON.parse(listed.stdout) as ActivityRow[]).map((row) => row.user).sort()).toStrictEqual([
      'alice',
      'bob',
    ]);
    const summary = cli(['activity', ...window, '--report', 'summary', '--json']);
    expect(JSON.parse(summary.stdout)).toStrictEqual([
      { user: 'alice', calls: 1, denials: 1, tools: 'orders___update_order' },
      { user: 'bob', calls: 1, denials: 0, tools: 'orders___update_order' },
    ]);
    const story = cli(['activity', ...window, '--request', alice.UID, '--json']);
    expect((JSON.parse(story.stdout) as ActivityRow[]).map((row) => [row.uid, row.phase])).toStrictEqual([
      [alice.UID, 'request'],
      [outcome.UID, 'response'],
    ]);
  }, 60_000);

  it('the CLI: activity --data names the stack folder as dev and token do; --file stays as a hidden alias', () => {
    const file = storeWithCopies([buildAuditEvent(record({}), settings)]);
    const window = ['--since', '2026-11-20', '--until', '2026-11-22', '--store', 'local', '--json'];

    const byData = cli(['activity', ...window, '--data', dirname(file)]);
    expect(byData.status).toBe(0);
    expect((JSON.parse(byData.stdout) as ActivityRow[]).map((row) => row.user)).toStrictEqual(['alice']);
    expect(cli(['activity', ...window, '--file', file]).stdout).toBe(byData.stdout);

    const missing = cli(['activity', ...window, '--data', join(dirname(file), 'nowhere')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(join(dirname(file), 'nowhere', 'audit.jsonl'));
    const both = cli(['activity', ...window, '--data', dirname(file), '--file', file]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/'--file <path>' cannot be used with option '--data <dir>'/);
    const help = cli(['activity', '--help']).stdout;
    expect(help).toMatch(/--data <dir>/);
    expect(help).not.toContain('--file');
  }, 60_000);
});
