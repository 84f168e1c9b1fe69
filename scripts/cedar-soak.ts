/**
 * Soak of the local Cedar engine exactly as the local stack and the CLI drive it: `authorizeOperation` (one
 * decision per `tools/call`) and `callableTools` (tools/list filtering) over the real `policies/` folder, with
 * varying callers, tools and arguments, and `gc()` every 1,000 decisions when run with `--expose-gc` (garbage
 * collection is what makes V8 deoptimise hot callers, where the Node 20/22 abort happened).
 *
 *   node --expose-gc --import tsx scripts/cedar-soak.ts [decisions=100000] [--json]
 *
 * Exits 0 and prints the counts when every decision was made and matched its expectation; a V8 abort kills
 * the process with SIGTRAP, which is what the regression test and the bench look for.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CedarDecisionPoint } from '../lambda/adapters/cedar-decision-point';
import { loadPolicyBundle } from '../lambda/adapters/policy-files';
import { authorizeOperation, callableTools } from '../lambda/core/authorize';
import { type Caller, callerFromClaims } from '../lambda/core/caller';
import { DEFAULT_INJECTION } from '../lambda/core/injection';
import { parseMcpRequest } from '../lambda/core/mcp-operation';

const TOOLS = ['orders___get_order', 'orders___update_order', 'orders___get_recent_activity'];

interface Call {
  readonly caller: Caller;
  readonly tool: string;
  readonly args: Record<string, unknown>;
  readonly expect: boolean;
}

/** A rotating mix of calls whose outcome the demo policies fix (see policies/ and their fixtures). */
function callAt(index: number, callers: { bob: Caller; alice: Caller; carol: Caller }): Call {
  switch (index % 6) {
    case 0:
      return {
        caller: callers.bob,
        tool: TOOLS[0] as string,
        args: { order_id: String(index % 97) },
        expect: true,
      };
    case 1:
      return {
        caller: callers.bob,
        tool: TOOLS[1] as string,
        args: { order_id: String(index % 89), status: 'shipped' },
        expect: true,
      };
    case 2:
      return { caller: callers.alice, tool: TOOLS[2] as string, args: {}, expect: true };
    case 3:
      return {
        caller: callers.alice,
        tool: TOOLS[1] as string,
        args: { order_id: String(index % 83), status: 'cancelled' },
        expect: false,
      };
    case 4:
      return {
        caller: callers.carol,
        tool: TOOLS[1] as string,
        args: { order_id: '1', status: 'shipped' },
        expect: false,
      };
    default:
      return {
        caller: callers.alice,
        tool: TOOLS[0] as string,
        args: { order_id: String(index % 79) },
        expect: true,
      };
  }
}

export async function soak(total: number): Promise<{ decisions: number; lists: number; perSecond: number }> {
  const bundle = loadPolicyBundle(join(__dirname, '..', 'policies'));
  const pdp = new CedarDecisionPoint(bundle);
  const settings = {
    model: { namespace: bundle.namespace, resourceId: 'gateway', inputTypes: bundle.inputTypes },
    injection: DEFAULT_INJECTION,
    mode: 'enforce' as const,
    catalog: bundle.catalog,
  };
  const claims = (sub: string, roles: string[]) =>
    callerFromClaims({ sub, roles, username: sub, iss: 'https://soak', exp: 4e9, iat: 1 });
  const callers = {
    bob: claims('bob', ['order-admin']),
    alice: claims('alice', ['developer', 'db-reader']),
    carol: claims('carol', []),
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  let lists = 0;
  const started = performance.now();
  for (let index = 0; index < total; index += 1) {
    const call = callAt(index, callers);
    const parsed = parseMcpRequest({
      jsonrpc: '2.0',
      id: index,
      method: 'tools/call',
      params: { name: call.tool, arguments: call.args },
    });
    if (!parsed.ok) throw new Error(`request ${index} did not parse`);
    const verdict = await authorizeOperation(call.caller, parsed.operation, pdp, settings);
    if (verdict.forward !== call.expect)
      throw new Error(
        `decision ${index}: ${call.tool} expected ${call.expect ? 'allow' : 'deny'}, got ${verdict.decision.kind}`,
      );
    if (index % 100 === 0) {
      const listed = await callableTools(call.caller, TOOLS, pdp, settings);
      if (listed.error !== undefined) throw listed.error;
      lists += 1;
    }
    if (gc !== undefined && index % 1000 === 999) gc();
  }
  const seconds = (performance.now() - started) / 1000;
  return { decisions: total, lists, perSecond: Math.round(total / seconds) };
}

if (require.main === module) {
  const total = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 100_000);
  soak(total).then(
    (result) => {
      if (process.argv.includes('--json')) console.log(JSON.stringify({ node: process.version, ...result }));
      else
        console.log(
          `node ${process.version}: ${result.decisions} decisions and ${result.lists} tool lists, no abort (${result.perSecond} decisions/s)`,
        );
    },
    (error: unknown) => {
      console.error(`soak failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
