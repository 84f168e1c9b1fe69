/**
 * Soak of the real local stack (`mcp-identity dev`) under a chosen Node.js binary: N consecutive `tools/call`
 * requests through the gateway emulation (verify → decide on cedar-wasm → inject → demo server → audit),
 * each checked to be an allowed call that returned the order, then a check that the stack is still alive.
 *
 *   npx tsx scripts/local-stack-soak.ts [calls=100000] [--node /path/to/node] [--concurrency 4]
 *   npx tsx scripts/local-stack-soak.ts 100000 --node "$(npx -y node@22 -p process.execPath)"
 *
 * This is how the "≥ 100,000 decisions on Node 20, 22 and 24" figure of the README was measured.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

function waitForStart(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`the stack did not start:\n${seen}`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('Requests:') || seen.includes('/mcp')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`the stack exited (${code ?? signal}) before starting:\n${seen}`)),
    );
  });
}

function call(agent: Agent, port: number, token: string, id: number): Promise<string> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'orders___get_order', arguments: { order_id: '1001' } },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(`${res.statusCode} ${Buffer.concat(chunks).toString()}`));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const total = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 100_000);
  const node = option('--node') ?? process.execPath;
  const concurrency = Number(option('--concurrency') ?? 4);
  const data = mkdtempSync(join(tmpdir(), 'mcp-identity-soak-'));
  const [port, issuerPort] = [await freePort(), await freePort()];
  const cli = join(ROOT, 'bin', 'mcp-identity.js');
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  const child = spawn(
    node,
    [cli, 'dev', '--port', String(port), '--issuer-port', String(issuerPort), '--data', data, '--no-watch'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exit: string | undefined;
  child.once('exit', (code, signal) => {
    exit = `exit ${code ?? ''}${signal ?? ''}`;
  });
  try {
    await waitForStart(child);
    const token = execFileSync(node, [cli, 'token', 'bob', '--ttl', '4h', '--data', data], {
      encoding: 'utf8',
    }).trim();
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    let next = 0;
    let done = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < total && exit === undefined) {
        const id = next;
        next += 1;
        const answer = await call(agent, port, token, id);
        if (!answer.startsWith('200 ') || answer.includes('"isError":true') || !answer.includes('1001'))
          throw new Error(`call ${id} was not an allowed call: ${answer.slice(0, 300)}`);
        done += 1;
        if (done % 10_000 === 0)
          process.stderr.write(`  ${done} calls, ${Math.round(done / ((Date.now() - started) / 1000))}/s\n`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    if (exit !== undefined || done !== total)
      throw new Error(`the stack stopped after ${done} calls (${exit}):\n${stderr}`);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `node ${version}: ${done} consecutive allowed tools/call through the local stack, no abort (${Math.round(done / seconds)} calls/s)`,
    );
    agent.destroy();
  } finally {
    child.kill('SIGTERM');
    rmSync(data, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`local stack soak failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
