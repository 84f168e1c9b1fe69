/**
 * `mcp-identity/verifier`: checks the signed identity assertion mcp-identity puts on each call to a target
 * whose tools cannot take injected arguments (header `X-Mcp-Identity-Assertion` by default). Built on
 * aws-jwt-verify: signature against the stack's JWKS (fetched once, cached, refetched for an unknown `kid`),
 * then issuer, audience (this target's name) and expiry, then what makes it an assertion: ES256 only, `typ`
 * `mcp-identity-assertion+jwt`, a lifetime of at most 300 seconds and the claims it always carries.
 *
 * ```ts
 * import { createAssertionVerifier } from 'mcp-identity/verifier';
 * const verifier = createAssertionVerifier({ issuer, audience: 'crm', jwksUri });
 * const caller = await verifier.verify(request.headers['x-mcp-identity-assertion']);
 * caller.sub; caller.roles; caller.client_id; caller.act;
 * ```
 */
import { JwtVerifier } from 'aws-jwt-verify';
import {
  FetchError,
  JwksNotAvailableInCacheError,
  JwksValidationError,
  JwkValidationError,
} from 'aws-jwt-verify/error';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import {
  type ActorClaim,
  ASSERTION_ALGORITHM,
  ASSERTION_TYPE,
  type IdentityAssertionClaims,
  MAX_ASSERTION_TTL_SECONDS,
} from '../lambda/core/identity-assertion';
import { checkJwksUri, JwksFetcher } from './jwks-fetcher';

export { type ActorClaim, ASSERTION_TYPE, type IdentityAssertionClaims };
/** The header mcp-identity sends the assertion in unless the stack is configured otherwise. */
export const DEFAULT_ASSERTION_HEADER = 'X-Mcp-Identity-Assertion';

export interface AssertionVerifierOptions {
  /** The stack's assertion issuer (its `AssertionIssuer` output; the local stack prints its own). */
  readonly issuer: string;
  /** This target's name as configured in the gateway (the `target` of `target___tool`). */
  readonly audience: string;
  /** The stack's JWKS URL (its `AssertionJwksUrl` output); https, or http to loopback only. */
  readonly jwksUri: string;
  /** Clock skew tolerated on `exp`, 0 to 60 seconds. @default 0 */
  readonly graceSeconds?: number;
  /** Timeout of a JWKS download. @default 1500 */
  readonly fetchTimeoutMs?: number;
}

/** The assertion is missing, malformed, forged, expired, for another target or not an assertion: refuse (401). */
export class AssertionRejectedError extends Error {
  override readonly name = 'AssertionRejectedError';
}

/** The JWKS could not be fetched or read, so nothing can be verified now: refuse, and let the caller retry (503). */
export class AssertionKeysUnavailableError extends Error {
  override readonly name = 'AssertionKeysUnavailableError';
}

export interface AssertionVerifier {
  /**
   * Verifies the header's value (a string, or Node's `string[]` for a repeated header, which is refused) and
   * returns the caller. Throws {@link AssertionRejectedError} or {@link AssertionKeysUnavailableError}.
   */
  verify(headerValue: string | readonly string[] | undefined): Promise<IdentityAssertionClaims>;
  /** Downloads the JWKS ahead of the first request (e.g. at start-up). */
  hydrate(): Promise<void>;
}

/** Assertions are small; anything much larger is not one (a caller with 100 long roles is about 35 kB). */
const MAX_ASSERTION_BYTES = 48 * 1024;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const isString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** `typ` compares case-insensitively and may omit the `application/` prefix (RFC 7515 §4.1.9). */
function isAssertionType(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const lower = typ.toLowerCase();
  return (lower.startsWith('application/') ? lower.slice('application/'.length) : lower) === ASSERTION_TYPE;
}

function actorChain(value: unknown, depth = 0): ActorClaim | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || depth > 10) return undefined;
  const { sub, act } = value as Record<string, unknown>;
  if (!isString(sub)) return undefined;
  if (act === undefined) return { sub };
  const inner = actorChain(act, depth + 1);
  return inner === undefined ? undefined : { sub, act: inner };
}

/** The claims every assertion carries, typed; anything missing or of the wrong shape is refused. */
function assertionClaims(payload: Record<string, unknown>): IdentityAssertionClaims {
  const { iss, sub, aud, roles, client_id: agent, act, iat, exp, jti } = payload;
  const refuse = (why: string): never => {
    throw new AssertionRejectedError(`not an identity assertion: ${why}`);
  };
  if (!isString(iss) || !isString(sub) || !isString(jti))
    refuse('iss, sub and jti must be non-empty strings');
  if (typeof aud !== 'string') refuse('aud must be one target name');
  if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string'))
    refuse('roles must be a list of strings');
  if (typeof iat !== 'number' || typeof exp !== 'number') refuse('iat and exp are required');
  if ((exp as number) - (iat as number) > MAX_ASSERTION_TTL_SECONDS || (exp as number) <= (iat as number))
    refuse(`its lifetime must be 1 to ${MAX_ASSERTION_TTL_SECONDS} seconds`);
  if (agent !== undefined && !isString(agent)) refuse('client_id must be a non-empty string');
  const chain = act === undefined ? undefined : actorChain(act);
  if (act !== undefined && chain === undefined) refuse('act must be an RFC 8693 actor chain');
  return {
    iss: iss as string,
    sub: sub as string,
    aud: aud as string,
    roles: [...(roles as string[])],
    ...(agent === undefined ? {} : { client_id: agent as string }),
    ...(chain === undefined ? {} : { act: chain }),
    iat: iat as number,
    exp: exp as number,
    jti: jti as string,
  };
}

/** Creates a verifier for one target. Throws a TypeError for options that cannot be right. */
export function createAssertionVerifier(options: AssertionVerifierOptions): AssertionVerifier {
  if (!isString(options.issuer)) throw new TypeError('issuer is required');
  if (!isString(options.audience)) throw new TypeError('audience (this target’s name) is required');
  checkJwksUri(options.jwksUri);
  const graceSeconds = options.graceSeconds ?? 0;
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > 60)
    throw new TypeError('graceSeconds must be an integer from 0 to 60');
  const fetcher = new JwksFetcher(options.fetchTimeoutMs ?? 1500);
  const verifier = JwtVerifier.create(
    {
      issuer: options.issuer,
      audience: options.audience,
      jwksUri: options.jwksUri,
      graceSeconds,
      customJwtCheck: ({ header, jwk }) => {
        if (header.alg !== ASSERTION_ALGORITHM)
          throw new AssertionRejectedError(
            `not an identity assertion: alg ${String(header.alg)} is not ES256`,
          );
        if (jwk.kty !== 'EC' || jwk.crv !== 'P-256')
          throw new AssertionRejectedError('not an identity assertion: the key is not EC P-256');
        if (!isAssertionType(header.typ))
          throw new AssertionRejectedError(`not an identity assertion: typ ${String(header.typ)}`);
      },
    },
    { jwksCache: new SimpleJwksCache({ fetcher }) },
  );

  return {
    async hydrate() {
      try {
        await verifier.hydrate();
      } catch (error) {
        throw new AssertionKeysUnavailableError(`JWKS unavailable: ${(error as Error).message}`, {
          cause: error,
        });
      }
    },

    async verify(headerValue) {
      if (Array.isArray(headerValue) && headerValue.length > 1)
        throw new AssertionRejectedError('more than one identity assertion header');
      const token = Array.isArray(headerValue) ? headerValue[0] : headerValue;
      if (typeof token !== 'string' || token.length === 0)
        throw new AssertionRejectedError('no identity assertion');
      if (token.length > MAX_ASSERTION_BYTES)
        throw new AssertionRejectedError('identity assertion is too large');
      if (!COMPACT_JWS.test(token))
        throw new AssertionRejectedError('identity assertion is not a compact JWS');
      let payload: Record<string, unknown>;
      try {
        payload = (await verifier.verify(token)) as Record<string, unknown>;
      } catch (error) {
        if (error instanceof AssertionRejectedError) throw error;
        if (
          error instanceof FetchError ||
          error instanceof JwksNotAvailableInCacheError ||
          error instanceof JwksValidationError ||
          error instanceof JwkValidationError
        )
          throw new AssertionKeysUnavailableError(`JWKS unavailable: ${error.message}`, { cause: error });
        // aws-jwt-verify keeps the raw token out of its messages (includeRawJwtInErrors is off).
        throw new AssertionRejectedError(
          `identity assertion rejected: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      return assertionClaims(payload);
    },
  };
}
