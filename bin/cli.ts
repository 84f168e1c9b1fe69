import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ActivityError } from '../cli/activity';
import { registerActivityCommand } from '../cli/activity-command';
import { redriveStores } from '../cli/audit-redrive-stores';
import { AwsSetupError, awsContext, describeAwsError } from '../cli/aws-context';
import { registerDoctorCommand } from '../cli/doctor';
import { registerGrantCommands } from '../cli/grant-commands';
import { HELP_EXAMPLES } from '../cli/help-examples';
import { registerInitCommand } from '../cli/init';
import { registerAuthorizeCommand } from '../cli/policies-authorize';
import { registerPolicyCommands } from '../cli/policies-commands';
import { registerReplayCommand } from '../cli/policies-replay';
import { PolicyStoreError } from '../cli/policy-store-sync';
import { SchemaGenerationError } from '../cli/schema';
import { registerSchemaCommand } from '../cli/schema-command';
import { redriveDeadLetters } from '../lambda/adapters/audit-redrive';
import { CloudTrailDataClient, parseChannelArn } from '../lambda/adapters/cloudtrail-data-client';
import { McpIdentityError } from '../lambda/core/errors';
import { MAX_DEV_TTL_SECONDS } from '../local/dev-issuer';
import { DOOR_KINDS, type DoorKind } from '../local/doors';
import { seedPolicyFolder } from '../local/policy-folder';
import { LocalStackError, type LocalStackState, STATE_FILE, startLocalStack } from '../local/stack';
import { TargetBridgeError } from '../local/target-bridge';
import { parseTargetSpecs, TargetSpecError } from '../local/target-specs';
import { UsersFileError } from '../local/users';

// The SDK warns on Node < 22 about its releases after January 2027 (eight lines on stderr before every AWS
// command's output; our SDK versions are pinned). Set the variable to 'false' to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Exit codes: 0 done, 1 failed (clear message on stderr), 2 bad usage. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const ROOT = resolve(__dirname, '..');

class CliError extends Error {}
/** Bad usage that commander cannot see (a combination of options): exit code 2 like its own. */
class UsageError extends Error {}

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

function readState(dataDir: string): LocalStackState {
  const path = join(dataDir, STATE_FILE);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LocalStackState;
  } catch {
    throw new CliError(`no local stack is running (no ${path}). Start it with: npm start`);
  }
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
  .action(
    async (options: {
      door: DoorKind;
      authorizerCacheTtl: number;
      port: number;
      issuerPort: number;
      policies: string;
      users: string;
      data: string;
      logOnly: boolean;
      watch: boolean;
      console: boolean;
      target: string[];
    }) => {
      const out = (line: string) => process.stdout.write(`${line}\n`);
      const targets = parseTargetSpecs(options.target);
      if (resolve(options.policies) !== join(ROOT, 'policies')) {
        const seeded = seedPolicyFolder(options.policies, join(ROOT, 'policies'));
        if (seeded.length > 0)
          out(
            `Created a starter policy folder ${options.policies} (${seeded.join(', ')}): no tool is allowed yet. List your tools into its schema with: npx mcp-identity schema generate --from-url <MCP endpoint> --token "$(npx mcp-identity token ops)" --dir ${options.policies} [--target NAME]`,
          );
      }
      out('Starting the mcp-identity local stack…');
      let stack: Awaited<ReturnType<typeof startLocalStack>>;
      try {
        stack = await startLocalStack({
          port: options.port,
          issuerPort: options.issuerPort,
          policyDir: options.policies,
          usersFile: options.users,
          dataDir: options.data,
          watchPolicies: options.watch,
          console: options.console,
          mode: options.logOnly ? 'log-only' : 'enforce',
          log: out,
          targets,
          door: options.door,
          authorizerCacheTtlSeconds: options.authorizerCacheTtl,
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') {
          throw new CliError(
            `a port is already in use (${(error as Error).message.replace(/^listen /, '')}); choose others with --port and --issuer-port`,
          );
        }
        throw error;
      }
      const dataFlag = resolve(options.data) === join(ROOT, '.data') ? '' : ` --data ${options.data}`;
      // Behind the API Gateway door a token must outlive the authorizer's cache, or the authorizer refuses it.
      const apiGateway = stack.door === 'apigateway';
      const ttl = 3600 + (apiGateway ? options.authorizerCacheTtl : 0);
      const users = stack.users();
      const tokens = await Promise.all(
        Object.keys(users).map(async (name) => [name, await stack.token(name, ttl)] as const),
      );
      const width = Math.max(...Object.keys(users).map((name) => name.length));
      const first = tokens[0]?.[0] ?? 'alice';
      out('');
      out(
        `mcp-identity local stack is up${options.logOnly ? ' in LOG-ONLY mode (denials are recorded, not enforced)' : ''}. Ctrl-C to stop.`,
      );
      out('');
      out(`  MCP endpoint       ${stack.mcpUrl}   (Streamable HTTP, ${stack.doorDescription})`);
      if (stack.consoleUrl !== undefined)
        out(`  console            ${stack.consoleUrl}   (live decisions, activity, policy playground)`);
      out(`  identity provider  ${stack.issuer}   (dev OIDC issuer, ephemeral keys)`);
      if (apiGateway)
        out(
          `  authorizer cache   ${options.authorizerCacheTtl} s   (tokens expiring sooner get 401; --authorizer-cache-ttl)`,
        );
      for (const target of stack.targets) out(`  target             ${target.name}___*   ${target.describe}`);
      if (stack.targets.some((target) => target.delivery.assertion))
        out(
          `  identity assertion ${stack.assertion.header} (iss ${stack.assertion.issuer}, aud = target name; JWKS ${stack.assertion.jwksUrl})`,
        );
      out(
        `  policies           ${options.policies}   (${stack.policies().policies.length} policies${options.watch ? '; edits reload automatically' : ''})`,
      );
      out(`  audit store        ${stack.auditFile}`);
      out('');
      out(`Bearer tokens (valid ${ttl / 60} min; a fresh one: npx mcp-identity token ${first}${dataFlag}):`);
      for (const [name, token] of tokens)
        out(`  ${name.padEnd(width)}  [${users[name]?.roles.join(', ')}]\n  ${' '.repeat(width)}  ${token}`);
      out('');
      out('Try it:');
      out(`  TOKEN=$(npx mcp-identity token ${first}${dataFlag})`);
      const tryCall =
        stack.target === undefined
          ? '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
          : '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"orders___get_order","arguments":{"order_id":"1001"}}}';
      out(
        `  curl -s ${stack.mcpUrl} -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '${tryCall}'`,
      );
      out(
        `  npx -y @modelcontextprotocol/inspector@0.21.2 --cli ${stack.mcpUrl} --transport http --method tools/list --header "Authorization: Bearer $TOKEN"`,
      );
      out('');
      out('Requests:');

      await new Promise<void>((resolvePromise) => {
        const stop = (signal: string) => {
          out(`\n${signal}: stopping…`);
          stack.stop().then(() => {
            out('stopped.');
            resolvePromise();
          });
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    },
  );

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
  .action(async (user: string, options: { ttl: number; data: string; agent?: string; act?: string[] }) => {
    const state = readState(options.data);
    let response: Response;
    try {
      response = await fetch(state.tokenEndpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          user,
          ttlSeconds: options.ttl,
          ...(options.agent === undefined ? {} : { agent: options.agent }),
          ...(options.act === undefined ? {} : { act: options.act }),
        }),
        signal: AbortSignal.timeout(5000),
      });
    } catch {
      throw new CliError(
        `the local stack at ${state.issuer} is not answering (stopped?). Start it with: npm start`,
      );
    }
    const body = (await response.json().catch(() => ({}))) as {
      access_token?: string;
      error_description?: string;
      users?: string[];
    };
    if (response.status === 404)
      throw new CliError(
        `${body.error_description ?? 'unknown user'}; known users: ${(body.users ?? []).join(', ')}`,
      );
    if (!response.ok || body.access_token === undefined)
      throw new CliError(`token request failed: ${body.error_description ?? `HTTP ${response.status}`}`);
    process.stdout.write(`${body.access_token}\n`);
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
  .action(
    async (options: {
      queueUrl: string;
      channelArn: string;
      region?: string;
      externalId?: string;
      max?: number;
      dryRun: boolean;
      deliveredTable?: string;
      json: boolean;
    }) => {
      const channel = parseChannelArn(options.channelArn);
      if ('error' in channel) throw new CliError(`--channel-arn: ${channel.error}`);
      const aws = await awsContext(options.region === undefined ? {} : { region: options.region });
      const report = await redriveDeadLetters(
        new SQSClient(aws),
        // PutAuditEvents goes to the channel's own region, at its partition's endpoint.
        new CloudTrailDataClient({
          region: channel.region,
          credentials: aws.credentials,
          channelArn: options.channelArn,
          ...(options.externalId ? { externalId: options.externalId } : {}),
        }),
        {
          queueUrl: options.queueUrl,
          dryRun: options.dryRun,
          ...redriveStores(options.queueUrl, options.deliveredTable),
          ...(options.max === undefined ? {} : { maxMessages: options.max }),
          onProgress: (line) => process.stderr.write(`${line}\n`),
        },
      );
      if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        process.stdout.write(
          options.dryRun
            ? `${report.events} parked event(s) in ${report.messages} message(s); by cause: ${JSON.stringify(report.byErrorCode)}; ${report.unreadable} unreadable\n`
            : `redriven ${report.redriven} event(s); ${report.stillFailing} still failing (left in the queue); ${report.unreadable} unreadable message(s)${report.undeleted > 0 ? `; ${report.undeleted} redriven message(s) could not be deleted and will come back` : ''}\n`,
        );
      }
      if (!options.dryRun && (report.stillFailing > 0 || report.unreadable > 0 || report.undeleted > 0))
        process.exitCode = EXIT_FAILED;
    },
  );

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
    if (error instanceof UsageError) {
      process.stderr.write(`mcp-identity: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof CommanderError) {
      // Help and version are not failures; everything else commander raises is a usage error.
      return error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
        ? 0
        : EXIT_USAGE;
    }
    if (
      error instanceof CliError ||
      error instanceof UsersFileError ||
      error instanceof LocalStackError ||
      error instanceof TargetSpecError ||
      error instanceof TargetBridgeError ||
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
