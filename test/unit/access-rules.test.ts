import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { AccessLedgerError } from '../../cli/access-ledger';
import {
  checkedDuration,
  checkedReason,
  checkedRole,
  GrantUsageError,
  isSelfGrant,
  issueGrant,
  issueRevocation,
  selfLiftCheck,
} from '../../cli/grants';
import { revocationItem } from '../../lambda/adapters/access-items';
import {
  accessReads,
  activeRevocation,
  agentIds,
  formatDuration,
  parseDuration,
  type Revocation,
  type RoleGrant,
  userKey,
  withGrants,
} from '../../lambda/core/access';
import { callerFromClaims, MAX_ROLES } from '../../lambda/core/caller';
import { FileAccessLedger } from '../../local/access-file';

/** The rules around grants and revocations, and the local file store, adversarially. */

const caller = {
  subject: 'carol',
  issuer: 'https://issuer.example',
  roles: ['viewer'],
  actors: [],
  expiresAt: 4_000_000_000,
  agent: 'agent-cli',
} as const;
const grant = (overrides: Partial<RoleGrant> = {}): RoleGrant => ({
  id: 'g-1',
  user: 'carol',
  role: 'order-admin',
  reason: 'INC-1',
  issuedBy: 'local:ops',
  issuedAt: 1000,
  expiresAt: 2000,
  ...overrides,
});

describe('durations', () => {
  it.each([
    ['90s', 90],
    ['15m', 900],
    ['2h', 7200],
    ['1d', 86_400],
    ['1h30m', 5400],
  ])('reads %s as %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', '2', '2 hours', '-1h', '0s', '1.5h', 'h', '2H', '1h 30m', '2h;rm'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('round-trips every positive whole number of seconds through formatDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 * 86_400 }), (seconds) => {
        expect(parseDuration(formatDuration(seconds))).toBe(seconds);
      }),
    );
  });

  it('bounds --for by the configured maximum, naming it', () => {
    expect(() => checkedDuration('13h', 12 * 3600)).toThrow(/longer than the configured maximum 12h/);
    expect(() => checkedDuration('soon', 12 * 3600)).toThrow(GrantUsageError);
    expect(checkedDuration('12h', 12 * 3600)).toBe(43_200);
  });
});

describe('input checks', () => {
  it.each(['', 'order admin', 'order-admin ', 'a,b', 'x\u0000', 'x\u200b', 'r'.repeat(257)])(
    'refuses the role name %j',
    (role) => {
      expect(() => checkedRole(role)).toThrow(GrantUsageError);
    },
  );

  it('refuses a missing, blank or control-character reason', () => {
    expect(() => checkedReason(undefined, 'grant')).toThrow(/grant needs --reason/);
    expect(() => checkedReason('   ', 'revoke')).toThrow(/revoke needs --reason/);
    expect(() => checkedReason('a\nb', 'grant')).toThrow(/control/);
  });

  it.each([
    ['local:carol', 'carol', true],
    ['local:Carol', 'carol', true],
    ['arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Ops_1/carol@example.com', 'carol', true],
    ['arn:aws:iam::123456789012:user/carol', 'carol@example.com', true],
    ['arn:aws:sts::123456789012:assumed-role/Ops/dave', 'carol', false],
    ['local:ops', 'carol', false],
  ])('treats %s granting to %s as self-grant: %s', (issuer, user, self) => {
    expect(isSelfGrant(issuer, user)).toBe(self);
  });
});

describe('withGrants', () => {
  it('adds only active grants of this user, after the token roles, naming each', () => {
    const granted = withGrants(
      caller,
      [
        grant(),
        grant({ id: 'g-2', role: 'viewer' }), // already a token role: adds nothing, not named
        grant({ id: 'g-3', role: 'x', expiresAt: 1500 }), // expired at 1500
        grant({ id: 'g-4', role: 'y', revokedAt: 1100 }),
        grant({ id: 'g-5', role: 'z', user: 'alice' }),
      ],
      1500,
    );
    expect(granted.roles).toEqual(['viewer', 'order-admin']);
    expect(granted.grants).toEqual([{ id: 'g-1', role: 'order-admin', expiresAt: 2000 }]);
  });

  it('never exceeds MAX_ROLES however many grants there are, and never drops a token role', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 120 }),
        (grants, tokenRoles) => {
          const roles = Array.from({ length: Math.min(tokenRoles, MAX_ROLES) }, (_, index) => `t${index}`);
          const result = withGrants(
            { ...caller, roles },
            Array.from({ length: grants }, (_, index) => grant({ id: `g-${index}`, role: `r${index}` })),
            1500,
          );
          expect(result.roles.length).toBeLessThanOrEqual(MAX_ROLES);
          expect(result.roles.slice(0, roles.length)).toEqual(roles);
          expect(new Set(result.roles).size).toBe(result.roles.length);
        },
      ),
    );
  });
});

describe('activeRevocation', () => {
  const revocation = { id: 'r-1', reason: 'x', issuedBy: 'a', issuedAt: 1000 };
  it('matches the user or the agent acting for them, not a user named like the agent', () => {
    expect(
      activeRevocation(caller, [{ ...revocation, subject: { kind: 'agent', id: 'agent-cli' } }], 1500),
    ).toBeDefined();
    expect(
      activeRevocation(caller, [{ ...revocation, subject: { kind: 'user', id: 'agent-cli' } }], 1500),
    ).toBeUndefined();
    expect(
      activeRevocation(
        { ...caller, agent: undefined },
        [{ ...revocation, subject: { kind: 'agent', id: 'agent-cli' } }],
        1500,
      ),
    ).toBeUndefined();
    expect(
      activeRevocation(
        caller,
        [{ ...revocation, subject: { kind: 'user', id: 'carol' }, expiresAt: 1500 }],
        1500,
      ),
    ).toBeUndefined();
  });
});

describe('activeRevocation of an agent', () => {
  const revoked: Revocation = {
    id: 'r-1',
    subject: { kind: 'agent', id: 'travel-bot' },
    reason: 'x',
    issuedBy: 'a',
    issuedAt: 1000,
  };
  const token = (claims: Record<string, unknown>) =>
    callerFromClaims({ sub: 'alice', iss: 'i', exp: 2000, ...claims });
  it('matches every configured agent claim and every actor of the delegation chain', () => {
    for (const claims of [
      { client_id: 'travel-bot' },
      { client_id: 'web-app', azp: 'travel-bot' },
      { client_id: 'broker', act: { sub: 'travel-bot' } },
      { client_id: 'broker', act: { sub: 'relay', act: { sub: 'travel-bot' } } },
      { act: { sub: 'travel-bot' } },
    ])
      expect(activeRevocation(token(claims), [revoked], 1500)?.id).toBe('r-1');
    expect(activeRevocation(token({ client_id: 'web-app', azp: 'web' }), [revoked], 1500)).toBeUndefined();
  });
  it('keeps every agent claim on the caller, the first one as the agent', () => {
    const caller = token({ client_id: 'web-app', azp: 'travel-bot', act: { sub: 'relay' } });
    expect(caller.agent).toBe('web-app');
    expect(agentIds(caller)).toEqual(['web-app', 'travel-bot', 'relay']);
  });
});

describe('activeRevocation of a user', () => {
  const revokedAs = (id: string): Revocation => ({
    id: 'r-1',
    subject: { kind: 'user', id },
    reason: 'x',
    issuedBy: 'a',
    issuedAt: 1000,
  });
  const token = (claims: Record<string, unknown>) => callerFromClaims({ iss: 'i', exp: 2000, ...claims });
  it('matches the subject, username or email whatever their case and Unicode normalisation', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ sub: 'alice' }, 'Alice'],
      [{ sub: 'ALICE' }, 'alice'],
      [{ sub: 'jos\u00e9' }, 'jose\u0301'],
      [{ sub: 'jose\u0301' }, 'JOS\u00c9'],
      [{ sub: 'stra\u00dfe' }, 'STRASSE'],
      [{ sub: '6f1c2d9e-0000-4000-8000-aaaaaaaaaaaa', username: 'alice' }, 'alice'],
      [{ sub: '6f1c2d9e-0000-4000-8000-aaaaaaaaaaaa', preferred_username: 'Alice' }, 'alice'],
      [{ sub: '6f1c2d9e-0000-4000-8000-aaaaaaaaaaaa', email: 'Alice@Example.com' }, 'alice@example.com'],
    ];
    for (const [claims, id] of cases)
      expect([claims, activeRevocation(token(claims), [revokedAs(id)], 1500)?.id]).toEqual([claims, 'r-1']);
  });
  it('does not match another user, or a user named like a revoked agent', () => {
    const alice = token({ sub: 'alice', email: 'alice@example.com' });
    expect(activeRevocation(alice, [revokedAs('alice2')], 1500)).toBeUndefined();
    expect(activeRevocation(alice, [revokedAs('alice@example.org')], 1500)).toBeUndefined();
  });
  it('reads the user under the exact subject and every folded name, and keys the stored revocation folded', () => {
    const caller = token({ sub: 'Alice', username: 'al', email: 'Al@x.io', client_id: 'bot' });
    expect(accessReads(caller)).toEqual([
      { kind: 'user', id: 'Alice' },
      { kind: 'user', id: 'alice' },
      { kind: 'user', id: 'al' },
      { kind: 'user', id: 'al@x.io' },
      { kind: 'agent', id: 'bot' },
    ]);
    expect(revocationItem(revokedAs('JOSE\u0301')).pk).toEqual({ S: 'user#jos\u00e9' });
    expect(userKey('Jos\u00c9')).toBe(userKey('jose\u0301'));
  });
  it('keeps grants exact: a grant for Carol gives nothing to carol', () => {
    const granted = withGrants(
      caller,
      [{ id: 'g', user: 'Carol', role: 'x', reason: 'r', issuedBy: 'o', issuedAt: 1000, expiresAt: 2000 }],
      1500,
    );
    expect(granted.roles).toEqual(caller.roles);
  });
});

describe('issuing', () => {
  it('refuses a self-grant unless allowed, and writes nothing', async () => {
    const ledger = new FileAccessLedger(mkdtempSync(join(tmpdir(), 'access-')));
    const request = { user: 'carol', role: 'order-admin', duration: '1h', reason: 'INC-1' };
    await expect(
      issueGrant(ledger, request, { maxSeconds: 43_200, allowSelfGrant: false }, 'local:carol', 1000),
    ).rejects.toThrow(AccessLedgerError);
    expect((await ledger.list()).grants).toEqual([]);
    const issued = await issueGrant(
      ledger,
      request,
      { maxSeconds: 43_200, allowSelfGrant: true },
      'local:carol',
      1000,
    );
    expect(issued).toMatchObject({
      user: 'carol',
      role: 'order-admin',
      expiresAt: 4600,
      issuedBy: 'local:carol',
    });
  });

  it('refuses to lift a revocation of the issuer themselves unless allowed, and changes nothing', async () => {
    const ledger = new FileAccessLedger(mkdtempSync(join(tmpdir(), 'access-')));
    const revoked = await issueRevocation(
      ledger,
      { user: 'Alice', reason: 'stolen' },
      3600,
      'local:sec',
      1000,
    );
    const change = { by: 'local:alice', reason: 'mine', at: 1100 };
    await expect(
      ledger.liftRevocation(revoked.id, change, selfLiftCheck('local:alice', false)),
    ).rejects.toThrow(/cannot lift revocation .* \(themselves\)/);
    expect((await ledger.list()).revocations[0]?.liftedAt).toBeUndefined();
    const agent = await issueRevocation(ledger, { agent: 'alice', reason: 'bot' }, 3600, 'local:sec', 1000);
    await expect(
      ledger.liftRevocation(agent.id, change, selfLiftCheck('local:alice', false)),
    ).resolves.toBeDefined();
    await expect(
      ledger.liftRevocation(revoked.id, change, selfLiftCheck('local:alice', true)),
    ).resolves.toBeDefined();
  });

  it('needs exactly one of --user and --agent to revoke', async () => {
    const ledger = new FileAccessLedger(mkdtempSync(join(tmpdir(), 'access-')));
    await expect(issueRevocation(ledger, { reason: 'x' }, 3600, 'local:a', 1)).rejects.toThrow(
      GrantUsageError,
    );
    await expect(
      issueRevocation(ledger, { user: 'a', agent: 'b', reason: 'x' }, 3600, 'local:a', 1),
    ).rejects.toThrow(GrantUsageError);
  });
});

describe('the local file store', () => {
  it('refuses to read a broken file rather than reading it as empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-'));
    writeFileSync(join(dir, 'access.json'), '{"version":1,"grants":[');
    await expect(new FileAccessLedger(dir).read({ kind: 'user', id: 'carol' })).rejects.toThrow(
      AccessLedgerError,
    );
    writeFileSync(join(dir, 'access.json'), '{"version":2}');
    await expect(new FileAccessLedger(dir).list()).rejects.toThrow(/not a grant store/);
  });

  it('counts a revocation it cannot read whole as a revocation (fails closed), and ignores a damaged grant', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-'));
    const revoked = {
      subject: { kind: 'user', id: 'alice' },
      reason: 'stolen',
      issuedBy: 'x',
      issuedAt: 1000,
    };
    const valid = {
      id: 'g-ok',
      user: 'alice',
      role: 'ok',
      reason: 'r',
      issuedBy: 'x',
      issuedAt: 1000,
      expiresAt: 4e9,
    };
    writeFileSync(
      join(dir, 'access.json'),
      JSON.stringify({
        version: 1,
        grants: [
          valid,
          { ...valid, id: 'g-1', role: 'admin', expiresAt: '4102444800' },
          { ...valid, id: 'g-2', role: 'root', revokedAt: null },
          { ...valid, id: 'g-3', role: 'ops', issuedAt: undefined },
          'junk',
        ],
        revocations: [],
      }),
    );
    const ledger = new FileAccessLedger(dir);
    const alice = { ...caller, subject: 'alice', agent: undefined };
    expect(withGrants(alice, (await ledger.read({ kind: 'user', id: 'alice' })).grants, 1500).roles).toEqual([
      'viewer',
      'ok',
    ]);
    for (const damaged of [
      { ...revoked, id: 'r-1', liftedAt: null },
      { ...revoked, id: 'r-2', expiresAt: 'never' },
      { ...revoked, id: 'r-3', expiresAt: null },
      { ...revoked, id: 'r-4', issuedAt: '1000' },
      { ...revoked, expiresAt: 1001 },
    ]) {
      writeFileSync(
        join(dir, 'access.json'),
        JSON.stringify({ version: 1, grants: [], revocations: [damaged] }),
      );
      const { revocations } = await ledger.read({ kind: 'user', id: 'alice' });
      expect([damaged, activeRevocation(alice, revocations, 5000)?.subject]).toEqual([
        damaged,
        { kind: 'user', id: 'alice' },
      ]);
    }
    // Lifted with a readable time: lifted, whatever else is damaged.
    writeFileSync(
      join(dir, 'access.json'),
      JSON.stringify({
        version: 1,
        grants: [],
        revocations: [{ ...revoked, id: 'r-5', expiresAt: 'x', liftedAt: 1200 }],
      }),
    );
    expect(
      activeRevocation(alice, (await ledger.read({ kind: 'user', id: 'alice' })).revocations, 5000),
    ).toBeUndefined();
    // No readable subject: the file is unreadable (the guard then refuses everyone, grants ignored).
    writeFileSync(
      join(dir, 'access.json'),
      JSON.stringify({ version: 1, grants: [], revocations: [{ ...revoked, subject: { kind: 'user' } }] }),
    );
    await expect(ledger.read({ kind: 'user', id: 'alice' })).rejects.toThrow(/no readable subject/);
  });

  it('never follows a file or symlink planted where it writes its temporary file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-'));
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, join(dir, `access.json.${process.pid}.tmp`));
    const ledger = new FileAccessLedger(dir);
    await issueRevocation(ledger, { user: 'alice', reason: 'stolen' }, 3600, 'local:sec', 1000);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(join(dir, 'access.json')).isSymbolicLink()).toBe(false);
    expect((await ledger.list()).revocations).toHaveLength(1);
    expect(
      readdirSync(dir).filter((name) => name.endsWith('.tmp') && !name.includes(String(process.pid))),
    ).toEqual([]);
  });

  it('takes over a stale lock left by a dead writer, and leaves no lock behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-'));
    const lock = join(dir, 'access.json.lock');
    writeFileSync(lock, '999999 dead\n');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    const ledger = new FileAccessLedger(dir);
    await issueRevocation(ledger, { user: 'alice', reason: 'stolen' }, 3600, 'local:sec', 1000);
    expect((await ledger.list()).revocations).toHaveLength(1);
    expect(existsSync(lock)).toBe(false);
  });

  it('never removes a lock another writer took over meanwhile (a slow holder leaves theirs alone)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-'));
    const lock = join(dir, 'access.json.lock');
    const ledger = new FileAccessLedger(dir);
    const load = Reflect.get(ledger, 'load') as () => unknown;
    // While this writer holds the lock, another judges it stale and takes it over with its own token.
    Reflect.set(ledger, 'load', () => {
      writeFileSync(lock, '4242 someone-else\n');
      return load.call(ledger);
    });
    await issueRevocation(ledger, { user: 'alice', reason: 'stolen' }, 3600, 'local:sec', 1000);
    expect(readFileSync(lock, 'utf8')).toBe('4242 someone-else\n');
  });

  it('loses no change when several processes write at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-'));
    const writers = 6;
    const script = `
      const { FileAccessLedger } = require(${JSON.stringify(join(__dirname, '..', '..', 'local', 'access-file.ts'))});
      const ledger = new FileAccessLedger(process.argv[1]);
      (async () => { for (let i = 0; i < 5; i += 1) await ledger.addGrant({ id: process.argv[2] + '-' + i, user: 'u', role: 'r', reason: 'x', issuedBy: 'local:t', issuedAt: 1, expiresAt: 2 }); })();
    `;
    await Promise.all(
      Array.from(
        { length: writers },
        (_, index) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, ['--require', 'tsx/cjs', '-e', script, dir, `w${index}`], {
              stdio: 'inherit',
            });
            child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`))));
          }),
      ),
    );
    const stored = JSON.parse(readFileSync(join(dir, 'access.json'), 'utf8')) as { grants: RoleGrant[] };
    expect(stored.grants).toHaveLength(writers * 5);
  }, 120_000);
});
