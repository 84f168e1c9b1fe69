import { resolve } from 'node:path';
import type { DoorKind } from '../local/doors';
import { seedPolicyFolder } from '../local/policy-folder';
import { LocalStackError, startLocalStack } from '../local/stack';
import { TargetBridgeError } from '../local/target-bridge';
import { parseTargetSpecs } from '../local/target-specs';
import { UsersFileError } from '../local/users';
import { CliError } from './errors';

/**
 * `mcp-identity dev`: starts the local stack, prints how to reach it and runs until SIGINT or SIGTERM. Loaded
 * only when `dev` runs (bin/cli.ts declares its options), as it brings the whole local stack with it.
 */

export interface DevOptions {
  readonly door: DoorKind;
  readonly authorizerCacheTtl: number;
  readonly port: number;
  readonly issuerPort: number;
  readonly policies: string;
  readonly users: string;
  readonly data: string;
  readonly logOnly: boolean;
  readonly watch: boolean;
  readonly console: boolean;
  readonly target: string[];
}

/** The defaults of --policies and --data, so messages leave them out when they were not changed. */
export interface DevDefaults {
  readonly policies: string;
  readonly data: string;
}

export async function runDev(options: DevOptions, defaults: DevDefaults): Promise<void> {
  try {
    await serve(options, defaults);
  } catch (error) {
    // The local stack's expected failures (a bad users file, a target that does not answer…) are reported as
    // one line like the CLI's own; their classes stay out of bin/cli.ts, which would otherwise load the stack.
    if (
      error instanceof LocalStackError ||
      error instanceof TargetBridgeError ||
      error instanceof UsersFileError
    )
      throw new CliError(error.message, { cause: error });
    throw error;
  }
}

async function serve(options: DevOptions, defaults: DevDefaults): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const targets = parseTargetSpecs(options.target);
  if (resolve(options.policies) !== defaults.policies) {
    const seeded = seedPolicyFolder(options.policies, defaults.policies);
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
  const dataFlag = resolve(options.data) === defaults.data ? '' : ` --data ${options.data}`;
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
}
