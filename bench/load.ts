import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type Check, OutcomeTally } from './outcome';
import { type LatencySummary, summarize } from './stats';

export interface LoadOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly concurrency: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly check: (status: number, text: string) => Check;
  /** Called right before and after the measured phase (to read the server's CPU time, say). */
  readonly measuring?: { readonly start: () => void; readonly end: () => void };
}

export interface LoadResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly latency: LatencySummary;
  readonly failures: readonly string[];
}

function post(agent: Agent, url: URL, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const outgoing = request(url, { method: 'POST', agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/**
 * Closed-loop load on loopback: `concurrency` clients on keep-alive connections, each sending its next
 * request as soon as the previous one is answered, for a warm-up and then `seconds`. Every answer is checked.
 */
export async function drive(options: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const url = new URL(options.url);
  const headers = {
    ...options.headers,
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(options.body)),
  };
  const tally = new OutcomeTally();
  const samples: number[] = [];
  const phase = async (seconds: number, record: boolean) => {
    const end = performance.now() + seconds * 1000;
    const client = async () => {
      while (performance.now() < end) {
        const started = performance.now();
        let check: Check;
        try {
          const answer = await post(agent, url, headers, options.body);
          if (record) samples.push(performance.now() - started);
          check = options.check(answer.status, answer.text);
        } catch (error) {
          check = `request failed: ${(error as Error).message}`;
        }
        tally.record(check);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: options.concurrency }, client));
    return (performance.now() - started) / 1000;
  };
  try {
    await phase(options.warmupSeconds, false);
    options.measuring?.start();
    const elapsed = await phase(options.seconds, true);
    options.measuring?.end();
    return {
      requests: samples.length,
      requestsPerSecond: samples.length / elapsed,
      latency: summarize(samples),
      failures: tally.failures(),
    };
  } finally {
    agent.destroy();
  }
}
