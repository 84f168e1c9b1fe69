import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { terminalSafe, toTable } from '../../cli/activity';
import { runReplay } from '../../cli/policies-replay';
import { ReplayEngine, type ReplayResult, replayEvents } from '../../cli/policies-replay-engine';
import { failed, formatTable, incompleteGate, type ReportContext } from '../../cli/policies-replay-report';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import { buildAccessChangeEvent } from '../../lambda/core/access-audit';
import {
  type AuditEventData,
  type AuditRecord,
  buildAuditEvent,
  requestDigest,
} from '../../lambda/core/audit-event';
import { type Caller, callerFromClaims } from '../../lambda/core/caller';
import { auditArguments, DEFAULT_REDACTION } from '../../lambda/core/redaction';
import { policyCopy } from '../cli/helpers';
import { POLICY_DIR } from '../helpers/harness';

/**
 * The review's repros (docs/replay.md "What cannot be replayed"): a policy change whose affected calls are exactly
 * the ones recorded without argument values must not pass a `--fail-on` gate.
 */

const person = (sub: string, roles: string[]) =>
  callerFromClaims({ sub, iss: 'https://idp', exp: 2_000_000_000, iat: 1_999_999_000, roles });
const alice = person('alice', ['db-reader']);
const bob = person('bob', ['order-admin']);
const settings = {
  eventSource: 'mcp-identity-local',
  recipientAccountId: '000000000000',
  mode: 'enforce' as const,
};
const now = new Date();

function call(
  caller: Caller,
  tool: string,
  args: Record<string, unknown>,
  decision: 'allow' | 'deny',
  policies: string[],
  recordedAs: 'values' | 'names' | 'none',
  overrides: Partial<AuditRecord> = {},
): AuditEventData {
  return buildAuditEvent(
    {
      time: now,
      phase: 'request',
      caller,
      method: 'tools/call',
      toolName: tool,
      target: 'orders',
      arguments: auditArguments(args, { ...DEFAULT_REDACTION, arguments: recordedAs }) as never,
      decision,
      enforced: true,
      policies,
      requestDigest: requestDigest('tools/call', {}),
      door: 'apigw',
      ...(decision === 'deny' ? { errorCode: 'AccessDenied' as const } : {}),
      ...overrides,
    },
    settings,
  );
}

const aliceGets = (
  recordedAs: 'values' | 'names' | 'none',
  args: Record<string, unknown> = { order_id: 'o-1' },
) => call(alice, 'orders___get_order', args, 'allow', ['orders-readers'], recordedAs);
const bobUpdates = (recordedAs: 'values' | 'names' | 'none') =>
  call(
    bob,
    'orders___update_order',
    { order_id: 'o-2', status: 'refunded', amount: 100 },
    'allow',
    ['order-admins-update'],
    recordedAs,
  );

/** The policies with `edit` applied to a copy; removed after the test file. */
const copies: string[] = [];
function candidate(edit: (dir: string) => void): string {
  const dir = policyCopy();
  copies.push(dir);
  edit(dir);
  return dir;
}
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});
const withoutBobsUpdatePermit = () => candidate((dir) => rmSync(join(dir, 'order-admins-update.cedar')));
/** get_order gains a required `ticket` parameter. */
const ticketRequired = () =>
  candidate((dir) => {
    const file = join(dir, 'schema.cedarschema');
    const schema = readFileSync(file, 'utf8');
    const edited = schema.replace(
      /type orders___get_orderInput = \{\n {4}order_id: String\n {2}\};/,
      'type orders___get_orderInput = {\n    order_id: String,\n    ticket: String\n  };',
    );
    expect(edited).not.toBe(schema);
    writeFileSync(file, edited);
  });

async function replay(events: AuditEventData[], dir: string): Promise<ReplayResult> {
  return replayEvents(events, new ReplayEngine(loadPolicyBundle(dir)));
}

/** Runs the command on these events written as a JSONL file; returns the exit code and what it wrote. */
async function command(
  events: AuditEventData[],
  policies: string,
  options: {
    failOn?: 'newly-denied' | 'newly-allowed' | 'any';
    allowUnreplayable?: boolean;
    listings?: boolean;
  } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'replay-gate-'));
  const file = join(dir, 'audit.jsonl');
  writeFileSync(file, `${events.map((event) => JSON.stringify(event)).join('\n')}\n`);
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const code = await runReplay({
      policies,
      data: dir,
      file,
      timeout: 10,
      limit: 1000,
      resourceId: 'gateway',
      json: false,
      csv: false,
      showArguments: false,
      ...options,
    });
    return {
      code,
      stdout: stdout.mock.calls.map(([text]) => String(text)).join(''),
      stderr: stderr.mock.calls.map(([text]) => String(text)).join(''),
    };
  } finally {
    stderr.mockRestore();
    stdout.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('replay decides calls recorded without argument values where the live path needs no value', () => {
  it('reports bob’s update as newly denied "for any arguments" when no input could be allowed any more', async () => {
    const result = await replay([aliceGets('names'), bobUpdates('names')], withoutBobsUpdatePermit());

    expect(result.notReplayable).toEqual({});
    expect(result.unchanged).toBe(1);
    expect(result.newlyDenied).toHaveLength(1);
    expect(result.newlyDenied[0]).toMatchObject({
      user: 'bob',
      tool: 'orders___update_order',
      candidate: { decision: 'deny', forAnyArguments: true },
    });
    expect(result.newlyDenied[0]?.candidate.reason).toContain('Denied for any arguments');
  });

  it('does the same when nothing at all was recorded (arguments: none)', async () => {
    const result = await replay([bobUpdates('none')], withoutBobsUpdatePermit());

    expect(result.newlyDenied).toHaveLength(1);
  });

  it('keeps a call not replayable when some input could still be allowed and a policy reads the values', async () => {
    const result = await replay([bobUpdates('names')], POLICY_DIR);

    expect(result).toMatchObject({
      replayed: 0,
      notReplayable: { 'arguments-not-recorded': 1 },
      unverified: { allow: 1, deny: 0, unknown: 0 },
    });
  });

  it('refuses recorded names the candidate schema refuses, with the live path’s reason', async () => {
    const result = await replay([aliceGets('names')], ticketRequired());

    expect(result.newlyDenied).toHaveLength(1);
    expect(result.newlyDenied[0]?.candidate).toMatchObject({
      decision: 'deny',
      code: 'unknown-tool-arguments',
      reason: 'Denied: the arguments cannot be checked against policy (input.ticket is required).',
    });
  });

  it('refuses a recorded name the candidate does not declare', async () => {
    const result = await replay([aliceGets('names', { order_id: 'o-1', note: 'x' })], POLICY_DIR);

    expect(result.unchanged).toBe(0);
    expect(result.newlyDenied[0]?.candidate.reason).toContain('input.note is not a parameter of this tool');
  });

  it('replays with the recorded names: an optional parameter a policy does not read is no change', async () => {
    const result = await replay(
      [
        call(
          bob,
          'orders___update_order',
          { order_id: 'o', status: 's' },
          'allow',
          ['order-admins-update'],
          'names',
        ),
      ],
      candidate((dir) => writeFileSync(join(dir, 'large-refunds.cedar'), '')),
    );

    expect(result).toMatchObject({ replayed: 1, unchanged: 1, notReplayable: {} });
  });

  it('does not replay a call whose names were not recorded and whose schema therefore cannot be checked', async () => {
    const result = await replay([aliceGets('none')], ticketRequired());

    expect(result).toMatchObject({ replayed: 0, notReplayable: { 'arguments-not-recorded': 1 } });
  });

  it('does not take a redacted name for a recorded one', async () => {
    const event = aliceGets('names');
    (event.requestParameters as Record<string, unknown>).arguments = JSON.stringify(['[REDACTED]']);

    const result = await replay([event], POLICY_DIR);

    expect(result.notReplayable).toEqual({ 'arguments-not-recorded': 1 });
  });
});

describe('a --fail-on gate does not pass what it could not replay', () => {
  it('the review’s repro: the update permit removed, audit recorded by names → exit 4 (was 0)', async () => {
    const run = await command([aliceGets('names'), bobUpdates('names')], withoutBobsUpdatePermit(), {
      failOn: 'newly-denied',
    });

    expect(run.code).toBe(4);
    expect(run.stdout).toMatch(/newly denied\s+1/);
    expect(run.stdout).toContain('denied for any arguments');
  });

  it('the review’s schema repro: a required parameter added, audit recorded by names → exit 4 (was 0)', async () => {
    const run = await command([aliceGets('names')], ticketRequired(), { failOn: 'newly-denied' });

    expect(run.code).toBe(4);
  });

  it('fails (exit 1, with the counts) when an event that could hide the change stayed unreplayed', async () => {
    const run = await command([aliceGets('values'), bobUpdates('names')], POLICY_DIR, {
      failOn: 'newly-denied',
    });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      '1 event(s) could not be replayed for a reason that could hide a newly denied call (arguments-not-recorded 1); pass --allow-unreplayable',
    );
  });

  it('passes with --allow-unreplayable', async () => {
    const run = await command([aliceGets('values'), bobUpdates('names')], POLICY_DIR, {
      failOn: 'newly-denied',
      allowUnreplayable: true,
    });

    expect(run.code).toBe(0);
  });

  it('a recorded denial cannot hide a newly denied call, nor a recorded allow a newly allowed one', () => {
    const base = emptyResult({ events: 3, replayed: 1, unverified: { allow: 0, deny: 2, unknown: 0 } });

    expect(incompleteGate(base, 'newly-denied', false)).toBeUndefined();
    expect(incompleteGate(base, 'newly-allowed', false)).toContain('2 event(s)');
    expect(incompleteGate(base, 'any', false)).toContain('2 event(s)');
    expect(incompleteGate(base, 'any', false, true)).toBeUndefined();
    expect(
      incompleteGate({ ...base, unverified: { allow: 0, deny: 0, unknown: 1 } }, 'newly-denied', false),
    ).toContain('1 event(s)');
  });

  it('refusals no policy decides do not count against the gate', async () => {
    const refused = call(alice, 'orders___get_order', { order_id: 'o' }, 'deny', [], 'values', {
      errorCode: 'Revoked' as never,
    });
    const result = await replay([aliceGets('values'), refused], POLICY_DIR);

    expect(result.notReplayable).toEqual({ revoked: 1 });
    expect(incompleteGate(result, 'any', false)).toBeUndefined();
  });
});

function emptyResult(overrides: Partial<ReplayResult> = {}): ReplayResult {
  return {
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
    ...overrides,
  };
}

describe('--fail-on counts listing changes (--listings)', () => {
  const change = { uid: 'u', time: '2026-12-02T00:00:00Z', user: 'alice', tool: 'orders___update_order' };
  const hidden = emptyResult({
    events: 1,
    listings: { replayed: 1, unchangedTools: 0, newlyHidden: [change], newlyShown: [] },
  });
  const shown = emptyResult({
    events: 1,
    listings: { replayed: 1, unchangedTools: 0, newlyHidden: [], newlyShown: [change] },
  });

  it.each([
    ['newly-denied', true, false],
    ['newly-allowed', false, true],
    ['any', true, true],
  ] as const)('--fail-on %s: newly hidden %s, newly shown %s', (failOn, onHidden, onShown) => {
    expect(failed(hidden, failOn)).toBe(onHidden);
    expect(failed(shown, failOn)).toBe(onShown);
  });

  it('a replay of listings alone checked something', () => {
    expect(incompleteGate(hidden, 'newly-denied', false)).toBeUndefined();
    expect(incompleteGate(emptyResult({ events: 1 }), 'newly-denied', false)).toContain('checked nothing');
  });
});

describe('access-change events are not decisions', () => {
  it('skips issued and revoked grants and revocations instead of counting them as refused credentials', async () => {
    const grant = {
      id: 'g-1',
      user: 'carol',
      role: 'order-admin',
      reason: 'INC-1',
      issuedBy: 'local:ops',
      issuedAt: 1_999_999_000,
      expiresAt: 2_000_000_000,
    };
    const revocation = {
      id: 'r-1',
      subject: { kind: 'user' as const, id: 'alice' },
      reason: 'x',
      issuedBy: 'local:ops',
      issuedAt: 1_999_999_000,
    };
    const events = [
      buildAccessChangeEvent({ kind: 'grant', name: 'GrantRole', grant }, settings),
      buildAccessChangeEvent(
        {
          kind: 'grant',
          name: 'RevokeGrant',
          grant: { ...grant, revokedAt: 1_999_999_500, revokedBy: 'local:ops' },
        },
        settings,
      ),
      buildAccessChangeEvent({ kind: 'revocation', name: 'RevokeAccess', revocation }, settings),
      buildAccessChangeEvent(
        {
          kind: 'revocation',
          name: 'LiftRevocation',
          revocation: { ...revocation, liftedAt: 1_999_999_600 },
        },
        settings,
      ),
      aliceGets('values'),
    ];

    const result = await replay(events, POLICY_DIR);

    expect(result).toMatchObject({ events: 5, replayed: 1, accessChanges: 4, notReplayable: {} });
  });

  it.each(['ChangeAccessEntry', 'DeleteAccessEntry', 'ExpireAccessEntry'])(
    'skips a %s event written by the grants-table stream auditor',
    async (name) => {
      const base = buildAccessChangeEvent(
        {
          kind: 'grant',
          name: 'GrantRole',
          grant: {
            id: 'g-1',
            user: 'carol',
            role: 'order-admin',
            reason: 'INC-1',
            issuedBy: 'local:ops',
            issuedAt: 1_999_999_000,
            expiresAt: 2_000_000_000,
          },
        },
        settings,
      );
      const event = {
        ...base,
        eventName: name,
        userIdentity: { ...base.userIdentity, type: name === 'ExpireAccessEntry' ? 'AWSService' : 'Unknown' },
        additionalEventData: { ...base.additionalEventData, accessChange: name },
      };

      const result = await replay([event, aliceGets('values')], POLICY_DIR);

      expect(result).toMatchObject({ events: 2, replayed: 1, accessChanges: 1, notReplayable: {} });
    },
  );
});

describe('tables never pass control characters to the terminal', () => {
  const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

  it('shows the review’s escape sequences as text', () => {
    expect(terminalSafe('\u001b[2J\u001b[31mPWNED\u001b]0;title\u0007')).toBe(
      '\\x1b[2J\\x1b[31mPWNED\\x1b]0;title\\x07',
    );
    expect(terminalSafe('abc\u202edef\u0085')).toBe('abc\\u202edef\\x85');
  });

  it('no cell of a table holds a control, format or bidi character, whatever the data', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ a: fc.string({ unit: 'grapheme' }), b: fc.string({ unit: 'binary' }) }), {
          minLength: 1,
        }),
        (rows) => {
          const table = toTable(rows, ['a', 'b'], { maxWidth: 1000 });
          for (const line of table.split('\n')) expect(line).not.toMatch(CONTROL);
        },
      ),
    );
  });

  it('the replay report escapes a listed tool name carrying escape sequences', () => {
    const tool = '\u001b[2J\u001b[31mPWNED\u001b]0;title\u0007';
    const context: ReportContext = {
      bundle: loadPolicyBundle(POLICY_DIR),
      dir: POLICY_DIR,
      source: 'audit.jsonl',
      since: new Date(0),
      until: new Date(1),
      showArguments: false,
    };
    const table = formatTable(
      emptyResult({
        events: 1,
        listings: {
          replayed: 1,
          unchangedTools: 0,
          newlyHidden: [{ uid: 'u', time: 't', user: 'alice', tool }],
          newlyShown: [],
        },
      }),
      context,
    );

    expect(table).not.toContain('\u001b');
    expect(table).toContain('\\x1b[2J');
  });
});
