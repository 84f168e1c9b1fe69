import { readFileSync } from 'node:fs';

/**
 * The bearer token a CLI command sends to a gateway: from `--token`, `--token-file` or `MCP_IDENTITY_TOKEN`.
 * The token is never printed: messages say where it came from and what is wrong with it, never what it is.
 */

export const TOKEN_ENV = 'MCP_IDENTITY_TOKEN';

export class BearerTokenError extends Error {}

export interface TokenSource {
  readonly token: string;
  /** Where it came from, for messages: `--token`, `--token-file <path>`, `MCP_IDENTITY_TOKEN`. */
  readonly from: string;
}

/** Printable ASCII without spaces: what an Authorization header value can carry after `Bearer `. */
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;

/** Exactly one source, or none (`undefined`) when nothing was given. */
export function resolveToken(
  options: { readonly token?: string; readonly tokenFile?: string },
  env: NodeJS.ProcessEnv = process.env,
): TokenSource | undefined {
  if (options.token !== undefined && options.tokenFile !== undefined)
    throw new BearerTokenError('give --token or --token-file, not both');
  let source: TokenSource | undefined;
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, 'utf8');
    } catch (error) {
      throw new BearerTokenError(
        `cannot read the token file ${options.tokenFile}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      );
    }
    source = { token: text.trim(), from: `--token-file ${options.tokenFile}` };
  } else if (options.token !== undefined) source = { token: options.token.trim(), from: '--token' };
  else if (env[TOKEN_ENV] !== undefined && env[TOKEN_ENV] !== '')
    source = { token: (env[TOKEN_ENV] as string).trim(), from: TOKEN_ENV };
  if (source === undefined) return undefined;
  // A leading "Bearer " is a common paste; anything else that cannot travel in a header is refused unprinted.
  const token = source.token.replace(/^Bearer\s+/i, '');
  if (token.length === 0) throw new BearerTokenError(`the token from ${source.from} is empty`);
  if (!TOKEN_CHARACTERS.test(token))
    throw new BearerTokenError(
      `the token from ${source.from} contains spaces or characters a header cannot carry (is it one token?)`,
    );
  return { token, from: source.from };
}

/**
 * What can be told about a token without verifying it, to explain a 401: not a JWT, expired (and when), not yet
 * valid. Undefined when nothing looks wrong from here (the issuer, audience or signature may still be).
 */
export function tokenProblem(token: string, now: Date = new Date()): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return 'it is not a JWT (three dot-separated parts)';
  let claims: { exp?: unknown; nbf?: unknown };
  try {
    claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return 'its payload is not readable JSON';
  }
  if (claims === null || typeof claims !== 'object') return 'its payload is not a JSON object';
  const seconds = now.getTime() / 1000;
  if (typeof claims.exp === 'number' && claims.exp <= seconds)
    return `it expired at ${new Date(claims.exp * 1000).toISOString()}`;
  if (typeof claims.nbf === 'number' && claims.nbf > seconds)
    return `it is not valid before ${new Date(claims.nbf * 1000).toISOString()}`;
  return undefined;
}
