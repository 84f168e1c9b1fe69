import type { Command } from 'commander';
import { HELP_EXAMPLES } from './help-examples';

/**
 * `npx mcp-identity policies validate|test|format|diff|push`: the commands' options and help (light, so `--help`
 * answers at once); what they do is in `policies-commands-run.ts`.
 */

// loaded on use: cedar-wasm and the Verified Permissions client cost about a second at start
const policiesRun = () => require('./policies-commands-run') as typeof import('./policies-commands-run');

const REGION_HELP = 'AWS Region (default: AWS_REGION, else the region of AWS_PROFILE in ~/.aws/config)';

/** Registers validate, test, format, diff and push on the `policies` command group. */
export function registerPolicyCommands(policies: Command, defaults: { readonly dir: string }): void {
  policies
    .command('validate')
    .description(
      'STRICT validation against the schema (as Verified Permissions validates), plus unguarded reads in forbids',
    )
    .addHelpText('after', HELP_EXAMPLES.policiesValidate)
    .option('--dir <dir>', 'policy folder', defaults.dir)
    .option('--warnings-as-errors', 'fail on warnings too', false)
    .option(
      '--json',
      'findings as JSON: file (relative to --dir), line, column, endLine, endColumn, message, help',
      false,
    )
    .action((options) => policiesRun().validate(options));

  policies
    .command('test')
    .description('run the ALLOW/DENY decision fixtures with the real Cedar engine')
    .addHelpText('after', HELP_EXAMPLES.policiesTest)
    .option('--dir <dir>', 'policy folder', defaults.dir)
    .option('--json', 'results as JSON', false)
    .action((options) => policiesRun().test(options));

  policies
    .command('format')
    .description('format every policy file with the Cedar formatter')
    .addHelpText('after', HELP_EXAMPLES.policiesFormat)
    .option('--dir <dir>', 'policy folder', defaults.dir)
    .option('--check', 'change nothing; fail if a file is not formatted', false)
    .action((options) => policiesRun().format(options));

  policies
    .command('diff')
    .description('compare the policy folder with a Verified Permissions policy store')
    .addHelpText('after', HELP_EXAMPLES.policiesDiff)
    .requiredOption('--store <policy-store-id>', 'the policy store (the PolicyStoreId stack output)')
    .option('--dir <dir>', 'policy folder', defaults.dir)
    .option('--region <region>', REGION_HELP)
    .option('--json', 'the diff as JSON', false)
    .action((options) => policiesRun().diff(options));

  policies
    .command('push')
    .description(
      'apply the policy folder to a Verified Permissions policy store (schema first, then create, update, delete)',
    )
    .addHelpText('after', HELP_EXAMPLES.policiesPush)
    .requiredOption('--store <policy-store-id>', 'the policy store')
    .option('--dir <dir>', 'policy folder', defaults.dir)
    .option('--region <region>', REGION_HELP)
    .option('--dry-run', 'show what would be done, change nothing', false)
    .option('--force', 'push even to a store managed by CloudFormation (creates drift)', false)
    .action((options) => policiesRun().push(options));
}
