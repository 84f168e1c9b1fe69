import { arch, cpus, platform } from 'node:os';
import type { LatencySummary } from './stats';

/** One line of the bench table. Latencies are in milliseconds. */
export interface BenchRow {
  readonly group: string;
  readonly id: string;
  readonly label: string;
  readonly latency?: LatencySummary;
  /** Ratio to a reference measured in the same run: the floor (latency) or the direct server (throughput). */
  readonly ratio?: {
    readonly to: string;
    readonly p50?: number;
    readonly p99?: number;
    readonly value?: number;
  };
  /** A figure that is not a latency: requests/s, decisions/s. */
  readonly metric?: { readonly name: string; readonly value: number; readonly unit: string };
  readonly note?: string;
  /** Wrong outcomes or errors; a row with any fails the bench. */
  readonly failures: readonly string[];
}

export interface BenchReport {
  readonly node: string;
  readonly machine: string;
  readonly quick: boolean;
  readonly startedAt: string;
  readonly seconds: number;
  readonly ok: boolean;
  readonly rows: readonly BenchRow[];
}

export function machineDescription(): string {
  const cores = cpus();
  return `${platform()} ${arch()}, ${cores.length} × ${cores[0]?.model.trim() ?? 'unknown CPU'}`;
}

/** 45 µs, 1.20 ms, 3.4 s: three significant figures in a unit that reads well. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return '–';
  if (ms < 1) return `${(ms * 1000).toPrecision(3)} µs`;
  if (ms < 1000) return `${ms.toPrecision(3)} ms`;
  return `${(ms / 1000).toPrecision(3)} s`;
}

function formatRatio(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? '' : `${value.toFixed(value < 10 ? 2 : 1)}×`;
}

function formatMetric(metric: BenchRow['metric']): string {
  if (metric === undefined) return '';
  const value =
    metric.value >= 100 ? Math.round(metric.value).toLocaleString('en-US') : metric.value.toFixed(1);
  return `${value} ${metric.unit}`;
}

const HEADERS = ['scenario', 'n', 'p50', 'p95', 'p99', '×ref p50', '×ref p99', 'figure', 'outcomes'] as const;

/** The bench table as text: one row per scenario, grouped, then failures and notes. */
export function renderTable(report: BenchReport): string {
  const lines: string[][] = [];
  const notes: string[] = [];
  let group = '';
  for (const row of report.rows) {
    if (row.group !== group) {
      group = row.group;
      lines.push([`[${group}]`, '', '', '', '', '', '', '', '']);
    }
    const ratioValue = row.ratio?.value;
    lines.push([
      `  ${row.label}`,
      row.latency === undefined ? '' : String(row.latency.n),
      formatMs(row.latency?.p50),
      formatMs(row.latency?.p95),
      formatMs(row.latency?.p99),
      ratioValue === undefined ? formatRatio(row.ratio?.p50) : `${formatRatio(ratioValue)} ${row.ratio?.to}`,
      formatRatio(row.ratio?.p99),
      formatMetric(row.metric),
      row.failures.length === 0 ? 'ok' : 'WRONG',
    ]);
    if (row.note !== undefined) notes.push(`${row.id}: ${row.note}`);
    for (const failure of row.failures) notes.push(`FAILED ${row.id}: ${failure}`);
  }
  const widths = HEADERS.map((header, column) =>
    Math.max(header.length, ...lines.map((line) => (line[column] ?? '').length)),
  );
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return [
    `mcp-identity bench · node ${report.node} · ${report.machine}${report.quick ? ' · BENCH_QUICK (smoke run, figures not meaningful)' : ''}`,
    `${report.startedAt}, ${report.seconds.toFixed(0)} s · ratios: latency ÷ floor (same run), throughput ÷ direct server`,
    '',
    render(HEADERS),
    ...lines.map(render),
    '',
    ...notes,
    '',
    report.ok ? 'every outcome as expected' : 'BENCH FAILED: some scenarios got wrong outcomes (see above)',
  ].join('\n');
}
