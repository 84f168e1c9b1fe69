import { createHash, createPublicKey } from 'node:crypto';
import { ConfigurationError } from './errors';

/**
 * The public half of an EC P-256 signing key as a JWK (RFC 7518 §6.2.1): the members RFC 7638 hashes for
 * the thumbprint, nothing else.
 */
export interface EcP256PublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  /** base64url of the 32-byte x coordinate, unpadded. */
  readonly x: string;
  /** base64url of the 32-byte y coordinate, unpadded. */
  readonly y: string;
}

/** One entry of the JWKS document that targets read to verify identity assertions. */
export interface AssertionSigningJwk extends EcP256PublicJwk {
  readonly kid: string;
  readonly alg: 'ES256';
  readonly use: 'sig';
}

/** The members a thumbprint reads, of a JWK from anywhere (a parsed JWKS, node:crypto's export). */
export interface JwkMembers {
  readonly kty?: unknown;
  readonly crv?: unknown;
  readonly x?: unknown;
  readonly y?: unknown;
}

/** 32 bytes in unpadded base64url are 43 characters. */
const COORDINATE = /^[A-Za-z0-9_-]{43}$/;

/** A coordinate in the one canonical spelling: 43 characters whose last one carries no stray low bits. */
function isCoordinate(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    COORDINATE.test(value) &&
    Buffer.from(value, 'base64url').toString('base64url') === value
  );
}

/**
 * The RFC 7638 thumbprint of an EC P-256 public key: SHA-256 over the JSON of exactly `crv`, `kty`, `x`,
 * `y`, in that (lexicographic) order with no whitespace, base64url without padding. Used as the `kid` of
 * identity assertions, so the kid is a function of the key alone: the signer (from KMS GetPublicKey) and the
 * JWKS endpoint compute the same value without sharing any state, and a rotated key gets a new kid.
 * Throws {@link ConfigurationError} for anything that is not an EC P-256 public JWK.
 */
export function jwkThumbprint(jwk: JwkMembers): string {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256')
    throw new ConfigurationError(
      `identity assertion key must be an EC P-256 key (got kty ${String(jwk.kty)}, crv ${String(jwk.crv)})`,
    );
  if (!isCoordinate(jwk.x) || !isCoordinate(jwk.y))
    throw new ConfigurationError(
      'identity assertion key has x/y coordinates that are not 32 bytes of unpadded base64url',
    );
  // The members are written out by hand, in RFC 7638's required order: never JSON.stringify(jwk), whose
  // order and extra members (kid, alg, use, d!) depend on the caller.
  const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * The public JWK of a DER-encoded SubjectPublicKeyInfo, as KMS GetPublicKey returns it for an
 * ECC_NIST_P256 key. node:crypto parses the DER and checks the point is on the curve.
 * Throws {@link ConfigurationError} when the key is not an EC P-256 public key.
 */
export function publicJwkFromSpki(spki: Uint8Array): EcP256PublicJwk {
  let jwk: Record<string, unknown>;
  try {
    jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({
      format: 'jwk',
    }) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigurationError('identity assertion public key is not a DER SubjectPublicKeyInfo', {
      cause: error,
    });
  }
  jwkThumbprint(jwk); // validates kty, crv and both coordinates
  return { kty: 'EC', crv: 'P-256', x: jwk.x as string, y: jwk.y as string };
}

/**
 * The JWKS entry for an identity assertion signing key given as SPKI DER: the public JWK with its RFC 7638
 * thumbprint as `kid`, `alg: ES256` and `use: sig`.
 */
export function assertionSigningJwk(spki: Uint8Array): AssertionSigningJwk {
  const jwk = publicJwkFromSpki(spki);
  return { ...jwk, kid: jwkThumbprint(jwk), alg: 'ES256', use: 'sig' };
}
