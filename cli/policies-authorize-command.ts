import { type Command, InvalidArgumentError, Option } from 'commander';
import type { AuthorizeOptions } from './policies-authorize';

/**
 * `mcp-identity policies authorize`: the command's options and help (light, so `--help` answers at once); the
 * decision and its explanation are in `policies-authorize.ts`.
 */

/** `--roles a,b`: a list (empty for `--roles ''`). */
export function roleList(value: string): string[] {
  return value
    .split(',')
    .map((role) => role.trim())
    .filter((role) => role.length > 0);
}

function toolName(value: string): string {
  if (value.trim().length === 0) throw new InvalidArgumentError('a tool name, e.g. orders___update_order');
  return value;
}

/** Registers `policies authorize` on the `policies` command group. */
export function registerAuthorizeCommand(policies: Command, defaults: { dir: string; users: string }): void {
  policies
    .command('authorize')
    .description(
      'would this user be allowed to call this tool, and why? Decides on the policy folder with the gateway’s own code (exit 0 allow, 3 deny, 1 error)',
    )
    .addOption(new Option('--user <name>', 'the user (token subject); roles from --users unless --roles'))
    .addOption(
      new Option('--roles <a,b>', 'the roles, comma-separated (overrides the users file)').argParser(
        roleList,
      ),
    )
    .option('--agent <client-id>', 'the agent (OAuth client id) acting for the user')
    .addOption(
      new Option('--act <actor,...>', 'a delegation chain (the token act claim), current actor first')
        .argParser(roleList)
        .conflicts('tokenFile'),
    )
    .requiredOption('--tool <name>', 'the tool, e.g. orders___update_order', toolName)
    .addOption(new Option('--args <json>', 'the tool arguments as a JSON object').conflicts('argsFile'))
    .option('--args-file <file>', 'the tool arguments from a JSON file')
    .addOption(
      new Option(
        '--token-file <file>',
        'take the caller from a sample token’s claims (decoded, not verified)',
      ).conflicts(['user', 'roles']),
    )
    .option('--users <file>', 'local users and their roles', defaults.users)
    .option('--dir <dir>', 'policy folder', defaults.dir)
    .option('--json', 'the explanation as JSON', false)
    .addHelpText(
      'after',
      `
Examples:
  npx mcp-identity policies authorize --user alice --tool orders___get_order --args '{"order_id":"1001"}'
  npx mcp-identity policies authorize --user bob --roles order-admin --tool orders___update_order \\
      --args '{"order_id":"1","status":"refunded","amount":900}'
  npx mcp-identity policies authorize --token-file token.jwt --tool orders___get_order --args-file args.json --json

Exit codes: 0 allowed, 3 denied, 1 could not decide (bad input, invalid policies, engine error), 2 bad usage.`,
    )
    .action(async (options: AuthorizeOptions) => {
      // loaded on use: cedar-wasm and the gateway's authorization code cost about half a second at start
      const { authorize } = require('./policies-authorize') as typeof import('./policies-authorize');
      await authorize(options);
    });
}
