#!/usr/bin/env node
/*
 * Minimal reproduction of a V8 abort seen with cedar-wasm in long-running Node.js processes.
 *
 *   node --expose-gc scripts/cedar-wasm-deopt-repro.js          # Node 20.20 / 22.23: aborts within seconds
 *   node --expose-gc scripts/cedar-wasm-deopt-repro.js --fix    # same loop with --no-turbo-inline-js-wasm-calls
 *
 * Symptom: "Fatal error in ..., unreachable code" from v8::internal::Deoptimizer::DoComputeBuiltinContinuation,
 * then SIGTRAP. TurboFan inlines the JS-to-Wasm wrapper of a wasm-bindgen export into the optimised JS caller
 * (--turbo-inline-js-wasm-calls, on by default since V8 11). When that caller is later deoptimised lazily (a
 * map or type feedback change, made likely by periodic gc()), the deoptimiser must rebuild the inlined
 * wrapper's builtin continuation frame and reaches code V8 marks unreachable. Turning the inlining off makes
 * every call go through the ordinary wrapper, which deoptimises correctly. Node 24.21 (V8 13.6) does not abort.
 */
const v8 = require('node:v8');
const fix = process.argv.includes('--fix');
if (fix) v8.setFlagsFromString('--no-turbo-inline-js-wasm-calls');
const cedar = require('@cedar-policy/cedar-wasm/nodejs');

const total = Number(process.argv.find((arg) => /^\d+$/.test(arg)) ?? 100000);
const policies = {
  admin: 'permit(principal in Role::"admin", action, resource);',
  own: 'permit(principal, action == Action::"get", resource) when { context.owner == principal.name };',
  big: 'forbid(principal, action, resource) when { context has amount && context.amount > 500 };',
};
const parsed = cedar.preparsePolicySet('repro', { staticPolicies: policies });
if (parsed.type !== 'success') throw new Error(JSON.stringify(parsed.errors));

async function decide(index) {
  const answer = cedar.statefulIsAuthorized({
    principal: { type: 'User', id: `user-${index % 7}` },
    action: { type: 'Action', id: index % 3 === 0 ? 'get' : 'update' },
    resource: { type: 'Gateway', id: 'gw' },
    context: index % 2 === 0 ? { owner: `user-${index % 5}` } : { owner: 'x', amount: index % 900 },
    entities: [
      {
        uid: { type: 'User', id: `user-${index % 7}` },
        attrs: { name: `user-${index % 5}` },
        parents: [{ type: 'Role', id: index % 4 === 0 ? 'admin' : 'dev' }],
      },
    ],
    preparsedPolicySetId: 'repro',
  });
  if (answer.type !== 'success') throw new Error(JSON.stringify(answer.errors));
  return answer.response.decision;
}

(async () => {
  const counts = { allow: 0, deny: 0 };
  for (let index = 0; index < total; index += 1) {
    counts[await decide(index)] += 1;
    if (index % 1000 === 0 && typeof globalThis.gc === 'function') globalThis.gc();
  }
  console.log(
    `node ${process.version}${fix ? ' --no-turbo-inline-js-wasm-calls' : ''}: ${total} decisions, no abort`,
    counts,
  );
})();
