import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolDigest } from '../../lambda/core/tool-pins';
import { startToolServer, type ToolServer } from '../helpers/mcp-tool-server';
import { cliAsync, ROOT } from './helpers';

/**
 * `schema generate --from-url` against a loopback MCP server standing in for a gateway with two targets (a, b)
 * and a system tool: five tools over three pages, listed only with the right bearer token.
 */

// Each case runs the CLI a few times as a user would (a process each): slow on a busy machine.
jest.setTimeout(120_000);

const TOKEN = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJvcGVyYXRvciJ9.c2lnbmF0dXJl';
const INJECTED = ['_caller_user', '_caller_roles'];
const jwt = (claims: Record<string, unknown>) =>
  `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

function tool(
  name: string,
  description: string,
  properties: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return {
    name,
    description,
    inputSchema: {
      type: 'object',
      properties: { ...properties, _caller_user: { type: 'string' } },
      required: [...Object.keys(properties), '_caller_user'],
    },
    ...extra,
  };
}

const A_X = tool(
  'a___x',
  'Search things.',
  { q: { type: 'string' } },
  // A vendor annotation the SDK's own listTools would drop: the pin must cover the definition as sent.
  { annotations: { readOnlyHint: true, vendorHint: 'kept' } },
);
const A_W = tool(
  'a___w',
  'Count things.',
  {},
  { outputSchema: { type: 'object', properties: { n: { type: 'integer' } } } },
);
const B_Y = tool('b___y', 'Refund an order.', { id: { type: 'string' }, amount: { type: 'integer' } });
const B_Z = tool('b___z', 'Close an order.', { id: { type: 'string' } });
const SEARCH = tool('x_amz_bedrock_agentcore_search', 'Find tools.', { query: { type: 'string' } });
const FIVE = [A_X, A_W, B_Y, B_Z, SEARCH];

let server: ToolServer;
const env = () => {
  const { MCP_IDENTITY_TOKEN: _ignored, ...rest } = process.env;
  return rest;
};

/** A folder with only the stub: the schema is generated into it. */
function folder(): { dir: string; out: string; stub: string } {
  const dir = mkdtempSync(join(tmpdir(), 'schema-url-'));
  const stub = join(dir, 'schema-stub.cedarschema');
  copyFileSync(join(ROOT, 'policies', 'schema-stub.cedarschema'), stub);
  return { dir, out: join(dir, 'schema.cedarschema'), stub };
}

function generate(where: { out: string; stub: string }, ...args: string[]) {
  return cliAsync(
    ['schema', 'generate', '--from-url', server.url, '--out', where.out, '--stub', where.stub, ...args],
    env(),
  );
}

/** The schema's declarations, as Cedar renders them: separated by blank lines, annotations included. */
const declarations = (text: string) => text.split('\n\n');
const digestLine = (definition: unknown) => `@mcp_tool_digest("${toolDigest(definition, INJECTED)}")`;

beforeEach(async () => {
  server = await startToolServer({ token: TOKEN, tools: structuredClone(FIVE), pageSize: 2 });
});
afterEach(async () => {
  await server.stop();
});

describe('schema generate --from-url: the whole schema', () => {
  it('lists every target through every page and pins each tool as the server defined it', async () => {
    const where = folder();

    const result = await generate(where, '--token', TOKEN);

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(server.listings()).toStrictEqual({ pages: 3, withCursor: 2 });
    expect(result.stdout).toContain('5 tool(s): a___x, a___w, b___y, b___z, x_amz_bedrock_agentcore_search');
    const schema = readFileSync(where.out, 'utf8');
    for (const definition of FIVE) {
      const declaration = declarations(schema).find((text) => text.includes(`action "${definition.name}"`));
      expect(declaration).toContain(digestLine(definition));
    }
    expect(schema).toContain('action "a___x" in [Action::"target:a"]');
    expect(schema).toContain('action "b___y" in [Action::"target:b"]');
    expect(schema).toContain('action "x_amz_bedrock_agentcore_search" in [Action::"tools/call"]');
    expect(schema).not.toContain('_caller_user');
    expect(result.stdout).toMatch(/^added\s+a___x\s+new tool, pinned: no policy names it yet$/m);
  });

  it('reports the diff as JSON', async () => {
    const where = folder();
    await generate(where, '--token', TOKEN);
    server.tools = [A_X, A_W, B_Y, tool('b___v', 'Void an order.', { id: { type: 'string' } }), SEARCH];

    const result = await generate(where, '--token', TOKEN, '--json');

    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toStrictEqual({
      source: server.url,
      target: null,
      listed: 5,
      tools: ['a___x', 'a___w', 'b___y', 'b___v', 'x_amz_bedrock_agentcore_search'],
      changes: [
        {
          change: 'added',
          tool: 'b___v',
          detail: 'new tool, pinned: no policy names it yet',
          listed: toolDigest(server.tools[3], INJECTED),
        },
        {
          change: 'removed',
          tool: 'b___z',
          detail: 'no longer listed: its action is removed (policies naming it stop validating)',
          pinned: toolDigest(B_Z, INJECTED),
        },
      ],
      otherChanges: [],
      schemaChanged: true,
      written: where.out,
      check: false,
    });
    expect(readFileSync(where.out, 'utf8')).not.toContain('b___z');
  });

  it('shows its progress page by page on a terminal, and clears the line after', async () => {
    const where = folder();
    const cli = join(ROOT, 'bin', 'mcp-identity.js');
    const command = [process.execPath, cli, 'schema', 'generate', '--from-url', server.url, '--token', TOKEN]
      .concat(['--out', where.out, '--stub', where.stub, '--json'])
      .map((part) => `'${part}'`)
      .join(' ');

    // `script` runs the command on a pseudo-terminal, so stderr is a TTY as in an operator's shell.
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        'script',
        ['-qec', command, '/dev/null'],
        { encoding: 'utf8', timeout: 60_000, env: env() },
        (error, stdout) => (error ? reject(error) : resolve(stdout)),
      ),
    );

    expect(output).toContain('\rlisting tools: page 1, 2 tool(s)…');
    expect(output).toContain('\rlisting tools: page 3, 5 tool(s)…\r\u001b[K');
    expect(output).not.toContain(TOKEN);
  });

  it('takes the token from --token-file or MCP_IDENTITY_TOKEN, and sends it as a bearer token', async () => {
    const where = folder();
    const file = join(where.dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);

    const fromFile = await generate(where, '--token-file', file, '--check');
    const fromEnv = await cliAsync(
      ['schema', 'generate', '--from-url', server.url, '--out', where.out, '--stub', where.stub],
      { ...env(), MCP_IDENTITY_TOKEN: TOKEN },
    );

    expect(fromFile.status).toBe(1); // --check: nothing committed yet, so everything is drift
    expect(fromEnv.status).toBe(0);
    expect(new Set(server.authorizations)).toStrictEqual(new Set([`Bearer ${TOKEN}`]));
  });
});

describe('schema generate --from-url --target', () => {
  it('regenerates one target and leaves every other declaration byte-identical', async () => {
    const where = folder();
    await generate(where, '--token', TOKEN);
    const before = readFileSync(where.out, 'utf8');
    // Target a changes too, but only b is regenerated: a keeps its committed (older) pin.
    server.tools = [
      { ...A_X, description: 'Search things, and send them elsewhere.' },
      A_W,
      { ...B_Y, description: 'Refund an order, any amount, no questions asked.' },
      tool('b___v', 'Void an order.', { id: { type: 'string' } }),
      SEARCH,
    ];

    const result = await generate(where, '--token', TOKEN, '--target', 'b', '--json');

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const after = readFileSync(where.out, 'utf8');
    const untouched = declarations(before).filter(
      (text) => !text.includes('b___') && !text.includes('target:b'),
    );
    expect(untouched.length).toBeGreaterThan(8);
    for (const declaration of untouched) expect(declarations(after)).toContain(declaration);
    expect(after).toContain(digestLine(A_X));
    expect(after).toContain(digestLine(server.tools[2]));
    expect(after).not.toContain('b___z');
    expect(JSON.parse(result.stdout).changes).toStrictEqual([
      {
        change: 'added',
        tool: 'b___v',
        detail: 'new tool, pinned: no policy names it yet',
        listed: toolDigest(server.tools[3], INJECTED),
      },
      {
        change: 'changed',
        tool: 'b___y',
        detail: 'definition changed since it was pinned (description, schemas or annotations)',
        pinned: toolDigest(B_Y, INJECTED),
        listed: toolDigest(server.tools[2], INJECTED),
      },
      {
        change: 'removed',
        tool: 'b___z',
        detail: 'no longer listed: its action is removed (policies naming it stop validating)',
        pinned: toolDigest(B_Z, INJECTED),
      },
    ]);
  });

  it('shows the diff as a table', async () => {
    const where = folder();
    await generate(where, '--token', TOKEN);
    server.tools = [
      A_X,
      A_W,
      { ...B_Y, inputSchema: { type: 'object', properties: { id: { type: 'string' } } } },
      SEARCH,
    ];

    const result = await generate(where, '--token', TOKEN, '--target', 'b');

    expect(result.status).toBe(0);
    expect(result.stdout.split('\n')).toStrictEqual([
      '1 tool(s) of target b: b___y',
      'CHANGE   TOOL   DETAIL',
      'changed  b___y  definition changed since it was pinned (description, schemas or annotations); Cedar input types changed',
      'removed  b___z  no longer listed: its action is removed (policies naming it stop validating)',
      `wrote ${where.out}; next: write or update policies for these tools, \`npx mcp-identity policies validate\`, then deploy`,
      '',
    ]);
  });

  it('starts a new policy folder with one target (the stub this package ships when the folder has none)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'new-policies-'));

    const result = await cliAsync(
      ['schema', 'generate', '--from-url', server.url, '--token', TOKEN, '--target', 'b', '--dir', dir],
      env(),
    );

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const schema = readFileSync(join(dir, 'schema.cedarschema'), 'utf8');
    expect(schema).toContain(`${digestLine(B_Y)}\n  action "b___y" in [Action::"target:b"]`);
    expect(schema).toContain('action "b___z"');
    expect(schema).toContain('action "schema/read"');
    expect(schema).not.toContain('a___x');
  });

  it('fails clearly when the target lists no tools', async () => {
    const where = folder();
    await generate(where, '--token', TOKEN);
    const noTools = await generate(where, '--token', TOKEN, '--target', 'c');

    expect(noTools.status).toBe(1);
    expect(noTools.stderr).toBe(
      `mcp-identity: no tools of target 'c' among the 5 tool(s) ${server.url} lists (targets: a, b); is the token's caller allowed to see them?\n`,
    );
  });
});

describe('schema generate --check', () => {
  it('exits 0 without drift and 1 with drift, writing nothing', async () => {
    const where = folder();
    await generate(where, '--token', TOKEN);
    const committed = readFileSync(where.out, 'utf8');

    const clean = await generate(where, '--token', TOKEN, '--check');
    server.tools = [
      { ...A_X, annotations: { readOnlyHint: false, vendorHint: 'kept' } },
      A_W,
      B_Y,
      B_Z,
      SEARCH,
    ];
    const drifted = await generate(where, '--token', TOKEN, '--check');
    const otherTarget = await generate(where, '--token', TOKEN, '--check', '--target', 'b');
    const sameTarget = await generate(where, '--token', TOKEN, '--check', '--target', 'a', '--json');

    expect(clean.status).toBe(0);
    expect(clean.stdout).toContain('schema unchanged: no drift');
    expect(drifted.status).toBe(1);
    expect(drifted.stdout).toMatch(/^changed\s+a___x\s+definition changed since it was pinned/m);
    expect(drifted.stdout).toContain(
      `drift: ${where.out} does not match what ${server.url} lists (nothing written)`,
    );
    expect(otherTarget.status).toBe(0);
    expect(sameTarget.status).toBe(1);
    expect(JSON.parse(sameTarget.stdout)).toMatchObject({
      target: 'a',
      schemaChanged: true,
      written: null,
      check: true,
      changes: [{ change: 'changed', tool: 'a___x' }],
    });
    expect(readFileSync(where.out, 'utf8')).toBe(committed);
  });
});

describe('schema generate --from-url: errors', () => {
  const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at /);

  it('asks for a token when none is given', async () => {
    const where = folder();
    const result = await generate(where);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `mcp-identity: ${server.url} needs a token (HTTP 401): pass --token, --token-file or set MCP_IDENTITY_TOKEN\n`,
    );
  });

  it('explains a refused token without printing it', async () => {
    const where = folder();
    const expired = jwt({ sub: 'operator', exp: 1_000_000_000 });
    const notJwt = 'secret-api-key-0123456789';

    const stale = await generate(where, '--token', expired);
    const wrong = await generate(where, '--token', notJwt);
    const other = await generate(where, '--token', jwt({ sub: 'operator', exp: 4_000_000_000 }));

    expect(stale.status).toBe(1);
    expect(stale.stderr).toBe(
      `mcp-identity: ${server.url} refused the token from --token (HTTP 401: the access token is invalid or expired); it expired at 2001-09-09T01:46:40.000Z\n`,
    );
    expect(wrong.stderr).toContain(
      'refused the token from --token (HTTP 401: the access token is invalid or expired); it is not a JWT',
    );
    expect(other.stderr).toContain('; check its issuer and audience, or get a fresh one');
    for (const result of [stale, wrong]) {
      expect(`${result.stdout}${result.stderr}`).not.toContain(expired);
      expect(`${result.stdout}${result.stderr}`).not.toContain(notJwt);
      noStackTrace(result.stderr);
    }
  });

  it('refuses bad URLs and token options as usage errors (exit 2), before any request', async () => {
    const where = folder();
    const file = join(where.dir, 'token');
    writeFileSync(file, TOKEN);
    const cases: [string[], string][] = [
      [['--from-url', 'not a url'], 'mcp-identity: --from-url is not a URL: "not a url"\n'],
      [
        ['--from-url', 'ftp://127.0.0.1/mcp'],
        'mcp-identity: --from-url must be an https:// URL (got ftp:)\n',
      ],
      [
        ['--from-url', 'http://gateway.example.com/mcp'],
        'mcp-identity: --from-url must use https:// to send a token to gateway.example.com (plain http only on loopback)\n',
      ],
      [
        ['--from-url', 'https://user:pw@gateway.example.com/mcp'],
        'mcp-identity: --from-url must not carry a user name or password; use --token\n',
      ],
      [
        ['--from-url', server.url, '--token', TOKEN, '--token-file', file],
        'mcp-identity: give --token or --token-file, not both\n',
      ],
      [
        ['--from-url', server.url, '--token', 'two words'],
        'mcp-identity: the token from --token contains spaces or characters a header cannot carry (is it one token?)\n',
      ],
      [
        ['--from', file, '--token', TOKEN],
        'mcp-identity: --token and --token-file go with --from-url, not --from\n',
      ],
      [
        ['--from-url', server.url, '--from', file],
        'mcp-identity: give exactly one of --from <file> or --from-url <url>\n',
      ],
    ];
    for (const [args, message] of cases) {
      const result = await cliAsync(
        ['schema', 'generate', ...args, '--out', where.out, '--stub', where.stub],
        env(),
      );
      expect({ args, status: result.status, stderr: result.stderr }).toStrictEqual({
        args,
        status: 2,
        stderr: message,
      });
    }
    expect(server.authorizations).toStrictEqual([]);
  });

  it('says when the gateway cannot be reached', async () => {
    const where = folder();
    const url = server.url;
    await server.stop();
    server = await startToolServer({ token: TOKEN, tools: [] });

    const result = await cliAsync(
      ['schema', 'generate', '--from-url', url, '--token', TOKEN, '--out', where.out, '--stub', where.stub],
      env(),
    );

    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`mcp-identity: cannot reach ${url}: connection refused\n`);
  });
});
