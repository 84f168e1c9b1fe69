import { appendFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import type { ActivityRow } from '../../cli/activity';
import {
  AUDIT_LINES_PATTERN,
  followCloudWatch,
  followLocal,
  followPrinter,
  LATE_ARRIVAL_MS,
  MAX_FAILED_POLLS,
  MAX_PAGES_PER_POLL,
} from '../../cli/activity-follow';
import { AUDIT_LOG_KEY } from '../../lambda/adapters/log-audit-sink';
import { type AuditEventData, buildAuditEvent, requestDigest } from '../../lambda/core/audit-event';

/**
 * `activity --follow` (issue 14.5): new events only (unless --since), the activity filters, partial lines and
 * truncation locally; CloudWatch polling with overlapping windows, no duplicates and no gaps.
 */

function event(index: number, overrides: { user?: string; decision?: 'allow' | 'deny'; tool?: string } = {}) {
  return buildAuditEvent(
    {
      time: new Date(Date.UTC(2026, 11, 2, 8, 0, index % 60)),
      phase: 'request',
      caller: {
        subject: overrides.user ?? 'alice',
        issuer: 'i',
        roles: [],
        actors: [],
        expiresAt: 2000000000,
        tokenId: `t-${index}`,
      },
      method: 'tools/call',
      toolName: overrides.tool ?? 'orders___get_order',
      arguments: { order_id: String(index) },
      jsonRpcId: index,
      decision: overrides.decision ?? 'allow',
      enforced: true,
      ...(overrides.decision === 'deny' ? { errorCode: 'AccessDenied', reason: 'Denied by policy.' } : {}),
      requestDigest: requestDigest('tools/call', { index }),
    },
    { eventSource: 'mcp-identity', recipientAccountId: '123456789012', mode: 'enforce' },
    { newUid: () => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}` },
  );
}
const line = (data: AuditEventData) => `${JSON.stringify(data)}\n`;
const uidOf = (index: number) => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;

/**
 * A manual clock for the follow loops: each sleep hands control to the test, which acts on the files or the
 * mock, then lets the next poll run. After `polls` sleeps the follow is stopped.
 */
function steps(actions: (() => void)[]) {
  const controller = new AbortController();
  let step = 0;
  const sleep = async () => {
    const action = actions[step];
    step += 1;
    if (action === undefined) controller.abort();
    else action();
  };
  return { signal: controller.signal, sleep };
}

describe('following the local store', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'follow-'));
    file = join(dir, 'audit.jsonl');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function follow(actions: (() => void)[], extra: Record<string, unknown> = {}) {
    const rows: ActivityRow[] = [];
    const warnings: string[] = [];
    const { signal, sleep } = steps(actions);
    await followLocal(file, {
      filter: { phase: 'request' },
      signal,
      sleep,
      pollMs: 1,
      onRows: (batch) => rows.push(...batch),
      onWarning: (message) => warnings.push(message),
      ...extra,
    });
    return { uids: rows.map((row) => row.uid), rows, warnings };
  }

  it('shows events appended after it starts, not those already there', async () => {
    writeFileSync(file, line(event(1)) + line(event(2)));
    const { uids } = await follow([
      () => appendFileSync(file, line(event(3))),
      () => appendFileSync(file, line(event(4))),
    ]);
    expect(uids).toEqual([uidOf(3), uidOf(4)]);
  });

  it('says it is ready only once positioned: an event written right after that is shown', async () => {
    writeFileSync(file, line(event(1)));
    // What a user (or a test) does on seeing "following …": write at once. The follow must already be positioned.
    const { uids } = await follow([() => undefined], {
      onReady: () => appendFileSync(file, line(event(2))),
    });
    expect(uids).toEqual([uidOf(2)]);
  });

  it('with --since, shows the matching history first (oldest first), then new events, each once', async () => {
    writeFileSync(file, line(event(1)) + line(event(2)));
    const { uids } = await follow([() => appendFileSync(file, line(event(2)) + line(event(3)))], {
      backlogSince: new Date(Date.UTC(2026, 11, 2)),
    });
    expect(uids).toEqual([uidOf(1), uidOf(2), uidOf(3)]);
  });

  it('applies the activity filters', async () => {
    writeFileSync(file, '');
    const { rows } = await follow(
      [
        () =>
          appendFileSync(
            file,
            line(event(1, { user: 'bob', decision: 'deny' })) +
              line(event(2, { user: 'alice', decision: 'deny' })) +
              line(event(3, { user: 'bob', decision: 'allow' })),
          ),
      ],
      { filter: { user: 'bob', decision: 'deny', phase: 'request' } },
    );
    expect(rows.map((row) => [row.user, row.decision, row.uid])).toEqual([['bob', 'deny', uidOf(1)]]);
  });

  it('waits for a line still being written, and shows it whole once its newline arrives', async () => {
    writeFileSync(file, '');
    const text = line(event(5));
    const { uids, warnings } = await follow([
      () => appendFileSync(file, text.slice(0, 40)),
      () => appendFileSync(file, text.slice(40, 90)),
      () => appendFileSync(file, text.slice(90)),
    ]);
    expect(uids).toEqual([uidOf(5)]);
    expect(warnings).toEqual([]);
  });

  it('after the file is truncated, reads it from its start without showing old events again', async () => {
    writeFileSync(file, line(event(1)) + line(event(2)));
    const { uids, warnings } = await follow([
      () => appendFileSync(file, line(event(3))),
      () => {
        truncateSync(file, 0);
        appendFileSync(file, line(event(1)) + line(event(4)));
      },
    ]);
    expect(uids).toEqual([uidOf(3), uidOf(4)]);
    expect(warnings.join('\n')).toMatch(/truncated or replaced/);
  });

  it('counts unreadable lines as a warning and goes on', async () => {
    writeFileSync(file, '');
    const { uids, warnings } = await follow([() => appendFileSync(file, `not json\n${line(event(6))}`)]);
    expect(uids).toEqual([uidOf(6)]);
    expect(warnings).toEqual([expect.stringMatching(/1 unreadable line/)]);
  });

  it('waits for a store that does not exist yet', async () => {
    const { uids } = await follow([() => undefined, () => writeFileSync(file, line(event(7)))]);
    expect(uids).toEqual([uidOf(7)]);
  });
});

describe('following CloudWatch Logs', () => {
  const logs = mockClient(CloudWatchLogsClient);
  beforeEach(() => logs.reset());
  const T0 = Date.UTC(2026, 11, 2, 8, 0, 0);
  const logEvent = (index: number, timestamp: number, id = `e${index}`) => ({
    eventId: id,
    timestamp,
    message: JSON.stringify({
      level: 'INFO',
      message: 'mcp-identity audit event',
      [AUDIT_LOG_KEY]: event(index),
    }),
  });

  async function follow(polls: number, clock: number[], extra: Record<string, unknown> = {}) {
    const rows: ActivityRow[] = [];
    const warnings: string[] = [];
    const controller = new AbortController();
    let sleeps = 0;
    let tick = 0;
    await followCloudWatch(new CloudWatchLogsClient({ region: 'eu-west-1' }), '/audit', {
      filter: { phase: 'request' },
      signal: controller.signal,
      pollMs: 5000,
      startTime: T0,
      now: () => clock[Math.min(tick++, clock.length - 1)] as number,
      sleep: async () => {
        sleeps += 1;
        if (sleeps >= polls) controller.abort();
      },
      onRows: (batch) => rows.push(...batch),
      onWarning: (message) => warnings.push(message),
      ...extra,
    });
    return { uids: rows.map((row) => row.uid), rows, warnings };
  }

  it('polls with overlapping windows and prints each event once, in time order', async () => {
    // Poll 1 sees e1; poll 2 (overlapping) sees e1 again, e2 and a late e3 stamped before e2.
    logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [logEvent(1, T0 + 1000)] })
      .resolvesOnce({ events: [logEvent(1, T0 + 1000), logEvent(2, T0 + 6000), logEvent(3, T0 + 4000)] })
      .resolves({ events: [] });
    const { uids } = await follow(2, [T0 + 5000, T0 + 10_000]);
    expect(uids).toEqual([uidOf(1), uidOf(3), uidOf(2)]);
    const calls = logs.commandCalls(FilterLogEventsCommand).map((call) => call.args[0].input);
    expect(calls[0]).toMatchObject({
      logGroupName: '/audit',
      startTime: T0,
      endTime: T0 + 5000,
      filterPattern: AUDIT_LINES_PATTERN,
    });
    // The second window starts LATE_ARRIVAL_MS before the first poll (never before the start).
    expect(calls[1]).toMatchObject({
      startTime: Math.max(T0, T0 + 5000 - LATE_ARRIVAL_MS),
      endTime: T0 + 10_000,
    });
  });

  it('leaves no gap: a window after a failed poll starts from the last successful one', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400 },
      $retryable: { throttling: true },
    });
    logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [] })
      .rejectsOnce(throttled)
      .resolves({ events: [logEvent(9, T0 + 200_000)] });
    const { uids, warnings } = await follow(3, [T0 + 120_000, T0 + 220_000, T0 + 320_000]);
    expect(uids).toEqual([uidOf(9)]);
    const windows = logs.commandCalls(FilterLogEventsCommand).map((call) => call.args[0].input.startTime);
    // Poll 3 looks back from poll 1 (the last that succeeded), not from the failed poll 2.
    expect(windows).toEqual([T0, T0 + 120_000 - LATE_ARRIVAL_MS, T0 + 120_000 - LATE_ARRIVAL_MS]);
    expect(warnings).toEqual([expect.stringMatching(/ThrottlingException.*retrying \(1\/5\)/)]);
  });

  it('follows every page of a poll', async () => {
    logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [logEvent(1, T0 + 1)], nextToken: 'p2' })
      .resolvesOnce({ events: [logEvent(2, T0 + 2)] })
      .resolves({ events: [] });
    const { uids } = await follow(1, [T0 + 5000]);
    expect(uids).toEqual([uidOf(1), uidOf(2)]);
    expect(logs.commandCalls(FilterLogEventsCommand)[1]?.args[0].input.nextToken).toBe('p2');
  });

  it('finishes a window of more than 20 pages over the next polls, from its token, before moving on', async () => {
    const mock = logs.on(FilterLogEventsCommand);
    for (let page = 0; page < MAX_PAGES_PER_POLL + 2; page += 1)
      mock.resolvesOnce({
        events: [logEvent(page, T0 + page)],
        ...(page < MAX_PAGES_PER_POLL + 1 ? { nextToken: `t${page + 1}` } : {}),
      });
    mock.resolves({ events: [] });
    const { uids, warnings } = await follow(3, [T0 + 5000, T0 + 10_000, T0 + 15_000]);
    expect(uids).toEqual(Array.from({ length: MAX_PAGES_PER_POLL + 2 }, (_, page) => uidOf(page)));
    const calls = logs.commandCalls(FilterLogEventsCommand).map((call) => call.args[0].input);
    // Poll 2 goes on from page 21's token within poll 1's window; poll 3 starts a new window.
    expect(calls[MAX_PAGES_PER_POLL]).toMatchObject({
      startTime: T0,
      endTime: T0 + 5000,
      nextToken: `t${MAX_PAGES_PER_POLL}`,
    });
    expect(calls[MAX_PAGES_PER_POLL + 2]).toMatchObject({ endTime: T0 + 10_000 });
    expect(calls[MAX_PAGES_PER_POLL + 2]?.nextToken).toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/more than 20 pages/)]);
  });

  it('applies the filters, and skips lines that are not audit events', async () => {
    logs.on(FilterLogEventsCommand).resolves({
      events: [
        logEvent(1, T0 + 1, 'a'),
        logEvent(2, T0 + 2, 'b'),
        { eventId: 'c', timestamp: T0 + 3, message: 'START RequestId: x' },
        {
          eventId: 'd',
          timestamp: T0 + 4,
          message: JSON.stringify({ [AUDIT_LOG_KEY]: event(3, { decision: 'deny' }) }),
        },
      ],
    });
    const { uids, warnings } = await follow(1, [T0 + 5000], {
      filter: { decision: 'deny', phase: 'request' },
    });
    expect(uids).toEqual([uidOf(3)]);
    expect(warnings).toEqual([expect.stringMatching(/unreadable line in \/audit.*event c/)]);
  });

  it('stops with the error when it is not transient (access denied), or after repeated failures', async () => {
    const denied = Object.assign(new Error('not authorized'), {
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
    });
    logs.on(FilterLogEventsCommand).rejects(denied);
    await expect(follow(10, [T0 + 5000])).rejects.toThrow('not authorized');
    logs.reset();
    const down = Object.assign(new Error('service unavailable'), { $metadata: { httpStatusCode: 503 } });
    logs.on(FilterLogEventsCommand).rejects(down);
    await expect(follow(100, [T0 + 5000])).rejects.toThrow('service unavailable');
    expect(logs.commandCalls(FilterLogEventsCommand)).toHaveLength(MAX_FAILED_POLLS);
  });
});

describe('follow output', () => {
  const row: ActivityRow = {
    time: '2026-12-02T08:00:00Z',
    uid: uidOf(1),
    user: 'alice',
    tool: 'orders___update_order',
    agent: 'agent-1',
    decision: 'deny',
    enforced: 'true',
    errorCode: 'AccessDenied',
    reason: `Denied: ${'x'.repeat(100)}`,
    policies: 'refund-limit',
    phase: 'request',
    requestKey: 'k',
    arguments: '{"order_id":"1"}',
  };
  const columns = ['time', 'user', 'tool', 'decision', 'policies', 'reason', 'agent'];

  it('--json prints one JSON object per line, arguments only when asked', () => {
    const plain = followPrinter('json', columns, { wide: false, showArguments: false });
    expect(plain.header).toBeUndefined();
    expect(JSON.parse(plain.line(row))).not.toHaveProperty('arguments');
    const withArguments = followPrinter('json', columns, { wide: false, showArguments: true });
    expect(withArguments.line(row)).not.toContain('\n');
    expect(JSON.parse(withArguments.line(row)).arguments).toBe('{"order_id":"1"}');
  });

  it('the table cuts long cells unless --wide', () => {
    const cut = followPrinter('table', columns, { wide: false, showArguments: false });
    expect(cut.header).toMatch(/^TIME\s+USER\s+TOOL\s+DECISION\s+POLICIES\s+REASON\s+AGENT$/);
    expect(cut.line(row)).toContain('…');
    const wide = followPrinter('table', [...columns, 'uid'], { wide: true, showArguments: false });
    expect(wide.line(row)).toContain(row.reason);
    expect(wide.line(row)).toContain(uidOf(1));
  });

  it('CSV has one header and neutralised formula cells', () => {
    const csv = followPrinter('csv', ['user', 'reason'], { wide: false, showArguments: false });
    expect(csv.header).toBe('user,reason');
    expect(csv.line({ ...row, user: '=cmd()' })).toMatch(/^'=cmd\(\),/);
  });
});
