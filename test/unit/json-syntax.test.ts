import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { toolsFromJson } from '../../cli/schema';
import { readDecisionFixtures } from '../../lambda/adapters/policy-fixtures';
import { readToolPinsFile } from '../../lambda/adapters/tool-pin-store';
import { loadInterceptorConfig } from '../../lambda/shared/config';
import { jsonSyntaxOffset, jsonSyntaxPlace, parseJsonText } from '../../lambda/shared/json-syntax';
import { CONFIG_FILE, CONFIG_FILE_ENV, loadProjectConfig, readJsonFile } from '../../lib/config-source';
import { FileAccessLedger } from '../../local/access-file';
import { loadUsers } from '../../local/users';

/**
 * A configuration path that names the wrong file (a .env, a credentials file) must not print the file: V8's
 * JSON.parse messages quote its first characters. Every reader of a user's JSON file says only where it broke.
 */

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DOT_ENV = `AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=${SECRET}\n`;

function secretsFile(name = '.env', dir = mkdtempSync(join(tmpdir(), 'json-syntax-'))): string {
  const path = join(dir, name);
  writeFileSync(path, DOT_ENV);
  return path;
}

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}

const leaks = (message: string) =>
  ['AWS_', 'AKIA', SECRET.slice(0, 8)].filter((part) => message.includes(part));

describe('jsonSyntaxPlace', () => {
  it.each([
    ['a trailing comma', '{\n  "audit": { "store": "cloudwatch", }\n}\n', 'line 2, column 37'],
    ['a .env file', DOT_ENV, 'line 1, column 1'],
    ['text after the value', '{"a": 1}\nx', 'line 2, column 1'],
    ['an unquoted key', '{\n a: 1}', 'line 2, column 2'],
    ['a bad escape', '"a\\x"', 'line 1, column 4'],
    ['a short unicode escape', '"\\u12G4"', 'line 1, column 6'],
    ['a leading zero', '01', 'line 1, column 2'],
    ['a raw control character in a string', '"a\tb"', 'line 1, column 3'],
    ['a missing colon', '{"a" 1}', 'line 1, column 6'],
  ])('names the line and column of %s', (_, text, place) => {
    expect(jsonSyntaxPlace(text)).toBe(place);
  });

  it.each([
    ['an empty file', '', 'it ends early, at line 1, column 1'],
    ['an unclosed array', '[{', 'it ends early, at line 1, column 3'],
    ['an unclosed string', '{"a": "b', 'it ends early, at line 1, column 9'],
    ['a number without digits after the dot', '[1.', 'it ends early, at line 1, column 4'],
  ])('says where %s ends early', (_, text, place) => {
    expect(jsonSyntaxPlace(text)).toBe(place);
  });

  it('agrees with JSON.parse on every text: an offset exactly when it throws', () => {
    const texts = fc.oneof(
      fc.json(),
      fc.string(),
      fc
        .tuple(
          fc.json(),
          fc.nat(),
          fc.constantFrom('', ',', '}', ']', '"', ':', 'x', ' ', '\\', '-', '.', 'e'),
        )
        .map(([json, at, inserted]) => {
          const cut = at % (json.length + 1);
          return json.slice(0, cut) + inserted + json.slice(cut + (inserted === '' ? 1 : 0));
        }),
    );
    fc.assert(
      fc.property(texts, (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        const offset = jsonSyntaxOffset(text);
        return valid ? offset === undefined : offset !== undefined && offset <= text.length;
      }),
      { numRuns: 2000 },
    );
  });

  it('parses what is valid, and answers only a place for what is not', () => {
    expect(parseJsonText('{"a":[1,true,null]}')).toEqual({ ok: true, value: { a: [1, true, null] } });
    expect(parseJsonText(DOT_ENV)).toEqual({ ok: false, place: 'line 1, column 1' });
  });
});

describe('readers of user JSON files never print the file', () => {
  it('the configuration file MCP_IDENTITY_CONFIG names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'json-syntax-'));
    writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app: 'x' }));
    secretsFile('.env', dir);

    const message = messageOf(() => loadProjectConfig(join(dir, 'cdk.json'), { [CONFIG_FILE_ENV]: '.env' }));

    expect(message).toBe(`${CONFIG_FILE_ENV}=.env is not valid JSON (line 1, column 1)`);
  });

  it('mcp-identity.config.json, cdk.json and -c mcpIdentityConfigFile= files', () => {
    const path = secretsFile(CONFIG_FILE);
    const message = messageOf(() => readJsonFile(path, CONFIG_FILE));
    expect(message).toBe(`${CONFIG_FILE} is not valid JSON (line 1, column 1)`);
  });

  it.each<[string, (path: string) => unknown]>([
    ['the local users file', (path) => loadUsers(path)],
    ['a tools/list file (schema generate --from)', (path) => toolsFromJson(DOT_ENV, path)],
    ['the tool pins file', (path) => readToolPinsFile(path)],
    [
      'the interceptor’s input types file',
      (path) =>
        loadInterceptorConfig({
          MCP_IDENTITY_ISSUER: 'https://idp.example.com',
          MCP_IDENTITY_AUDIENCE: 'mcp-gateway',
          MCP_IDENTITY_DISCOVERY_URL: 'https://idp.example.com/.well-known/openid-configuration',
          MCP_IDENTITY_POLICY_STORE_ID: 'PSabc123',
          MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
          MCP_IDENTITY_INPUT_TYPES_FILE: path,
        }),
    ],
    [
      'a decision fixture',
      (path) => {
        const policies = mkdtempSync(join(tmpdir(), 'json-syntax-policies-'));
        mkdirSync(join(policies, 'fixtures', 'ALLOW'), { recursive: true });
        writeFileSync(join(policies, 'fixtures', 'ALLOW', 'leak.json'), DOT_ENV);
        return readDecisionFixtures(policies) && path;
      },
    ],
  ])('%s', (_, read) => {
    const message = messageOf(() => read(secretsFile()));

    expect(leaks(message)).toEqual([]);
    expect(message).toContain('line 1, column 1');
  });

  it('the local grant store (access.json)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'json-syntax-'));
    secretsFile('access.json', dir);

    const error = (await new FileAccessLedger(dir).list().catch((caught: unknown) => caught)) as Error;

    expect(leaks(error.message)).toEqual([]);
    expect(error.message).toBe(
      `${join(dir, 'access.json')} is not valid JSON (line 1, column 1); fix or remove it`,
    );
    expect(error.cause).toBeUndefined();
  });
});
