import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, PutItemCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { Command } from 'commander';
import { registerGrantCommands } from '../../cli/grant-commands';
import { revocationItem } from '../../lambda/adapters/access-items';

/**
 * `grant` and `revoke` in-process: against the deployed table (SDK mocked: the issuer from STS
 * GetCallerIdentity, the conditional put), and their exit codes and one-line messages for bad input.
 */

const dynamo = mockClient(DynamoDBClient);
const sts = mockClient(STSClient);
const saved = { ...process.env };
let stderr: string[];
let stdout: string[];

beforeEach(() => {
  dynamo.reset();
  sts.reset();
  process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'secret';
  process.exitCode = undefined;
  stderr = [];
  stdout = [];
  jest.spyOn(process.stderr, 'write').mockImplementation((text) => {
    stderr.push(String(text));
    return true;
  });
  jest.spyOn(process.stdout, 'write').mockImplementation((text) => {
    stdout.push(String(text));
    return true;
  });
});
afterEach(() => {
  jest.restoreAllMocks();
  process.env = { ...saved };
  process.exitCode = undefined;
});

async function run(...args: string[]): Promise<number> {
  const program = new Command().exitOverride();
  const data = mkdtempSync(join(tmpdir(), 'grant-cli-'));
  registerGrantCommands(program, { data, config: join(data, 'no-cdk.json') });
  await program.parseAsync(['node', 'mcp-identity', ...args]);
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

const AWS = ['--table', 'Grants-Table', '--region', 'eu-west-1'];

describe('grant against the deployed table', () => {
  it('records the issuer from STS GetCallerIdentity and writes with a conditional put', async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Arn: 'arn:aws:sts::123456789012:assumed-role/Ops/dave' });
    dynamo.on(PutItemCommand).resolves({});
    const code = await run(
      'grant',
      ...AWS,
      '--user',
      'alice',
      '--role',
      'order-admin',
      '--for',
      '2h',
      '--reason',
      'INC-1234',
    );
    expect(stderr.join('')).toBe('');
    expect(code).toBe(0);
    expect(dynamo).toHaveReceivedCommandWith(PutItemCommand, {
      TableName: 'Grants-Table',
      ConditionExpression: 'attribute_not_exists(#pk)',
      Item: expect.objectContaining({
        pk: { S: 'user#alice' },
        role: { S: 'order-admin' },
        issuedBy: { S: 'arn:aws:sts::123456789012:assumed-role/Ops/dave' },
      }),
    });
    expect(stdout.join('')).toMatch(/granted order-admin to alice until .* \(g-[a-z0-9]+\)/);
  });

  it('refuses a self-grant (the session name is the user) with exit 1 and writes nothing', async () => {
    sts.on(GetCallerIdentityCommand).resolves({
      Arn: 'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Ops_1/alice@example.com',
    });
    const code = await run(
      'grant',
      ...AWS,
      '--user',
      'alice',
      '--role',
      'order-admin',
      '--for',
      '2h',
      '--reason',
      'x',
    );
    expect(code).toBe(1);
    expect(stderr.join('')).toMatch(/cannot grant a role to alice \(themselves\)/);
    expect(dynamo).not.toHaveReceivedCommand(PutItemCommand);
  });

  it('says what AWS answered, in one line, when the table refuses', async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Arn: 'arn:aws:sts::123456789012:assumed-role/Ops/dave' });
    dynamo.on(QueryCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: dynamodb:Query'), {
        name: 'AccessDeniedException',
        $metadata: {},
      }),
    );
    dynamo.on(PutItemCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: dynamodb:PutItem'), {
        name: 'AccessDeniedException',
        $metadata: {},
      }),
    );
    const code = await run(
      'grant',
      ...AWS,
      '--user',
      'alice',
      '--role',
      'order-admin',
      '--for',
      '1h',
      '--reason',
      'x',
    );
    expect(code).toBe(1);
    expect(stderr.join('').split('\n').filter(Boolean)).toHaveLength(1);
    expect(stderr.join('')).toMatch(/dynamodb:PutItem/);
  });
});

describe('revoke against the deployed table', () => {
  it('keys a user revocation case folded and says it matches subject, username or email', async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Arn: 'arn:aws:sts::123456789012:assumed-role/Sec/erin' });
    dynamo.on(PutItemCommand).resolves({});
    const code = await run('revoke', ...AWS, '--user', 'Alice', '--reason', 'laptop stolen');
    expect(stderr.join('')).toBe('');
    expect(code).toBe(0);
    expect(dynamo).toHaveReceivedCommandWith(PutItemCommand, {
      Item: expect.objectContaining({ pk: { S: 'user#alice' }, subjectId: { S: 'Alice' } }),
    });
    expect(stdout.join('')).toMatch(/matches tokens whose subject, username or email is Alice/);
  });
});

describe('revoke lift against the deployed table', () => {
  const revocationOf = (id: string, pk: string) => ({
    ...revocationItem({
      id: 'r-7',
      subject: { kind: 'user', id },
      reason: 'laptop stolen',
      issuedBy: 'arn:aws:sts::123456789012:assumed-role/Sec/erin',
      issuedAt: 1_800_000_000,
    }),
    pk: { S: pk },
  });

  it('refuses to lift a revocation of the operator themselves, with exit 1, and writes nothing', async () => {
    sts.on(GetCallerIdentityCommand).resolves({
      Arn: 'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Ops_x/alice@example.com',
    });
    dynamo.on(ScanCommand).resolves({ Items: [revocationOf('Alice', 'user#alice')] });
    dynamo.on(PutItemCommand).resolves({});
    const code = await run('revoke', 'lift', 'r-7', ...AWS, '--reason', 'found it');
    expect(code).toBe(1);
    expect(stderr.join('')).toMatch(/cannot lift revocation r-7 of Alice \(themselves\)/);
    expect(dynamo).not.toHaveReceivedCommand(PutItemCommand);
  });

  it("lifts another user's revocation in place, under the key it was found at", async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Arn: 'arn:aws:sts::123456789012:assumed-role/Ops/dave' });
    dynamo.on(ScanCommand).resolves({ Items: [revocationOf('Alice', 'user#Alice')] });
    dynamo.on(PutItemCommand).resolves({});
    const code = await run('revoke', 'lift', 'r-7', ...AWS, '--reason', 'found it');
    expect(stderr.join('')).toBe('');
    expect(code).toBe(0);
    expect(dynamo).toHaveReceivedCommandWith(PutItemCommand, {
      Item: expect.objectContaining({
        pk: { S: 'user#Alice' },
        liftedBy: { S: 'arn:aws:sts::123456789012:assumed-role/Ops/dave' },
      }),
    });
  });
});

describe('bad input', () => {
  it.each([
    [['grant', '--user', 'alice', '--role', 'order-admin', '--for', '2x', '--reason', 'x'], /not a duration/],
    [['grant', '--user', 'alice', '--role', 'order-admin', '--for', '13h', '--reason', 'x'], /maximum 12h/],
    [['grant', '--user', 'alice', '--role', 'order admin', '--for', '1h', '--reason', 'x'], /--role/],
    [['grant', '--user', 'alice', '--role', 'order-admin', '--for', '1h'], /needs --reason/],
    [['grant', '--user', 'alice'], /grant needs --user, --role, --for and --reason/],
    [['revoke', '--reason', 'x'], /exactly one of --user/],
    [['revoke', '--user', 'a', '--agent', 'b', '--reason', 'x'], /exactly one of --user/],
    [
      ['grant', ...AWS, '--as', 'me', '--user', 'a', '--role', 'r', '--for', '1h', '--reason', 'x'],
      /--as is for the local stack/,
    ],
  ])('%j exits 2 naming the problem', async (args, message) => {
    expect(await run(...(args as string[]))).toBe(2);
    expect(stderr.join('')).toMatch(message);
    expect(stderr.join('')).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('names an unknown grant id with exit 1', async () => {
    expect(await run('grant', 'revoke', 'g-nope', '--reason', 'x')).toBe(1);
    expect(stderr.join('')).toMatch(/no grant g-nope/);
  });
});

describe('grant limits from the project configuration', () => {
  /** A project folder with `files` (cdk.json, mcp-identity.config.json…), and a data folder not created yet. */
  function project(files: Record<string, string>): { cdkJson: string; data: string } {
    const dir = mkdtempSync(join(tmpdir(), 'grant-config-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return { cdkJson: join(dir, 'cdk.json'), data: join(dir, 'not-yet', '.mcp-identity') };
  }
  const cdkJson = (mcpIdentity: unknown) =>
    JSON.stringify({ app: 'npx tsx bin/app.ts', context: { mcpIdentity } });

  async function local(at: { cdkJson: string; data: string }, ...args: string[]): Promise<number> {
    const program = new Command().exitOverride();
    registerGrantCommands(program, { data: at.data, config: at.cdkJson });
    await program.parseAsync(['node', 'mcp-identity', ...args]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  }
  const grant2h = ['grant', '--user', 'alice', '--role', 'order-admin', '--for', '2h', '--reason', 'INC-1'];

  it('keeps a stricter maxDuration when the rest of the configuration is not filled in yet', async () => {
    // No identity section: the configuration does not load as a whole, but its grants section still applies.
    const at = project({ 'cdk.json': cdkJson({ grants: { maxDuration: '1h' } }) });
    expect(await local(at, ...grant2h)).toBe(2);
    expect(stderr.join('')).toMatch(/longer than the configured maximum 1h \(grants\.maxDuration\)/);
  });

  it('reads the grants section from mcp-identity.config.json merged over cdk.json', async () => {
    const at = project({
      'cdk.json': cdkJson({ grants: { maxDuration: '12h' } }),
      'mcp-identity.config.json': JSON.stringify({ grants: { maxDuration: '90m' } }),
    });
    expect(await local(at, ...grant2h)).toBe(2);
    expect(stderr.join('')).toMatch(/maximum 1h30m \(grants\.maxDuration\)/);
  });

  it('grants within the limit into a data folder the stack has not created yet', async () => {
    const at = project({ 'cdk.json': cdkJson({ grants: { maxDuration: '1h' } }) });
    const args = ['grant', '--user', 'alice', '--role', 'order-admin', '--for', '30m', '--reason', 'INC-1'];
    expect(await local(at, ...args)).toBe(0);
    expect(stdout.join('')).toMatch(/^granted order-admin to alice until /);
  });

  it.each([
    [
      'an invalid grants section',
      { 'cdk.json': cdkJson({ grants: { maxDuration: 'forever' } }) },
      /grants\.maxDuration must be a duration/,
    ],
    ['a cdk.json that is not JSON', { 'cdk.json': '{ "context": ' }, /cdk\.json is not valid JSON/],
  ])('refuses with exit 1 and one line when the configuration holds %s', async (_, files, message) => {
    expect(await local(project(files), ...grant2h)).toBe(1);
    expect(stderr.join('')).toMatch(message);
    expect(stderr.join('').trim().split('\n')).toHaveLength(1);
  });

  it.each([
    ['grant', grant2h],
    ['revoke', ['revoke', '--user', 'bob', '--reason', 'x']],
    ['revoke lift', ['revoke', 'lift', 'r-x', '--reason', 'x']],
  ])(
    '%s with a --config that does not exist exits 2 (the defaults apply only when none is named)',
    async (_, args) => {
      const at = project({});
      expect(await local(at, ...args, '--config', join(at.data, 'missing.json'))).toBe(2);
      expect(stderr.join('')).toMatch(/--config .*missing\.json: no such file/);
    },
  );
});
