import { JwtVerifier } from 'aws-jwt-verify';
import {
  FetchError,
  JwksNotAvailableInCacheError,
  JwksValidationError,
  JwkValidationError,
  WaitPeriodNotYetEndedJwkError,
} from 'aws-jwt-verify/error';
import type { Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { SupportedSignatureAlgorithm } from 'aws-jwt-verify/jwt-verifier';
import { type Caller, type ClaimNames, callerFromClaims, type TokenVerifier } from '../core/caller';
import {
  type ClaimRequirements,
  type UnmetRequirement,
  unmetClaimRequirements,
} from '../core/claim-requirements';
import {
  InvalidClaimsError,
  InvalidTokenError,
  IssuerUnavailableError,
  McpIdentityError,
} from '../core/errors';
import { getOk } from './key-fetch';

/**
 * The verifier's settings. `allowedClients` and `requiredClaims` ({@link ClaimRequirements}) are what AgentCore's
 * CUSTOM_JWT authorizer also checks; they are checked here after the signature, so every door refuses the same
 * tokens. @default - any client, no required claim
 */
export interface JwtVerifierSettings extends ClaimRequirements {
  /** Expected `iss`. Mandatory: there is no default issuer. */
  readonly issuer: string;
  /** Accepted `aud` values (at least one must match). Mandatory. */
  readonly audience: readonly string[];
  /** JWKS location; when absent it is read from the discovery document. */
  readonly jwksUri?: string;
  /** OIDC discovery document (`…/.well-known/openid-configuration`). */
  readonly discoveryUrl?: string;
  /** Signature algorithms accepted, explicitly. `none` and HMAC are never accepted. */
  readonly algorithms: readonly SupportedSignatureAlgorithm[];
  /** Clock skew tolerance for `exp`/`nbf`. @default 0 */
  readonly graceSeconds: number;
  readonly claimNames: ClaimNames;
  /** Timeout for discovery and JWKS fetches. @default 1500 */
  readonly fetchTimeoutMs: number;
}

/** Why a verified token is refused: names the claim or the client setting, never the token's value. */
function unmetReason(unmet: UnmetRequirement, agentClaims: readonly string[]): string {
  if (unmet.kind === 'client')
    return unmet.agent === undefined
      ? `token names no client (${agentClaims.join(', ')}) and allowed clients are configured`
      : `token client (${agentClaims.join(', ')}) is not one of the allowed clients`;
  return `token claim '${unmet.requirement.name}' does not satisfy ${unmet.requirement.match} (required claim)`;
}

/** Tokens larger than this are refused before any parsing (a 100 kB header is an attack, not a token). */
export const MAX_TOKEN_BYTES = 16 * 1024;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Only https, except to loopback (the local stack and tests): keys fetched in clear text could be swapped. */
export function assertKeyUrl(url: string, what: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new InvalidTokenError(`${what} is not a URL: ${url}`, { cause: error });
  }
  if (parsed.protocol === 'https:') return parsed;
  if (parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname)) return parsed;
  throw new InvalidTokenError(`${what} must use https (plain http is accepted for loopback only): ${url}`);
}

/**
 * aws-jwt-verify's Node fetcher speaks https only. This one also reaches the loopback dev issuer over http, with
 * a hard timeout, and refuses non-loopback http.
 */
export class TimeoutFetcher implements Fetcher {
  constructor(private readonly timeoutMs: number) {}

  async fetch(uri: string): Promise<ArrayBuffer> {
    const url = assertKeyUrl(uri, 'JWKS URI');
    let body: Buffer;
    try {
      body = await getOk(url, this.timeoutMs);
    } catch (error) {
      throw new FetchError(uri, error instanceof Error ? error.message : 'fetch failed');
    }
    return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  }
}

/** Reads `jwks_uri` from an OIDC discovery document and checks it names our issuer (OIDC Discovery §4.3). */
export async function discoverJwksUri(
  discoveryUrl: string,
  issuer: string,
  timeoutMs: number,
): Promise<string> {
  const url = assertKeyUrl(discoveryUrl, 'discovery URL');
  let body: Buffer;
  try {
    body = await getOk(url, timeoutMs);
  } catch (error) {
    throw new Error(`discovery document ${discoveryUrl} could not be read: ${(error as Error).message}`);
  }
  const document = JSON.parse(body.toString('utf8')) as { issuer?: unknown; jwks_uri?: unknown } | null;
  if (document === null || typeof document !== 'object')
    throw new Error(`discovery document ${discoveryUrl} is not a JSON object`);
  if (document.issuer !== issuer) {
    throw new Error(
      `discovery document issuer '${String(document.issuer)}' does not match the configured issuer '${issuer}'`,
    );
  }
  if (typeof document.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
  assertKeyUrl(document.jwks_uri, 'jwks_uri');
  return document.jwks_uri;
}

type Verifier = { verify(jwt: string): Promise<Record<string, unknown>>; hydrate(): Promise<void> };

/**
 * Verifies bearer tokens with aws-jwt-verify (signature, issuer, audience, expiry, not-before, algorithm).
 * Discovery and the JWKS download happen once and are cached; if the issuer is unreachable the failure is
 * not cached, so the next request tries again (and is denied meanwhile).
 */
export class JwtTokenVerifier implements TokenVerifier {
  private verifier: Promise<Verifier> | undefined;

  constructor(private readonly settings: JwtVerifierSettings) {
    if (settings.issuer.length === 0) throw new InvalidTokenError('issuer is required');
    if (settings.audience.length === 0) throw new InvalidTokenError('audience is required');
    if (settings.algorithms.length === 0) throw new InvalidTokenError('at least one algorithm is required');
    if (settings.jwksUri === undefined && settings.discoveryUrl === undefined) {
      throw new InvalidTokenError('either a JWKS URI or a discovery URL is required');
    }
  }

  private async build(): Promise<Verifier> {
    const { settings } = this;
    let jwksUri = settings.jwksUri;
    if (jwksUri === undefined) {
      try {
        jwksUri = await discoverJwksUri(
          settings.discoveryUrl as string,
          settings.issuer,
          settings.fetchTimeoutMs,
        );
      } catch (error) {
        throw new IssuerUnavailableError(`OIDC discovery failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    const allowed = new Set<string>(settings.algorithms);
    return JwtVerifier.create(
      {
        issuer: settings.issuer,
        audience: [...settings.audience],
        jwksUri,
        graceSeconds: settings.graceSeconds,
        customJwtCheck: ({ header }) => {
          if (header.alg === undefined || !allowed.has(header.alg))
            throw new Error(`signature algorithm ${header.alg} is not allowed`);
        },
      },
      { jwksCache: new SimpleJwksCache({ fetcher: new TimeoutFetcher(settings.fetchTimeoutMs) }) },
    ) as unknown as Verifier;
  }

  private ready(): Promise<Verifier> {
    if (this.verifier === undefined) {
      const building = this.build();
      this.verifier = building;
      building.catch(() => {
        if (this.verifier === building) this.verifier = undefined;
      });
    }
    return this.verifier;
  }

  /** Warms discovery and the JWKS at cold start; failures are swallowed here and surface per request. */
  async hydrate(): Promise<void> {
    try {
      await (await this.ready()).hydrate();
    } catch {
      // The request path will retry and deny with a clear cause.
    }
  }

  async verify(token: string): Promise<Caller> {
    if (token.length === 0 || token.length > MAX_TOKEN_BYTES)
      throw new InvalidTokenError('token is empty or too large');
    checkCompactSerialization(token);
    try {
      const payload = await (await this.ready()).verify(token);
      const caller = callerFromClaims(payload, this.settings.claimNames);
      const unmet = unmetClaimRequirements(payload, caller.agent, this.settings);
      if (unmet.length > 0)
        throw new InvalidClaimsError(
          unmet.map((each) => unmetReason(each, this.settings.claimNames.agent)).join('; '),
        );
      return caller;
    } catch (error) {
      if (error instanceof McpIdentityError) throw error;
      // The identity provider answered nothing usable (unreachable, timed out, or a JWKS that is not one):
      // a service problem to retry, not the caller's fault.
      if (
        error instanceof FetchError ||
        error instanceof JwksNotAvailableInCacheError ||
        error instanceof JwksValidationError ||
        error instanceof JwkValidationError
      ) {
        throw new IssuerUnavailableError(`JWKS unavailable: ${error.message}`, { cause: error });
      }
      if (error instanceof WaitPeriodNotYetEndedJwkError) {
        // An unknown kid recently triggered a JWKS refetch; aws-jwt-verify rate-limits refetches.
        throw new InvalidTokenError('token signed with an unknown key', { cause: error });
      }
      // aws-jwt-verify keeps the raw JWT out of its errors; we keep only its message.
      throw new InvalidTokenError(
        `token rejected: ${error instanceof Error ? error.message : 'unknown error'}`,
        {
          cause: error,
        },
      );
    }
  }
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Low bits of the last character that carry no data, by the part's length modulo 4 (RFC 4648 §3.5). */
const UNUSED_BIT_MASK = [0, -1, 0b1111, 0b11] as const;

/**
 * Whether `part` is canonical unpadded base64url: only the alphabet, a length a decoder accepts whole (never
 * 1 modulo 4), and zero in the bits of the last character that carry no data — exactly the strings that
 * decode and re-encode to themselves, checked without decoding (a fresh token's payload and signature are
 * about 1 kB, and decoding them twice cost a tenth of its verification).
 */
export function isCanonicalBase64url(part: string): boolean {
  if (!BASE64URL.test(part)) return false;
  const mask = UNUSED_BIT_MASK[part.length % 4] as number;
  if (mask === -1) return false;
  return (BASE64URL_ALPHABET.indexOf(part.charAt(part.length - 1)) & mask) === 0;
}

/**
 * JWS compact serialization checks aws-jwt-verify leaves to us (RFC 7515): every part is canonical base64url —
 * no padding, no characters outside the alphabet, no non-zero trailing bits, so one token has exactly one
 * spelling — and a header that lists `crit` extensions is refused, because we understand none (§4.1.11: a
 * recipient that does not understand a critical extension MUST reject the JWS). Hand-written: a few lines that
 * no maintained verifier exposes on its own.
 */
export function checkCompactSerialization(token: string): void {
  const parts = token.split('.');
  if (parts.length !== 3) throw new InvalidTokenError('token is not a JWS in compact serialization');
  for (const [index, part] of parts.entries()) {
    const name = ['header', 'payload', 'signature'][index] as string;
    if (!isCanonicalBase64url(part)) throw new InvalidTokenError(`token ${name} is not canonical base64url`);
  }
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidTokenError('token header is not JSON');
  }
  if (header !== null && typeof header === 'object' && 'crit' in header)
    throw new InvalidTokenError(
      'token header lists critical extensions (crit) this verifier does not support',
    );
}

/** The bearer token from an `Authorization` header value, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  return match?.[1];
}
