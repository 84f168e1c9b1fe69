import { supportedSignatureAlgorithms } from 'aws-jwt-verify/jwt-verifier';
import type { JwtVerifierSettings } from '../../adapters/jwt-token-verifier';
import type { ClaimNames } from '../../core/caller';
import { type ClaimRequirement, claimRequirement } from '../../core/claim-requirements';
import { PREFIX, type SettingsReader } from './settings-reader';

/**
 * The token verifier's settings, read alike by both Lambda doors: the AgentCore interceptor and the API Gateway
 * proxy (through the interceptor's loader), and the API Gateway authorizer.
 */

type Algorithm = (typeof supportedSignatureAlgorithms)[number];

const ALGORITHMS = supportedSignatureAlgorithms as readonly Algorithm[];

/**
 * `InterceptorConfig['jwt']` and `AuthorizerConfig['jwt']`: what the token verifier takes, with the required
 * claims always listed (`REQUIRED_CLAIMS`, as AgentCore's `customClaims`; `ALLOWED_CLIENTS` as its
 * `allowedClients`).
 */
export type JwtSettings = JwtVerifierSettings & { readonly requiredClaims: readonly ClaimRequirement[] };

/** The token verifier's settings (`ISSUER`, `AUDIENCE`, key location, algorithms, clock skew, claim names). */
export function readJwtSettings(read: SettingsReader): JwtSettings {
  const issuer = read.required('ISSUER');
  const audience = read.csv('AUDIENCE', []);
  if (read.raw('AUDIENCE') === undefined) read.problem('AUDIENCE', 'is required');
  else if (audience.length === 0) read.problem('AUDIENCE', 'needs at least one audience');
  const discoveryUrl = read.url('DISCOVERY_URL');
  const jwksUri = read.url('JWKS_URI');
  if (discoveryUrl === undefined && jwksUri === undefined)
    read.problem('DISCOVERY_URL', `set ${PREFIX}DISCOVERY_URL or ${PREFIX}JWKS_URI`);
  const algorithms = read.csv('ALGORITHMS', ['RS256', 'ES256']);
  const badAlgorithms = algorithms.filter((name) => !(ALGORITHMS as readonly string[]).includes(name));
  if (algorithms.length === 0) read.problem('ALGORITHMS', 'needs at least one algorithm');
  if (badAlgorithms.length > 0)
    read.problem(
      'ALGORITHMS',
      `has unsupported ${badAlgorithms.join(', ')} (supported: ${ALGORITHMS.join(', ')})`,
    );
  const graceSeconds = read.integer('CLOCK_SKEW_SECONDS', 0);
  const fetchTimeoutMs = read.integer('JWKS_TIMEOUT_MS', 1500);
  const claimNames: ClaimNames = {
    subject: read.text('CLAIM_SUBJECT', 'sub'),
    roles: read.text('CLAIM_ROLES', 'roles'),
    email: read.text('CLAIM_EMAIL', 'email'),
    username: read.csv('CLAIM_USERNAME', ['username', 'preferred_username']),
    agent: read.csv('CLAIM_AGENT', ['client_id', 'azp']),
  };
  const allowedClients =
    read.raw('ALLOWED_CLIENTS') === undefined ? undefined : read.csv('ALLOWED_CLIENTS', []);
  // Set but naming nobody (only commas and spaces) is a mistake, not "any client": refused.
  if (allowedClients?.length === 0)
    read.problem('ALLOWED_CLIENTS', 'names no client (leave it unset to accept any client)');
  const requiredClaims = readRequiredClaims(read);
  return {
    issuer,
    audience,
    ...(discoveryUrl === undefined ? {} : { discoveryUrl }),
    ...(jwksUri === undefined ? {} : { jwksUri }),
    algorithms: algorithms as Algorithm[],
    graceSeconds,
    fetchTimeoutMs,
    claimNames,
    // An empty variable is no variable (settingsWithPrefix): any client.
    ...(allowedClients === undefined ? {} : { allowedClients }),
    requiredClaims,
  };
}

/**
 * `MCP_IDENTITY_REQUIRED_CLAIMS`: a compact JSON list of `{ name, match, values }` exactly as lib/config.ts
 * validates `identity.requiredClaims`. Problems name the entry by position, never echo the value.
 */
function readRequiredClaims(read: SettingsReader): ClaimRequirement[] {
  const json = read.json('REQUIRED_CLAIMS');
  if (json === undefined) return [];
  if (!Array.isArray(json)) {
    read.problem('REQUIRED_CLAIMS', 'must be a JSON list of { name, match, values }');
    return [];
  }
  const requirements: ClaimRequirement[] = [];
  for (const [index, item] of json.entries()) {
    const requirement = claimRequirement(item);
    if (requirement === undefined)
      read.problem(
        'REQUIRED_CLAIMS',
        `entry ${index + 1} must be { "name": "…", "match": "EQUALS" | "CONTAINS" | "CONTAINS_ANY", "values": ["…"] } (one value unless CONTAINS_ANY)`,
      );
    else requirements.push(requirement);
  }
  return requirements;
}
