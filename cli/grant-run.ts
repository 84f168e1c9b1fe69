import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { Command } from 'commander';
import { JsonlAuditSink } from '../lambda/adapters/jsonl-audit-sink';
import { isActiveGrant, isActiveRevocation, parseDuration } from '../lambda/core/access';
import { type AccessChange, buildAccessChangeEvent } from '../lambda/core/access-audit';
import { loadProjectConfig, projectConfigSection } from '../lib/config-source';
import { type GrantsConfig, grantsSchema } from '../lib/grants-config';
import { FileAccessLedger } from '../local/access-file';
import type { AccessLedger } from './access-ledger';
import { AccessLedgerError } from './access-ledger';
import { DynamoDbAccessLedger } from './access-ledger-dynamodb';
import { toTable } from './activity';
import { AwsSetupError, awsContext, describeAwsError } from './aws-context';
import { configGiven, type StoreOptions } from './grant-commands';
import {
  checkedReason,
  GrantUsageError,
  grantRow,
  issueGrant,
  issueRevocation,
  revocationRow,
  selfLiftCheck,
} from './grants';

/**
 * `mcp-identity grant` and `mcp-identity revoke` (issue 15): just-in-time role grants and the kill switch, on
 * the local stack's file (`--data`) or the deployed grants table (`--stack` / `--table`). The issuer is the
 * caller's AWS identity (STS GetCallerIdentity) or, locally, `--as` or the OS user. Locally the command writes
 * the audit event itself (the local JSONL store); in AWS the table's stream does, into the audit log group, so
 * every change — CLI, console or script — reaches the trail once.
 */

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
/** Grant and revocation events in the local store; AWS events carry the stack's own source. */
const LOCAL_AUDIT = { eventSource: 'mcp-identity-local', recipientAccountId: '000000000000' };
const DEFAULT_GRANTS: GrantsConfig = {
  enabled: true,
  maxDuration: '12h',
  allowSelfGrant: false,
  lookupTtlSeconds: 5,
  revocationBoundSeconds: 5,
};

interface Store {
  readonly ledger: AccessLedger;
  readonly issuer: () => Promise<string>;
  /** Writes the audit event (local); in AWS the table stream does. */
  readonly audit: (change: AccessChange) => Promise<string | undefined>;
}

/**
 * The grant limits that apply: the project's `mcpIdentity.grants`. No file at the default path (a command run
 * outside a project) means the defaults; a `--config` named on the command line must exist. A configuration that
 * does not load as a whole (an identity section not filled in yet) still gives its grants section, validated on
 * its own: the defaults never stand in for a stricter limit someone configured.
 */
function grantsConfig(options: Pick<StoreOptions, 'config' | 'configGiven'>): GrantsConfig {
  if (!existsSync(options.config)) {
    if (options.configGiven === true) throw new GrantUsageError(`--config ${options.config}: no such file`);
    return DEFAULT_GRANTS;
  }
  try {
    return loadProjectConfig(options.config).config.grants;
  } catch {
    const parsed = grantsSchema.safeParse(projectConfigSection(options.config, 'grants'));
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new AccessLedgerError(
      `the grant settings in ${options.config} are not valid: grants${issue?.path.map((key) => `.${String(key)}`).join('') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
}

async function openStore(options: StoreOptions): Promise<Store> {
  if (options.stack === undefined && options.table === undefined) {
    const ledger = new FileAccessLedger(options.data);
    return {
      ledger,
      issuer: async () => `local:${options.as ?? userInfo().username}`,
      audit: async (change) => {
        const sink = new JsonlAuditSink(join(options.data, 'audit.jsonl'));
        try {
          await sink.write(buildAccessChangeEvent(change, LOCAL_AUDIT));
        } finally {
          await sink.close();
        }
        return join(options.data, 'audit.jsonl');
      },
    };
  }
  if (options.as !== undefined)
    throw new GrantUsageError('--as is for the local stack; in AWS the issuer is your AWS identity (STS)');
  const context = await awsContext(options.region === undefined ? {} : { region: options.region });
  let table = options.table;
  if (table === undefined) {
    const { Stacks } = await new CloudFormationClient(context).send(
      new DescribeStacksCommand({ StackName: options.stack }),
    );
    table = Stacks?.[0]?.Outputs?.find((output) => output.OutputKey === 'GrantsTable')?.OutputValue;
    if (table === undefined)
      throw new AccessLedgerError(
        `stack ${options.stack} has no GrantsTable output: deploy with grants.enabled (the default) first`,
      );
  }
  return {
    ledger: new DynamoDbAccessLedger(new DynamoDBClient(context), table),
    issuer: async () => {
      const identity = await new STSClient(context).send(new GetCallerIdentityCommand({}));
      if (identity.Arn === undefined) throw new AccessLedgerError('STS GetCallerIdentity returned no ARN');
      return identity.Arn;
    },
    audit: async () => undefined,
  };
}

/** Runs a command body; expected failures are one line and a non-zero exit, never a stack trace. */
async function run(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    if (error instanceof GrantUsageError) {
      process.stderr.write(`mcp-identity: ${error.message}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    const aws = describeAwsError(error);
    const message =
      error instanceof AccessLedgerError || error instanceof AwsSetupError
        ? error.message
        : (aws ?? (error instanceof Error ? error.message : String(error)));
    process.stderr.write(`mcp-identity: ${message}\n`);
    process.exitCode = EXIT_FAILED;
  }
}

const now = () => Date.now() / 1000;

function maxSeconds(config: GrantsConfig): number {
  return parseDuration(config.maxDuration) ?? 12 * 3600;
}

function print(rows: Record<string, string>[], columns: string[], json: boolean, empty: string): void {
  if (json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else if (rows.length === 0) process.stdout.write(`${empty}\n`);
  else process.stdout.write(`${toTable(rows, columns)}\n`);
}

/** `grant --user --role --for --reason`: issues a time-bound role grant. */
export async function grant(
  options: StoreOptions & { user?: string; role?: string; for?: string; reason?: string },
): Promise<void> {
  await run(async () => {
    if (options.user === undefined || options.role === undefined || options.for === undefined)
      throw new GrantUsageError(
        'grant needs --user, --role, --for and --reason, e.g. npx mcp-identity grant --user alice --role order-admin --for 2h --reason "INC-1234"',
      );
    const config = grantsConfig(options);
    const store = await openStore(options);
    const issued = await issueGrant(
      store.ledger,
      { user: options.user, role: options.role, duration: options.for, reason: options.reason },
      { maxSeconds: maxSeconds(config), allowSelfGrant: config.allowSelfGrant },
      await store.issuer(),
      now(),
    );
    await store.audit({ kind: 'grant', name: 'GrantRole', grant: issued });
    process.stdout.write(
      `granted ${issued.role} to ${issued.user} until ${new Date(issued.expiresAt * 1000).toISOString()} (${issued.id}); running interceptors apply it within ${Math.min(config.lookupTtlSeconds, config.revocationBoundSeconds)} s\n`,
    );
  });
}

/** `grant list`: the grants in the store. */
export async function grantList(command: Command): Promise<void> {
  await run(async () => {
    const options = command.optsWithGlobals<StoreOptions & { user?: string; all: boolean; json: boolean }>();
    const store = await openStore(options);
    const at = now();
    const { grants } = await store.ledger.list();
    const rows = grants
      .filter((entry) => options.user === undefined || entry.user === options.user)
      .filter((entry) => options.all || isActiveGrant(entry, at))
      .sort((a, b) => a.expiresAt - b.expiresAt)
      .map((entry) => grantRow(entry, at));
    print(
      rows,
      ['id', 'user', 'role', 'state', 'expires', 'left', 'issuedBy', 'reason'],
      options.json,
      'no active grants',
    );
  });
}

/** `grant revoke <id>`: ends a grant now. */
export async function grantRevoke(id: string, command: Command): Promise<void> {
  await run(async () => {
    const options = command.optsWithGlobals<StoreOptions & { reason?: string }>();
    const reason = checkedReason(options.reason, 'grant revoke');
    const store = await openStore(options);
    const { after } = await store.ledger.revokeGrant(id, { by: await store.issuer(), reason, at: now() });
    await store.audit({ kind: 'grant', name: 'RevokeGrant', grant: after });
    process.stdout.write(`revoked grant ${id} (${after.role} for ${after.user})\n`);
  });
}

/** `revoke --user|--agent`: issues a revocation (the kill switch). */
export async function revoke(
  options: StoreOptions & { user?: string; agent?: string; for?: string; reason?: string },
): Promise<void> {
  await run(async () => {
    const config = grantsConfig(options);
    const store = await openStore(options);
    const issued = await issueRevocation(
      store.ledger,
      {
        ...(options.user === undefined ? {} : { user: options.user }),
        ...(options.agent === undefined ? {} : { agent: options.agent }),
        ...(options.for === undefined ? {} : { duration: options.for }),
        ...(options.reason === undefined ? {} : { reason: options.reason }),
      },
      30 * 86_400,
      await store.issuer(),
      now(),
    );
    await store.audit({ kind: 'revocation', name: 'RevokeAccess', revocation: issued });
    const until =
      issued.expiresAt === undefined
        ? 'until lifted'
        : `until ${new Date(issued.expiresAt * 1000).toISOString()}`;
    const matches =
      issued.subject.kind === 'user'
        ? `tokens whose subject, username or email is ${issued.subject.id} (case and Unicode normalisation ignored)`
        : `tokens naming ${issued.subject.id} in any agent claim or the act delegation chain`;
    process.stdout.write(
      `revoked ${issued.subject.kind} ${issued.subject.id} ${until} (${issued.id}): it matches ${matches}; every running interceptor denies within ${config.revocationBoundSeconds} s\n`,
    );
  });
}

/** `revoke list`: the revocations in the store. */
export async function revokeList(command: Command): Promise<void> {
  await run(async () => {
    const options = command.optsWithGlobals<StoreOptions & { all: boolean; json: boolean }>();
    const store = await openStore(options);
    const at = now();
    const { revocations } = await store.ledger.list();
    const rows = revocations
      .filter((entry) => options.all || isActiveRevocation(entry, at))
      .sort((a, b) => a.issuedAt - b.issuedAt)
      .map((entry) => revocationRow(entry, at));
    print(
      rows,
      ['id', 'subject', 'state', 'expires', 'issuedBy', 'reason'],
      options.json,
      'no active revocations',
    );
  });
}

/** `revoke lift <id>`: ends a revocation now. */
export async function revokeLift(id: string, command: Command): Promise<void> {
  await run(async () => {
    const options = command.optsWithGlobals<StoreOptions & { reason?: string }>();
    const reason = checkedReason(options.reason, 'revoke lift');
    const config = grantsConfig({ ...options, configGiven: configGiven(command) });
    const store = await openStore(options);
    const by = await store.issuer();
    const { after } = await store.ledger.liftRevocation(
      id,
      { by, reason, at: now() },
      selfLiftCheck(by, config.allowSelfGrant),
    );
    await store.audit({ kind: 'revocation', name: 'LiftRevocation', revocation: after });
    process.stdout.write(`lifted revocation ${id} (${after.subject.kind} ${after.subject.id})\n`);
  });
}
