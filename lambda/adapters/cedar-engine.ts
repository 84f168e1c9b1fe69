/**
 * The one way this project loads cedar-wasm. Import Cedar from here, never from the package directly.
 *
 * Node 20 and 22 (V8 11.3 and 12.4) abort the process ("unreachable code" in
 * `Deoptimizer::DoComputeBuiltinContinuation`, then SIGTRAP) after a few thousand synchronous cedar-wasm calls:
 * TurboFan inlines the JS-to-Wasm wrapper of a wasm-bindgen export into its optimised caller
 * (`--turbo-inline-js-wasm-calls`, on by default), and a later lazy deoptimisation of that caller cannot rebuild
 * the inlined wrapper's continuation frame. Switching the inlining off makes every call go through the ordinary
 * wrapper, which deoptimises correctly; it costs nothing measurable next to a Cedar evaluation. The flag only
 * steers future optimisation, so setting it before any Cedar call has run (here, at load) is sufficient; it is
 * process-wide, and harmless on Node 24 (V8 13.6), which does not abort. `scripts/cedar-wasm-deopt-repro.js`
 * reproduces the abort without this project's code; `test/soak/cedar-soak.test.ts` guards the remedy.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-turbo-inline-js-wasm-calls');

export * as cedar from '@cedar-policy/cedar-wasm/nodejs';
