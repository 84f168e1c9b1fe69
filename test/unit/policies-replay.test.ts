import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runReplay } from '../../cli/policies-replay';
import {
  inputReads,
  ReplayEngine,
  type ReplayResult,
  replayEvents,
  standInArguments,
} from '../../cli/policies-replay-engine';
import {
  failed,
  formatCsv,
  formatTable,
  incompleteGate,
  type ReportContext,
} from '../../cli/policies-replay-report';
import { cedar } from '../../lambda/adapters/cedar-engine';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import { type AuditRecord, buildAuditEvent, requestDigest } from '../../lambda/core/audit-event';
import { callerFromClaims } from '../../lambda/core/caller';
import { auditArguments, DEFAULT_REDACTION } from '../../lambda/core/redaction';
import { policyCopy } from '../cli/helpers';
import { POLICY_DIR } from '../helpers/harness';

const alice = callerFromClaims({
  sub: 'alice',
  iss: 'https://idp',
  exp: 2_000_000_000,
  email: 'alice@example.com',
  roles: ['db-reader'],
});
const settings = {
  eventSource: 'mcp-identity',
  recipientAccountId: '123456789012',
  mode: 'enforce' as const,
};
const getOrder = (args: Record<string, unknown>, overrides: Partial<AuditRecord> = {}) =>
  buildAuditEvent(
    {
      time: new Date('2026-11-21T10:11:12Z'),
      phase: 'request',
      caller: alice,
      method: 'tools/call',
      toolName: 'orders___get_order',
      target: 'orders',
      arguments: args,
      decision: 'allow',
      enforced: true,
      policies: ['orders-readers'],
      requestDigest: requestDigest('tools/call', {}),
      ...overrides,
    },
    settings,
  );

describe('replay engine: arguments that were not recorded in full', () => {
  let candidate: string;
  beforeAll(() => {
    candidate = policyCopy();
    writeFileSync(
      join(candidate, 'order-9999.cedar'),
      `@id("order-9999-is-sealed")
forbid (principal, action == McpIdentity::Action::"orders___get_order", resource)
when { context has input && context.input.order_id == "9999" };`,
    );
  });
  afterAll(() => rmSync(candidate, { recursive: true, force: true }));

  const names = auditArguments({ order_id: '9999' }, { ...DEFAULT_REDACTION, arguments: 'names' });

  it('replays a call whose arguments no candidate policy reads with type-correct stand-ins', async () => {
    const result = await replayEvents(
      [getOrder(names as never)],
      new ReplayEngine(loadPolicyBundle(POLICY_DIR)),
    );

    expect(result).toMatchObject({ replayed: 1, unchanged: 1, notReplayable: {} });
  });

  it('refuses it once a candidate policy reads those arguments, and says whether they were redacted or absent', async () => {
    const engine = new ReplayEngine(loadPolicyBundle(candidate));
    const redacted = getOrder({ order_id: '[REDACTED]' });
    const none = getOrder({});
    delete (none.requestParameters as Record<string, string>).arguments;

    const result = await replayEvents(
      [getOrder(names as never), redacted, none, getOrder({ order_id: '9999' })],
      engine,
    );

    expect(result.notReplayable).toEqual({ 'arguments-not-recorded': 2, 'arguments-redacted': 1 });
    expect(result.newlyDenied).toHaveLength(1);
    expect(result.newlyDenied[0]?.candidate).toMatchObject({
      decision: 'deny',
      policies: ['order-9999-is-sealed'],
    });
  });

  it('builds stand-ins of the declared type: required fields only, nested records filled', () => {
    expect(
      standInArguments({
        type: 'Record',
        attributes: {
          id: { type: 'String' },
          count: { type: 'Long' },
          flag: { type: 'Boolean', required: false },
          owner: { type: 'Entity', name: 'McpIdentity::User' },
          tags: { type: 'Set', element: { type: 'String' } },
          price: { type: 'Extension', name: 'decimal' },
          nested: { type: 'Record', attributes: { deep: { type: 'Boolean' } } },
        },
      }),
    ).toStrictEqual({ id: '', count: 0, owner: '', tags: [], price: 0, nested: { deep: false } });
  });

  it('decides calls once when they differ only in what no policy reads: the token, unread arguments', async () => {
    const engine = new ReplayEngine(loadPolicyBundle(POLICY_DIR));
    const other = callerFromClaims({
      ...{ sub: 'alice', iss: 'https://idp', exp: 2_000_000_500, jti: 'other' },
      email: 'alice@example.com',
      roles: ['db-reader'],
    });
    const events = [
      getOrder({ order_id: '1' }),
      getOrder({ order_id: '1' }, { caller: other }),
      getOrder({ order_id: '2' }),
      // The schema check still sees the real arguments: a number where a string is declared is refused.
      getOrder({ order_id: 3 }, { decision: 'deny', errorCode: 'InvalidArguments', policies: [] }),
    ];

    const result = await replayEvents(events, engine);

    expect(result).toMatchObject({ unchanged: 4, newlyDenied: [], newlyAllowed: [] });
    expect(result.distinctRequests).toBe(2);
  });

  it('replays redacted calls when no argument a policy reads was redacted', async () => {
    const bob = callerFromClaims({
      sub: 'bob',
      iss: 'https://idp',
      exp: 2_000_000_000,
      roles: ['order-admin'],
    });
    const update = (args: Record<string, unknown>, decision: 'allow' | 'deny', policies: string[]) =>
      getOrder(args, {
        caller: bob,
        toolName: 'orders___update_order',
        decision,
        policies,
        ...(decision === 'deny' ? { errorCode: 'AccessDenied' as const } : {}),
      });
    const events = [
      update({ order_id: '[REDACTED]', status: 'refunded', amount: 900 }, 'deny', [
        'large-refunds-need-finance',
      ]),
      update({ order_id: '[REDACTED]', status: 'refunded', amount: 100 }, 'allow', ['order-admins-update']),
      update({ order_id: '1', status: '[REDACTED]', amount: 900 }, 'deny', ['large-refunds-need-finance']),
    ];

    const result = await replayEvents(events, new ReplayEngine(loadPolicyBundle(POLICY_DIR)));

    expect(result).toMatchObject({ replayed: 2, unchanged: 2, notReplayable: { 'arguments-redacted': 1 } });
  });
});

describe('inputReads', () => {
  const reads = (when: string) => {
    const parsed = cedar.policyToJson(`permit (principal, action, resource) when { ${when} };`);
    if (parsed.type === 'failure') throw new Error(parsed.errors[0]?.message);
    const found = inputReads(parsed.json.conditions);
    return found === 'all' ? 'all' : [...found].sort();
  };

  it.each([
    ['context has input && context.input.amount > 500', ['amount']],
    ['context.input has status && context.input.status == "refunded"', ['status']],
    ['context.input.address.city == "Paris"', ['address']],
    ['context.agent == "a" && context.token.expiresAt > 0', []],
    ['context has input', []],
    ['context.input == {}', 'all'],
    ['context == {}', 'all'],
    ['context.input["amount"] > 1', ['amount']],
  ] as const)('when { %s } reads %j', (when, expected) => {
    expect(reads(when)).toEqual(expected);
  });
});

describe('replay report', () => {
  const hostile = {
    uid: 'uid-1',
    time: '2026-11-21T10:11:12Z',
    user: '=HYPERLINK("http://evil.example","x")',
    email: '+1-555@example.com',
    agent: '@SUM(A1)',
    tool: 'orders___update_order',
    recorded: { decision: 'allow' as const, policies: ['order-admins-update'] },
    candidate: { decision: 'deny' as const, code: 'policy', reason: '-2+3, "quoted"\nline', policies: [] },
    arguments: { note: '=cmd|"/c calc"!A1', order_id: 'a,b' },
  };
  const result: ReplayResult = {
    events: 3,
    replayed: 2,
    unchanged: 1,
    unchangedOtherPolicies: 0,
    newlyDenied: [hostile],
    newlyAllowed: [],
    notReplayable: { 'arguments-not-recorded': 1 },
    outcomes: 0,
    accessChanges: 0,
    unverified: { allow: 0, deny: 0, unknown: 0 },
    listings: { replayed: 0, unchangedTools: 0, newlyHidden: [], newlyShown: [] },
    byTool: { orders___update_order: { newlyDenied: 1, newlyAllowed: 0, unchanged: 1 } },
    byUser: { [hostile.user]: { newlyDenied: 1, newlyAllowed: 0, unchanged: 1 } },
    distinctRequests: 2,
  };
  const context: ReportContext = {
    bundle: loadPolicyBundle(POLICY_DIR),
    dir: POLICY_DIR,
    source: 'audit.jsonl',
    since: new Date('2026-11-20T00:00:00Z'),
    until: new Date('2026-11-22T00:00:00Z'),
    showArguments: true,
  };

  it('CSV: quotes per RFC 4180 and neutralises cells a spreadsheet would run as formulas', () => {
    const csv = formatCsv(result, context);
    const [header, row] = csv.split('\n');

    expect(header).toBe(
      'change,time,uid,user,email,agent,tool,recorded,candidate,decided by,reason,arguments',
    );
    expect(row).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(row).toContain(`,'+1-555@example.com,`);
    expect(row).toContain(`,'@SUM(A1),`);
    expect(csv).toContain(`"'-2+3, ""quoted""\nline"`);
    expect(csv).toContain(`"{""note"":""=cmd|\\""/c calc\\""!A1"",""order_id"":""a,b""}"`);
    for (const cell of ['=HYPERLINK', '+1-555', '@SUM', '-2+3'])
      expect(csv).not.toMatch(new RegExp(`(^|,)"?\\${cell}`, 'm'));
  });

  it('CSV: neutralises a formula behind a leading tab or carriage return too', () => {
    const sneaky = { ...hostile, user: '\t=1+1', agent: '\r@SUM(A1)', email: 'plain' };
    const csv = formatCsv({ ...result, newlyDenied: [sneaky] }, context);

    expect(csv).toContain(`,'\t=1+1,`);
    expect(csv).toContain(`,"'\r@SUM(A1)",`);
  });

  it('table: counts, the not-replayable reasons and the denial in words', () => {
    const table = formatTable(result, context);

    expect(table).toMatch(/newly denied\s+1/);
    expect(table).toMatch(/not replayable\s+1: arguments-not-recorded 1/);
    expect(table).toContain('default deny: no permit applies');
    expect(table).toContain('BY TOOL');
  });

  it.each([
    [undefined, false],
    ['newly-denied', true],
    ['newly-allowed', false],
    ['any', true],
  ] as const)('--fail-on %s holds: %s', (failOn, expected) => {
    expect(failed(result, failOn)).toBe(expected);
    expect(failed({ ...result, newlyDenied: [], newlyAllowed: [hostile] }, failOn)).toBe(
      failOn === 'newly-allowed' || failOn === 'any',
    );
  });
});

describe('a --fail-on gate fails closed when the replay cannot vouch for the change', () => {
  const base: ReplayResult = {
    events: 0,
    replayed: 0,
    unchanged: 0,
    unchangedOtherPolicies: 0,
    newlyDenied: [],
    newlyAllowed: [],
    notReplayable: {},
    outcomes: 0,
    accessChanges: 0,
    unverified: { allow: 0, deny: 0, unknown: 0 },
    listings: { replayed: 0, unchangedTools: 0, newlyHidden: [], newlyShown: [] },
    byTool: {},
    byUser: {},
    distinctRequests: 0,
  };

  it('passes a complete replay with no change, and says nothing without --fail-on', () => {
    expect(incompleteGate({ ...base, events: 5, replayed: 5 }, 'newly-denied', false)).toBeUndefined();
    expect(incompleteGate({ ...base, events: 5, replayed: 0 }, undefined, true)).toBeUndefined();
  });

  it('refuses a replay cut short by --limit', () => {
    expect(incompleteGate({ ...base, events: 10, replayed: 10 }, 'any', true)).toContain('--limit');
  });

  it('refuses a replay that read events but could replay none of them', () => {
    expect(incompleteGate({ ...base, events: 7, replayed: 0 }, 'newly-allowed', false)).toContain(
      'none of the 7 event(s) read could be replayed',
    );
  });

  it('passes a source with no events at all: no traffic, nothing a policy change could break', () => {
    expect(incompleteGate({ ...base, events: 0, replayed: 0 }, 'newly-denied', false)).toBeUndefined();
  });
});

describe('policies replay reads only the candidate it is given', () => {
  it('names the candidate folder and the command to check it when it does not validate', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'broken-'));
    writeFileSync(join(broken, 'schema.cedarschema'), 'namespace X { entity');
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await runReplay({
        policies: broken,
        data: broken,
        timeout: 10,
        limit: 10,
        resourceId: 'gateway',
        json: false,
        csv: false,
        showArguments: false,
      });
      expect(code).toBe(1);
      expect(String(stderr.mock.calls[0]?.[0])).toMatch(
        new RegExp(
          `^mcp-identity policies replay: the candidate policy folder ${broken} cannot be used: .*\\ncheck it with: npx mcp-identity policies validate --dir ${broken}\\n$`,
          's',
        ),
      );
    } finally {
      stderr.mockRestore();
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('shows progress on stderr when it is a terminal, and the report on stdout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'replay-tty-'));
    const file = join(dir, 'audit.jsonl');
    const now = new Date();
    writeFileSync(
      file,
      `${[getOrder({ order_id: '1' }, { time: now }), getOrder({ order_id: '2' }, { time: now })].map((e) => JSON.stringify(e)).join('\n')}\n`,
    );
    const tty = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
    Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const code = await runReplay({
        policies: POLICY_DIR,
        data: dir,
        file,
        timeout: 10,
        limit: 10,
        resourceId: 'gateway',
        json: false,
        csv: false,
        showArguments: false,
        failOn: 'any',
      });
      expect(code).toBe(0);
      expect(stderr.mock.calls.map(([text]) => String(text)).join('')).toMatch(/replaying: 2 of 2 events/);
      expect(String(stdout.mock.calls[0]?.[0])).toMatch(/^Replayed 2 recorded decision\(s\)/);
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
      if (tty === undefined) delete (process.stderr as { isTTY?: boolean }).isTTY;
      else Object.defineProperty(process.stderr, 'isTTY', tty);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
