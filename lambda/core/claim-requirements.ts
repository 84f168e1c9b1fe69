/**
 * What a verified token must carry beyond issuer, audience and expiry: the client allow-list
 * (`identity.allowedClients`) and the required claims (`identity.requiredClaims`), with the semantics of
 * AgentCore Gateway's CUSTOM_JWT authorizer (`allowedClients`, `customClaims`) so that every door — AgentCore,
 * API Gateway, the interceptor's own re-verification — and `doctor` refuse the same tokens.
 *
 * AgentCore's `customClaims` operators: EQUALS applies to a STRING claim (the claim is the one value); CONTAINS
 * and CONTAINS_ANY apply to a STRING_ARRAY claim (it holds the value / any of the values). A claim of any other
 * type, or absent, is no match. Claim names are top-level names, read literally (a dot is part of the name).
 */

export type ClaimMatch = 'EQUALS' | 'CONTAINS' | 'CONTAINS_ANY';

export const CLAIM_MATCHES: readonly ClaimMatch[] = Object.freeze(['EQUALS', 'CONTAINS', 'CONTAINS_ANY']);

export interface ClaimRequirement {
  readonly name: string;
  readonly match: ClaimMatch;
  /** One value for EQUALS and CONTAINS; one or more for CONTAINS_ANY. */
  readonly values: readonly string[];
}

export interface ClaimRequirements {
  /** Agent (OAuth client) ids accepted; absent: any client, including none. */
  readonly allowedClients?: readonly string[];
  /** Every one must hold. @default - none */
  readonly requiredClaims?: readonly ClaimRequirement[];
}

/** A requirement the token does not meet: which one, never the token's value. */
export type UnmetRequirement =
  | { readonly kind: 'client'; readonly agent: string | undefined }
  | { readonly kind: 'claim'; readonly requirement: ClaimRequirement };

const isStringArray = (value: unknown): value is readonly string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/** Whether one required claim holds (AgentCore's operators; wrong type or absent: no). */
export function claimMatches(
  claims: Readonly<Record<string, unknown>>,
  requirement: ClaimRequirement,
): boolean {
  if (!Object.hasOwn(claims, requirement.name)) return false;
  const value = claims[requirement.name];
  switch (requirement.match) {
    case 'EQUALS':
      return requirement.values.length === 1 && typeof value === 'string' && value === requirement.values[0];
    case 'CONTAINS':
      return (
        requirement.values.length === 1 &&
        isStringArray(value) &&
        value.includes(requirement.values[0] as string)
      );
    case 'CONTAINS_ANY':
      return isStringArray(value) && requirement.values.some((wanted) => value.includes(wanted));
    default:
      // An operator we do not know (a configuration that skipped validation): never a match.
      return false;
  }
}

/**
 * Every requirement `claims` does not meet, in order: the client first, then each required claim. `agent` is
 * the caller's agent as {@link callerFromClaims} read it (the configured agent claims, first present wins).
 * Empty: the token is acceptable.
 */
export function unmetClaimRequirements(
  claims: Readonly<Record<string, unknown>>,
  agent: string | undefined,
  requirements: ClaimRequirements,
): UnmetRequirement[] {
  const unmet: UnmetRequirement[] = [];
  const { allowedClients, requiredClaims = [] } = requirements;
  if (allowedClients !== undefined && (agent === undefined || !allowedClients.includes(agent)))
    unmet.push({ kind: 'client', agent });
  for (const requirement of requiredClaims)
    if (!claimMatches(claims, requirement)) unmet.push({ kind: 'claim', requirement });
  return unmet;
}

/** True when `claims` meet every requirement. */
export function claimRequirementsMet(
  claims: Readonly<Record<string, unknown>>,
  agent: string | undefined,
  requirements: ClaimRequirements,
): boolean {
  return unmetClaimRequirements(claims, agent, requirements).length === 0;
}

/**
 * One entry of `MCP_IDENTITY_REQUIRED_CLAIMS`, checked exactly as lib/config.ts checks `identity.requiredClaims`
 * (`{ name, match, values }`, no other keys, non-empty strings, one value unless CONTAINS_ANY). Undefined: not one.
 */
export function claimRequirement(value: unknown): ClaimRequirement | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entry = value as Record<string, unknown>;
  if (Object.keys(entry).some((key) => !['name', 'match', 'values'].includes(key))) return undefined;
  const { name, match, values } = entry;
  if (typeof name !== 'string' || name.length === 0) return undefined;
  if (typeof match !== 'string' || !(CLAIM_MATCHES as readonly string[]).includes(match)) return undefined;
  if (!isStringArray(values) || values.length === 0 || values.some((item) => item.length === 0))
    return undefined;
  if (match !== 'CONTAINS_ANY' && values.length !== 1) return undefined;
  return Object.freeze({ name, match: match as ClaimMatch, values: Object.freeze([...values]) });
}
