/**
 * `npm run bench`: latency of the interceptor's REQUEST step for a tools/call — token verification (cached
 * JWKS), Cedar decision on the real engine over policies/, identity injection, audit event to memory — and
 * of a tools/list filtering step. Loopback only. Prints percentiles per scenario.
 */

import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CedarDecisionPoint } from '../lambda/adapters/cedar-decision-point';
import { CachingDecisionPoint } from '../lambda/adapters/decision-cache';
import { JwtTokenVerifier } from '../lambda/adapters/jwt-token-verifier';
import { loadPolicyBundle } from '../lambda/adapters/policy-files';
import type { AuditEventData } from '../lambda/core/audit-event';
import { DEFAULT_INJECTION } from '../lambda/core/injection';
import { DEFAULT_REDACTION } from '../lambda/core/redaction';
import { createInterceptorHandler } from '../lambda/handlers/interceptor';
import { DevIssuer } from '../local/dev-issuer';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 2000);
const AUDIENCE = 'bench';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(label: string, run: (index: number) => Promise<unknown>): Promise<void> {
  for (let index = 0; index < 200; index += 1) await run(index); // warm-up
  const samples: number[] = [];
  for (let index = 0; index < ITERATIONS; index += 1) {
    const started = performance.now();
    await run(index);
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const fmt = (value: number) => `${value.toFixed(3)} ms`;
  console.log(
    `${label.padEnd(46)} n=${ITERATIONS}  p50 ${fmt(percentile(samples, 50))}  p95 ${fmt(percentile(samples, 95))}  p99 ${fmt(percentile(samples, 99))}  max ${fmt(samples.at(-1) ?? 0)}`,
  );
}

async function main(): Promise<void> {
  const issuer = await DevIssuer.start();
  const bundle = loadPolicyBundle(join(__dirname, '..', 'policies'));
  const verifier = new JwtTokenVerifier(issuer.verifierSettings(AUDIENCE));
  await verifier.hydrate();
  const events: AuditEventData[] = [];
  const handlerWith = (cacheTtl: number) =>
    createInterceptorHandler({
      verifier,
      pdp: new CachingDecisionPoint(new CedarDecisionPoint(bundle), {
        ttlSeconds: cacheTtl,
        maxEntries: 1000,
      }),
      audit: { write: async (event) => void events.push(event) },
      log: { info: () => undefined, warn: () => undefined, error: () => undefined } as never,
      settings: {
        model: { namespace: 'McpIdentity', resourceId: 'gateway', inputTypes: bundle.inputTypes },
        injection: DEFAULT_INJECTION,
        mode: 'enforce',
        catalog: bundle.catalog,
        redaction: DEFAULT_REDACTION,
        audit: { eventSource: 'bench', recipientAccountId: '123456789012' },
        maxBodyBytes: 1024 * 1024,
      },
    });
  const token = await issuer.sign({ sub: 'bob', roles: ['order-admin'], aud: AUDIENCE });
  const call = (id: number) => {
    const body = {
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: {
        name: 'orders___update_order',
        arguments: { order_id: String(id % 50), status: 'refunded', amount: id % 900 },
      },
    };
    return {
      interceptorInputVersion: '1.0',
      mcp: {
        rawGatewayRequest: { body: JSON.stringify(body) },
        gatewayRequest: {
          path: '/mcp',
          httpMethod: 'POST',
          headers: { Authorization: `Bearer ${token}` },
          body,
        },
      },
    };
  };
  const list = {
    interceptorInputVersion: '1.0',
    mcp: {
      gatewayRequest: {
        path: '/mcp',
        httpMethod: 'POST',
        headers: { Authorization: `Bearer ${token}` },
        body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      },
      gatewayResponse: {
        statusCode: 200,
        body: {
          jsonrpc: '2.0',
          id: 1,
          result: {
            tools: ['orders___get_order', 'orders___update_order', 'orders___get_recent_activity'].map(
              (name) => ({ name, inputSchema: { type: 'object' } }),
            ),
          },
        },
      },
    },
  };

  console.log(
    `node ${process.version}, ${ITERATIONS} iterations per scenario, cedar-wasm on policies/ (${bundle.policies.length} policies)`,
  );
  const uncached = handlerWith(0);
  await measure('tools/call REQUEST, decision cache off', (index) => uncached(call(index)));
  const cached = handlerWith(30);
  await measure('tools/call REQUEST, decision cache on (50 keys)', (index) => cached(call(index % 50)));
  await measure('tools/list RESPONSE filtering (3 tools, partial eval)', () => uncached(list));
  await measure('tools/list RESPONSE filtering, decision cache on', () => cached(list));
  console.log(`audit events written: ${events.length}`);
  await issuer.stop();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
