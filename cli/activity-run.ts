import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { AUDIT_FILE } from '../local/stack-names';
import {
  ActivityError,
  type ActivityFilter,
  type ActivityRow,
  denialsByPolicy,
  formatBytes,
  type QueryProgress,
  queryInsights,
  queryLake,
  queryLocal,
  requestStory,
  summarizeByUser,
  toCsv,
  toTable,
} from './activity';
import { followCloudWatch, followLocal, followPrinter } from './activity-follow';
import { awsContext } from './aws-context';

/**
 * `mcp-identity activity`, run: which store to read, the query or the follow loop, and the output (the options
 * are declared in `activity-command.ts`). Bad combinations of options exit 2; a store that cannot be read or
 * queried exits 1.
 */

const EXIT_USAGE = 2;

/** Bad usage commander cannot see (a combination of options): reported on one line, exit code 2. */
export class ActivityUsageError extends Error {}

const ACTIVITY_COLUMNS = ['time', 'user', 'tool', 'decision', 'policies', 'reason', 'agent'];

/** The command's action: a listing, report or story, or with --follow the events as they come. */
export async function activity(options: ActivityOptions, sinceGiven: boolean): Promise<void> {
  try {
    if (options.follow) await runFollow(options, sinceGiven);
    else if (options.poll !== undefined) throw new ActivityUsageError('--poll goes with --follow');
    else await runActivity(options);
  } catch (error) {
    if (!(error instanceof ActivityUsageError)) throw error;
    process.stderr.write(`mcp-identity: ${error.message}\n`);
    process.exitCode = EXIT_USAGE;
  }
}

async function runActivity(options: ActivityOptions): Promise<void> {
  const now = new Date();
  const filter: ActivityFilter = {
    ...(options.user ? { user: options.user } : {}),
    ...(options.tool ? { tool: options.tool } : {}),
    ...(options.decision ? { decision: options.decision } : {}),
    ...(options.agent ? { agent: options.agent } : {}),
    ...(options.request ? { uid: options.request } : {}),
    since: options.since,
    until: options.until ?? new Date(now.getTime() + 1000),
    limit: options.limit,
    phase: options.outcomes || options.request ? 'all' : 'request',
  };
  if (filter.since >= filter.until) throw new ActivityUsageError('--since must be before --until');
  if (options.report && options.limit === 100) (filter as { limit: number }).limit = 10_000;
  const rows = options.request
    ? await requestStory(options.request, filter, (query) => activityRows(options, query))
    : await activityRows(options, filter);
  const output = (records: Record<string, string | number>[], columns: string[]) => {
    if (options.json) process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
    else if (options.csv) process.stdout.write(`${toCsv(records, columns)}\n`);
    else
      process.stdout.write(
        `${toTable(records, columns, options.wide ? { maxWidth: Number.POSITIVE_INFINITY } : {})}\n`,
      );
  };
  if (options.report === 'summary')
    return output(summarizeByUser(rows) as never, ['user', 'calls', 'denials', 'tools']);
  if (options.report === 'denials')
    return output(denialsByPolicy(rows) as never, ['policy', 'denials', 'users', 'tools']);
  if (options.request && rows.length === 0)
    throw new ActivityError(
      `no audit event with UID ${options.request} between ${filter.since.toISOString()} and ${filter.until.toISOString()} (widen --since)`,
    );
  // Arguments are shown only when asked for, in every format; --wide adds the UID to the listing.
  const listed = options.showArguments ? rows : rows.map(({ arguments: _hidden, ...row }) => row);
  const extra = [
    ...(options.wide && !options.request ? ['uid'] : []),
    ...(options.showArguments ? ['arguments'] : []),
  ];
  output(listed as never, [
    ...(options.request
      ? [
          'time',
          'phase',
          'user',
          'tool',
          'decision',
          'enforced',
          'errorCode',
          'policies',
          'reason',
          'agent',
          'uid',
        ]
      : options.outcomes
        ? ['time', 'phase', 'user', 'tool', 'decision', 'errorCode', 'policies', 'reason', 'agent']
        : ACTIVITY_COLUMNS),
    ...extra,
  ]);
}

export interface ActivityOptions {
  user?: string;
  tool?: string;
  decision?: 'allow' | 'deny';
  agent?: string;
  since: Date;
  until?: Date;
  limit: number;
  report?: 'summary' | 'denials';
  request?: string;
  outcomes: boolean;
  wide: boolean;
  showArguments: boolean;
  store?: 'cloudtrail-lake' | 'cloudwatch' | 'local';
  eventDataStore?: string;
  logGroup?: string;
  stack?: string;
  data: string;
  file?: string;
  region?: string;
  timeout: number;
  json: boolean;
  csv: boolean;
  follow: boolean;
  poll?: number;
}

interface ResolvedStore {
  readonly store: 'cloudtrail-lake' | 'cloudwatch' | 'local';
  readonly eventDataStore: string | undefined;
  readonly logGroup: string | undefined;
  /** Region and credentials from the SDK's default chains, resolved only when AWS is actually asked. */
  readonly aws: () => Promise<Awaited<ReturnType<typeof awsContext>>>;
}

/** Which store to read: the options, else the deployed stack's outputs, else the local store. */
async function resolveStore(options: ActivityOptions): Promise<ResolvedStore> {
  let store = options.store;
  let eventDataStore = options.eventDataStore;
  let logGroup = options.logGroup;
  let aws: Awaited<ReturnType<typeof awsContext>> | undefined;
  const awsOnce = async () => {
    aws ??= await awsContext(options.region === undefined ? {} : { region: options.region });
    return aws;
  };
  // --follow reads the audit log group whatever the store (it feeds CloudTrail Lake too).
  const wantsLogGroup = options.follow && !logGroup;
  if (
    options.stack !== undefined &&
    (store === undefined ||
      wantsLogGroup ||
      (store === 'cloudtrail-lake' && !eventDataStore) ||
      (store === 'cloudwatch' && !logGroup))
  ) {
    const outputs = await stackOutputs(new CloudFormationClient(await awsOnce()), options.stack);
    store ??= outputs.AuditStore as ActivityOptions['store'];
    eventDataStore ??= outputs.EventDataStoreId;
    logGroup ??= outputs.AuditLogGroup;
  }
  store ??= eventDataStore ? 'cloudtrail-lake' : logGroup ? 'cloudwatch' : 'local';
  return { store, eventDataStore, logGroup, aws: awsOnce };
}

async function activityRows(options: ActivityOptions, filter: ActivityFilter): Promise<ActivityRow[]> {
  const { store, eventDataStore, logGroup, aws: awsOnce } = await resolveStore(options);
  if (store === 'local') {
    const auditFile = options.file ?? join(options.data, AUDIT_FILE);
    const result = queryLocal(auditFile, filter);
    if (result.unreadable > 0)
      process.stderr.write(`warning: ${result.unreadable} unreadable line(s) in ${auditFile} were skipped\n`);
    return result.rows;
  }
  const context = await awsOnce();
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const tty = process.stderr.isTTY === true;
  const progress = (state: QueryProgress) => {
    if (!tty) return;
    const scanned = state.bytesScanned === undefined ? '' : `, ${formatBytes(state.bytesScanned)} scanned`;
    process.stderr.write(`\r${state.status} ${(state.elapsedMs / 1000).toFixed(1)} s${scanned}   `);
  };
  const remote = { timeoutMs: options.timeout * 1000, signal: controller.signal, onProgress: progress };
  try {
    if (store === 'cloudtrail-lake') {
      if (!eventDataStore)
        throw new ActivityError('CloudTrail Lake needs --event-data-store <id> (or --stack <name>)');
      return await queryLake(new CloudTrailClient(context), eventDataStore, filter, remote);
    }
    if (!logGroup) throw new ActivityError('CloudWatch Logs needs --log-group <name> (or --stack <name>)');
    return await queryInsights(new CloudWatchLogsClient(context), logGroup, filter, remote);
  } catch (error) {
    if (controller.signal.aborted) process.exitCode = 130;
    throw error;
  } finally {
    process.removeListener('SIGINT', onSigint);
    if (tty) process.stderr.write('\n');
  }
}

export async function stackOutputs(
  client: CloudFormationClient,
  stackName: string,
): Promise<Record<string, string>> {
  try {
    const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    return Object.fromEntries(
      (Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']),
    );
  } catch (error) {
    throw new ActivityError(`cannot read the outputs of stack ${stackName}: ${(error as Error).message}`);
  }
}

/** Options that describe a finished set of rows, which a stream of new events cannot honour. */
const NOT_WITH_FOLLOW: readonly [keyof ActivityOptions, string][] = [
  ['report', '--report'],
  ['request', '--request'],
  ['until', '--until'],
];

/**
 * `activity --follow`: new events as they are written, until Ctrl-C (exit 0). Only events written after the
 * start, unless `--since` is given: then the matching events from that time on come first.
 */
async function runFollow(options: ActivityOptions, sinceGiven: boolean): Promise<void> {
  for (const [key, flag] of NOT_WITH_FOLLOW)
    if (options[key] !== undefined)
      throw new ActivityUsageError(
        `${flag} cannot be used with --follow (it describes a finished set of events)`,
      );
  const resolved = await resolveStore(options);
  if (resolved.store === 'cloudtrail-lake' && !resolved.logGroup)
    throw new ActivityUsageError(
      'CloudTrail Lake cannot be followed: its queries scan (and bill) the store, and events take minutes to become queryable. Follow the audit log group that feeds it instead: npx mcp-identity activity --follow --log-group <AuditLogGroup> (or --stack <name>)',
    );
  const columns = [
    ...(options.outcomes
      ? ['time', 'phase', 'user', 'tool', 'decision', 'errorCode', 'policies', 'reason', 'agent']
      : ACTIVITY_COLUMNS),
    ...(options.wide ? ['uid'] : []),
    ...(options.showArguments ? ['arguments'] : []),
  ];
  const printer = followPrinter(options.json ? 'json' : options.csv ? 'csv' : 'table', columns, options);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let headerShown = false;
  const follow = {
    filter: {
      ...(options.user ? { user: options.user } : {}),
      ...(options.tool ? { tool: options.tool } : {}),
      ...(options.decision ? { decision: options.decision } : {}),
      ...(options.agent ? { agent: options.agent } : {}),
      phase: options.outcomes ? ('all' as const) : ('request' as const),
    },
    signal: controller.signal,
    onRows: (rows: readonly ActivityRow[]) => {
      const lines = rows.map((row) => printer.line(row));
      if (!headerShown && printer.header !== undefined) lines.unshift(printer.header);
      headerShown = true;
      if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    },
    onWarning: (message: string) => process.stderr.write(`warning: ${message}\n`),
  };
  try {
    if (resolved.store === 'local') {
      const auditFile = options.file ?? join(options.data, AUDIT_FILE);
      await followLocal(auditFile, {
        ...follow,
        onReady: () => process.stderr.write(`following ${auditFile} (Ctrl-C to stop)\n`),
        pollMs: (options.poll ?? 1) * 1000,
        ...(sinceGiven ? { backlogSince: options.since, backlogLimit: options.limit } : {}),
      });
    } else {
      const logGroup = resolved.logGroup;
      if (!logGroup) throw new ActivityError('CloudWatch Logs needs --log-group <name> (or --stack <name>)');
      const pollMs = (options.poll ?? 5) * 1000;
      process.stderr.write(
        `following ${logGroup} every ${pollMs / 1000} s (near-real-time: events appear once CloudWatch Logs has ingested them; Ctrl-C to stop)\n`,
      );
      await followCloudWatch(new CloudWatchLogsClient(await resolved.aws()), logGroup, {
        ...follow,
        pollMs,
        startTime: sinceGiven ? options.since.getTime() : Date.now(),
      });
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}
