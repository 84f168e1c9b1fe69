import { type Command, InvalidArgumentError, Option } from 'commander';
import { AUDIT_FILE } from '../local/stack-names';
import { parseWhen } from './activity-when';
import type { ReplayCommandOptions } from './policies-replay';

/**
 * `mcp-identity policies replay`: the command's options and help (light, so `--help` answers at once); the
 * replay itself is in `policies-replay.ts`.
 */

function asTime(value: string): Date {
  try {
    return parseWhen(value, new Date());
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function positive(max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1 || parsed > max)
      throw new InvalidArgumentError(`must be a whole number from 1 to ${max}`);
    return parsed;
  };
}

/** Registers `policies replay` on the `policies` command group. */
export function registerReplayCommand(
  policies: Command,
  defaults: { readonly dir: string; readonly data: string },
): void {
  policies
    .command('replay')
    .description(
      're-decide recorded decisions under a candidate policy folder and report what would change (a CI gate for policy changes)',
    )
    .option('--policies <dir>', 'the candidate policy folder (schema and policies)', defaults.dir)
    .option('--since <when>', 'ISO time or relative (30m, 24h, 7d) (default: 7d)', asTime)
    .option('--until <when>', 'ISO time or relative (default: now)', asTime)
    .option('--user <subject>', 'only this user (token subject)')
    .option('--tool <name>', 'only this tool, e.g. orders___update_order')
    .addOption(
      new Option('--decision <decision>', 'only recorded allows or denials').choices(['allow', 'deny']),
    )
    .option('--agent <client-id>', 'only this agent (OAuth client id)')
    .addOption(
      new Option(
        '--store <store>',
        'where the recorded decisions are (default: --event-data-store, --log-group, --stack, else local)',
      ).choices(['local', 'cloudtrail-lake', 'cloudwatch']),
    )
    .option('--data <dir>', `the local stack's folder; its ${AUDIT_FILE} is read`, defaults.data)
    .addOption(
      new Option('--file <path>', 'a JSONL file of audit events (an export of the local store)').conflicts(
        'data',
      ),
    )
    .option('--event-data-store <id>', 'CloudTrail Lake event data store id or ARN (EventDataStoreId output)')
    .option('--log-group <name>', 'the audit log group (AuditLogGroup output), read with Logs Insights')
    .option('--stack <name>', 'read the audit store from this deployed stack’s outputs')
    .option('--region <region>', 'AWS Region (default: AWS_REGION, else the region of AWS_PROFILE)')
    .option('--timeout <seconds>', 'give up (and cancel the query) after this long', positive(3600), 600)
    .option('--limit <count>', 'most events to read', positive(10_000_000), 1_000_000)
    .option('--resource-id <id>', "the gateway's Cedar resource id (its RESOURCE_ID setting)", 'gateway')
    .addOption(
      new Option('--fail-on <change>', 'exit 4 when this happens (CI gate)').choices([
        'newly-denied',
        'newly-allowed',
        'any',
      ]),
    )
    .option(
      '--allow-unreplayable',
      'with --fail-on: pass although events that could hide a change (arguments or token facts not recorded, truncated) could not be replayed',
      false,
    )
    .option('--listings', 'also replay tools/list answers: which tools each caller would see', false)
    .option('--show-arguments', 'add the recorded (redacted) tool arguments of changed calls', false)
    .addOption(new Option('--json', 'the report as JSON').default(false).conflicts('csv'))
    .option('--csv', 'the changed calls as CSV (RFC 4180; formula-like cells neutralised)', false)
    .addHelpText(
      'after',
      `
Examples:
  npx mcp-identity policies replay --policies ./candidate --since 7d
  npx mcp-identity policies replay --policies ./candidate --file audit-export.jsonl --fail-on newly-denied
  npx mcp-identity policies replay --log-group /mcp-identity/audit --region eu-west-1 --json
  npx mcp-identity policies replay --stack McpIdentity --since 7d --fail-on newly-denied
  npx mcp-identity policies replay --event-data-store <EventDataStoreId> --user alice --csv > changes.csv

Exit codes: 0 done, 4 the --fail-on condition holds, 1 could not replay (store, policies, AWS; with --fail-on\nalso a replay cut short by --limit, one that could replay none of the events it read, or events that could\nhide a change left unreplayed, unless --allow-unreplayable), 2 bad usage.`,
    )
    .action(async (options: ReplayCommandOptions) => {
      // loaded on use: cedar-wasm and the AWS SDK clients cost about a second at start
      const { runReplay } = require('./policies-replay') as typeof import('./policies-replay');
      process.exitCode = await runReplay(options);
    });
}
