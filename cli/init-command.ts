import { type Command, Option } from 'commander';
import { CONFIG_FILE } from '../lib/config-file';
import { AUDIT_STORES, type Field, kebab } from './init-fields';
import { claimFields, IDP_IDS, type IdpId, PRESETS } from './init-presets';

/**
 * `mcp-identity init`: the command's options and help (light, so `--help` answers at once); the questions, the
 * checks and the writing are in `init.ts`.
 */

/** Flag help for the questions several providers ask (each provider's own wording is in its question). */
const SHARED_HINTS: Readonly<Record<string, string>> = {
  audience:
    'the aud value(s) tokens carry, comma-separated (what it is per provider: docs/identity-providers.md)',
  subjectClaim:
    'the claim holding the stable user id (default per provider: sub, oid for entra, uid for okta)',
  rolesClaim: 'the claim holding roles or groups; dots reach into objects (default per provider)',
  domain: 'the provider domain, e.g. dev-123456.okta.com or example.eu.auth0.com',
};

/** Every provider field, by id, for the flags (one flag may serve several providers). */
export function providerFlags(): Map<string, { field: Field; idps: IdpId[] }> {
  const flags = new Map<string, { field: Field; idps: IdpId[] }>();
  for (const id of IDP_IDS)
    for (const field of [...PRESETS[id].fields, ...claimFields(PRESETS[id])]) {
      const known = flags.get(field.id);
      if (known === undefined) flags.set(field.id, { field, idps: [id] });
      else known.idps.push(id);
    }
  return flags;
}

/** Registers `init` on the program. */
export function registerInitCommand(program: Command): void {
  const command = program
    .command('init')
    .description(
      `write ${CONFIG_FILE} for your identity provider, audit store and gateway targets (asks on a terminal; flags otherwise)`,
    )
    .addOption(new Option('--idp <provider>', 'identity provider').choices(IDP_IDS))
    .addOption(
      new Option('--audit-store <store>', 'audit store (default: cloudwatch)').choices(AUDIT_STORES),
    );
  const flags = providerFlags();
  for (const [id, { field, idps }] of flags)
    command.option(
      `--${kebab(id)} <value>`,
      `${idps.length === IDP_IDS.length ? 'any provider' : idps.join('/')}: ${SHARED_HINTS[id] ?? field.hint}`,
    );
  command
    .option(
      '--target <json>',
      'a gateway target as JSON (lib/target-config.ts kinds); repeatable',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--no-demo', 'leave out the demo orders target')
    .option('--file <path>', 'where to write', CONFIG_FILE)
    .option('--force', 'replace an existing file', false)
    .option('--print', 'print the configuration to stdout instead of writing a file', false)
    .option('--no-input', 'never ask, even on a terminal: missing flags are an error')
    .addHelpText(
      'after',
      `
Examples:
  npx mcp-identity init                                   # asks, on a terminal
  npx mcp-identity init --idp okta --domain dev-123456.okta.com --audience api://default
  npx mcp-identity init --idp cognito --region eu-west-1 --user-pool-id eu-west-1_AbC123 \\
      --client-id 1example23456789 --audience https://mcp.example.com/mcp
  npx mcp-identity init --idp entra --tenant-id <tenant GUID> --audience <API app client id GUID> --print
  npx mcp-identity init --idp keycloak --url https://kc.example.com --realm acme --audience mcp-gateway \\
      --target '{"kind":"mcpServer","name":"crm","endpoint":"https://crm.example.com/mcp","outboundAuth":{"type":"none"}}'

Exit codes: 0 written, 2 bad usage or invalid answers (nothing written), 1 other failures (e.g. the file exists).
Provider quirks: docs/identity-providers.md`,
    )
    .action(async (raw: Record<string, unknown>) => {
      // loaded on use: the configuration loader (zod, aws-cdk-lib) costs a few hundred milliseconds at start
      const { init } = require('./init') as typeof import('./init');
      process.exitCode = await init(raw, [...flags.keys()]);
    });
}
