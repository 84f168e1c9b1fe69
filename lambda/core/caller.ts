import { InvalidClaimsError } from './errors';

/** Which claims name the caller. Issuers disagree (Okta `groups`, Cognito `cognito:groups`, Teleport `roles`). */
export interface ClaimNames {
  /** Claim holding the stable user id. @default 'sub' */
  readonly subject: string;
  /** Claim holding the roles: a JSON array, or a space- or comma-separated string. Dots reach into objects
   * (`realm_access.roles`). @default 'roles' */
  readonly roles: string;
  /** @default 'email' */
  readonly email: string;
  /** First present wins. @default ['username', 'preferred_username'] */
  readonly username: readonly string[];
  /** The agent (OAuth client) acting for the user; first present wins. @default ['client_id', 'azp'] */
  readonly agent: readonly string[];
}

export const DEFAULT_CLAIM_NAMES: ClaimNames = Object.freeze({
  subject: 'sub',
  roles: 'roles',
  email: 'email',
  username: Object.freeze(['username', 'preferred_username']),
  agent: Object.freeze(['client_id', 'azp']),
});

/** The verified human behind a request. Built only from claims whose signature has been verified. */
export interface Caller {
  readonly subject: string;
  readonly issuer: string;
  readonly roles: readonly string[];
  readonly email?: string;
  readonly username?: string;
  /** OAuth client id of the agent acting for the user. */
  readonly agent?: string;
  /**
   * Every value of the configured agent claims present in the token, `agent` first, without repeats — present
   * only when there is more than one (`client_id: web-app` with `azp: travel-bot`): the kill switch refuses an
   * agent named by any of them, not only the first.
   */
  readonly agents?: readonly string[];
  /** `jti` of the token. */
  readonly tokenId?: string;
  /** RFC 8693 delegation chain (`act` claim), the current actor first. */
  readonly actors: readonly string[];
  /** Seconds since the epoch. */
  readonly issuedAt?: number;
  /** Seconds since the epoch; always present (we refuse tokens without `exp`). */
  readonly expiresAt: number;
  /**
   * Just-in-time grants that added a role the token did not carry (`core/access.ts`): never from a claim. The
   * roles above then hold the token's roles and these.
   */
  readonly grants?: readonly { readonly id: string; readonly role: string; readonly expiresAt: number }[];
  /** The grant store could not be read, so the call was decided on the token's roles alone. */
  readonly grantLookup?: 'unavailable';
}

/** Bounds that keep one token from producing an entity AVP would refuse (≤100 transitive parents). */
export const MAX_ROLES = 100;
const MAX_ROLE_LENGTH = 256;
const MAX_ACTOR_DEPTH = 10;
const MAX_IDENTIFIER_LENGTH = 1024;

type Claims = Readonly<Record<string, unknown>>;

function readPath(claims: Claims, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let current: unknown = claims;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Leading or trailing whitespace (any Unicode space, including no-break and ideographic) or a control or
 * format character anywhere: an identifier a policy, a tool or a log would read differently from the issuer. */
const UNCLEAN_IDENTIFIER = /^[\s\p{Z}]|[\s\p{Z}]$|[\p{Cc}\p{Cf}]/u;

/**
 * An identifier claim exactly as issued. Never trimmed or normalised: `"bob "` is not `bob`. One that is not
 * clean is refused with the token rather than repaired, because any repair is a guess about who it names.
 */
function identifier(value: unknown, claim: string): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  if (value.length > MAX_IDENTIFIER_LENGTH)
    throw new InvalidClaimsError(`token claim '${claim}' is longer than ${MAX_IDENTIFIER_LENGTH} characters`);
  if (UNCLEAN_IDENTIFIER.test(value))
    throw new InvalidClaimsError(
      `token claim '${claim}' has leading or trailing whitespace or control characters`,
    );
  return value;
}

function firstString(claims: Claims, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = identifier(readPath(claims, name), name);
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * Every clean string among the agent claims, without repeats. Unlike {@link firstString} an unclean later
 * claim is skipped rather than refused: this list only widens what a revocation can match.
 */
function allAgentClaims(claims: Claims, names: readonly string[]): string[] {
  const values = new Set<string>();
  for (const name of names) {
    const value = readPath(claims, name);
    if (
      typeof value === 'string' &&
      value.length > 0 &&
      value.length <= MAX_IDENTIFIER_LENGTH &&
      !UNCLEAN_IDENTIFIER.test(value)
    )
      values.add(value);
  }
  return [...values];
}

/**
 * Roles from a claim that may be a JSON array or a delimited string. Array entries are used exactly as issued
 * (`" order-admin "` is not `order-admin`); a string is split on its spaces and commas. Non-string entries and
 * empty ones are dropped (a role list is an allow-list input, so anything we cannot read is simply not a role),
 * duplicates removed, and the list is capped so a hostile issuer cannot blow up the entity graph.
 */
export function parseRoles(value: unknown): string[] {
  let raw: unknown[];
  if (Array.isArray(value)) raw = value;
  else if (typeof value === 'string')
    // Stryker disable next-line Regex: splitting on single separators only adds empty entries, which are dropped below
    raw = value.split(/[\s,]+/);
  else return [];
  const roles = new Set<string>();
  for (const entry of raw) {
    if (typeof entry !== 'string' || entry.length === 0 || entry.length > MAX_ROLE_LENGTH) continue;
    roles.add(entry);
    if (roles.size >= MAX_ROLES) break;
  }
  return [...roles];
}

function parseActors(value: unknown): string[] {
  const actors: string[] = [];
  let current = value;
  while (
    current !== null &&
    typeof current === 'object' &&
    !Array.isArray(current) &&
    actors.length < MAX_ACTOR_DEPTH
  ) {
    const sub = identifier((current as Record<string, unknown>).sub, 'act.sub');
    if (sub === undefined) break;
    actors.push(sub);
    current = (current as Record<string, unknown>).act;
  }
  return actors;
}

/** A NumericDate (RFC 7519 §2) after the epoch, in whole seconds. Zero, negative or non-finite is no date. */
function numericDate(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : undefined;
}

/**
 * Builds the {@link Caller} from claims that have already been verified (signature, issuer, audience, expiry).
 * Throws {@link InvalidClaimsError} when the token cannot name a caller.
 */
export function callerFromClaims(claims: Claims, names: ClaimNames = DEFAULT_CLAIM_NAMES): Caller {
  const subject = identifier(readPath(claims, names.subject), names.subject);
  if (subject === undefined) throw new InvalidClaimsError(`token has no usable '${names.subject}' claim`);
  const issuer = identifier(claims.iss, 'iss');
  if (issuer === undefined) throw new InvalidClaimsError("token has no 'iss' claim");
  const expiresAt = numericDate(claims.exp);
  if (expiresAt === undefined)
    throw new InvalidClaimsError("token has no 'exp' claim; only short-lived tokens are accepted");

  const caller: {
    -readonly [K in keyof Caller]: Caller[K];
  } = {
    subject,
    issuer,
    roles: parseRoles(readPath(claims, names.roles)),
    actors: parseActors(claims.act),
    expiresAt,
  };
  const email = identifier(readPath(claims, names.email), names.email);
  if (email !== undefined) caller.email = email;
  const username = firstString(claims, names.username);
  if (username !== undefined) caller.username = username;
  const agent = firstString(claims, names.agent);
  if (agent !== undefined) caller.agent = agent;
  const agents = allAgentClaims(claims, names.agent);
  // Kept only when the token names more than the one agent (`agent` alone says everything otherwise).
  if (agents.length > 1) caller.agents = Object.freeze(agents);
  const tokenId = identifier(claims.jti, 'jti');
  if (tokenId !== undefined) caller.tokenId = tokenId;
  const issuedAt = numericDate(claims.iat);
  if (issuedAt !== undefined) caller.issuedAt = issuedAt;
  return Object.freeze(caller);
}

/** Port: verifies a raw bearer token and names the caller. Throws {@link InvalidTokenError} on any failure. */
export interface TokenVerifier {
  verify(token: string): Promise<Caller>;
}
