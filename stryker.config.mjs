// Mutation testing of lambda/core (`npm run mutation`, see scripts/mutation.sh; not part of `npm test`).
// Stryker 10 needs Node >= 22; the script runs it under Node 22 whatever the project's Node is.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  // audit-delivery.ts (CloudTrail Lake delivery: retries, parking, idempotency) is tested by the fault-injection
  // suites (audit-idempotent-delivery, audit-forwarder: a minute or more per run), far too slow to run per mutant;
  // it is left out until it has fast unit tests of its own.
  mutate: ['lambda/core/**/*.ts', '!lambda/core/audit-delivery.ts'],
  testRunner: 'jest',
  jest: {
    projectType: 'custom',
    configFile: 'jest.config.js',
    // Only the fast tests written against lambda/core itself: its unit tests and the *.mutation.test.ts files.
    // The handler, adapter, policy, cdk and e2e suites also pass through the core, but running them for every
    // mutant (static mutants run every selected test) would take hours on a two-core machine; what they catch
    // the core's own tests must catch too.
    config: {
      roots: ['<rootDir>/test/unit'],
      testMatch: [
        '**/test/unit/*.mutation.test.ts',
        '**/test/unit/audit-event.test.ts',
        '**/test/unit/caller.test.ts',
        '**/test/unit/cedar-request.test.ts',
        '**/test/unit/decision-and-list.test.ts',
        '**/test/unit/injection-redaction.test.ts',
        '**/test/unit/mcp-operation.test.ts',
      ],
      collectCoverage: false,
      coverageThreshold: undefined,
    },
    enableFindRelatedTests: true,
  },
  // Per test: each mutant runs only the tests that reach it (static mutants, e.g. the default redaction keys,
  // run every related test file).
  coverageAnalysis: 'perTest',
  // Mutants that do not compile are discarded before any test runs. The checker compiles lambda/core alone
  // (tsconfig.mutation.json): with the whole project (CDK app, every test) a check took up to a minute, a full run
  // hours on two cores. A mutant that would only break a caller's types is then run, and killed or reported.
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.mutation.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  // Unchanged files and tests reuse the previous run's results; the file is kept out of git (reports/).
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  tempDirName: '.stryker-tmp',
  // Stryker gives half the slots to checkers: two test runners (the checkers idle once built).
  concurrency: 4,
  timeoutMS: 10000,
  thresholds: { high: 90, low: 80, break: null },
};
