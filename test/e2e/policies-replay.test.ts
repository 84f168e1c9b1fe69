import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ReplayEngine, replayEvents } from '../../cli/policies-replay-engine';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import type { AuditEventData } from '../../lambda/core/audit-event';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { cliAsync, policyCopy } from '../cli/helpers';

/**
 * `policies replay` on a real audit: the local stack, driven by the MCP SDK client as several people and
 * agents, writes its JSONL audit; replaying it under the very policies that decided it must reproduce every
 * recorded decision (any mismatch is a bug in the replay or in what the audit records), and a candidate
 * without bob's update permit must report exactly bob's allowed updates.
 */

/** Policies beyond the repository's, so the audit holds agent, delegation, token-fact and attribute rules. */
const EXTRA_POLICIES = `
@id("untrusted-agent-reads-nothing")
@reason("the untrusted agent may not call order tools")
forbid (principal, action in McpIdentity::Action::"target:orders", resource)
when { context has agent && context.agent == "untrusted-agent" };

@id("no-delegated-updates")
@reason("a sub-agent may not change orders")
forbid (principal, action == McpIdentity::Action::"orders___update_order", resource)
when { context.actors.contains("sub-agent") };

@id("short-lived-tokens-for-activity")
@reason("recent activity needs a token that lives at most an hour")
forbid (principal, action == McpIdentity::Action::"orders___get_recent_activity", resource)
when { context.token has issuedAt && context.token.expiresAt - context.token.issuedAt > 3600 };

@id("carol-reads-her-activity")
@reason("carol may see her own recent activity")
permit (principal, action == McpIdentity::Action::"orders___get_recent_activity", resource)
when { principal has email && principal.email == "carol@example.com" };
`;

let stack: LocalStack;
let policies: string;
let audit: AuditEventData[];
let auditFile: string;

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: 'replay-e2e', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

async function session(token: string, run: (client: Client) => Promise<unknown>): Promise<void> {
  const client = await connect(token);
  try {
    await run(client);
  } finally {
    await client.close();
  }
}

const call = (client: Client, name: string, args: Record<string, unknown>) =>
  client.callTool({ name, arguments: args });

beforeAll(async () => {
  policies = policyCopy();
  writeFileSync(join(policies, 'replay-extra.cedar'), EXTRA_POLICIES);
  const dataDir = mkdtempSync(join(tmpdir(), 'replay-e2e-'));
  stack = await startLocalStack({
    port: 0,
    issuerPort: 0,
    policyDir: policies,
    usersFile: join(__dirname, '..', '..', 'local', 'users.json'),
    dataDir,
    watchPolicies: false,
  });
  const sign = (claims: Record<string, unknown>, ttlSeconds = 900) =>
    stack.devIssuer.sign({ aud: stack.mcpUrl, ...claims }, { ttlSeconds });
  const alice = await stack.token('alice');
  const bob = await stack.token('bob');
  const carol = await stack.token('carol');
  await session(alice, async (client) => {
    await client.listTools();
    await call(client, 'orders___get_order', { order_id: '1001' });
    await call(client, 'orders___get_order', { order_id: '1001' });
    await call(client, 'orders___update_order', { order_id: '1001', status: 'cancelled' });
    await call(client, 'orders___get_recent_activity', {});
    // Refused before policy: a reserved identity argument.
    await call(client, 'orders___get_order', { order_id: '1001', _caller_user: 'bob' });
    // A tool the schema does not know, and arguments that do not match it.
    await call(client, 'orders___delete_everything', {});
    await call(client, 'orders___get_order', { order_id: 1001 });
  });
  await session(bob, async (client) => {
    await client.listTools();
    await call(client, 'orders___get_order', { order_id: '2001' });
    await call(client, 'orders___update_order', { order_id: '2001', status: 'shipped' });
    await call(client, 'orders___update_order', { order_id: '2001', status: 'refunded', amount: 100 });
    await call(client, 'orders___update_order', { order_id: '2001', status: 'refunded', amount: 900 });
  });
  await session(carol, async (client) => {
    await client.listTools();
    await call(client, 'orders___get_order', { order_id: '1001' });
    await call(client, 'orders___get_recent_activity', {});
  });
  // Agent, delegation and token-lifetime rules.
  await session(
    await sign({
      sub: 'alice',
      email: 'alice@example.com',
      roles: ['db-reader'],
      client_id: 'untrusted-agent',
    }),
    (client) => call(client, 'orders___get_order', { order_id: '1001' }),
  );
  await session(
    await sign({
      sub: 'bob',
      email: 'bob@example.com',
      roles: ['order-admin'],
      client_id: 'mcp-identity-local-agent',
      act: { sub: 'sub-agent', act: { sub: 'planner' } },
    }),
    async (client) => {
      await call(client, 'orders___update_order', { order_id: '2001', status: 'shipped' });
      await call(client, 'orders___get_order', { order_id: '2001' });
    },
  );
  await session(
    await sign({ sub: 'bob', email: 'bob@example.com', roles: ['order-admin'] }, 7200),
    (client) => call(client, 'orders___get_recent_activity', {}),
  );
  // A token that does not verify: refused before any policy.
  await connect(`${bob.slice(0, -4)}AAAA`).then(
    (client) => client.close(),
    () => undefined,
  );
  auditFile = stack.auditFile;
  audit = readFileSync(auditFile, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as AuditEventData);
}, 60_000);

afterAll(async () => {
  await stack.stop();
  rmSync(policies, { recursive: true, force: true });
});

const decisions = () => audit.filter((event) => event.additionalEventData?.phase === 'request');
const replay = (events: readonly AuditEventData[], dir: string) =>
  replayEvents(events, new ReplayEngine(loadPolicyBundle(dir)));

describe('policies replay on the local stack’s audit', () => {
  it('recorded a varied audit: allows, default denials, forbids, agent, delegation and token rules', () => {
    const recorded = decisions();
    const by = (code: string | undefined) => recorded.filter((event) => event.errorCode === code).length;
    expect(by(undefined)).toBeGreaterThanOrEqual(8);
    expect(by('AccessDenied')).toBeGreaterThanOrEqual(7);
    expect(by('SpoofingAttempt')).toBe(1);
    expect(by('InvalidArguments')).toBe(1);
    expect(by('InvalidToken')).toBeGreaterThanOrEqual(1);
    const policiesSeen = new Set(recorded.map((event) => event.responseElements?.determiningPolicies));
    for (const id of [
      'large-refunds-need-finance',
      'untrusted-agent-reads-nothing',
      'no-delegated-updates',
      'short-lived-tokens-for-activity',
      'carol-reads-her-activity',
    ])
      expect([...policiesSeen].some((text) => text?.includes(id))).toBe(true);
  });

  it('reproduces every recorded decision, and its determining policies, under the unchanged policies', async () => {
    const result = await replay(audit, policies);

    expect(result.newlyDenied).toEqual([]);
    expect(result.newlyAllowed).toEqual([]);
    expect(result.unchangedOtherPolicies).toBe(0);
    const policyDecisions = decisions().filter(
      (event) =>
        event.errorCode === undefined ||
        ['AccessDenied', 'InvalidArguments', 'PolicyEvaluationError'].includes(event.errorCode),
    );
    expect(result.replayed).toBe(policyDecisions.length);
    expect(result.unchanged).toBe(policyDecisions.length);
    expect(result.notReplayable).toEqual({
      'spoofing-attempt': 1,
      'refused-credential': decisions().filter((event) => event.errorCode === 'InvalidToken').length,
    });
    // Every tools/list answer shows, under the same policies, exactly the tools it showed.
    const listings = audit.filter((event) => event.requestParameters?.method === 'tools/list');
    expect(listings.length).toBe(3);
    expect(result.listings).toMatchObject({ replayed: 3, newlyHidden: [], newlyShown: [] });
    expect(result.listings.unchangedTools).toBe(9);
    expect(result.outcomes).toBe(audit.length - decisions().length - listings.length);
    // Identical requests are decided once (alice read order 1001 twice with one token).
    expect(result.distinctRequests).toBeLessThan(result.replayed);
  });

  it('reports exactly bob’s allowed updates when his update permit is removed', async () => {
    const candidate = policyCopy();
    writeFileSync(join(candidate, 'replay-extra.cedar'), EXTRA_POLICIES);
    rmSync(join(candidate, 'order-admins-update.cedar'));
    try {
      const result = await replay(audit, candidate);

      const expected = decisions()
        .filter(
          (event) =>
            event.userIdentity.principalId === 'bob' &&
            event.eventName === 'orders___update_order' &&
            event.responseElements?.decision === 'allow',
        )
        .map((event) => event.UID)
        .sort();
      expect(expected.length).toBe(2);
      expect(result.newlyDenied.map((change) => change.uid).sort()).toEqual(expected);
      expect(result.newlyAllowed).toEqual([]);
      for (const change of result.newlyDenied)
        expect(change).toMatchObject({
          user: 'bob',
          tool: 'orders___update_order',
          recorded: { decision: 'allow', policies: ['order-admins-update'] },
          candidate: { decision: 'deny', code: 'policy' },
        });
      expect(result.byTool.orders___update_order?.newlyDenied).toBe(2);
      // bob's tools/list would no longer show update_order; nobody else's changes.
      expect(result.listings.newlyHidden.map(({ user, tool }) => ({ user, tool }))).toEqual([
        { user: 'bob', tool: 'orders___update_order' },
      ]);
      expect(result.listings.newlyShown).toEqual([]);
      expect(result.byUser.bob?.newlyDenied).toBe(2);
    } finally {
      rmSync(candidate, { recursive: true, force: true });
    }
  });

  it('replays by recorded token facts: lifting the token-lifetime forbid newly allows only the 2-hour token', async () => {
    const candidate = policyCopy();
    writeFileSync(
      join(candidate, 'replay-extra.cedar'),
      EXTRA_POLICIES.replace(/@id\("short-lived-tokens-for-activity"\)[\s\S]*?> 3600 };/, ''),
    );
    try {
      const result = await replay(audit, candidate);

      expect(result.newlyDenied).toEqual([]);
      expect(result.newlyAllowed).toHaveLength(1);
      expect(result.newlyAllowed[0]).toMatchObject({
        user: 'bob',
        tool: 'orders___get_recent_activity',
        recorded: { decision: 'deny', policies: ['short-lived-tokens-for-activity'] },
        candidate: { decision: 'allow', policies: ['orders-readers'] },
      });
    } finally {
      rmSync(candidate, { recursive: true, force: true });
    }
  });

  it('counts calls whose arguments were recorded by name only, or not at all, as not replayable where a policy reads them and some input could be allowed', async () => {
    const asNames = audit.map((event) => {
      const args = event.requestParameters?.arguments;
      if (args === undefined || !args.startsWith('{')) return event;
      const copy = structuredClone(event) as { requestParameters: Record<string, string> };
      copy.requestParameters.arguments = JSON.stringify(Object.keys(JSON.parse(args) as object));
      return copy as unknown as AuditEventData;
    });
    const asNone = audit.map((event) => {
      const copy = structuredClone(event) as { requestParameters?: Record<string, string> };
      delete copy.requestParameters?.arguments;
      return copy as unknown as AuditEventData;
    });
    const toolCalls = decisions().filter(
      (event) =>
        event.requestParameters?.method === 'tools/call' &&
        (event.errorCode === undefined || ['AccessDenied', 'InvalidArguments'].includes(event.errorCode)),
    );
    const byLargeRefunds = (event: AuditEventData) =>
      event.responseElements?.determiningPolicies?.includes('large-refunds-need-finance') === true;
    // A recorded denial that no input could lift (no permit for the caller, a forbid that reads no argument, a
    // tool the schema does not know) is decided "for any arguments"; large-refunds-need-finance reads `amount`.
    const deniedForAnyInput = toolCalls.filter(
      (event) => event.errorCode === 'AccessDenied' && !byLargeRefunds(event),
    ).length;

    const names = await replay(asNames, policies);
    // update_order is the only tool a policy reads the arguments of: bob's direct updates (allowed, or denied by
    // the large-refund forbid) stay unreplayed, and so does the argument check's own refusal. alice's update (no
    // permit) and the delegated one (a forbid that reads no argument) are decided without the values.
    const bobsUpdates = toolCalls.filter(
      (event) =>
        event.eventName === 'orders___update_order' &&
        (event.errorCode === undefined || byLargeRefunds(event)),
    ).length;
    expect(bobsUpdates).toBe(3);
    expect(names.notReplayable['arguments-not-recorded']).toBe(bobsUpdates + 1);
    // Without names, no allowed call can be checked against the schema: only the denials no input could lift replay.
    const none = await replay(asNone, policies);
    expect(none.notReplayable['arguments-not-recorded']).toBe(toolCalls.length - deniedForAnyInput);
    for (const result of [names, none]) {
      expect(result.newlyDenied).toEqual([]);
      expect(result.newlyAllowed).toEqual([]);
      expect(result.unchanged).toBe(result.replayed);
    }
  });

  it('refuses events without recorded token times only when a candidate policy reads them', async () => {
    const withoutTimes = audit.map((event) => {
      const copy = structuredClone(event) as { userIdentity: { details?: Record<string, string> } };
      delete copy.userIdentity.details?.tokenIssuedAt;
      delete copy.userIdentity.details?.tokenExpiresAt;
      return copy as unknown as AuditEventData;
    });
    const readsTimes = await replay(withoutTimes, policies);
    // The repository's policies read no token time: the same events replay (with a stand-in expiry).
    const repository = await replay(withoutTimes, join(__dirname, '..', '..', 'policies'));

    expect(readsTimes.replayed).toBe(0);
    expect(readsTimes.notReplayable['token-facts-not-recorded']).toBeGreaterThan(10);
    expect(repository.notReplayable['token-facts-not-recorded']).toBeUndefined();
    expect(repository.replayed).toBeGreaterThan(0);
  });

  it('is a CI gate: --fail-on exits 4 when the condition holds and 0 when not; JSON and CSV name the change', async () => {
    const candidate = policyCopy();
    writeFileSync(join(candidate, 'replay-extra.cedar'), EXTRA_POLICIES);
    rmSync(join(candidate, 'order-admins-update.cedar'));
    const since = '2020-01-01';
    try {
      const replay = (...args: string[]) =>
        cliAsync([
          'policies',
          'replay',
          '--policies',
          candidate,
          '--file',
          auditFile,
          '--since',
          since,
          ...args,
        ]);
      // Three runs of the command (each starts tsx and Cedar): one per output format and --fail-on outcome.
      const [table, json, csv] = await Promise.all([
        replay('--fail-on', 'newly-denied'),
        replay('--json', '--fail-on', 'newly-allowed'),
        replay('--csv', '--fail-on', 'any'),
      ]);

      expect(table.status).toBe(4);
      expect(table.stdout).toMatch(/newly denied\s+2\n\s+newly allowed\s+0/);
      expect(table.stdout).toMatch(/not replayable\s+\d+: refused-credential \d+, spoofing-attempt 1/);
      expect(table.stdout).toContain('NEWLY DENIED');
      expect(table.stdout).toContain('default deny: no permit applies');
      expect(json.status).toBe(0);
      expect(csv.status).toBe(4);
      // Not a terminal: no progress line on stderr.
      for (const run of [table, json, csv]) expect(run.stderr).not.toContain('replaying');
      const report = JSON.parse(json.stdout) as {
        newlyDenied: { user: string; candidate: { decision: string } }[];
        byUser: Record<string, { newlyDenied: number }>;
      };
      expect(report.newlyDenied.map((change) => change.user)).toEqual(['bob', 'bob']);
      expect(report.byUser.bob?.newlyDenied).toBe(2);
      const lines = csv.stdout.trim().split('\n');
      expect(lines[0]).toBe('change,time,uid,user,email,agent,tool,recorded,candidate,decided by,reason');
      expect(lines.slice(1).every((line) => line.startsWith('newly-denied,'))).toBe(true);
      expect(lines).toHaveLength(3);
    } finally {
      rmSync(candidate, { recursive: true, force: true });
    }
  }, 120_000);
});
