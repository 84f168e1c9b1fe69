import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startLocalStack } from '../../local/stack';
import { POLICY_DIR } from '../helpers/harness';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'mcp-identity.js');
const USERS = join(ROOT, 'local', 'users.json');
const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });

describe('mcp-identity dev and token (as a user runs them)', () => {
  let dev: ChildProcessWithoutNullStreams;
  let output = '';
  const data = mkdtempSync(join(tmpdir(), 'mcp-identity-cli-'));

  beforeAll(async () => {
    dev = spawn(process.execPath, [
      CLI,
      'dev',
      '--port',
      '0',
      '--issuer-port',
      '0',
      '--data',
      data,
      '--no-watch',
    ]);
    dev.stdout.on('data', (chunk) => {
      output += String(chunk);
    });
    dev.stderr.on('data', (chunk) => {
      output += String(chunk);
    });
    const started = Date.now();
    while (!output.includes('Requests:')) {
      if (Date.now() - started > 20_000 || dev.exitCode !== null)
        throw new Error(`dev did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 30_000);

  afterAll(() => {
    if (dev.exitCode === null) dev.kill('SIGKILL');
  });

  it('prints the MCP URL, a token per user and commands to try', () => {
    expect(output).toMatch(/MCP endpoint\s+http:\/\/127\.0\.0\.1:\d+\/mcp/);
    for (const user of ['alice', 'bob', 'carol', 'ops']) expect(output).toContain(`  ${user}`);
    expect(output.match(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/g)).toHaveLength(4);
    expect(output).toContain('curl -s http://127.0.0.1:');
    expect(output).toContain('npx -y @modelcontextprotocol/inspector@0.21.2 --cli');
  });

  it('token prints a token that works against the running stack', async () => {
    const result = run('token', 'bob', '--ttl', '5m', '--data', data);
    expect(result.status).toBe(0);
    const token = result.stdout.trim();
    const mcpUrl = /MCP endpoint\s+(\S+)/.exec(output)?.[1] as string;
    const client = new Client({ name: 'cli-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    try {
      expect((await client.listTools()).tools).toHaveLength(3);
    } finally {
      await client.close();
    }
  });

  it('token refuses an unknown user, naming the known ones, with exit code 1', () => {
    const result = run('token', 'dave', '--data', data);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("unknown user 'dave'; known users: alice, bob, carol");
  });

  it('token refuses a bad --ttl with a usage error (exit code 2)', () => {
    const result = run('token', 'alice', '--ttl', 'forever', '--data', data);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--ttl .* is invalid/);
  });

  it('dev refuses a port that is taken, clearly', () => {
    const port = /MCP endpoint\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1] as string;
    const result = run(
      'dev',
      '--port',
      port,
      '--issuer-port',
      '0',
      '--data',
      mkdtempSync(join(tmpdir(), 'mcp-identity-cli-')),
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/port is already in use .*--port/);
  });

  it('stops cleanly on SIGTERM and then token says no stack is running', async () => {
    const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
    dev.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('stopped.');
    expect(existsSync(join(data, 'local-stack.json'))).toBe(false);
    const result = run('token', 'alice', '--data', data);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/no local stack is running .*npm start/);
  });
});

describe('policy edits while the stack runs', () => {
  it('reloads a valid edit and keeps the previous policies when an edit is broken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-identity-policies-'));
    cpSync(POLICY_DIR, dir, { recursive: true });
    const lines: string[] = [];
    const stack = await startLocalStack({
      port: 0,
      issuerPort: 0,
      policyDir: dir,
      usersFile: USERS,
      dataDir: mkdtempSync(join(tmpdir(), 'd-')),
      log: (line) => lines.push(line),
    });
    const listFor = async (user: string) => {
      const client = new Client({ name: 'reload', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
          requestInit: { headers: { Authorization: `Bearer ${await stack.token(user)}` } },
        }),
      );
      try {
        return (await client.listTools()).tools.map((tool) => tool.name);
      } finally {
        await client.close();
      }
    };
    const waitFor = async (text: string) => {
      const started = Date.now();
      while (!lines.some((line) => line.includes(text))) {
        if (Date.now() - started > 5000) throw new Error(`no '${text}' in ${JSON.stringify(lines)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    try {
      expect(await listFor('carol')).toEqual([]);
      writeFileSync(
        join(dir, 'everyone-reads.cedar'),
        '@id("everyone-reads")\npermit (principal, action == McpIdentity::Action::"orders___get_recent_activity", resource);\n',
      );
      await waitFor('policies reloaded: 5 policies');
      expect(await listFor('carol')).toEqual(['orders___get_recent_activity']);

      writeFileSync(join(dir, 'broken.cedar'), 'permit (principal, action resource);');
      await waitFor('policy reload failed, still enforcing the previous policies:\n');
      // The located error: the file as a path to open, line:column, and the caret under the bad token.
      expect(lines.find((line) => line.startsWith('policy reload failed'))).toBe(
        [
          'policy reload failed, still enforcing the previous policies:',
          `${join(dir, 'broken.cedar')}:1:27: error: unexpected token \`resource\`; expected \`!=\`, \`)\`, \`,\`, \`:\`, \`<\`, \`<=\`, \`==\`, \`>\`, \`>=\`, \`in\`, or \`is\``,
          '  |',
          '1 | permit (principal, action resource);',
          `  | ${' '.repeat(26)}^^^^^^^^`,
        ].join('\n'),
      );
      expect(await listFor('carol')).toEqual(['orders___get_recent_activity']);
    } finally {
      await stack.stop();
    }
  });
});

describe('users file edits while the stack runs', () => {
  it('reloads users.json on change for the token endpoint and stack.token alike, and keeps the previous users when an edit is broken', async () => {
    const usersFile = join(mkdtempSync(join(tmpdir(), 'mcp-identity-users-')), 'users.json');
    cpSync(USERS, usersFile);
    const lines: string[] = [];
    const stack = await startLocalStack({
      port: 0,
      issuerPort: 0,
      policyDir: POLICY_DIR,
      usersFile,
      dataDir: mkdtempSync(join(tmpdir(), 'd-')),
      log: (line) => lines.push(line),
    });
    const tokenEndpoint = (user: string) =>
      fetch(`${stack.issuer}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ user }),
      });
    const roles = (jwt: string) =>
      (JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { roles: string[] })
        .roles;
    const logged = async (text: string) => {
      const started = Date.now();
      while (!lines.some((line) => line.includes(text))) {
        if (Date.now() - started > 5000) throw new Error(`no "${text}" in the log:\n${lines.join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    try {
      expect((await tokenEndpoint('dave')).status).toBe(404);

      const users = JSON.parse(readFileSync(usersFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(
        usersFile,
        JSON.stringify({ ...users, dave: { email: 'dave@example.com', roles: ['order-admin'] } }),
      );
      await logged('users reloaded: alice, bob, carol, ops, dave');
      const issued = await tokenEndpoint('dave');
      expect(issued.status).toBe(200);
      expect(roles(((await issued.json()) as { access_token: string }).access_token)).toEqual([
        'order-admin',
      ]);
      expect(roles(await stack.token('dave'))).toEqual(['order-admin']);

      writeFileSync(usersFile, '{ "dave": ');
      await logged('users file not reloaded, still using the previous users');
      expect((await tokenEndpoint('dave')).status).toBe(200);
      expect(Object.keys(stack.users())).toContain('dave');
    } finally {
      await stack.stop();
    }
  });
});

describe('guards of the local stack', () => {
  it('refuses a second stack on the same data folder while the first runs', async () => {
    const data = mkdtempSync(join(tmpdir(), 'mcp-identity-twice-'));
    const first = await startLocalStack({
      port: 0,
      issuerPort: 0,
      policyDir: POLICY_DIR,
      usersFile: USERS,
      dataDir: data,
      watchPolicies: false,
    });
    try {
      await expect(
        startLocalStack({
          port: 0,
          issuerPort: 0,
          policyDir: POLICY_DIR,
          usersFile: USERS,
          dataDir: data,
          watchPolicies: false,
        }),
      ).rejects.toThrow(/a local stack is already running with .* give this one another --data folder/);
      expect(existsSync(join(data, 'local-stack.json'))).toBe(true);
    } finally {
      await first.stop();
    }
    expect(existsSync(join(data, 'local-stack.json'))).toBe(false);
  });

  it('passes repeated Authorization headers on to the interceptor, which refuses them', async () => {
    const stack = await startLocalStack({
      port: 0,
      issuerPort: 0,
      policyDir: POLICY_DIR,
      usersFile: USERS,
      dataDir: mkdtempSync(join(tmpdir(), 'd-')),
      watchPolicies: false,
    });
    try {
      const url = new URL(stack.mcpUrl);
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      // Raw headers, so both Authorization lines go on the wire (fetch would merge them). Raw headers get no automatic Host or framing, so they are given.
      const rawHeaders = [
        'Host',
        url.host,
        'Content-Length',
        String(Buffer.byteLength(body)),
        'Content-Type',
        'application/json',
        'Accept',
        'application/json, text/event-stream',
        'Authorization',
        `Bearer ${await stack.token('carol')}`,
        'Authorization',
        `Bearer ${await stack.token('bob')}`,
      ];
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const call = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: rawHeaders as unknown as Record<string, string>,
          },
          (response) => {
            response.resume();
            resolve(response.statusCode);
          },
        );
        call.on('error', reject);
        call.end(body);
      });
      expect(status).toBe(401);
    } finally {
      await stack.stop();
    }
  });
});

describe('--version and --help (as a user runs them)', () => {
  it('--version prints the version from package.json and exits 0', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const result = run('--version');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it.each([
    [['--help'], 'npx mcp-identity token alice'],
    [['dev', '--help'], 'npx mcp-identity dev --door apigateway'],
    [['token', '--help'], 'npx mcp-identity token bob --ttl 1h'],
    [['activity', '--help'], 'npx mcp-identity activity --report denials'],
    [['policies', '--help'], 'npx mcp-identity policies test'],
    [['audit', 'redrive', '--help'], 'npx mcp-identity audit redrive --queue-url'],
  ])('%j ends with usage examples and exits 0', (args, example) => {
    const result = run(...args);
    expect(result.status).toBe(0);
    const examples = result.stdout.slice(result.stdout.indexOf('\nExamples:\n'));
    expect(examples).toMatch(/^\nExamples:\n/);
    expect(examples).toContain(example);
  });
});
