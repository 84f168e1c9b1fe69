import { join } from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { loadPolicyBundle, type PolicyBundle } from '../lambda/adapters/policy-files';
import type { AuditEventData } from '../lambda/core/audit-event';
import { AUDIT_FILE } from '../local/stack-names';
import { ActivityError, type ActivityFilter, formatBytes, parseWhen, type QueryProgress } from './activity';
import { stackOutputs } from './activity-run';
import { AwsSetupError, awsContext, describeAwsError } from './aws-context';
import { ReplayEngine, type ReplayProgress, replayEvents } from './policies-replay-engine';
import {
  checkedSomething,
  EXIT_CHANGED,
  type FailOn,
  failed,
  formatCsv,
  formatJson,
  formatTable,
  incompleteGate,
  type ReportContext,
} from './policies-replay-report';
import { insightsEvents, lakeEvents, localEvents } from './policies-replay-sources';

/**
 * `mcp-identity policies replay`: re-decides recorded decisions under a candidate policy folder and reports
 * what would change — a CI gate for policy pull requests (`--fail-on newly-denied`).
 *
 * Exit codes: 0 done (and the `--fail-on` condition does not hold), 4 the `--fail-on` condition holds,
 * 1 could not replay (unreadable store or policies, AWS error) — and, with `--fail-on`, a replay that cannot vouch
 * for the change (cut short by `--limit`, none of the events read could be replayed, or events that could hide a
 * change left unreplayed without `--allow-unreplayable`), 2 bad usage.
 */

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export { EXIT_CHANGED };

/** An expected problem (store, policies, AWS): one line, exit 1. */
export class ReplayError extends Error {}
/** A combination of options commander cannot check: one line, exit 2. */
class ReplayUsageError extends Error {}

export interface ReplayCommandOptions {
  policies: string;
  /** @default 7 days ago */
  since?: Date;
  until?: Date;
  user?: string;
  tool?: string;
  decision?: 'allow' | 'deny';
  agent?: string;
  store?: 'local' | 'cloudtrail-lake' | 'cloudwatch';
  data: string;
  file?: string;
  eventDataStore?: string;
  logGroup?: string;
  stack?: string;
  region?: string;
  timeout: number;
  limit: number;
  resourceId: string;
  json: boolean;
  csv: boolean;
  showArguments: boolean;
  /** Also replay `tools/list` answers (reads the RESPONSE step's events too). */
  listings?: boolean;
  failOn?: FailOn;
  /** With `--fail-on`: pass although events that could hide a change stayed unreplayed. */
  allowUnreplayable?: boolean;
}

function loadCandidate(dir: string): PolicyBundle {
  try {
    return loadPolicyBundle(dir);
  } catch (error) {
    throw new ReplayError(
      // The message may end in a caret excerpt of the broken line: the hint goes on a line of its own.
      `the candidate policy folder ${dir} cannot be used: ${(error as Error).message.trimEnd()}\ncheck it with: npx mcp-identity policies validate --dir ${dir}`,
    );
  }
}

/** A progress line on stderr, only when stderr is a terminal. */
function terminalProgress(): {
  query: (state: QueryProgress) => void;
  replay: (state: ReplayProgress) => void;
  done: () => void;
} {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  let shown = false;
  const write = (text: string) => {
    if (!tty) return;
    shown = true;
    process.stderr.write(`\r${text}   `);
  };
  return {
    query: (state) =>
      write(
        `querying: ${state.status} ${(state.elapsedMs / 1000).toFixed(1)} s${state.bytesScanned === undefined ? '' : `, ${formatBytes(state.bytesScanned)} scanned`}`,
      ),
    replay: (state) => {
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      write(
        `replaying: ${state.done.toLocaleString('en-US')}${state.total === undefined ? '' : ` of ${state.total.toLocaleString('en-US')}`} events (${Math.round(state.done / seconds).toLocaleString('en-US')}/s)`,
      );
    },
    done: () => {
      if (tty && shown) process.stderr.write('\n');
    },
  };
}

/** Reads the recorded decisions the options select. */
async function recordedEvents(
  options: ReplayCommandOptions,
  filter: ActivityFilter,
  onQuery: (state: QueryProgress) => void,
): Promise<{ events: AuditEventData[]; source: string }> {
  let eventDataStore = options.eventDataStore;
  let logGroup = options.logGroup;
  let store = options.store;
  // Region and credentials are resolved only when AWS is asked.
  let aws: Awaited<ReturnType<typeof awsContext>> | undefined;
  const awsOnce = async () => {
    aws ??= await awsContext(options.region === undefined ? {} : { region: options.region });
    return aws;
  };
  if (options.stack !== undefined && store !== 'local' && !eventDataStore && !logGroup) {
    // The deployed stack names its audit store (as `activity --stack` reads it).
    const outputs = await stackOutputs(new CloudFormationClient(await awsOnce()), options.stack);
    store ??= outputs.AuditStore as ReplayCommandOptions['store'];
    eventDataStore = outputs.EventDataStoreId || undefined;
    logGroup = outputs.AuditLogGroup || undefined;
  }
  store ??= eventDataStore ? 'cloudtrail-lake' : logGroup ? 'cloudwatch' : 'local';
  if (store === 'local') {
    const file = options.file ?? join(options.data, AUDIT_FILE);
    const { events, unreadable } = localEvents(file, filter);
    if (unreadable > 0)
      process.stderr.write(`warning: ${unreadable} unreadable line(s) in ${file} were skipped\n`);
    return { events, source: file };
  }
  const context = await awsOnce();
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const remote = { timeoutMs: options.timeout * 1000, signal: controller.signal, onProgress: onQuery };
  try {
    if (store === 'cloudtrail-lake') {
      if (!eventDataStore)
        throw new ReplayUsageError(
          '--store cloudtrail-lake needs --event-data-store <id> (or --stack <name>)',
        );
      return {
        events: await lakeEvents(new CloudTrailClient(context), eventDataStore, filter, remote),
        source: `CloudTrail Lake ${eventDataStore}`,
      };
    }
    if (!logGroup)
      throw new ReplayUsageError('--store cloudwatch needs --log-group <name> (or --stack <name>)');
    return {
      events: await insightsEvents(new CloudWatchLogsClient(context), logGroup, filter, remote),
      source: `CloudWatch Logs ${logGroup}`,
    };
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** Runs the command; returns the exit code. Writes the report to stdout and problems to stderr. */
export async function runReplay(options: ReplayCommandOptions): Promise<number> {
  const progress = terminalProgress();
  try {
    const until = options.until ?? new Date(Date.now() + 1000);
    const since = options.since ?? parseWhen('7d', new Date());
    if (since >= until) throw new ReplayUsageError('--since must be before --until');
    // The candidate first: a broken policy folder is reported before any (slow, billed) query runs.
    const bundle = loadCandidate(options.policies);
    const engine = new ReplayEngine(bundle, { resourceId: options.resourceId });
    const filter: ActivityFilter = {
      ...(options.user ? { user: options.user } : {}),
      ...(options.tool ? { tool: options.tool } : {}),
      ...(options.decision ? { decision: options.decision } : {}),
      ...(options.agent ? { agent: options.agent } : {}),
      since,
      until,
      limit: options.limit,
      // Listings are recorded by the RESPONSE step, with the outcomes of calls (which replay skips).
      phase: options.listings === true ? 'all' : 'request',
    };
    const { events, source } = await recordedEvents(options, filter, progress.query);
    const truncated = events.length >= options.limit;
    if (truncated)
      process.stderr.write(
        `warning: the source returned the --limit of ${options.limit} events; later ones were not replayed (raise --limit or narrow --since/--until)\n`,
      );
    const result = await replayEvents(events, engine, {
      total: events.length,
      onProgress: progress.replay,
      progressEvery: 2000,
    });
    progress.done();
    const context: ReportContext = {
      bundle,
      dir: options.policies,
      source,
      since,
      until,
      showArguments: options.showArguments,
    };
    process.stdout.write(
      options.json
        ? formatJson(result, context)
        : options.csv
          ? formatCsv(result, context)
          : formatTable(result, context),
    );
    if (!checkedSomething(result))
      process.stderr.write(
        `warning: no recorded decision could be replayed (${result.events} event(s) read): this replay checked nothing\n`,
      );
    if (failed(result, options.failOn)) return EXIT_CHANGED;
    const incomplete = incompleteGate(result, options.failOn, truncated, options.allowUnreplayable === true);
    if (incomplete !== undefined) {
      process.stderr.write(`mcp-identity policies replay: --fail-on ${options.failOn}: ${incomplete}\n`);
      return EXIT_FAILED;
    }
    return EXIT_OK;
  } catch (error) {
    progress.done();
    if (error instanceof ReplayUsageError) {
      process.stderr.write(`mcp-identity policies replay: ${error.message}\n`);
      return EXIT_USAGE;
    }
    const aws = describeAwsError(error);
    if (
      error instanceof ReplayError ||
      error instanceof ActivityError ||
      error instanceof AwsSetupError ||
      aws !== undefined
    ) {
      process.stderr.write(`mcp-identity policies replay: ${aws ?? (error as Error).message}\n`);
      return EXIT_FAILED;
    }
    throw error;
  }
}
