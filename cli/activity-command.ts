import { type Command, InvalidArgumentError, Option } from 'commander';
import { AUDIT_FILE } from '../local/stack-names';
import type { ActivityOptions } from './activity-run';
import { parseWhen } from './activity-when';
import { HELP_EXAMPLES } from './help-examples';

/**
 * `mcp-identity activity`: the command's options and help (light, so `--help` answers at once); what it runs
 * is in `activity-run.ts`, the queries, reports and output in `activity.ts`.
 */

/** `--since`/`--until` values, parsed when the command line is, so a bad one is a usage error. */
function asTime(value: string): Date {
  try {
    return parseWhen(value, new Date());
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** `--poll`: 0.2 to 300 seconds. */
function pollSeconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0.2 || parsed > 300)
    throw new InvalidArgumentError('must be 0.2..300 seconds');
  return parsed;
}

export function registerActivityCommand(program: Command, defaults: { readonly data: string }): void {
  program
    .command('activity')
    .description('who did what through agents: list, summarise or trace audited decisions')
    .addHelpText('after', HELP_EXAMPLES.activity)
    .option('--user <subject>', 'the user (token subject)')
    .option('--tool <name>', 'the tool, e.g. orders___update_order')
    .addOption(new Option('--decision <decision>', 'allow or deny').choices(['allow', 'deny']))
    .option('--agent <client-id>', 'the agent (OAuth client id)')
    .option('--since <when>', 'ISO time or relative (30m, 24h, 7d)', asTime, asTime('24h'))
    .option('--until <when>', 'ISO time or relative (default: now)', asTime)
    .option(
      '--limit <count>',
      'most rows to return',
      (value) => {
        const parsed = Number(value);
        if (!Number.isInteger(parsed) || parsed < 1 || parsed > 100_000)
          throw new InvalidArgumentError('must be 1..100000');
        return parsed;
      },
      100,
    )
    .addOption(
      new Option('--report <name>', 'summary (per user) or denials (by policy)').choices([
        'summary',
        'denials',
      ]),
    )
    .option('--request <uid>', "one request's full story by its audit event UID")
    .option('--outcomes', 'include tool-call outcome events, not only decisions', false)
    .option('--wide', 'table: add the event UID and show every cell in full (reasons are not cut)', false)
    .option('--show-arguments', 'add the tool-call arguments as the audit recorded them (redacted)', false)
    .addOption(
      new Option(
        '--store <store>',
        'where to look (default: --event-data-store, --log-group, --stack, else local)',
      ).choices(['cloudtrail-lake', 'cloudwatch', 'local']),
    )
    .option('--event-data-store <id>', 'CloudTrail Lake event data store id (the EventDataStoreId output)')
    .option('--log-group <name>', 'the audit log group (the AuditLogGroup output)')
    .option('--stack <name>', 'read the store from this deployed stack’s outputs')
    // --data names the local stack's folder, as in dev and token; --file (the audit file itself) was activity's
    // own name for it and stays as a hidden alias.
    .option('--data <dir>', `the local stack's folder; its ${AUDIT_FILE} is read`, defaults.data)
    .addOption(
      new Option('--file <path>', 'the local audit file (alias of --data)').hideHelp().conflicts('data'),
    )
    .option(
      '--region <region>',
      'AWS Region (default: AWS_REGION, else the region of AWS_PROFILE in ~/.aws/config)',
    )
    .option(
      '--timeout <seconds>',
      'give up (and cancel the query) after this long',
      (value) => Number(value),
      300,
    )
    .addOption(new Option('--json', 'JSON output').default(false).conflicts('csv'))
    .option('--csv', 'CSV output', false)
    .option(
      '--follow',
      'keep printing new events as they are written (local store or CloudWatch Logs; Ctrl-C stops)',
      false,
    )
    .option(
      '--poll <seconds>',
      'with --follow: seconds between reads (default: 1 locally, 5 on CloudWatch Logs)',
      pollSeconds,
    )
    .action(async (options: ActivityOptions, command: Command) => {
      // loaded on use: the CloudTrail, CloudWatch Logs and CloudFormation clients cost a few hundred ms at start
      const { activity } = require('./activity-run') as typeof import('./activity-run');
      await activity(options, command.getOptionValueSource('since') === 'cli');
    });
}
