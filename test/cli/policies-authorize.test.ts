import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explainToolCall } from '../../cli/policies-authorize';
import { cli, policyCopy, ROOT } from './helpers';

const POLICIES = join(ROOT, 'policies');
const USERS = join(ROOT, 'local', 'users.json');

function scratch(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'authorize-')), name);
  writeFileSync(path, text);
  return path;
}

/** An unsigned sample token: the command decodes it and must never print it. */
function sampleToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe('mcp-identity policies authorize', () => {
  it('allows with the permit named by file and line, and shows the identity the gateway would inject (exit 0)', () => {
    const result = cli([
      'policies',
      'authorize',
      '--user',
      'alice',
      '--tool',
      'orders___get_order',
      '--args',
      '{"order_id":"1001"}',
    ]);

    expect(result.stdout).toContain('ALLOW  alice → orders___get_order');
    expect(result.stdout).toMatch(
      /allowed by {2}permit orders-readers \(orders-readers\.cedar:3\) — db-reader/,
    );
    expect(result.stdout).toContain('roles [developer, db-reader]');
    expect(result.stdout).toContain(
      'injected    _caller_user="alice", _caller_roles=["developer","db-reader"]',
    );
    expect(result.status).toBe(0);
  });

  it('denies by default when no permit applies, with the reason the caller reads (exit 3)', () => {
    const result = cli([
      'policies',
      'authorize',
      '--user',
      'alice',
      '--tool',
      'orders___update_order',
      '--args',
      '{"order_id":"1","status":"shipped"}',
      '--json',
    ]);

    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      decision: 'deny',
      code: 'policy',
      reason:
        "Denied: no policy permits alice@example.com to call the tool 'orders___update_order' (denied by default).",
      determining: [],
      overriddenPermits: [],
      injected: {},
    });
    expect(result.status).toBe(3);
  });

  it('names the forbid that blocked a call a permit allowed, both with file:line (exit 3)', () => {
    const result = cli([
      'policies',
      'authorize',
      '--user',
      'bob',
      '--tool',
      'orders___update_order',
      '--args',
      '{"order_id":"1","status":"refunded","amount":900}',
    ]);

    expect(result.stdout).toContain(
      'denied by   forbid large-refunds-need-finance (large-refunds.cedar:3) — refunds above 500 need the finance-approver role',
    );
    expect(result.stdout).toContain('overriding  permit order-admins-update (order-admins-update.cedar:1)');
    expect(result.stdout).toContain(
      "reason      Denied by policy 'large-refunds-need-finance' (refunds above 500 need the finance-approver role).",
    );
    expect(result.stdout).not.toContain('injected');
    expect(result.status).toBe(3);
  });

  it('takes --roles over the users file: the finance approver may make the large refund', async () => {
    const report = await explainToolCall({
      dir: POLICIES,
      usersFile: USERS,
      user: 'bob',
      roles: ['order-admin', 'finance-approver'],
      tool: 'orders___update_order',
      arguments: { order_id: '1', status: 'refunded', amount: 900 },
    });

    expect(report.decision).toBe('allow');
    expect(report.caller).toMatchObject({ roles: ['order-admin', 'finance-approver'], rolesFrom: '--roles' });
    expect(report.determining.map((policy) => policy.id)).toEqual(['order-admins-update']);
    expect(report.injected).toEqual({
      _caller_user: 'bob',
      _caller_roles: ['order-admin', 'finance-approver'],
    });
  });

  it('reports a forbid that applied where no permit did as on record, not as the reason', async () => {
    const report = await explainToolCall({
      dir: POLICIES,
      usersFile: USERS,
      user: 'carol',
      tool: 'orders___update_order',
      arguments: { order_id: '1', status: 'refunded', amount: 900 },
    });

    expect(report.decision).toBe('deny');
    expect(report.determining.map((policy) => policy.id)).toEqual(['large-refunds-need-finance']);
    expect(report.overriddenPermits).toEqual([]);
    expect(report.reason).toContain('(denied by default)');
  });

  it('shows a policy that failed to evaluate, and denies as the gateway does', async () => {
    const dir = policyCopy();
    writeFileSync(
      join(dir, 'overflow.cedar'),
      '// second line\n@id("overflowing")\nforbid (principal, action == McpIdentity::Action::"orders___update_order", resource)\nwhen { context has input && context.input has amount && context.input.amount + 9223372036854775807 > 0 };\n',
    );

    const report = await explainToolCall({
      dir,
      usersFile: USERS,
      user: 'bob',
      tool: 'orders___update_order',
      arguments: { order_id: '1', status: 'shipped', amount: 10 },
    });

    expect(report.decision).toBe('deny');
    expect(report.code).toBe('policy-error');
    expect(report.errors).toEqual([
      {
        policy: expect.objectContaining({ id: 'overflowing', file: 'overflow.cedar', line: 2 }),
        detail: expect.stringMatching(/overflow/),
      },
    ]);
    expect(report.reason).toBe(
      "Denied: policy 'overflowing' could not be evaluated for this request, so it was denied.",
    );
  });

  it('passes the agent and the delegation chain to the policies, and shows them', async () => {
    const dir = policyCopy();
    writeFileSync(
      join(dir, 'no-delegated-reads.cedar'),
      '@id("no-delegated-reads")\n@reason("orders are not read through sub-agents")\nforbid (principal, action == McpIdentity::Action::"orders___get_order", resource)\nwhen { context.actors.contains("planner") };\n',
    );
    const base = {
      dir,
      usersFile: USERS,
      user: 'alice',
      tool: 'orders___get_order',
      arguments: { order_id: '1' },
    };

    const direct = await explainToolCall({ ...base, agent: 'claude-desktop' });
    const delegated = await explainToolCall({
      ...base,
      agent: 'claude-desktop',
      act: ['planner', 'orchestrator'],
    });

    expect(direct.decision).toBe('allow');
    expect(delegated).toMatchObject({
      decision: 'deny',
      caller: { agent: 'claude-desktop', actors: ['planner', 'orchestrator'] },
      determining: [
        expect.objectContaining({ id: 'no-delegated-reads', file: 'no-delegated-reads.cedar', line: 1 }),
      ],
      overriddenPermits: [expect.objectContaining({ id: 'orders-readers' })],
    });
  });

  it('denies a client that sets a reserved identity argument, as the gateway does', async () => {
    const report = await explainToolCall({
      dir: POLICIES,
      usersFile: USERS,
      user: 'alice',
      tool: 'orders___get_order',
      arguments: { order_id: '1', _caller_user: 'bob' },
    });

    expect(report).toMatchObject({ decision: 'deny', code: 'spoofing' });
    expect(report.reason).toContain('_caller_user');
  });

  it('reads the caller from a sample token without printing it, and says the signature was not checked', () => {
    const token = sampleToken({
      sub: 'dana',
      iss: 'https://idp.example.com',
      exp: Math.floor(Date.now() / 1000) + 600,
      roles: 'order-admin',
      client_id: 'claude-desktop',
    });
    const tokenFile = scratch('token.jwt', `Bearer ${token}\n`);
    const argsFile = scratch('args.json', '{"order_id":"7","status":"shipped"}');

    const result = cli([
      'policies',
      'authorize',
      '--token-file',
      tokenFile,
      '--tool',
      'orders___update_order',
      '--args-file',
      argsFile,
    ]);

    expect(result.stdout).toContain('ALLOW  dana → orders___update_order');
    expect(result.stdout).toContain(
      "roles [order-admin] (from the token's 'roles' claim), agent claude-desktop",
    );
    expect(result.stdout).toContain('signature, issuer and audience were not checked');
    expect(result.stdout + result.stderr).not.toContain(token.split('.')[1]);
    expect(result.status).toBe(0);
  });

  it('fails with exit 1 and one line for a user not in the users file and no --roles', () => {
    const result = cli(['policies', 'authorize', '--user', 'zed', '--tool', 'orders___get_order']);

    expect(result.stderr).toBe(
      `mcp-identity: 'zed' is not in ${USERS} (users: alice, bob, carol, ops); give the roles with --roles a,b\n`,
    );
    expect(result.status).toBe(1);
  });

  it('fails with exit 1 for arguments that are not JSON, or not an object', () => {
    const notJson = cli([
      'policies',
      'authorize',
      '--user',
      'alice',
      '--tool',
      'orders___get_order',
      '--args',
      '{x',
    ]);
    const notObject = cli([
      'policies',
      'authorize',
      '--user',
      'alice',
      '--tool',
      'orders___get_order',
      '--args',
      '[1]',
    ]);

    expect(notJson.stderr).toBe('mcp-identity: --args is not JSON (line 1, column 2)\n');
    expect(notJson.status).toBe(1);
    expect(notObject.stderr).toBe(
      'mcp-identity: the gateway would refuse this request: tools/call params.arguments must be an object\n',
    );
    expect(notObject.status).toBe(1);
  });

  it('fails with exit 1 naming the file of a policy that does not parse', () => {
    const dir = policyCopy();
    writeFileSync(join(dir, 'broken.cedar'), 'permit (principal, action resource);\n');

    const result = cli([
      'policies',
      'authorize',
      '--user',
      'alice',
      '--tool',
      'orders___get_order',
      '--args',
      '{"order_id":"1"}',
      '--dir',
      dir,
    ]);

    expect(result.stderr).toMatch(
      /^mcp-identity: the policy folder .* cannot be used \(see: npx mcp-identity policies validate --dir .*\):\n\S*broken\.cedar:1:\d+: error: .*\n {2}\|\n1 \| .*\n {2}\| +\^+$/m,
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.status).toBe(1);
  });

  it('fails with exit 1 when no caller is named, and with exit 2 for --user together with --token-file', () => {
    const none = cli(['policies', 'authorize', '--tool', 'orders___get_order']);
    const both = cli([
      'policies',
      'authorize',
      '--user',
      'a',
      '--token-file',
      'f',
      '--tool',
      'orders___get_order',
    ]);

    expect(none.stderr).toContain('name the caller: --user <name>');
    expect(none.status).toBe(1);
    expect(both.stderr).toContain("option '--token-file <file>' cannot be used with option '--user <name>'");
    expect(both.status).toBe(2);
  });
});
