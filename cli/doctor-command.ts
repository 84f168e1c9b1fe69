import type { Command } from 'commander';

/** `mcp-identity doctor`: the command's options and help (light); the checks are in `doctor.ts`. */

/** Registers `doctor` on the program. */
export function registerDoctorCommand(program: Command, defaults: { config: string }): void {
  program
    .command('doctor')
    .description(
      'check an account, a Region and the configuration before deploying (exit 1 if a check fails)',
    )
    .option(
      '--config <file>',
      'cdk.json (with mcp-identity.config.json merged over its context), or a whole configuration file',
      defaults.config,
    )
    .option('--token-file <file>', 'a sample access token to check against the configuration')
    .option('--region <region>', 'AWS Region (default: AWS_REGION, else the region of AWS_PROFILE)')
    .option('--offline', 'skip every check that needs the network', false)
    .option('--json', 'the results as JSON', false)
    .addHelpText(
      'after',
      `
Examples:
  npx mcp-identity doctor
  npx mcp-identity doctor --token-file token.jwt
  npx mcp-identity doctor --offline --config my-config.json --token-file token.jwt`,
    )
    .action(
      async (options: {
        config: string;
        tokenFile?: string;
        region?: string;
        offline: boolean;
        json: boolean;
      }) => {
        // loaded on use: the AWS SDK clients and the token verifier cost about half a second at start
        const { formatResults, runDoctor } = require('./doctor') as typeof import('./doctor');
        const results = await runDoctor({
          configFile: options.config,
          offline: options.offline,
          ...(options.tokenFile === undefined ? {} : { tokenFile: options.tokenFile }),
          ...(options.region === undefined ? {} : { region: options.region }),
        });
        process.stdout.write(
          options.json ? `${JSON.stringify(results, null, 2)}\n` : `${formatResults(results).join('\n')}\n`,
        );
        process.exitCode = results.some((result) => result.status === 'fail') ? 1 : 0;
      },
    );
}
