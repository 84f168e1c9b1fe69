import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAuditEvent, requestDigest } from '../../lambda/core/audit-event';
import { awsFreeEnv, cli, ROOT } from './helpers';

/** `npx mcp-identity activity --follow` as a user runs it: new events as JSON lines, Ctrl-C exits 0. */

const uid = (index: number) => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
function line(index: number, user = 'alice'): string {
  const data = buildAuditEvent(
    {
      time: new Date(),
      phase: 'request',
      caller: { subject: user, issuer: 'i', roles: [], actors: [], expiresAt: 2000000000, tokenId: 't' },
      method: 'tools/call',
      toolName: 'orders___get_order',
      jsonRpcId: index,
      decision: 'allow',
      enforced: true,
      requestDigest: requestDigest('tools/call', { index }),
    },
    { eventSource: 'mcp-identity', recipientAccountId: '123456789012', mode: 'enforce' },
    { newUid: () => uid(index) },
  );
  return `${JSON.stringify(data)}\n`;
}

function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp, seen: { text: string }) {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern} in ${seen.text}`)),
      30_000,
    );
    const check = () => {
      if (pattern.test(seen.text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child[stream]?.on('data', check);
    check();
  });
}

describe('activity --follow', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'follow-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints events appended after it starts as JSON lines, filtered, and exits 0 on Ctrl-C', async () => {
    const file = join(dir, 'audit.jsonl');
    writeFileSync(file, line(1));
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin', 'mcp-identity.js'),
        'activity',
        '--follow',
        '--data',
        dir,
        '--json',
        '--poll',
        '0.2',
        '--user',
        'bob',
      ],
      { env: awsFreeEnv().env },
    );
    const out = { text: '' };
    const err = { text: '' };
    child.stdout.on('data', (chunk) => {
      out.text += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      err.text += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(child, 'stderr', /following .*audit\.jsonl/, err);
    appendFileSync(file, line(2, 'alice') + line(3, 'bob'));
    await waitFor(child, 'stdout', /\n/, out);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const printed = out.text
      .trim()
      .split('\n')
      .map((text) => JSON.parse(text));
    expect(printed.map((row) => [row.uid, row.user])).toEqual([[uid(3), 'bob']]);
    expect(printed[0]).not.toHaveProperty('arguments');
  }, 60_000);

  it.each([
    [['--follow', '--report', 'summary'], /--report cannot be used with --follow/],
    [['--follow', '--until', '1h'], /--until cannot be used with --follow/],
    [['--poll', '2'], /--poll goes with --follow/],
    [
      ['--follow', '--store', 'cloudtrail-lake', '--event-data-store', 'eds-1', '--region', 'eu-west-1'],
      /CloudTrail Lake cannot be followed: .*npx mcp-identity activity --follow --log-group <AuditLogGroup>/,
    ],
    [['--follow', '--poll', '0'], /must be 0\.2\.\.300 seconds/],
  ])('refuses %j as a usage error (exit 2, one line)', (args, message) => {
    const result = cli(['activity', ...args], awsFreeEnv().env as Record<string, string>);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
