import {
  CancelQueryCommand,
  CloudTrailClient,
  DescribeQueryCommand,
  GetQueryResultsCommand,
  StartQueryCommand,
} from '@aws-sdk/client-cloudtrail';
import {
  CloudWatchLogsClient,
  GetQueryResultsCommand as GetInsightsResultsCommand,
  StartQueryCommand as StartInsightsQueryCommand,
  StopQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import {
  ActivityError,
  type ActivityFilter,
  buildInsightsQuery,
  buildLakeSql,
  denialsByPolicy,
  eventDataStoreId,
  hasControlCharacters,
  insightsString,
  parseWhen,
  queryInsights,
  queryLake,
  sqlString,
  summarizeByUser,
  toCsv,
  toTable,
} from '../../cli/activity';

const since = new Date('2026-11-14T00:00:00Z');
const until = new Date('2026-11-21T00:00:00Z');
const base: ActivityFilter = { since, until, limit: 100 };

describe('time filters', () => {
  const now = new Date('2026-11-21T12:00:00Z');
  it.each([
    ['30m', '2026-11-21T11:30:00.000Z'],
    ['24h', '2026-11-20T12:00:00.000Z'],
    ['7d', '2026-11-14T12:00:00.000Z'],
    ['2w', '2026-11-07T12:00:00.000Z'],
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['2026-11-01T08:30:00Z', '2026-11-01T08:30:00.000Z'],
  ])('%s', (value, expected) => {
    expect(parseWhen(value, now).toISOString()).toBe(expected);
  });
  it.each(['yesterday', '7 days', '-1d', '2026-13-45', ''])('refuses %j', (value) => {
    expect(() => parseWhen(value, now)).toThrow(ActivityError);
  });
});

describe('CloudTrail Lake SQL', () => {
  it('is generated for every filter together', () => {
    expect(
      buildLakeSql(
        {
          ...base,
          user: 'alice',
          tool: 'orders___update_order',
          decision: 'deny',
          agent: 'agent-1',
          limit: 50,
        },
        'eds-0123abcd',
      ),
    ).toBe(
      [
        'SELECT eventData.uid AS uid, min(eventData.eventTime) AS time, arbitrary(eventData.userIdentity.principalId) AS user,',
        "  arbitrary(eventData.eventName) AS tool, arbitrary(element_at(eventData.userIdentity.details, 'agent')) AS agent,",
        "  arbitrary(element_at(eventData.responseElements, 'decision')) AS decision, arbitrary(element_at(eventData.responseElements, 'enforced')) AS enforced,",
        '  arbitrary(eventData.errorCode) AS errorCode, arbitrary(eventData.errorMessage) AS reason,',
        "  arbitrary(element_at(eventData.responseElements, 'determiningPolicies')) AS policies, arbitrary(element_at(eventData.additionalEventData, 'phase')) AS phase,",
        "  arbitrary(element_at(eventData.additionalEventData, 'requestKey')) AS requestKey, arbitrary(element_at(eventData.requestParameters, 'arguments')) AS arguments",
        'FROM eds-0123abcd',
        "WHERE eventTime >= '2026-11-14 00:00:00'",
        "  AND eventTime < '2026-11-21 00:00:00'",
        "  AND eventData.userIdentity.principalId = 'alice'",
        "  AND eventData.eventName = 'orders___update_order'",
        "  AND element_at(eventData.userIdentity.details, 'agent') = 'agent-1'",
        "  AND element_at(eventData.responseElements, 'decision') = 'deny'",
        "  AND element_at(eventData.additionalEventData, 'phase') = 'request'",
        'GROUP BY eventData.uid',
        'ORDER BY max(eventTime) DESC',
        'LIMIT 50',
      ].join('\n'),
    );
  });

  it.each([
    [{}, []],
    [{ user: 'bob' }, ["principalId = 'bob'"]],
    [{ tool: 't' }, ["eventName = 't'"]],
    [{ decision: 'allow' as const }, ["'decision') = 'allow'"]],
    [{ agent: 'a' }, ["'agent') = 'a'"]],
    [{ uid: 'u-1', phase: 'all' as const }, ["eventData.uid = 'u-1'"]],
  ])('adds only the conditions asked for: %j', (filter, expected) => {
    const sql = buildLakeSql({ ...base, ...filter }, 'eds');
    for (const part of expected) expect(sql).toContain(part);
    expect(sql.split('\n  AND ').length).toBe(
      2 + expected.length + ((filter as { phase?: string }).phase === 'all' ? 0 : 1),
    );
  });

  it('keeps values built to break out of quoting inside one literal', () => {
    const sql = buildLakeSql({ ...base, user: "alice' OR '1'='1", tool: "x'); DROP TABLE t; --" }, 'eds');
    expect(sql).toContain("eventData.userIdentity.principalId = 'alice'' OR ''1''=''1'");
    expect(sql).toContain("eventData.eventName = 'x''); DROP TABLE t; --'");
  });

  it('issue 11 #4: groups by UID, so copies of one event count once (every filter, every phase)', () => {
    for (const filter of [
      {},
      { user: 'a' },
      { uid: 'u', phase: 'all' as const },
      { decision: 'deny' as const },
    ]) {
      const sql = buildLakeSql({ ...base, ...filter }, 'eds');
      expect(sql).toMatch(/^SELECT eventData\.uid AS uid, /);
      expect(sql).toContain('\nGROUP BY eventData.uid\n');
      // Every other column is an aggregate, so the query is valid with the grouping.
      const columns = sql.slice('SELECT '.length, sql.indexOf('\nFROM')).split(/,\s*(?![^()]*\))/);
      for (const column of columns.slice(1)) expect(column.trim()).toMatch(/^(min|arbitrary)\(.*\) AS \w+$/s);
    }
  });

  it('issue 10 #21: takes an event data store ARN of any partition and queries its id', () => {
    for (const partition of ['aws', 'aws-cn', 'aws-us-gov']) {
      const arn = `arn:${partition}:cloudtrail:cn-north-1:123456789012:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE`;
      expect(eventDataStoreId(arn)).toBe('EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE');
      expect(buildLakeSql(base, arn)).toContain('\nFROM EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE\n');
    }
    expect(eventDataStoreId('eds-1')).toBe('eds-1');
    expect(() => eventDataStoreId('arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/x y')).toThrow(
      ActivityError,
    );
  });

  it('refuses an event data store that is not an id, and control characters', () => {
    expect(() => buildLakeSql(base, 'eds; DROP')).toThrow(/not an event data store id/);
    expect(() => buildLakeSql({ ...base, user: 'a\nb' }, 'eds')).toThrow(/control characters/);
  });

  it('for any value, produces a single well-formed literal that reads back as the value', () => {
    fc.assert(
      fc.property(
        fc.string().filter((value) => !hasControlCharacters(value)),
        (value) => {
          const literal = sqlString(value);
          expect(literal).toMatch(/^'([^']|'')*'$/s);
          expect(literal.slice(1, -1).replace(/''/g, "'")).toBe(value);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('Logs Insights query', () => {
  it('is generated for every filter together', () => {
    expect(
      buildInsightsQuery({
        ...base,
        user: 'alice',
        tool: 'orders___update_order',
        decision: 'deny',
        agent: 'agent-1',
      }),
    ).toBe(
      [
        'fields auditEvent.eventTime as time, auditEvent.UID as uid, auditEvent.userIdentity.principalId as user,',
        '  auditEvent.eventName as tool, auditEvent.userIdentity.details.agent as agent, auditEvent.responseElements.decision as decision,',
        '  auditEvent.responseElements.enforced as enforced, auditEvent.errorCode as errorCode, auditEvent.errorMessage as reason,',
        '  auditEvent.responseElements.determiningPolicies as policies, auditEvent.additionalEventData.phase as phase,',
        '  auditEvent.additionalEventData.requestKey as requestKey, auditEvent.requestParameters.arguments as arguments',
        '| filter ispresent(auditEvent.UID)',
        '| filter auditEvent.userIdentity.principalId = "alice"',
        '| filter auditEvent.eventName = "orders___update_order"',
        '| filter auditEvent.userIdentity.details.agent = "agent-1"',
        '| filter auditEvent.responseElements.decision = "deny"',
        '| filter auditEvent.additionalEventData.phase = "request"',
        '| sort @timestamp desc',
        '| dedup auditEvent.UID',
        '| limit 100',
      ].join('\n'),
    );
  });

  it('issue 11 #4: ends in dedup by UID (after the sort, before the limit), so copies count once', () => {
    for (const filter of [{}, { user: 'a' }, { uid: 'u', phase: 'all' as const }]) {
      const lines = buildInsightsQuery({ ...base, ...filter }).split('\n');
      expect(lines.slice(-3)).toStrictEqual([
        '| sort @timestamp desc',
        '| dedup auditEvent.UID',
        '| limit 100',
      ]);
    }
  });

  it('keeps values built to break out of quoting inside one literal', () => {
    expect(buildInsightsQuery({ ...base, user: 'a" or 1=1 | stats count(*) | filter "x' })).toContain(
      '| filter auditEvent.userIdentity.principalId = "a\\" or 1=1 | stats count(*) | filter \\"x"',
    );
    expect(insightsString('back\\slash"')).toBe('"back\\\\slash\\""');
  });

  it('for any value, produces a single well-formed literal that reads back as the value', () => {
    fc.assert(
      fc.property(
        fc.string().filter((value) => !hasControlCharacters(value)),
        (value) => {
          const literal = insightsString(value);
          expect(literal).toMatch(/^"([^"\\]|\\.)*"$/s);
          expect(literal.slice(1, -1).replace(/\\(.)/g, '$1')).toBe(value);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('queryLake', () => {
  const trail = mockClient(CloudTrailClient);
  const client = new CloudTrailClient({ region: 'eu-west-1' });
  let clock = 0;
  const options = (extra = {}) => ({
    timeoutMs: 10_000,
    pollMs: 1000,
    sleep: async (ms: number) => {
      clock += ms;
    },
    now: () => clock,
    ...extra,
  });
  beforeEach(() => {
    trail.reset();
    clock = 0;
  });
  afterEach(() => {
    // Issue 10 #21: no CloudTrail call of any test here carries the deprecated EventDataStore member.
    for (const call of trail.calls())
      expect(Object.keys(call.args[0].input as object)).not.toContain('EventDataStore');
  });
  const row = (user: string, decision: string): Record<string, string>[] => [
    { time: '2026-11-20T10:00:00Z' },
    { uid: `u-${user}` },
    { user },
    { tool: 't' },
    { decision },
    { policies: '["p1","p2"]' },
  ];

  it('starts the query, polls with progress, and pages through the results', async () => {
    trail.on(StartQueryCommand).resolves({ QueryId: 'q-1' });
    trail
      .on(DescribeQueryCommand)
      .resolvesOnce({ QueryStatus: 'QUEUED' })
      .resolvesOnce({ QueryStatus: 'RUNNING', QueryStatistics: { BytesScanned: 1024, EventsScanned: 10 } })
      .resolves({ QueryStatus: 'FINISHED', QueryStatistics: { BytesScanned: 4096, EventsScanned: 40 } });
    trail
      .on(GetQueryResultsCommand)
      .resolvesOnce({ QueryResultRows: [row('alice', 'deny')], NextToken: 'n-2' })
      .resolves({ QueryResultRows: [row('bob', 'allow')] });
    const progress: unknown[] = [];

    const rows = await queryLake(
      client,
      'eds-1',
      { ...base, user: 'alice' },
      options({ onProgress: (state: unknown) => progress.push(state) }),
    );

    expect(trail.commandCalls(StartQueryCommand)[0]?.args[0].input).toEqual({
      QueryStatement: buildLakeSql({ ...base, user: 'alice' }, 'eds-1'),
    });
    expect(progress).toEqual([
      { status: 'QUEUED', elapsedMs: 0 },
      { status: 'RUNNING', elapsedMs: 1000, bytesScanned: 1024, eventsScanned: 10 },
      { status: 'FINISHED', elapsedMs: 2000, bytesScanned: 4096, eventsScanned: 40 },
    ]);
    // Issue 10 #21: the deprecated EventDataStore member is never sent.
    expect(trail.commandCalls(GetQueryResultsCommand).map((call) => call.args[0].input)).toStrictEqual([
      { QueryId: 'q-1' },
      { QueryId: 'q-1', NextToken: 'n-2' },
    ]);
    expect(trail.commandCalls(DescribeQueryCommand).map((call) => call.args[0].input)).toStrictEqual([
      { QueryId: 'q-1' },
      { QueryId: 'q-1' },
      { QueryId: 'q-1' },
    ]);
    expect(rows.map((item) => [item.user, item.decision, item.policies])).toEqual([
      ['alice', 'deny', 'p1,p2'],
      ['bob', 'allow', 'p1,p2'],
    ]);
  });

  it('reports a failed query with the service message', async () => {
    trail.on(StartQueryCommand).resolves({ QueryId: 'q-1' });
    trail
      .on(DescribeQueryCommand)
      .resolves({ QueryStatus: 'FAILED', ErrorMessage: 'line 3:7: Column x cannot be resolved' });
    await expect(queryLake(client, 'eds-1', base, options())).rejects.toThrow(
      'CloudTrail Lake query failed: line 3:7: Column x cannot be resolved',
    );
  });

  it('cancels the remote query on timeout, with a clear message', async () => {
    trail.on(StartQueryCommand).resolves({ QueryId: 'q-1' });
    trail.on(DescribeQueryCommand).resolves({ QueryStatus: 'RUNNING' });
    trail.on(CancelQueryCommand).resolves({ QueryId: 'q-1', QueryStatus: 'CANCELLED' });
    await expect(queryLake(client, 'eds-1', base, options({ timeoutMs: 3000 }))).rejects.toThrow(
      /did not finish within 3 s and was cancelled/,
    );
    expect(trail.commandCalls(CancelQueryCommand)[0]?.args[0].input).toStrictEqual({ QueryId: 'q-1' });
  });

  it('cancels the remote query when the user presses Ctrl-C', async () => {
    const controller = new AbortController();
    trail.on(StartQueryCommand).resolves({ QueryId: 'q-1' });
    trail.on(DescribeQueryCommand).callsFake(() => {
      controller.abort();
      return { QueryStatus: 'RUNNING' };
    });
    trail.on(CancelQueryCommand).resolves({});
    await expect(queryLake(client, 'eds-1', base, options({ signal: controller.signal }))).rejects.toThrow(
      /cancelled/,
    );
    expect(trail).toHaveReceivedCommandTimes(CancelQueryCommand, 1);
  });
});

describe('queryInsights', () => {
  const logs = mockClient(CloudWatchLogsClient);
  const client = new CloudWatchLogsClient({ region: 'eu-west-1' });
  let clock = 0;
  const options = (extra = {}) => ({
    timeoutMs: 10_000,
    sleep: async (ms: number) => {
      clock += ms;
    },
    now: () => clock,
    ...extra,
  });
  beforeEach(() => {
    logs.reset();
    clock = 0;
  });

  it('queries the audit log group over the time range and maps the fields', async () => {
    logs.on(StartInsightsQueryCommand).resolves({ queryId: 'q-9' });
    logs
      .on(GetInsightsResultsCommand)
      .resolvesOnce({
        status: 'Running',
        statistics: { bytesScanned: 10, recordsScanned: 1, recordsMatched: 0 },
      })
      .resolves({
        status: 'Complete',
        results: [
          [
            { field: 'user', value: 'alice' },
            { field: 'tool', value: 'orders___get_order' },
            { field: 'decision', value: 'allow' },
            { field: '@ptr', value: 'x' },
          ],
        ],
      });
    const rows = await queryInsights(
      client,
      '/mcp-identity/audit',
      { ...base, decision: 'allow' },
      options(),
    );
    expect(logs.commandCalls(StartInsightsQueryCommand)[0]?.args[0].input).toEqual({
      logGroupNames: ['/mcp-identity/audit'],
      startTime: since.getTime() / 1000,
      endTime: until.getTime() / 1000,
      queryString: buildInsightsQuery({ ...base, decision: 'allow' }),
      limit: 100,
    });
    expect(rows).toEqual([
      expect.objectContaining({ user: 'alice', tool: 'orders___get_order', decision: 'allow', agent: '' }),
    ]);
  });

  it('stops the query on timeout and reports failures', async () => {
    logs.on(StartInsightsQueryCommand).resolves({ queryId: 'q-9' });
    logs.on(GetInsightsResultsCommand).resolves({ status: 'Running' });
    logs.on(StopQueryCommand).resolves({ success: true });
    await expect(queryInsights(client, 'g', base, options({ timeoutMs: 2000 }))).rejects.toThrow(
      /was cancelled/,
    );
    expect(logs.commandCalls(StopQueryCommand)[0]?.args[0].input).toEqual({ queryId: 'q-9' });
    logs.on(GetInsightsResultsCommand).resolves({ status: 'Failed' });
    await expect(queryInsights(client, 'g', base, options())).rejects.toThrow('Logs Insights query failed');
  });
});

describe('reports and output', () => {
  const rows = [
    { user: 'alice', tool: 'a', decision: 'allow', policies: 'p', errorCode: '' },
    { user: 'alice', tool: 'b', decision: 'deny', policies: '', errorCode: 'AccessDenied' },
    { user: 'bob', tool: 'b', decision: 'deny', policies: 'large-refunds', errorCode: 'AccessDenied' },
    { user: 'carol', tool: 'a', decision: 'deny', policies: '', errorCode: 'SpoofingAttempt' },
  ].map((row) => ({
    time: '',
    uid: '',
    agent: '',
    enforced: '',
    reason: '',
    phase: 'request',
    requestKey: '',
    arguments: '',
    ...row,
  }));

  it('summarises per user and denials per policy', () => {
    expect(summarizeByUser(rows)).toEqual([
      { user: 'alice', calls: 2, denials: 1, tools: 'a, b' },
      { user: 'bob', calls: 1, denials: 1, tools: 'b' },
      { user: 'carol', calls: 1, denials: 1, tools: 'a' },
    ]);
    expect(denialsByPolicy(rows)).toEqual([
      { policy: '(no permit: default deny)', denials: 1, users: 'alice', tools: 'b' },
      { policy: '(SpoofingAttempt)', denials: 1, users: 'carol', tools: 'a' },
      { policy: 'large-refunds', denials: 1, users: 'bob', tools: 'b' },
    ]);
  });

  it('writes CSV that spreadsheets cannot execute, and readable tables', () => {
    expect(toCsv([{ user: '=HYPERLINK("x")', tool: 'a,b' }], ['user', 'tool'])).toBe(
      'user,tool\n"\'=HYPERLINK(""x"")","a,b"',
    );
    expect(toTable([], ['user'])).toBe('(no matching activity)');
    expect(toTable([{ user: 'alice', calls: 2 }], ['user', 'calls'])).toBe('USER   CALLS\nalice  2');
    const reason = `Denied by policy 'p' (${'r'.repeat(100)})`;
    expect(toTable([{ reason }], ['reason'])).toBe(`REASON\n${reason.slice(0, 59)}…`);
    expect(toTable([{ reason }], ['reason'], { maxWidth: Number.POSITIVE_INFINITY })).toBe(
      `REASON\n${reason}`,
    );
  });
});
