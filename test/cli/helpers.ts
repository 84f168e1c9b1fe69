import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'mcp-identity.js');

/** Runs the CLI as a user would, returning status and output. */
export function cli(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A scratch copy of the repository's policy folder. */
export function policyCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'policies-'));
  cpSync(join(ROOT, 'policies'), dir, { recursive: true });
  return dir;
}

/** The same, without blocking this process (for commands that talk to servers running in the test). */
export function cliAsync(
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { encoding: 'utf8', timeout: 60_000, ...(env === undefined ? {} : { env }) },
      (error, stdout, stderr) => {
        resolve({ status: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * This process's environment without any AWS setting (region, profile, keys, endpoints, config file paths),
 * with HOME in a fresh folder and the instance metadata service off: AWS commands see only what a test gives.
 */
export function awsFreeEnv(extra: NodeJS.ProcessEnv = {}): { env: NodeJS.ProcessEnv; home: string } {
  const home = mkdtempSync(join(tmpdir(), 'home-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')));
  return {
    env: { ...env, HOME: home, USERPROFILE: home, AWS_EC2_METADATA_DISABLED: 'true', ...extra },
    home,
  };
}
