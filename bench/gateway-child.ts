/**
 * The local stack in a process of its own, for the gateway throughput scenario: the same pieces `npm start`
 * runs (dev issuer, gateway emulation, interceptor with local Cedar and the JSONL audit store, demo orders
 * server), on loopback ports chosen by the system. Prints one JSON line with the URLs and a token for bob, then
 * runs until its stdin closes or it is sent SIGTERM. `BENCH_CHILD_DATA` names the data folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack } from '../local/stack';

async function main(): Promise<void> {
  const dataDir = process.env.BENCH_CHILD_DATA ?? mkdtempSync(join(tmpdir(), 'mcp-identity-bench-stack-'));
  const stack = await startLocalStack({
    port: 0,
    issuerPort: 0,
    policyDir: join(__dirname, '..', 'policies'),
    usersFile: join(__dirname, '..', 'local', 'users.json'),
    dataDir,
    watchPolicies: false,
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void stack.stop().then(() => {
      if (process.env.BENCH_CHILD_DATA === undefined) rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  const token = await stack.token('bob', 3600);
  process.stdout.write(
    `${JSON.stringify({ mcpUrl: stack.mcpUrl, targetUrl: stack.target?.url, auditFile: stack.auditFile, token })}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
