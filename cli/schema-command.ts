import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { parseToolName } from '../lambda/core/mcp-operation';
import { TOKEN_ENV } from './bearer-token';
import { HELP_EXAMPLES } from './help-examples';

/**
 * `mcp-identity schema generate`: the command's options and help (light, so `--help` answers at once); the
 * generation, drift report and writing are in `schema-run.ts`.
 */

export interface GenerateOptions {
  from?: string;
  fromUrl?: string;
  endpoint?: string;
  token?: string;
  tokenFile?: string;
  target?: string;
  dir: string;
  stub?: string;
  out?: string;
  inject: string;
  pins: boolean;
  check: boolean;
  json: boolean;
  timeout: number;
}

function targetName(value: string): string {
  if (
    !/^[A-Za-z0-9_.-]{1,100}$/.test(value) ||
    value.includes('___') ||
    parseToolName(`${value}___x`) === undefined
  )
    throw new InvalidArgumentError('a target name: letters, digits, _ . - (no "___")');
  return value;
}

function seconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0 || parsed > 3600)
    throw new InvalidArgumentError('seconds, between 1 and 3600');
  return parsed;
}

/** Registers `schema generate` on the CLI program. */
export function registerSchemaCommand(program: Command, policyDir: string): void {
  program
    .command('schema')
    .description('the Cedar schema')
    .addHelpText('after', HELP_EXAMPLES.schema)
    .command('generate')
    .description(
      'generate the Cedar schema (one action per MCP tool, typed context.input, pinned definition) from what a gateway lists',
    )
    .addHelpText('after', HELP_EXAMPLES.schemaGenerate)
    .option('--from <file>', 'a tools/list result (JSON)')
    .option('--from-url <url>', "the gateway's MCP URL: list its tools (every target, every page)")
    .addOption(new Option('--endpoint <url>', 'older name of --from-url').hideHelp())
    .option('--token <jwt>', `bearer token for --from-url (or --token-file, or ${TOKEN_ENV})`)
    .option('--token-file <path>', 'read the bearer token from a file')
    .option(
      '--target <name>',
      "regenerate only this target's tools (name___*) and merge them into --out",
      targetName,
    )
    .option(
      '--dir <folder>',
      'the policy folder: its schema-stub.cedarschema and schema.cedarschema',
      policyDir,
    )
    .option('--stub <file>', 'schema stub (default: the one in --dir, else the one this package ships)')
    .option(
      '--out <file>',
      'schema to write, and with --target to merge into (default: schema.cedarschema in --dir)',
    )
    .option(
      '--inject <names>',
      'parameters the gateway injects (left out of context.input and of the pinned digests)',
      '_caller_user,_caller_roles',
    )
    .option('--no-pins', "do not pin the tools' definitions (their target is then not pinned)")
    .option('--check', 'write nothing; report drift and exit 1 when the schema would change', false)
    .option('--json', 'the report as JSON', false)
    .addOption(new Option('--timeout <seconds>', 'per request to --from-url').default(60).argParser(seconds))
    .action(async (options: GenerateOptions) => {
      // loaded on use: cedar-wasm, the schema generator and the MCP SDK cost about a second at start
      const { schemaGenerate } = require('./schema-run') as typeof import('./schema-run');
      process.exitCode = await schemaGenerate(options, join(policyDir, 'schema-stub.cedarschema'));
    });
}
