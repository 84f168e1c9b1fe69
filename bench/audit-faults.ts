/**
 * Audit delivery soak (issue 11): the production forwarder and redrive under injected faults, ≥ 10,000 events
 * per seed over 3 seeds, on loopback fakes only (test/helpers/audit-faults.ts says what is emulated).
 *
 *   npm run soak:audit                      # 10,000 events × seeds 1, 2, 3
 *   npm run soak:audit -- --events 20000 --seeds 7,8,9 [--json]
 *
 * Exits non-zero when an event is lost, a request breaks a contract, a UID is duplicated without a
 * "committed, answer lost" fault behind it, the share of duplicated UIDs exceeds the share of such faults, or
 * the dry run miscounts 200 queued messages.
 */
import { dryRunCount, runAuditFaults } from '../test/helpers/audit-faults';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

async function main(): Promise<void> {
  const events = Number(argument('events', '10000'));
  const seeds = argument('seeds', '1,2,3').split(',').map(Number);
  const json = process.argv.includes('--json');
  const rows = [];
  let failed = false;
  for (const seed of seeds) {
    const started = Date.now();
    const report = await runAuditFaults({ seed, events });
    const dryRun = await dryRunCount(200, seed);
    const row = { ...report, dryRun, seconds: Math.round((Date.now() - started) / 100) / 10 };
    rows.push(row);
    const ok =
      report.lost === 0 &&
      report.violations.length === 0 &&
      report.avoidableDuplicates === 0 &&
      report.duplicatedShare <= report.answerLostShare &&
      dryRun.reported === 200;
    failed ||= !ok;
    if (!json)
      process.stdout.write(
        [
          `seed ${seed}: ${report.events} events in ${report.deliveries} deliveries, ${report.invocations} invocations (${report.killed} killed), ${report.lambdaParkedPayloads} payload(s) parked by Lambda, ${row.seconds}s`,
          `  lost ${report.lost} · contract violations ${report.violations.length} · poison still parked ${report.stillParked}`,
          `  duplicated UIDs ${report.duplicatedUids} (${(100 * report.duplicatedShare).toFixed(2)} %) · from avoidable causes ${report.avoidableDuplicates} · UIDs hit by "committed, answer lost" ${report.answerLostUids} (${(100 * report.answerLostShare).toFixed(2)} %)`,
          `  unknown-outcome re-sends ${report.unknownOutcomeResends} · ledger unavailable ${report.ledgerUnavailable} · oversized parked in S3 ${report.oversizedParkedInS3} · UIDs in two queue messages ${report.queueMessagesWithSameUid}`,
          `  redrive: ${report.redrive.runs} run(s), ${report.redrive.messages} message(s), ${report.redrive.redriven} redriven, ${report.redrive.alreadyDelivered} already delivered`,
          `  audit redrive --dry-run with 200 queued: ${dryRun.reported} (the former visibility-0 scan: ${dryRun.formerScan})`,
          `  ${ok ? 'ok' : 'FAILED'}${report.violations.length > 0 ? `: ${report.violations.slice(0, 3).join('; ')}` : ''}`,
          '',
        ].join('\n'),
      );
  }
  if (json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? error}\n`);
  process.exitCode = 2;
});
