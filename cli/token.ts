import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalStackState } from '../local/stack';
import { STATE_FILE } from '../local/stack-names';
import { CliError } from './errors';

/** `mcp-identity token <user>`: asks the running local stack's dev identity provider for a bearer token. */

export interface TokenOptions {
  readonly ttl: number;
  readonly data: string;
  readonly agent?: string;
  readonly act?: string[];
}

function readState(dataDir: string): LocalStackState {
  const path = join(dataDir, STATE_FILE);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LocalStackState;
  } catch {
    throw new CliError(`no local stack is running (no ${path}). Start it with: npm start`);
  }
}

export async function runToken(user: string, options: TokenOptions): Promise<void> {
  const state = readState(options.data);
  let response: Response;
  try {
    response = await fetch(state.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        user,
        ttlSeconds: options.ttl,
        ...(options.agent === undefined ? {} : { agent: options.agent }),
        ...(options.act === undefined ? {} : { act: options.act }),
      }),
      signal: AbortSignal.timeout(5000),
    });
  } catch {
    throw new CliError(
      `the local stack at ${state.issuer} is not answering (stopped?). Start it with: npm start`,
    );
  }
  const body = (await response.json().catch(() => ({}))) as {
    access_token?: string;
    error_description?: string;
    users?: string[];
  };
  if (response.status === 404)
    throw new CliError(
      `${body.error_description ?? 'unknown user'}; known users: ${(body.users ?? []).join(', ')}`,
    );
  if (!response.ok || body.access_token === undefined)
    throw new CliError(`token request failed: ${body.error_description ?? `HTTP ${response.status}`}`);
  process.stdout.write(`${body.access_token}\n`);
}
