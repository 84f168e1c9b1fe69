import type { Caller } from './caller';
import { AssertionSigningError, ConfigurationError } from './errors';

/**
 * The signed identity assertion: a short-lived JWT the gateway mints per caller and target, so a target whose
 * tools cannot take injected arguments (a remote MCP server, an OpenAPI or REST API) can still learn, and
 * check, who is calling. Signed ES256 (KMS ECC_NIST_P256 in AWS, a node:crypto key locally).
 *
 * Explicitly typed (RFC 8725 §3.11): `typ` is `mcp-identity-assertion+jwt`, a type no access token carries
 * (those are `JWT` or `at+jwt`, RFC 9068), so an assertion can never pass for an access token at a verifier
 * that checks `typ`, and an access token can never pass for an assertion at ours. The audience is the one
 * target it is for, so a target cannot replay it to another.
 */
export const ASSERTION_TYPE = 'mcp-identity-assertion+jwt';
export const ASSERTION_ALGORITHM = 'ES256';
/** The longest an assertion lives, whatever the configuration says. */
export const MAX_ASSERTION_TTL_SECONDS = 300;

export interface AssertionHeader {
  readonly alg: typeof ASSERTION_ALGORITHM;
  readonly typ: typeof ASSERTION_TYPE;
  /** RFC 7638 thumbprint of the signing key (lambda/core/jwk-thumbprint.ts). */
  readonly kid: string;
}

/** RFC 8693 §4.1 `act`: the current actor, with the one before it nested inside, and so on. */
export interface ActorClaim {
  readonly sub: string;
  readonly act?: ActorClaim;
}

/** Who an assertion speaks for, and to which target: every claim but its times and its id. */
export interface AssertionIdentity {
  /** The gateway. */
  readonly iss: string;
  /** The user, as the identity provider names them. */
  readonly sub: string;
  /** The target the assertion is for (the `target` of `target___tool`). */
  readonly aud: string;
  /** The user's roles as the verified token carries them (possibly none). */
  readonly roles: readonly string[];
  /** The agent (OAuth client) acting for the user, when the token names one. */
  readonly client_id?: string;
  /** The delegation chain the token carries, when it carries one. */
  readonly act?: ActorClaim;
}

export interface IdentityAssertionClaims extends AssertionIdentity {
  /** Seconds since the epoch. */
  readonly iat: number;
  /** Seconds since the epoch; at most {@link MAX_ASSERTION_TTL_SECONDS} after `iat`, never after the token's. */
  readonly exp: number;
  /** Random per assertion (replay detection at the target). */
  readonly jti: string;
}

/** The issuer and lifetime every assertion of one gateway shares. */
export interface AssertionSettings {
  readonly issuer: string;
  /** 1 to {@link MAX_ASSERTION_TTL_SECONDS}. */
  readonly ttlSeconds: number;
}

/** Nested `act` from the verified caller's chain (current actor first); undefined for no chain. */
export function actorClaim(actors: readonly string[]): ActorClaim | undefined {
  let claim: ActorClaim | undefined;
  for (let index = actors.length - 1; index >= 0; index -= 1) {
    const sub = actors[index] as string;
    claim = claim === undefined ? { sub } : { sub, act: claim };
  }
  return claim;
}

/**
 * The identity half of the claims, built from the verified caller only: nothing of the client's token (its
 * raw form, `jti`, times, other claims) goes into an assertion. Its JSON is the assertion cache's key, so
 * every identity claim is in the key by construction.
 */
export function assertionIdentity(caller: Caller, issuer: string, audience: string): AssertionIdentity {
  if (issuer.length === 0) throw new ConfigurationError('identity assertion issuer is empty');
  if (audience.length === 0) throw new ConfigurationError('identity assertion audience (target) is empty');
  const act = actorClaim(caller.actors);
  return {
    iss: issuer,
    sub: caller.subject,
    aud: audience,
    roles: [...caller.roles],
    ...(caller.agent === undefined ? {} : { client_id: caller.agent }),
    ...(act === undefined ? {} : { act }),
  };
}

/** Rejects a lifetime outside 1..{@link MAX_ASSERTION_TTL_SECONDS} whole seconds. */
export function checkAssertionTtl(ttlSeconds: number): number {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_ASSERTION_TTL_SECONDS)
    throw new ConfigurationError(
      `identity assertion lifetime must be 1 to ${MAX_ASSERTION_TTL_SECONDS} whole seconds (got ${ttlSeconds})`,
    );
  return ttlSeconds;
}

/**
 * The full claim set: issued now, expiring after the configured lifetime or when the caller's token does,
 * whichever is first (an assertion never outlives the token it was made from).
 * Throws {@link AssertionSigningError} when that token has already expired.
 */
export function assertionClaims(
  identity: AssertionIdentity,
  timing: {
    /** Seconds since the epoch. */
    readonly issuedAt: number;
    readonly ttlSeconds: number;
    /** The verified token's `exp`. */
    readonly tokenExpiresAt: number;
  },
  jti: string,
): IdentityAssertionClaims {
  const ttl = checkAssertionTtl(timing.ttlSeconds);
  const iat = Math.floor(timing.issuedAt);
  const exp = Math.min(iat + ttl, timing.tokenExpiresAt);
  if (exp <= iat)
    throw new AssertionSigningError(
      `the caller's token expired at ${timing.tokenExpiresAt}, at or before the assertion's issue time ${iat}`,
    );
  if (jti.length === 0) throw new AssertionSigningError('identity assertion id (jti) is empty');
  return { ...identity, iat, exp, jti };
}

export function assertionHeader(kid: string): AssertionHeader {
  if (kid.length === 0) throw new AssertionSigningError('identity assertion key id (kid) is empty');
  return { alg: ASSERTION_ALGORITHM, typ: ASSERTION_TYPE, kid };
}

const base64url = (json: unknown) => Buffer.from(JSON.stringify(json), 'utf8').toString('base64url');

/** The JWS signing input (RFC 7515 §5.1): base64url(header) '.' base64url(claims). */
export function signingInput(header: AssertionHeader, claims: IdentityAssertionClaims): string {
  return `${base64url(header)}.${base64url(claims)}`;
}

/** P-256 R||S: two 32-byte big-endian integers (RFC 7518 §3.4). */
export const ES256_SIGNATURE_BYTES = 64;

/** The compact JWS: the signing input and the JOSE (R||S) signature. */
export function compactJws(input: string, signature: Uint8Array): string {
  if (signature.length !== ES256_SIGNATURE_BYTES)
    throw new AssertionSigningError(
      `ES256 signature must be ${ES256_SIGNATURE_BYTES} bytes (R||S), got ${signature.length}`,
    );
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

/**
 * Port: signs a JWS signing input with the assertion key. Implemented with KMS in AWS
 * (lambda/adapters/kms-assertion-signer.ts) and with a node:crypto key locally
 * (lambda/adapters/local-assertion-signer.ts).
 */
export interface AssertionSigner {
  /** The `kid` of the key: its RFC 7638 thumbprint. Computed once; a failure is not remembered. */
  keyId(): Promise<string>;
  /** ES256 over the UTF-8 bytes of `input`, as the 64-byte JOSE R||S signature. */
  sign(input: string): Promise<Uint8Array>;
}
