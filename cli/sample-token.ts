import type { ClaimNames } from '../lambda/core/caller';

/**
 * A sample token, decoded for `policies authorize --token-file` and `doctor --token-file`. Nothing here verifies
 * a signature: it reads what a token says so an operator can see what the gateway would make of it. The token
 * itself is never put in a message or a report.
 */

export class SampleTokenError extends Error {}

export interface DecodedToken {
  readonly header: Readonly<Record<string, unknown>>;
  readonly claims: Readonly<Record<string, unknown>>;
}

function part(text: string | undefined, what: string, from: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text ?? '', 'base64url').toString('utf8'));
  } catch {
    throw new SampleTokenError(`the token from ${from} has an unreadable ${what} (not base64url JSON)`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new SampleTokenError(`the token from ${from} has a ${what} that is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Header and claims of a compact JWS. Throws {@link SampleTokenError} (never echoing the token). */
export function decodeSampleToken(token: string, from: string): DecodedToken {
  const parts = token.split('.');
  if (parts.length !== 3)
    throw new SampleTokenError(
      `the token from ${from} is not a JWT (three dot-separated parts; an encrypted or opaque token cannot be checked here)`,
    );
  return { header: part(parts[0], 'header', from), claims: part(parts[1], 'payload', from) };
}

/** The claim names of a validated configuration's `identity.claims`. */
export function claimNamesOf(claims: {
  readonly subject: string;
  readonly roles: string;
  readonly email: string;
  readonly username: readonly string[];
  readonly agent: readonly string[];
}): ClaimNames {
  return {
    subject: claims.subject,
    roles: claims.roles,
    email: claims.email,
    username: claims.username,
    agent: claims.agent,
  };
}
