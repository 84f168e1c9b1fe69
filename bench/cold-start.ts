import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { lambdaBundling } from '../lib/bundling';
import { DevIssuer } from '../local/dev-issuer';

/**
 * Cold start of the built interceptor: bundle it as the CDK does (lib/bundling.ts), then, in a fresh Node
 * process each time, time `require(bundle)` + the first invocation (a tools/call that verifies a real token
 * and asks Verified Permissions). Offline: the JWKS comes from a dev issuer on 127.0.0.1 and Verified
 * Permissions is a fake on 127.0.0.1 (AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS), with static credentials.
 * The child also loads the catalogue the stack ships, so the ListPolicies walk at init is part of the figure.
 */

const ROOT = join(__dirname, '..');
const HANDLERS = ['interceptor', 'audit-forwarder', 'orders-target'] as const;

export interface ColdStartResult {
  /** Minified size of the interceptor bundle (index.js), bytes. */
  readonly bundleBytes: number;
  /** Minified size of every Lambda bundle, bytes. */
  readonly bundles: Readonly<Record<(typeof HANDLERS)[number], number>>;
  /** Median of `runs` fresh processes: require + first invocation, ms. */
  readonly coldStartMsMedian: number;
  /** Each run: [require ms, first invocation ms]. */
  readonly runs: readonly (readonly [number, number])[];
  readonly node: string;
}

async function bundle(entry: string, outdir: string): Promise<string> {
  const options = lambdaBundling(ROOT);
  const outfile = join(outdir, entry, 'index.js');
  await build({
    entryPoints: [join(ROOT, 'lambda', 'handlers', `${entry}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: options.target,
    minify: options.minify,
    sourcemap: options.sourceMap,
    mainFields: [...options.mainFields],
    alias: { ...options.alias },
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

/** A Verified Permissions fake on loopback: IsAuthorized allows, ListPolicies names one policy. */
function fakeVerifiedPermissions(): Promise<Server> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      const answer = target.endsWith('ListPolicies')
        ? { policies: [{ policyStoreId: 'PSbench', policyId: 'SP1', name: 'name/orders-readers__00000000' }] }
        : { decision: 'ALLOW', determiningPolicies: [{ policyId: 'SP1' }], errors: [] };
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify(answer));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const MARK = 'COLD-START-RESULT ';

// The audit logger writes to stdout too (pinned at INFO), so the result travels on its own marked line.
const CHILD = `
const MARK = ${JSON.stringify(MARK)};
const t0 = performance.now();
const { handler } = require(process.env.BENCH_BUNDLE);
const t1 = performance.now();
handler(JSON.parse(process.env.BENCH_EVENT)).then((out) => {
  const t2 = performance.now();
  const ok = out && out.mcp && out.mcp.transformedGatewayRequest !== undefined;
  process.stdout.write('\\n' + MARK + JSON.stringify({ ok, require: t1 - t0, invoke: t2 - t1, out: ok ? undefined : out }) + '\\n');
  process.exit(0);
}, (error) => {
  process.stdout.write('\\n' + MARK + JSON.stringify({ ok: false, require: 0, invoke: 0, out: String(error && error.stack || error) }) + '\\n');
  process.exit(0);
});
`;

function runChild(
  env: NodeJS.ProcessEnv,
): Promise<{ ok: boolean; require: number; invoke: number; out?: unknown }> {
  return new Promise((resolve, reject) => {
    // BENCH_COLD_CPU_PROF=<dir> writes a CPU profile of each child (require + first invocation).
    const profileDir = process.env.BENCH_COLD_CPU_PROF;
    const flags =
      profileDir === undefined
        ? []
        : ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${profileDir}`];
    // BENCH_COLD_NODE=<node binary> runs the children on another Node (the Lambda runtime's is Node 22).
    const child = spawn(process.env.BENCH_COLD_NODE ?? process.execPath, [...flags, '-e', CHILD], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      stderr += ` (exit ${code}, signal ${signal})`;
      try {
        const line = stdout.split('\n').find((item) => item.startsWith(MARK));
        if (line === undefined) throw new Error('no result');
        resolve(JSON.parse(line.slice(MARK.length)));
      } catch {
        reject(new Error(`cold-start child failed: ${stderr.slice(-1500)}`));
      }
    });
  });
}

/** The version of the Node that runs the children. */
function childNodeVersion(): string {
  const node = process.env.BENCH_COLD_NODE;
  if (node === undefined) return process.version;
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

export async function measureColdStart(options: { runs?: number } = {}): Promise<ColdStartResult> {
  const outdir = mkdtempSync(join(tmpdir(), 'mcp-identity-cold-'));
  const files = Object.fromEntries(
    await Promise.all(HANDLERS.map(async (name) => [name, await bundle(name, outdir)] as const)),
  ) as Record<(typeof HANDLERS)[number], string>;
  const bundles = Object.fromEntries(HANDLERS.map((name) => [name, statSync(files[name]).size])) as Record<
    (typeof HANDLERS)[number],
    number
  >;
  const catalog = join(outdir, 'policy-catalog.json');
  writeFileSync(
    catalog,
    JSON.stringify({
      'orders-readers': { name: 'orders-readers', avpName: 'name/orders-readers__00000000' },
    }),
  );
  const issuer = await DevIssuer.start();
  const avp = await fakeVerifiedPermissions();
  try {
    const audience = 'https://mcp.example.com/mcp';
    const token = await issuer.sign({ sub: 'alice', roles: ['db-reader'], aud: audience });
    const body = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'orders___get_order', arguments: { order_id: 'A-1' } },
    };
    const event = {
      interceptorInputVersion: '1.0',
      mcp: {
        rawGatewayRequest: { body: JSON.stringify(body) },
        gatewayRequest: {
          path: '/mcp',
          httpMethod: 'POST',
          headers: { authorization: `Bearer ${token}` },
          body,
        },
      },
    };
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      BENCH_BUNDLE: files.interceptor,
      BENCH_EVENT: JSON.stringify(event),
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS: `http://127.0.0.1:${(avp.address() as AddressInfo).port}`,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      MCP_IDENTITY_ISSUER: issuer.issuer,
      MCP_IDENTITY_AUDIENCE: audience,
      MCP_IDENTITY_DISCOVERY_URL: issuer.discoveryUrl,
      MCP_IDENTITY_POLICY_STORE_ID: 'PSbench',
      MCP_IDENTITY_POLICY_CATALOG_FILE: catalog,
      MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
    };
    const runs: (readonly [number, number])[] = [];
    for (let run = 0; run < (options.runs ?? 5); run += 1) {
      const result = await runChild(env);
      if (!result.ok)
        throw new Error(`the first invocation was not allowed: ${JSON.stringify(result.out).slice(0, 300)}`);
      runs.push([result.require, result.invoke]);
    }
    return {
      bundleBytes: bundles.interceptor,
      bundles,
      coldStartMsMedian: median(runs.map(([load, invoke]) => load + invoke)),
      runs,
      node: childNodeVersion(),
    };
  } finally {
    avp.close();
    await issuer.stop();
  }
}

if (require.main === module) {
  measureColdStart().then(
    (result) => process.stdout.write(`${JSON.stringify(result, undefined, 2)}\n`),
    (error: Error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    },
  );
}
