import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchProfile } from '../budget';
import { exited, firstJsonLine, spawnTs } from '../child';
import { REPO } from '../harness';
import { drive, type LoadResult } from '../load';
import type { Check } from '../outcome';
import type { BenchRow } from '../report';
import type { Progress } from '../sampling';

export const CONCURRENCY = [8, 32] as const;

interface ChildStack {
  readonly mcpUrl: string;
  readonly targetUrl: string;
  readonly auditFile: string;
  readonly token: string;
}

const MCP_HEADERS = {
  Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': '2025-06-18',
};

const call = (name: string, args: Record<string, unknown>) =>
  JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });

/** bob (order-admin) reads order 1001: the order itself, not an error, whichever way it was reached. */
function orderAnswer(status: number, text: string): Check {
  if (status !== 200) return `HTTP ${status}: ${text.slice(0, 120)}`;
  try {
    const body = JSON.parse(text) as { result?: { isError?: boolean; content?: { text?: string }[] } };
    const order = body.result?.content?.[0]?.text ?? '';
    return body.result?.isError !== true && order.includes('"id": "1001"')
      ? true
      : `unexpected answer: ${text.slice(0, 120)}`;
  } catch {
    return `not JSON: ${text.slice(0, 120)}`;
  }
}

/** CPU time (user + system) a process has used, in ms, from /proc (Linux); undefined elsewhere. */
function cpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

function cpuNote(cpu: { ms: number; requests: number }): { note?: string } {
  return cpu.requests === 0
    ? {}
    : {
        note: `stack process CPU ${((1000 * cpu.ms) / cpu.requests).toFixed(0)} µs per request; latency from the last round`,
      };
}

/**
 * Requests/s through the local gateway (interceptor with local Cedar, JSONL audit, both interceptor phases)
 * against the demo orders MCP server called directly, at c = 8 and 32, keep-alive. The stack runs in a child
 * process as `npm start` runs it; this process only generates load. Runs alternate direct/gateway per round.
 */
export async function gatewayRows(profile: BenchProfile, progress: Progress): Promise<BenchRow[]> {
  // BENCH_GATEWAY_CPU_PROF=<dir> profiles the stack process (Node refuses --cpu-prof in NODE_OPTIONS).
  const profileDir = process.env.BENCH_GATEWAY_CPU_PROF;
  const child = spawnTs(
    join(REPO, 'bench', 'gateway-child.ts'),
    profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
  );
  const rows: BenchRow[] = [];
  try {
    const stack = await firstJsonLine<ChildStack>(child);
    const direct = {
      url: stack.targetUrl,
      headers: MCP_HEADERS,
      // The target's own tool name, and the identity the gateway would inject.
      body: call('get_order', { order_id: '1001', _caller_user: 'bob', _caller_roles: ['order-admin'] }),
    };
    const gateway = {
      url: stack.mcpUrl,
      headers: { ...MCP_HEADERS, Authorization: `Bearer ${stack.token}` },
      body: call('orders___get_order', { order_id: '1001' }),
    };
    for (const concurrency of CONCURRENCY) {
      const runs: { direct: LoadResult[]; gateway: LoadResult[] } = { direct: [], gateway: [] };
      // The stack process's CPU per request: steadier than requests/s on a machine others share.
      const cpu = { direct: { ms: 0, requests: 0 }, gateway: { ms: 0, requests: 0 } };
      for (let round = 0; round < profile.throughputRounds; round += 1) {
        for (const [name, target] of [
          ['direct', direct],
          ['gateway', gateway],
        ] as const) {
          progress(`gateway: ${name}, c=${concurrency}, round ${round + 1}/${profile.throughputRounds}`);
          let before: number | undefined;
          let after: number | undefined;
          const result = await drive({
            ...target,
            concurrency,
            seconds: profile.throughputSeconds,
            warmupSeconds: profile.throughputWarmupSeconds,
            check: orderAnswer,
            measuring: { start: () => (before = cpuMs(child.pid)), end: () => (after = cpuMs(child.pid)) },
          });
          runs[name].push(result);
          if (before !== undefined && after !== undefined) {
            cpu[name].ms += after - before;
            cpu[name].requests += result.requests;
          }
        }
      }
      const merged = (results: LoadResult[]) => ({
        rps: results.reduce((sum, result) => sum + result.requestsPerSecond, 0) / results.length,
        last: results.at(-1) as LoadResult,
        failures: results.flatMap((result) => result.failures),
      });
      const d = merged(runs.direct);
      const g = merged(runs.gateway);
      rows.push(
        {
          group: 'local gateway throughput (loopback, keep-alive, tools/call get_order as bob)',
          id: `direct-c${concurrency}`,
          label: `demo MCP server direct, c=${concurrency}`,
          latency: d.last.latency,
          metric: { name: 'throughput', value: d.rps, unit: 'req/s' },
          ...cpuNote(cpu.direct),
          failures: d.failures,
        },
        {
          group: 'local gateway throughput (loopback, keep-alive, tools/call get_order as bob)',
          id: `gateway-c${concurrency}`,
          label: `local gateway → same server, c=${concurrency}`,
          latency: g.last.latency,
          metric: { name: 'throughput', value: g.rps, unit: 'req/s' },
          ratio: { to: 'direct', value: g.rps / d.rps },
          ...cpuNote(cpu.gateway),
          failures: g.failures,
        },
      );
    }
  } catch (error) {
    rows.push({
      group: 'local gateway throughput (loopback, keep-alive, tools/call get_order as bob)',
      id: 'gateway',
      label: 'local gateway vs direct',
      failures: [`could not run: ${(error as Error).message.slice(0, 300)}`],
    });
  } finally {
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited(child);
    clearTimeout(timer);
  }
  return rows;
}
