import { type Command, Option } from 'commander';

/**
 * `mcp-identity grant` and `mcp-identity revoke`: the commands' options and help (light, so `--help` answers at
 * once); what they do — on the local stack's file or the deployed grants table — is in `grant-run.ts`.
 */

export interface StoreOptions {
  data: string;
  stack?: string;
  table?: string;
  region?: string;
  as?: string;
  config: string;
  /** Whether `--config` was named on the command line (a missing file is then an error, not the defaults). */
  configGiven?: boolean;
}

/** Whether `--config` was given on the command line of `command` or, for a subcommand, of its parent. */
export function configGiven(command: Command): boolean {
  const owner = command.options.some((option) => option.long === '--config') ? command : command.parent;
  return owner?.getOptionValueSource('config') === 'cli';
}

// loaded on use: the DynamoDB, STS and CloudFormation clients cost a few hundred milliseconds at start
const grantRun = () => require('./grant-run') as typeof import('./grant-run');

function storeOptions(command: Command, defaults: { data: string; config: string }): Command {
  return command
    .option(
      '--data <dir>',
      "the local stack's folder (its access.json is the local grant store)",
      defaults.data,
    )
    .addOption(new Option('--stack <name>', 'the deployed stack: its GrantsTable output').conflicts('table'))
    .option('--table <name>', 'the grants table by name')
    .option('--region <region>', 'AWS Region (default: AWS_REGION, else the profile’s region)')
    .option('--as <name>', 'local stack only: who is issuing (default: your OS user name)')
    .option('--config <path>', 'cdk.json whose mcpIdentity.grants settings apply', defaults.config);
}

export function registerGrantCommands(program: Command, defaults: { data: string; config: string }): void {
  const grant = storeOptions(
    program
      .command('grant')
      .description('give a user a role for a bounded time (just-in-time access); list and revoke grants')
      .option('--user <subject>', 'the user (token subject) who gets the role')
      .option('--role <role>', 'the role, as policies name it (e.g. order-admin)')
      .option('--for <duration>', 'how long: 90s, 15m, 2h, 1d (at most grants.maxDuration, 12h by default)')
      .option('--reason <text>', 'why (an incident or ticket id): audited and shown')
      .addHelpText(
        'after',
        `\nExamples:\n  npx mcp-identity grant --user alice --role order-admin --for 2h --reason "INC-1234"\n  npx mcp-identity grant list --user alice\n  npx mcp-identity grant revoke g-abc123 --reason "incident closed"\n  npx mcp-identity grant --stack McpIdentity --user alice --role order-admin --for 30m --reason INC-9\n`,
      ),
    defaults,
  ).action(
    async (
      options: StoreOptions & { user?: string; role?: string; for?: string; reason?: string },
      command: Command,
    ) => grantRun().grant({ ...options, configGiven: configGiven(command) }),
  );

  // Subcommands share the parent's options (store, --user, --reason), read with optsWithGlobals: commander
  // gives an option named on both to the parent, whichever side of the subcommand it is written.
  grant
    .command('list')
    .description('the grants in the store (active first); --user <subject> for one user')
    .addHelpText(
      'after',
      `\nExamples:\n  npx mcp-identity grant list\n  npx mcp-identity grant list --user alice --all --json\n  npx mcp-identity grant list --stack McpIdentity\n`,
    )
    .option('--all', 'also expired and revoked grants still in the store', false)
    .option('--json', 'JSON output', false)
    .action(async (_options: unknown, command: Command) => grantRun().grantList(command));

  grant
    .command('revoke <id>')
    .description('end a grant now (--reason "…" required)')
    .addHelpText(
      'after',
      `\nExamples:\n  npx mcp-identity grant revoke g-abc123 --reason "incident closed"\n  npx mcp-identity grant revoke g-abc123 --stack McpIdentity --reason "INC-1234 resolved"\n`,
    )
    .action(async (id: string, _options: unknown, command: Command) => grantRun().grantRevoke(id, command));

  const revoke = storeOptions(
    program
      .command('revoke')
      .description('kill switch: deny every request of a user or agent, whatever their token says')
      .option('--user <id>', "the user: matched against the token's subject, username and email (any case)")
      .option('--agent <client_id>', 'the agent (OAuth client id)')
      .option('--for <duration>', 'how long (default: until lifted)')
      .option('--reason <text>', 'why: shown to the caller on every refusal and audited')
      .addHelpText(
        'after',
        `\nExamples:\n  npx mcp-identity revoke --user alice --reason "laptop stolen"\n  npx mcp-identity revoke --agent travel-bot --for 1h --reason "prompt injection under investigation"\n  npx mcp-identity revoke list\n  npx mcp-identity revoke lift r-abc123 --reason "resolved"\n`,
      ),
    defaults,
  ).action(
    async (
      options: StoreOptions & { user?: string; agent?: string; for?: string; reason?: string },
      command: Command,
    ) => grantRun().revoke({ ...options, configGiven: configGiven(command) }),
  );

  revoke
    .command('list')
    .description('the revocations in the store (active ones unless --all)')
    .addHelpText(
      'after',
      `\nExamples:\n  npx mcp-identity revoke list\n  npx mcp-identity revoke list --all --json\n  npx mcp-identity revoke list --stack McpIdentity\n`,
    )
    .option('--all', 'also lifted and expired ones still in the store', false)
    .option('--json', 'JSON output', false)
    .action(async (_options: unknown, command: Command) => grantRun().revokeList(command));

  revoke
    .command('lift <id>')
    .description('end a revocation now (--reason "…" required)')
    .addHelpText(
      'after',
      `\nExamples:\n  npx mcp-identity revoke lift r-abc123 --reason "resolved"\n  npx mcp-identity revoke lift r-abc123 --stack McpIdentity --reason "credentials rotated"\n`,
    )
    .action(async (id: string, _options: unknown, command: Command) => grantRun().revokeLift(id, command));
}
