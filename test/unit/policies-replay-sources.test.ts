import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
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
import { ActivityError, type ActivityFilter } from '../../cli/activity';
import { runReplay } from '../../cli/policies-replay';
import {
  insightsEvents,
  lakeEvents,
  replayInsightsQuery,
  replayLakeSql,
} from '../../cli/policies-replay-sources';
import {
  type AuditEventData,
  type AuditRecord,
  buildAuditEvent,
  requestDigest,
} from '../../lambda/core/audit-event';
import { callerFromClaims } from '../../lambda/core/caller';
import { recordedEvent } from '../../lambda/core/recorded-call';
import { POLICY_DIR } from '../helpers/harness';

const bob = callerFromClaims({
  sub: 'bob',
  iss: 'https://idp.example.com',
  iat: 1_900_000_000,
  exp: 1_900_000_900,
  jti: 'tok-9',
  email: 'bob@example.com',
  roles: ['order-admin'],
  client_id: 'agent-1',
  act: { sub: 'sub-agent' },
});
const settings = {
  eventSource: 'mcp-identity',
  recipientAccountId: '123456789012',
  mode: 'enforce' as const,
};
let uid = 0;
const event = (overrides: Partial<AuditRecord> = {}): AuditEventData =>
  buildAuditEvent(
    {
      time: new Date('2026-11-21T10:11:12Z'),
      phase: 'request',
      caller: bob,
      method: 'tools/call',
      toolName: 'orders___update_order',
      target: 'orders',
      arguments: { order_id: '2001', status: 'refunded', amount: 900 },
      decision: 'deny',
      errorCode: 'AccessDenied',
      reason: 'Denied by policy large-refunds-need-finance.',
      enforced: true,
      policies: ['large-refunds-need-finance'],
      door: 'apigw',
      requestDigest: requestDigest('tools/call', {}),
      ...overrides,
    },
    settings,
    {
      newUid: () => {
        uid += 1;
        return `uid-${uid}`;
      },
    },
  );

/** The columns a store returns for one event under the replay projection (Lake's time format). */
function columnsOf(source: AuditEventData, time = source.eventTime.replace('T', ' ').replace('Z', '.000')) {
  const prefixed = (prefix: string, map: Readonly<Record<string, string>> | undefined) =>
    Object.fromEntries(Object.entries(map ?? {}).map(([key, value]) => [`${prefix}_${key}`, value]));
  return {
    uid: source.UID,
    time,
    version: source.version,
    identityType: source.userIdentity.type,
    user: source.userIdentity.principalId,
    eventName: source.eventName,
    ...(source.errorCode === undefined ? {} : { errorCode: source.errorCode }),
    ...prefixed('d', source.userIdentity.details),
    ...prefixed('q', source.requestParameters),
    ...prefixed('r', source.responseElements),
    ...prefixed('a', source.additionalEventData),
  } as Record<string, string>;
}

const since = new Date('2026-11-20T00:00:00Z');
const until = new Date('2026-11-22T00:00:00Z');
const filter: ActivityFilter = { since, until, limit: 1_000_000, phase: 'request' };
const fields = (columns: Record<string, string>) =>
  Object.entries(columns).map(([field, value]) => ({ field, value }));
const noWait = { timeoutMs: 10_000, pollMs: 1, sleep: async () => undefined };

describe('policies replay sources: CloudTrail Lake', () => {
  const trail = mockClient(CloudTrailClient);
  const client = new CloudTrailClient({ region: 'eu-west-1' });
  beforeEach(() => trail.reset());

  it('selects every field the request is rebuilt from, with activity’s escaped filters', () => {
    const sql = replayLakeSql({ ...filter, user: "o'brien", tool: 'orders___update_order' }, 'eds-1');

    for (const key of [
      'roles',
      'issuer',
      'email',
      'username',
      'agent',
      'tokenId',
      'actors',
      'tokenIssuedAt',
      'tokenExpiresAt',
      'truncated',
    ])
      expect(sql).toContain(`element_at(eventData.userIdentity.details, '${key}')`);
    for (const key of ['method', 'tool', 'arguments'])
      expect(sql).toContain(`element_at(eventData.requestParameters, '${key}')`);
    expect(sql).toContain("eventData.userIdentity.principalId = 'o''brien'");
    expect(sql).toContain("element_at(eventData.additionalEventData, 'phase') = 'request'");
    expect(sql).toMatch(/^FROM eds-1$/m);
    expect(sql).toContain('GROUP BY eventData.uid');
  });

  it('reads events back into the same recorded decisions, each UID once, across result pages', async () => {
    const denied = event();
    const allowed = event({
      decision: 'allow',
      errorCode: undefined,
      reason: undefined,
      policies: ['order-admins-update'],
      arguments: { order_id: '1', status: 'shipped' },
    });
    const row = (source: AuditEventData) =>
      Object.entries(columnsOf(source)).map(([key, value]) => ({ [key]: value }));
    trail.on(StartQueryCommand).resolves({ QueryId: 'q-1' });
    trail.on(DescribeQueryCommand).resolves({ QueryStatus: 'FINISHED' });
    trail
      .on(GetQueryResultsCommand, { QueryId: 'q-1' })
      .resolvesOnce({ QueryResultRows: [row(denied), row(allowed)], NextToken: 'page-2' })
      .resolves({ QueryResultRows: [row(denied)] });

    const events = await lakeEvents(client, 'eds-1', filter, noWait);

    expect(trail.commandCalls(StartQueryCommand)[0]?.args[0].input).toEqual({
      QueryStatement: replayLakeSql(filter, 'eds-1'),
    });
    expect(trail.commandCalls(GetQueryResultsCommand)[1]?.args[0].input).toEqual({
      QueryId: 'q-1',
      NextToken: 'page-2',
    });
    expect(events.map((read) => read.UID).sort()).toEqual([denied.UID, allowed.UID].sort());
    for (const source of [denied, allowed]) {
      const read = events.find((candidate) => candidate.UID === source.UID) as AuditEventData;
      expect(recordedEvent(read)).toStrictEqual(recordedEvent(source));
      expect(read.eventTime).toBe('2026-11-21T10:11:12Z');
    }
  });

  it('fails with the query’s own message when Lake fails it', async () => {
    trail.on(StartQueryCommand).resolves({ QueryId: 'q-1' });
    trail.on(DescribeQueryCommand).resolves({ QueryStatus: 'FAILED', ErrorMessage: 'bad column' });

    await expect(lakeEvents(client, 'eds-1', filter, noWait)).rejects.toThrow(
      new ActivityError('CloudTrail Lake query failed: bad column'),
    );
  });
});

describe('policies replay sources: CloudWatch Logs Insights', () => {
  const logs = mockClient(CloudWatchLogsClient);
  const client = new CloudWatchLogsClient({ region: 'eu-west-1' });
  beforeEach(() => logs.reset());

  it('projects every replay field and keeps activity’s filters', () => {
    const query = replayInsightsQuery({ ...filter, agent: 'agent "1"' });

    expect(query).toContain('auditEvent.userIdentity.details.tokenExpiresAt as d_tokenExpiresAt');
    expect(query).toContain('auditEvent.requestParameters.arguments as q_arguments');
    expect(query).toContain('| filter auditEvent.userIdentity.details.agent = "agent \\"1\\""');
    expect(query).toContain('| dedup auditEvent.UID');
  });

  it('reads events back into the same recorded decisions', async () => {
    const source = event();
    logs.on(StartInsightsQueryCommand).resolves({ queryId: 'q-1' });
    logs
      .on(GetInsightsResultsCommand)
      .resolves({ status: 'Complete', results: [fields(columnsOf(source, source.eventTime))] });

    const events = await insightsEvents(client, '/mcp-identity/audit', filter, noWait);

    expect(events).toHaveLength(1);
    expect(recordedEvent(events[0] as AuditEventData)).toStrictEqual(recordedEvent(source));
  });

  it('splits a window that fills the 10,000-row result cap and reads each half, each UID once', async () => {
    const many = (prefix: string, count: number) =>
      Array.from({ length: count }, (_, index) =>
        fields({ ...columnsOf(event(), '2026-11-21T10:11:12Z'), uid: `${prefix}-${index}` }),
      );
    let started = 0;
    logs.on(StartInsightsQueryCommand).callsFake(() => {
      started += 1;
      return { queryId: `q-${started}` };
    });
    logs.on(GetInsightsResultsCommand).callsFake((input: { queryId: string }) => ({
      status: 'Complete',
      results:
        input.queryId === 'q-1'
          ? many('full', 10_000)
          : input.queryId === 'q-2'
            ? [...many('first', 3), ...many('edge', 1)]
            : [...many('edge', 1), ...many('second', 2)],
    }));
    const windows: string[] = [];

    const events = await insightsEvents(client, '/mcp-identity/audit', filter, {
      ...noWait,
      onWindow: (from, to) => windows.push(`${from.toISOString()}/${to.toISOString()}`),
    });

    expect(windows).toEqual([
      '2026-11-20T00:00:00.000Z/2026-11-22T00:00:00.000Z',
      '2026-11-20T00:00:00.000Z/2026-11-21T00:00:00.000Z',
      '2026-11-21T00:00:00.000Z/2026-11-22T00:00:00.000Z',
    ]);
    const starts = logs.commandCalls(StartInsightsQueryCommand).map((call) => call.args[0].input);
    expect(starts.map((input) => [input.startTime, input.endTime])).toEqual([
      [since.getTime() / 1000, until.getTime() / 1000],
      [since.getTime() / 1000, Date.parse('2026-11-21T00:00:00Z') / 1000],
      [Date.parse('2026-11-21T00:00:00Z') / 1000, until.getTime() / 1000],
    ]);
    expect(events.map((read) => read.UID).sort()).toEqual([
      'edge-0',
      'first-0',
      'first-1',
      'first-2',
      'second-0',
      'second-1',
    ]);
  });

  it('refuses, rather than replaying in part, more than 10,000 events in one second', async () => {
    const full = Array.from({ length: 10_000 }, (_, index) =>
      fields({ ...columnsOf(event()), uid: `u-${index}` }),
    );
    logs.on(StartInsightsQueryCommand).resolves({ queryId: 'q-1' });
    logs.on(GetInsightsResultsCommand).resolves({ status: 'Complete', results: full });
    const second = {
      ...filter,
      since: new Date('2026-11-21T10:00:00Z'),
      until: new Date('2026-11-21T10:00:01Z'),
    };

    await expect(insightsEvents(client, '/mcp-identity/audit', second, noWait)).rejects.toThrow(
      /more than 10000 audit events between .*narrow the filter/,
    );
  });
});

describe('policies replay --stack', () => {
  const stacks = mockClient(CloudFormationClient);
  const logs = mockClient(CloudWatchLogsClient);
  const saved = { ...process.env };
  beforeEach(() => {
    stacks.reset();
    logs.reset();
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_REGION: 'eu-west-1',
    });
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  it('reads the audit store from the stack’s outputs and replays what it holds', async () => {
    const recent = event({ time: new Date() });
    stacks.on(DescribeStacksCommand, { StackName: 'McpIdentity' }).resolves({
      Stacks: [
        {
          StackName: 'McpIdentity',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [
            { OutputKey: 'AuditStore', OutputValue: 'cloudwatch' },
            { OutputKey: 'AuditLogGroup', OutputValue: '/mcp-identity/audit' },
          ],
        },
      ],
    });
    logs.on(StartInsightsQueryCommand).resolves({ queryId: 'q-1' });
    logs
      .on(GetInsightsResultsCommand)
      .resolves({ status: 'Complete', results: [fields(columnsOf(recent, recent.eventTime))] });
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const code = await runReplay({
        policies: POLICY_DIR,
        data: '.data',
        stack: 'McpIdentity',
        region: 'eu-west-1',
        timeout: 10,
        limit: 100,
        resourceId: 'gateway',
        json: true,
        csv: false,
        showArguments: false,
      });

      expect(code).toBe(0);
      expect(logs.commandCalls(StartInsightsQueryCommand)[0]?.args[0].input.logGroupNames).toEqual([
        '/mcp-identity/audit',
      ]);
      const report = JSON.parse(String(stdout.mock.calls[0]?.[0])) as {
        source: string;
        replayed: number;
        unchanged: number;
      };
      expect(report).toMatchObject({
        source: 'CloudWatch Logs /mcp-identity/audit',
        replayed: 1,
        unchanged: 1,
      });
    } finally {
      stdout.mockRestore();
    }
  });
});
