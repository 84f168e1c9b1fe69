import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { registerActivityCommand } from '../cli/activity-command';
import type { RedriveOptions } from '../cli/audit-redrive';
import { AwsSetupError, describeAwsError } from '../cli/aws-errors';
import type { DevOptions } from '../cli/dev';
import { registerDoctorCommand } from '../cli/doctor-command';
import { ActivityError, CliError, PolicyStoreError, SchemaGenerationError } from '../cli/errors';
import { registerGrantCommands } from '../cli/grant-commands';
import { HELP_EXAMPLES } from '../cli/help-examples';
import { registerInitCommand } from '../cli/init-command';
import { registerAuthorizeCommand } from '../cli/policies-authorize-command';
import { registerPolicyCommands } from '../cli/policies-commands';
import { registerReplayCommand } from '../cli/policies-replay-command';
import { registerSchemaCommand } from '../cli/schema-command';
import type { TokenOptions } from '../cli/token';
import { McpIdentityError } from '../lambda/core/errors';
import { DOOR_KINDS, MAX_DEV_TTL_SECONDS } from '../local/stack-names';
import { TargetSpecError } from '../local/target-specs';

/*
 * Startup: this file declares every command (options, help, examples) from light modules only; what a command
 * does, with the AWS SDK, cedar-wasm, the MCP SDK or the local stack behind it, is loaded when its action runs,
 * so `--help`, `--version` and usage errors answer without any of them (test/cli/startup-modules.test.ts keeps
 * it so). Actions load with `require`, not `import()`: bin/mcp-identity.js registers tsx for require only, and
 * Node's ESM loader cannot resolve a relative path to a .ts file.
 */

// The SDK warns on Node < 22 about its releases after January 2027 (eight lines on stderr before every AWS
// command's output; our SDK versions are pinned). Set the variable to 'false' to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Exit codes: 0 done, 1 failed (clear message on stderr), 2 bad usage. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const ROOT = resolve(__dirname, '..');

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return parsed;
}

/** `dev --authorizer-cache-ttl`: API Gateway's authorizer result TTL, 0 (off) to 3600 seconds. */
function cacheTtl(value: string): number {
  const match = /^(\d+)\s*(s|m|h)?$/.exec(value.trim());
  const seconds =
    match === null
      ? Number.NaN
      : Number(match[1]) * { s: 1, m: 60, h: 3600 }[(match[2] ?? 's') as 's' | 'm' | 'h'];
  if (!Number.isInteger(seconds) || seconds > 3600)
    throw new InvalidArgumentError('must be 0 (off) to 3600 seconds: 0, 300, 90s, 5m, 1h');
  return seconds;
}

/** `900`, `90s`, `15m`, `1h` → seconds. */
export function duration(value: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(value.trim());
  if (match === null) throw new InvalidArgumentError('use seconds or a unit: 900, 90s, 15m, 1h, 1d');
  const seconds =
    Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  if (seconds < 1 || seconds > MAX_DEV_TTL_SECONDS)
    throw new InvalidArgumentError(`must be between 1s and ${MAX_DEV_TTL_SECONDS / 3600}h`);
  return seconds;
}

const program = new Command()
  .name('mcp-identity')
  .description('Per-human identity, Cedar authorization and audit for MCP tool calls')
  .version(
    (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    '-V, --version',
    'print the mcp-identity version',
  )
  .addHelpText('after', HELP_EXAMPLES.program)
  .showHelpAfterError()
  .exitOverride();

program
  .command('dev')
  .description(
    'run the whole path locally: dev identity provider, gateway emulation, Cedar, demo MCP tools, JSONL audit',
  )
  .addHelpText('after', HELP_EXAMPLES.dev)
  .addOption(
    new Option('--door <door>', 'the front door to emulate: AgentCore Gateway, or API Gateway (REST API)')
      .choices(DOOR_KINDS)
      .default('agentcore'),
  )
  .addOption(
    new Option(
      '--authorizer-cache-ttl <seconds>',
      'API Gateway door: the authorizer result cache TTL (0 = off); tokens expiring within it are refused',
    )
      .default(60)
      .argParser(cacheTtl),
  )
  .addOption(new Option('--port <port>', 'MCP gateway port').default(8080).argParser(port))
  .addOption(new Option('--issuer-port <port>', 'dev identity provider port').default(8081).argParser(port))
  .option('--policies <dir>', 'Cedar schema, policies and fixtures', join(ROOT, 'policies'))
  .option('--users <file>', 'local users and roles', join(ROOT, 'local', 'users.json'))
  .option('--data <dir>', 'audit store and state (gitignored)', join(ROOT, '.data'))
  .option('--log-only', 'evaluate and audit policy denials but let calls through (shadow mode)', false)
  .option('--no-watch', 'do not reload policies when files change')
  .option('--no-console', 'do not serve the local console (decisions, activity, playground) at /console')
  .option(
    '--target <name=url|name=stdio:command>',
    'put your own MCP server behind the gateway as name___tool (Streamable HTTP URL or stdio command); repeatable; default: the demo orders server',
    (value: string, previous: string[]) => [...previous, value],
    [] as string[],
  )
  .action(async (options: DevOptions) => {
    // loaded on use: the local stack (gateway, Lambda handlers, MCP SDK, cedar-wasm) costs about a second at start
    const { runDev } = require('../cli/dev') as typeof import('../cli/dev');
    await runDev(options, { policies: join(ROOT, 'policies'), data: join(ROOT, '.data') });
  });

program
  .command('token')
  .description('print a bearer token for a user of the running local stack')
  .addHelpText('after', HELP_EXAMPLES.token)
  .argument('<user>', 'a user from the users file (alice, bob, carol)')
  .addOption(
    new Option('--ttl <duration>', 'lifetime: 900, 90s, 15m, 1h').default(900, '15m').argParser(duration),
  )
  .option('--data <dir>', 'where the running stack keeps its state', join(ROOT, '.data'))
  .option('--agent <client-id>', 'the agent (client_id) the token is issued to, to try agent rules')
  .option(
    '--act <actor,...>',
    'a delegation chain (RFC 8693 act claim), current actor first, to try delegation rules',
    (value: string) =>
      value
        .split(',')
        .map((actor) => actor.trim())
        .filter((actor) => actor.length > 0),
  )
  .action(async (user: string, options: TokenOptions) => {
    const { runToken } = require('../cli/token') as typeof import('../cli/token');
    await runToken(user, options);
  });

const audit = program
  .command('audit')
  .description('the audit trail')
  .addHelpText('after', HELP_EXAMPLES.audit);

audit
  .command('redrive')
  .description('replay audit events parked in the dead-letter queue into the CloudTrail Lake channel')
  .addHelpText('after', HELP_EXAMPLES.auditRedrive)
  .requiredOption('--queue-url <url>', 'the DeadLetterQueueUrl stack output')
  .requiredOption('--channel-arn <arn>', 'the AuditChannelArn stack output')
  .option(
    '--region <region>',
    'AWS Region (default: AWS_REGION, else the region of AWS_PROFILE in ~/.aws/config)',
  )
  .option('--external-id <id>', 'the channel’s external id, if its resource policy requires one')
  .option('--max <count>', 'stop after this many messages', (value) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a positive integer');
    return parsed;
  })
  .option(
    '--delivered-table <name>',
    'the DeliveredUidTableName output: skip events already delivered (without it, only duplicates within this run are skipped)',
  )
  .option('--dry-run', 'show what is parked, send and delete nothing', false)
  .option('--json', 'print the report as JSON', false)
  .action(async (options: RedriveOptions) => {
    // loaded on use: the SQS, S3, DynamoDB and CloudTrail clients cost a few hundred milliseconds at start
    const { runRedrive } = require('../cli/audit-redrive') as typeof import('../cli/audit-redrive');
    await runRedrive(options);
  });

// --- policies ---------------------------------------------------------------------------------------------

const DEFAULT_POLICY_DIR = join(ROOT, 'policies');
const policies = program
  .command('policies')
  .description('write, check, test and deploy Cedar policies')
  .addHelpText('after', HELP_EXAMPLES.policies);

registerPolicyCommands(policies, { dir: DEFAULT_POLICY_DIR });
registerAuthorizeCommand(policies, { dir: DEFAULT_POLICY_DIR, users: join(ROOT, 'local', 'users.json') });
registerReplayCommand(policies, { dir: DEFAULT_POLICY_DIR, data: join(ROOT, '.data') });

// --- schema -----------------------------------------------------------------------------------------------

registerSchemaCommand(program, DEFAULT_POLICY_DIR);

// --- doctor -----------------------------------------------------------------------------------------------

registerInitCommand(program);
registerDoctorCommand(program, { config: join(process.cwd(), 'cdk.json') });

// --- grant, revoke (access over time) ---------------------------------------------------------------------

registerGrantCommands(program, { data: join(ROOT, '.data'), config: join(process.cwd(), 'cdk.json') });

// --- activity ---------------------------------------------------------------------------------------------

registerActivityCommand(program, { data: join(ROOT, '.data') });

async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help asked for and the version are not failures. Help shown because a group was run without its
      // subcommand (`policies`, `audit`) is commander's `commander.help` with exit code 1: a usage error, like
      // everything else commander raises.
      return error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        (error.code === 'commander.help' && error.exitCode === 0)
        ? 0
        : EXIT_USAGE;
    }
    // The local stack's own failure classes (LocalStackError, TargetBridgeError, UsersFileError) reach here as
    // CliError: cli/dev.ts converts them, so this file does not load the local stack to recognise them.
    if (
      error instanceof CliError ||
      error instanceof TargetSpecError ||
      error instanceof McpIdentityError ||
      error instanceof PolicyStoreError ||
      error instanceof SchemaGenerationError ||
      error instanceof ActivityError ||
      error instanceof AwsSetupError
    ) {
      process.stderr.write(`mcp-identity: ${error.message}\n`);
      return EXIT_FAILED;
    }
    // What AWS answered (access denied, not found, expired credentials…) is expected: one line, no stack.
    const aws = describeAwsError(error);
    if (aws !== undefined) {
      process.stderr.write(`mcp-identity: ${aws}\n`);
      return EXIT_FAILED;
    }
    process.stderr.write(
      `mcp-identity: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT_FAILED;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
