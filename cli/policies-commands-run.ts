import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { VerifiedPermissionsClient } from '@aws-sdk/client-verifiedpermissions';
import { PolicyFolderError, renderDiagnostics } from '../lambda/adapters/policy-diagnostics';
import { awsContext } from './aws-context';
import {
  type Finding,
  formatFinding,
  formatPolicyFolder,
  testPolicyFolder,
  validatePolicyFolder,
} from './policies';
import { describeDiff, diffStore, localPolicies, pushStore, readStore } from './policy-store-sync';

/**
 * `npx mcp-identity policies validate|test|format|diff|push`: the policy folder checked, tested, formatted and
 * compared with (or pushed to) a Verified Permissions policy store. Every policy or schema error is printed
 * with file:line:column and a caret excerpt (policy-diagnostics.ts); `--json` carries the same locations.
 */

const EXIT_FAILED = 1;

/** An expected failure of a policies command: its message on stderr, exit code 1, no stack trace. */
class PoliciesCommandError extends Error {}

/** The policy folder named by --dir, or a clear error when there is none. */
function policyFolder(dir: string): string {
  if (!existsSync(dir))
    throw new PoliciesCommandError(
      `no policy folder at ${dir} (pass --dir <folder with schema.cedarschema and *.cedar>)`,
    );
  return dir;
}

/** Findings for people (paths from the current directory, excerpts) or as JSON (files relative to `dir`). */
function printFindings(
  findings: readonly Finding[],
  json: boolean,
  dir: string,
  sources: ReadonlyMap<string, string> = new Map(),
): void {
  if (json) process.stdout.write(`${JSON.stringify(findings, null, 2)}\n`);
  else for (const finding of findings) process.stdout.write(`${formatFinding(finding, sources, dir)}\n`);
}

/** Runs a command's action, turning expected failures into one message and exit code 1. */
function guarded<A extends unknown[]>(
  action: (...args: A) => void | Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await action(...args);
    } catch (error) {
      if (error instanceof PoliciesCommandError) {
        process.stderr.write(`mcp-identity: ${error.message}\n`);
        process.exitCode = EXIT_FAILED;
        return;
      }
      if (error instanceof PolicyFolderError) {
        // Located errors go to stderr in full (excerpts), after one line that says what could not be done.
        const dir = error.dir === undefined ? '' : ` ${error.dir}`;
        process.stderr.write(
          `mcp-identity: the policy folder${dir} does not validate:\n${renderDiagnostics(error.diagnostics, error.sources, error.dir)}\n`,
        );
        process.exitCode = EXIT_FAILED;
        return;
      }
      throw error;
    }
  };
}

/** Refuses a folder that does not validate; its errors go to stderr, so `--json` output stays JSON. */
function requireValid(dir: string): void {
  const report = validatePolicyFolder(dir);
  const errors = report.findings.filter((finding) => finding.severity === 'error');
  if (errors.length > 0) {
    for (const error of errors) process.stderr.write(`${formatFinding(error, report.sources, dir)}\n`);
    throw new PoliciesCommandError('the policy folder does not validate; nothing was compared or pushed');
  }
}

async function avpClient(region: string | undefined): Promise<VerifiedPermissionsClient> {
  return new VerifiedPermissionsClient(await awsContext(region === undefined ? {} : { region }));
}

/** `policies validate`: strict validation against the schema, findings located. */
export const validate = guarded((options: { dir: string; warningsAsErrors: boolean; json: boolean }) => {
  const report = validatePolicyFolder(policyFolder(options.dir));
  printFindings(report.findings, options.json, options.dir, report.sources);
  const errors = report.findings.filter((finding) => finding.severity === 'error').length;
  const warnings = report.findings.length - errors;
  if (!options.json)
    process.stdout.write(`${report.policies} policies: ${errors} error(s), ${warnings} warning(s)\n`);
  if (errors > 0 || (options.warningsAsErrors && warnings > 0)) process.exitCode = EXIT_FAILED;
});

/** `policies test`: the ALLOW/DENY decision fixtures, run with the real Cedar engine. */
export const test = guarded(async (options: { dir: string; json: boolean }) => {
  let outcomes: Awaited<ReturnType<typeof testPolicyFolder>>;
  try {
    outcomes = await testPolicyFolder(policyFolder(options.dir));
  } catch (error) {
    if (!(error instanceof PolicyFolderError) || !options.json) throw error;
    process.stdout.write(`${JSON.stringify({ errors: error.diagnostics }, null, 2)}\n`);
    process.exitCode = EXIT_FAILED;
    return;
  }
  if (options.json) process.stdout.write(`${JSON.stringify(outcomes, null, 2)}\n`);
  else {
    for (const outcome of outcomes) {
      process.stdout.write(
        `${outcome.passed ? '✓' : '✗'} ${outcome.expected.decision.toUpperCase()} ${outcome.description} (${outcome.file})\n`,
      );
      if (!outcome.passed) {
        process.stdout.write(
          `    expected: ${outcome.expected.decision}${outcome.expected.policies ? ` by [${outcome.expected.policies.join(', ')}]` : ''}\n`,
        );
        process.stdout.write(
          `    actual:   ${outcome.actual.decision} by [${outcome.actual.policies.join(', ')}]${outcome.actual.errors.length > 0 ? `, errors: ${outcome.actual.errors.join('; ')}` : ''}\n`,
        );
        process.stdout.write(`    request:  ${JSON.stringify(outcome.request)}\n`);
      }
    }
    const failed = outcomes.filter((outcome) => !outcome.passed).length;
    process.stdout.write(`${outcomes.length - failed} passed, ${failed} failed\n`);
  }
  if (outcomes.length === 0)
    throw new PoliciesCommandError(
      `no decision fixtures under ${join(options.dir, 'fixtures')} (ALLOW/*.json, DENY/*.json)`,
    );
  if (outcomes.some((outcome) => !outcome.passed)) process.exitCode = EXIT_FAILED;
});

/** `policies format`: every policy file through the Cedar formatter. */
export const format = guarded((options: { dir: string; check: boolean }) => {
  const result = formatPolicyFolder(policyFolder(options.dir), options.check);
  printFindings(result.errors, false, options.dir, result.sources);
  for (const file of result.changed)
    process.stdout.write(`${options.check ? 'not formatted' : 'formatted'}: ${file}\n`);
  if (result.changed.length === 0 && result.errors.length === 0)
    process.stdout.write('all policy files are formatted\n');
  if (result.errors.length > 0 || (options.check && result.changed.length > 0))
    process.exitCode = EXIT_FAILED;
});

/** `policies diff`: the policy folder compared with a Verified Permissions policy store. */
export const diff = guarded(
  async (options: { store: string; dir: string; region?: string; json: boolean }) => {
    // Region and credentials first: a missing one is reported before the (slower) validation runs.
    const client = await avpClient(options.region);
    requireValid(policyFolder(options.dir));
    const state = await readStore(client, options.store);
    const diff = diffStore(localPolicies(options.dir), state);
    if (options.json)
      process.stdout.write(`${JSON.stringify({ managedBy: state.managedBy ?? null, ...diff }, null, 2)}\n`);
    else {
      if (state.managedBy)
        process.stdout.write(
          `note: this store is managed by ${state.managedBy}; deploy changes with \`npx cdk deploy\`\n`,
        );
      for (const line of describeDiff(diff)) process.stdout.write(`${line}\n`);
    }
  },
);

/** `policies push`: the policy folder applied to a Verified Permissions policy store. */
export const push = guarded(
  async (options: { store: string; dir: string; region?: string; dryRun: boolean; force: boolean }) => {
    const client = await avpClient(options.region);
    requireValid(policyFolder(options.dir));
    const state = await readStore(client, options.store);
    const result = await pushStore(client, state, localPolicies(options.dir), {
      dryRun: options.dryRun,
      force: options.force,
      onProgress: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(
      `${result.operations.length === 0 ? 'nothing to do' : `${result.operations.length} operation(s) ${options.dryRun ? 'would be applied' : 'applied'}`}\n`,
    );
  },
);
