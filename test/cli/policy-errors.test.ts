import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { McpPolicyStore } from '../../lib/constructs/policy-store';
import { awsFreeEnv, cli, policyCopy } from './helpers';

/**
 * A broken policy meets every command that reads the policy folder: each names the file as a path to open,
 * line and column, shows the line with a caret under the bad token, exits non-zero, and prints no stack trace.
 */

const BROKEN =
  '// refunds\r\n@id("refunds")\r\npermit (\r\n  principal in McpIdentity::Role::"x" == 3,\r\n  action, resource);\r\n';
const LOCATED =
  /\S*refunds\.cedar:4:16: error: .*\n {2}\|\n4 \| {3}principal in McpIdentity::Role::"x" == 3,\n {2}\| {16}\^{27}(\n|$)/;
const STACK_TRACE = /\n\s+at .+:\d+/;

let dir: string;
beforeAll(() => {
  dir = policyCopy();
  writeFileSync(join(dir, 'refunds.cedar'), BROKEN);
});

function expectLocatedFailure(result: { status: number | null; stdout: string; stderr: string }, status = 1) {
  expect(`${result.stdout}${result.stderr}`).toMatch(LOCATED);
  expect(result.stderr).not.toMatch(STACK_TRACE);
  expect(result.status).toBe(status);
}

describe('a broken policy, as each command reports it', () => {
  it('policies validate: file:line:column, the excerpt, exit 1; --json carries the location', () => {
    expectLocatedFailure(cli(['policies', 'validate', '--dir', dir]));
    const json = cli(['policies', 'validate', '--dir', dir, '--json']);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({
        severity: 'error',
        file: 'refunds.cedar',
        line: 4,
        column: 16,
        endLine: 4,
        endColumn: 43,
        message: expect.stringMatching(/found a binary operator/),
      }),
    ]);
  });

  it('policies format --check', () => {
    expectLocatedFailure(cli(['policies', 'format', '--dir', dir, '--check']));
  });

  it('policies test, and its --json', () => {
    const result = cli(['policies', 'test', '--dir', dir]);
    expectLocatedFailure(result);
    expect(result.stderr).toMatch(/^mcp-identity: the policy folder .* does not validate:\n/);
    const json = cli(['policies', 'test', '--dir', dir, '--json']);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      errors: [expect.objectContaining({ file: 'refunds.cedar', line: 4, column: 16, endColumn: 43 })],
    });
  });

  it('policies authorize, and its --json', () => {
    const args = ['policies', 'authorize', '--dir', dir, '--user', 'alice', '--tool', 'orders___get_order'];
    expectLocatedFailure(cli(args));
    const json = cli([...args, '--json']);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      decision: 'error',
      errors: [expect.objectContaining({ file: 'refunds.cedar', line: 4, column: 16 })],
    });
  });

  it('policies diff and push refuse before calling AWS', () => {
    const { env } = awsFreeEnv({
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'x',
    });
    const flat = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)) as Record<
      string,
      string
    >;
    for (const command of ['diff', 'push']) {
      const result = cli(['policies', command, '--dir', dir, '--store', 'ps-123'], flat);
      expectLocatedFailure(result);
      expect(result.stderr).toMatch(LOCATED);
      expect(result.stderr).toContain('the policy folder does not validate; nothing was compared or pushed');
      expect(result.stdout).toBe('');
    }
  });

  it('cdk synth: the policy store construct fails with the located error', () => {
    const stack = new Stack(new App(), 'Synth');
    expect(() => new McpPolicyStore(stack, 'PolicyStore', { policyDir: dir })).toThrow(LOCATED);
  });

  it('schema generate: a schema stub that does not parse is located before the generator runs', () => {
    const folder = policyCopy();
    writeFileSync(
      join(folder, 'schema-stub.cedarschema'),
      'namespace McpIdentity {\r\n  entity User in [Role]\r\n  entity Role;\r\n}\r\n',
    );
    const fixture = join(__dirname, '..', 'fixtures', 'orders-tools-list.json');
    const result = cli(['schema', 'generate', '--from', fixture, '--dir', folder]);
    expect(result.stderr).toMatch(
      /^mcp-identity: the stub does not parse:\n\S*schema-stub\.cedarschema:3:3: error: .*unexpected token `entity`.*\n {2}\|\n3 \| {3}entity Role;\n {2}\| {3}\^{6}\n$/,
    );
    expect(result.status).toBe(1);
  });

  it('a missing folder is one line and exit 1', () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'gone-')), 'nope');
    const result = cli(['policies', 'validate', '--dir', missing]);
    expect(result.stderr).toBe(
      `mcp-identity: no policy folder at ${missing} (pass --dir <folder with schema.cedarschema and *.cedar>)\n`,
    );
    expect(result.status).toBe(1);
  });
});
