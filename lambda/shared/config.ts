import { readFileSync } from 'node:fs';
import { supportedSignatureAlgorithms } from 'aws-jwt-verify/jwt-verifier';
import { readToolPinsFile, type ToolPinMap } from '../adapters/tool-pin-store';
import type { ClaimNames } from '../core/caller';
import type { CedarType } from '../core/cedar-request';
import { type ClaimRequirement, claimRequirement } from '../core/claim-requirements';
import type { PolicyCatalog, PolicyExplanation } from '../core/decision';
import { ConfigurationError } from '../core/errors';
import { MAX_ASSERTION_TTL_SECONDS } from '../core/identity-assertion';
import {
  assertionHeaderProblem,
  DEFAULT_ASSERTION_HEADER,
  type IdentityDeliverySettings,
  TARGET_NAME,
  type TargetDelivery,
} from '../core/identity-delivery';
import { CALLER_FIELDS, type InjectionConfig } from '../core/injection';
import { DEFAULT_REDACTED_KEYS, DEFAULT_VALUE_PATTERNS, type RedactionConfig } from '../core/redaction';
import { parseJsonText } from './json-syntax';

/**
 * Interceptor configuration, read from the environment once at cold start, validated, typed and frozen.
 * Security-critical settings (issuer, audience, key location, policy store) have no defaults. Every key is
 * documented in the README's configuration table; an unknown MCP_IDENTITY_* key is an error, so a typo
 * cannot silently leave a default in force.
 *
 * Validated by hand rather than with zod: this module is bundled into every Lambda, and zod was 45 % of the
 * interceptor's bundle and a good part of its cold start, for three dozen flat string settings. zod stays
 * where size does not matter (the CDK app and the CLI). Messages name the full variable, as before.
 */

const PREFIX = 'MCP_IDENTITY_';

const list = (value: string) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

type Algorithm = (typeof supportedSignatureAlgorithms)[number];

/**
 * Reads settings one key at a time, collecting every problem as `<KEY> <what is wrong>` so one error names
 * every bad key; keys never read are reported as unknown.
 */
class SettingsReader {
  readonly problems: string[] = [];
  private readonly unread: Set<string>;

  constructor(
    private readonly settings: Readonly<Record<string, string>>,
    private readonly prefix: string,
  ) {
    this.unread = new Set(Object.keys(settings));
  }

  problem(key: string, message: string): void {
    this.problems.push(`${this.prefix}${key} ${message}`);
  }

  raw(key: string): string | undefined {
    this.unread.delete(key);
    return this.settings[key];
  }

  required(key: string): string {
    const value = this.raw(key);
    if (value === undefined) this.problem(key, 'is required');
    return value ?? '';
  }

  text(key: string, fallback: string, max = Number.POSITIVE_INFINITY): string {
    const value = this.raw(key) ?? fallback;
    if (value.length > max) this.problem(key, `must be at most ${max} characters`);
    return value;
  }

  matching(key: string, value: string | undefined, pattern: RegExp, message: string): void {
    if (value !== undefined && !pattern.test(value)) this.problem(key, message);
  }

  url(key: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    try {
      const url = new URL(value);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') this.problem(key, 'must be an http(s) URL');
    } catch {
      this.problem(key, 'must be a URL');
    }
    return value;
  }

  csv(key: string, fallback: readonly string[]): string[] {
    const value = this.raw(key);
    return value === undefined ? [...fallback] : list(value);
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(key) ?? fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      this.problem(key, `must be one of ${allowed.join(', ')} (got '${value}')`);
      return fallback;
    }
    return value as T;
  }

  integer(key: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    const number = Number(value.trim());
    if (value.trim() === '' || !Number.isInteger(number) || number < min || number > max) {
      this.problem(
        key,
        max === Number.MAX_SAFE_INTEGER
          ? `must be an integer ≥ ${min}`
          : `must be an integer from ${min} to ${max}`,
      );
      return fallback;
    }
    return number;
  }

  json(key: string): unknown {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      this.problem(key, 'is not valid JSON');
      return undefined;
    }
  }

  /** Problems, with keys nobody read (typos) first. */
  all(): string[] {
    const unknown = [...this.unread].map((key) => this.prefix + key);
    return [...(unknown.length > 0 ? [`unknown setting(s) ${unknown.join(', ')}`] : []), ...this.problems];
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/** One catalogue entry; `avpName` is the policy's Verified Permissions name when the stack deployed it. */
interface CatalogEntry extends PolicyExplanation {
  readonly avpName?: string;
}

function catalogEntry(value: unknown): CatalogEntry | undefined {
  if (!isRecord(value) || typeof value.name !== 'string' || value.name === '') return undefined;
  if (value.reason !== undefined && typeof value.reason !== 'string') return undefined;
  if (value.avpName !== undefined && typeof value.avpName !== 'string') return undefined;
  return {
    name: value.name,
    ...(value.reason ? { reason: value.reason } : {}),
    ...(value.avpName ? { avpName: value.avpName } : {}),
  };
}

export interface InterceptorConfig {
  readonly jwt: {
    readonly issuer: string;
    readonly audience: readonly string[];
    readonly discoveryUrl?: string;
    readonly jwksUri?: string;
    readonly algorithms: readonly Algorithm[];
    readonly graceSeconds: number;
    readonly fetchTimeoutMs: number;
    readonly claimNames: ClaimNames;
    /** Agent (OAuth client) ids accepted (`ALLOWED_CLIENTS`); absent: any. As AgentCore's `allowedClients`. */
    readonly allowedClients?: readonly string[];
    /** Claims every token must carry (`REQUIRED_CLAIMS`), as AgentCore's `customClaims`. */
    readonly requiredClaims: readonly ClaimRequirement[];
  };
  readonly decisionPoint:
    | {
        readonly kind: 'avp';
        readonly policyStoreId: string;
        readonly timeoutMs: number;
        /** `context.token` facts the deployed policies read (computed at synth); unknown means all. */
        readonly tokenReads: 'all' | ReadonlySet<string>;
      }
    | { readonly kind: 'local'; readonly policyDir: string };
  readonly namespace: string;
  readonly resourceId: string;
  readonly inputTypes?: Readonly<Record<string, CedarType>>;
  readonly catalog?: PolicyCatalog;
  /** Pinned tool digests (`MCP_IDENTITY_TOOL_PINS_FILE`, written at synth from the schema); none: no pins. */
  readonly toolPins?: ToolPinMap;
  /**
   * Verified Permissions policy name → stable id, for mapping the opaque ids IsAuthorized returns to catalogue
   * entries (see lambda/adapters/avp-policy-names.ts).
   */
  readonly policyNames?: ReadonlyMap<string, string>;
  readonly mode: 'enforce' | 'log-only';
  readonly injection: InjectionConfig;
  readonly redaction: RedactionConfig;
  readonly cache: { readonly ttlSeconds: number; readonly maxEntries: number };
  readonly maxBodyBytes: number;
  readonly audit: { readonly eventSource: string; readonly recipientAccountId: string };
  readonly resourceMetadataUrl?: string;
  /** How each target receives the caller (arguments, the signed assertion); unlisted targets: arguments. */
  readonly delivery: IdentityDeliverySettings;
  /** Signing the identity assertion; present when some target takes it. */
  readonly assertion?: AssertionSigningConfig;
  /**
   * Just-in-time grants and the kill switch (`MCP_IDENTITY_ACCESS_TABLE`, `MCP_IDENTITY_ACCESS_TTL_SECONDS`):
   * the grants table and how long a subject's lookup is reused (the revocation bound). Absent: neither runs.
   */
  readonly access?: { readonly tableName: string; readonly ttlSeconds: number };
}

/** The identity assertion's key, issuer and lifetime (`MCP_IDENTITY_ASSERTION_*`). */
export interface AssertionSigningConfig {
  /** The asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY) that signs, by key ARN. */
  readonly keyArn: string;
  /** The assertions' `iss`. */
  readonly issuer: string;
  /** 1 to 300. @default 300 */
  readonly ttlSeconds: number;
}

/** The non-empty variables starting with `prefix`, keyed by the rest of their name. */
function settingsWithPrefix(env: NodeJS.ProcessEnv, prefix: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(prefix) && value !== undefined && value !== '')
      settings[key.slice(prefix.length)] = value;
  }
  return settings;
}

function compileRegex(source: string): RegExp {
  try {
    return new RegExp(source, 'g');
  } catch (error) {
    throw new ConfigurationError(`${PREFIX}REDACT_PATTERNS: '${source}' is not a valid regular expression`, {
      cause: error,
    });
  }
}

function readJsonFile(key: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError(
      `${PREFIX}${key}: cannot read JSON from ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok)
    throw new ConfigurationError(
      `${PREFIX}${key}: cannot read JSON from ${path}: not valid JSON (${parsed.place})`,
    );
  return parsed.value;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !(value instanceof RegExp) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

const ALGORITHMS = supportedSignatureAlgorithms as readonly Algorithm[];
const NAMESPACE = /^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$/;

function readCatalog(
  read: SettingsReader,
  inline: unknown,
  file: string | undefined,
): { catalog?: Map<string, PolicyExplanation>; policyNames?: Map<string, string> } {
  if (inline !== undefined) {
    // The inline form (a list of { id, name, reason }) keyed by AVP policy id: kept for stacks deployed before
    // the catalogue moved into the code asset.
    const entries = Array.isArray(inline)
      ? inline.map((item) => [item, catalogEntry(item)] as const)
      : undefined;
    if (
      entries === undefined ||
      entries.some(([item, entry]) => entry === undefined || !isRecord(item) || typeof item.id !== 'string')
    ) {
      read.problem('POLICY_CATALOG', 'must be a list of { id, name, reason } entries');
      return {};
    }
    return {
      catalog: new Map(
        entries.map(([item, entry]) => [
          String((item as Record<string, unknown>).id),
          { name: entry?.name ?? '', ...(entry?.reason ? { reason: entry.reason } : {}) },
        ]),
      ),
    };
  }
  if (file === undefined) return {};
  const json = readJsonFile('POLICY_CATALOG_FILE', file);
  const catalog = new Map<string, PolicyExplanation>();
  const policyNames = new Map<string, string>();
  if (!isRecord(json)) {
    read.problem('POLICY_CATALOG_FILE', `${file} must hold an object of { name, reason } entries`);
    return {};
  }
  for (const [id, value] of Object.entries(json)) {
    const entry = catalogEntry(value);
    if (entry === undefined) {
      read.problem('POLICY_CATALOG_FILE', `${file}: entry '${id}' must be { name, reason? }`);
      continue;
    }
    catalog.set(id, { name: entry.name, ...(entry.reason ? { reason: entry.reason } : {}) });
    if (entry.avpName !== undefined) policyNames.set(entry.avpName, id);
  }
  return { catalog, policyNames };
}

/** The token verifier's settings (`ISSUER`, `AUDIENCE`, key location, algorithms, clock skew, claim names). */
function readJwtSettings(read: SettingsReader): InterceptorConfig['jwt'] {
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

/** Reads the MCP_IDENTITY_* variables. Throws {@link ConfigurationError} naming every bad or missing key. */
export function loadInterceptorConfig(env: NodeJS.ProcessEnv = process.env): InterceptorConfig {
  const read = new SettingsReader(settingsWithPrefix(env, PREFIX), PREFIX);
  const jwt = readJwtSettings(read);
  const decisionPoint = read.oneOf('DECISION_POINT', ['avp', 'local'] as const, 'avp');
  const policyStoreId = read.raw('POLICY_STORE_ID');
  read.matching('POLICY_STORE_ID', policyStoreId, /^[a-zA-Z0-9-]{1,200}$/, 'is not a policy store id');
  const policyDir = read.raw('POLICY_DIR');
  const avpTimeoutMs = read.integer('AVP_TIMEOUT_MS', 1000);
  const tokenReads = policyTokenReads(read.raw('POLICY_TOKEN_READS'), (message) =>
    read.problem('POLICY_TOKEN_READS', message),
  );
  if (decisionPoint === 'avp' && policyStoreId === undefined)
    read.problem('POLICY_STORE_ID', `is required when ${PREFIX}DECISION_POINT is avp`);
  if (decisionPoint === 'local' && policyDir === undefined)
    read.problem('POLICY_DIR', `is required when ${PREFIX}DECISION_POINT is local`);
  const inputTypesFile = read.raw('INPUT_TYPES_FILE');
  const catalogFile = read.raw('POLICY_CATALOG_FILE');
  const toolPinsFile = read.raw('TOOL_PINS_FILE');
  let toolPins: ToolPinMap | undefined;
  if (toolPinsFile !== undefined) {
    try {
      toolPins = readToolPinsFile(toolPinsFile);
    } catch (error) {
      read.problem('TOOL_PINS_FILE', (error as Error).message);
    }
  }
  const inlineCatalog = read.json('POLICY_CATALOG');
  const namespace = read.text('CEDAR_NAMESPACE', 'McpIdentity');
  read.matching('CEDAR_NAMESPACE', namespace, NAMESPACE, 'is not a Cedar namespace');
  const resourceId = read.text('RESOURCE_ID', 'gateway');
  const mode = read.oneOf('MODE', ['enforce', 'log-only'] as const, 'enforce');
  const userParameter = read.text('INJECT_USER_PARAM', '_caller_user');
  const rolesParameter = read.text('INJECT_ROLES_PARAM', '_caller_roles');
  const bindings = read.json('INJECT_BINDINGS') ?? {};
  if (
    !isRecord(bindings) ||
    !Object.values(bindings).every(
      (tool) =>
        isRecord(tool) && Object.values(tool).every((field) => CALLER_FIELDS.includes(field as never)),
    )
  )
    read.problem(
      'INJECT_BINDINGS',
      `must map tool → { parameter: caller field } with fields from ${CALLER_FIELDS.join(', ')}`,
    );
  const auditArguments = read.oneOf('AUDIT_ARGUMENTS', ['values', 'names', 'none'] as const, 'values');
  const redactKeys = read.csv('REDACT_KEYS', []);
  const redactPatterns = read.json('REDACT_PATTERNS') ?? [];
  if (!isStringArray(redactPatterns)) read.problem('REDACT_PATTERNS', 'must be a JSON list of strings');
  const ttlSeconds = read.integer('DECISION_CACHE_TTL_SECONDS', 30);
  const maxEntries = read.integer('DECISION_CACHE_MAX_ENTRIES', 1000);
  const maxBodyBytes = read.integer('MAX_BODY_BYTES', 1024 * 1024);
  const eventSource = read.text('AUDIT_EVENT_SOURCE', 'mcp-identity', 256);
  const recipientAccountId = read.required('RECIPIENT_ACCOUNT_ID');
  read.matching(
    'RECIPIENT_ACCOUNT_ID',
    recipientAccountId || undefined,
    /^\d{12}$/,
    'must be a 12-digit AWS account id',
  );
  const resourceMetadataUrl = read.url('RESOURCE_METADATA_URL');
  const { delivery, assertion } = readIdentityDelivery(read);
  const accessTable = read.raw('ACCESS_TABLE');
  read.matching('ACCESS_TABLE', accessTable, /^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name');
  const accessTtlSeconds = read.integer('ACCESS_TTL_SECONDS', 5, 0, 300);
  const problems = read.all();
  if (problems.length > 0) throw new ConfigurationError(`invalid configuration: ${problems.join('; ')}`);

  const { catalog, policyNames } = readCatalog(read, inlineCatalog, catalogFile);
  const catalogProblems = read.all();
  if (catalogProblems.length > 0)
    throw new ConfigurationError(`invalid configuration: ${catalogProblems.join('; ')}`);
  const config: InterceptorConfig = {
    jwt,
    decisionPoint:
      decisionPoint === 'avp'
        ? { kind: 'avp', policyStoreId: policyStoreId as string, timeoutMs: avpTimeoutMs, tokenReads }
        : { kind: 'local', policyDir: policyDir as string },
    namespace,
    resourceId,
    ...(inputTypesFile === undefined
      ? {}
      : { inputTypes: readJsonFile('INPUT_TYPES_FILE', inputTypesFile) as Record<string, CedarType> }),
    ...(catalog === undefined ? {} : { catalog }),
    ...(toolPins === undefined ? {} : { toolPins }),
    ...(policyNames === undefined ? {} : { policyNames }),
    mode,
    injection: { userParameter, rolesParameter, bindings: bindings as InjectionConfig['bindings'] },
    redaction: {
      arguments: auditArguments,
      keys: [...DEFAULT_REDACTED_KEYS, ...redactKeys],
      valuePatterns: [...DEFAULT_VALUE_PATTERNS, ...(redactPatterns as string[]).map(compileRegex)],
    },
    cache: { ttlSeconds, maxEntries },
    maxBodyBytes,
    audit: { eventSource, recipientAccountId },
    ...(resourceMetadataUrl === undefined ? {} : { resourceMetadataUrl }),
    delivery,
    ...(assertion === undefined ? {} : { assertion }),
    ...(accessTable === undefined
      ? {}
      : { access: { tableName: accessTable, ttlSeconds: accessTtlSeconds } }),
  };
  return deepFreeze(config);
}

/** The grants-table stream auditor's settings (`MCP_IDENTITY_AUDIT_EVENT_SOURCE`, `_RECIPIENT_ACCOUNT_ID`). */
export function loadAccessAuditConfig(env: NodeJS.ProcessEnv): {
  readonly eventSource: string;
  readonly recipientAccountId: string;
} {
  const read = new SettingsReader(settingsWithPrefix(env, PREFIX), PREFIX);
  const eventSource = read.text('AUDIT_EVENT_SOURCE', 'mcp-identity', 256);
  const recipientAccountId = read.required('RECIPIENT_ACCOUNT_ID');
  read.matching(
    'RECIPIENT_ACCOUNT_ID',
    recipientAccountId || undefined,
    /^\d{12}$/,
    'must be a 12-digit AWS account id',
  );
  const problems = read.all();
  if (problems.length > 0) throw new ConfigurationError(`invalid configuration: ${problems.join('; ')}`);
  return Object.freeze({ eventSource, recipientAccountId });
}

export interface ForwarderConfig {
  readonly region: string;
  readonly channelArn: string;
  readonly dlqUrl: string;
  readonly endpoint?: string;
  readonly externalId?: string;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  /** The delivered-UID DynamoDB table (`DELIVERED_TABLE`). @default - none: no de-duplication across invocations */
  readonly deliveredTable?: string;
  /** The S3 bucket for events too large to park in the queue (`PARKING_BUCKET`). @default - none */
  readonly parkingBucket?: string;
  /** The `service` dimension of its metrics (`METRICS_SERVICE`, the gateway name). @default 'mcp-identity' */
  readonly metricsService: string;
}

/** The audit forwarder's `MCP_IDENTITY_AUDIT_*` settings (plus the Lambda-provided `AWS_REGION`). */
export function loadForwarderConfig(env: NodeJS.ProcessEnv = process.env): ForwarderConfig {
  const prefix = `${PREFIX}AUDIT_`;
  const read = new SettingsReader(settingsWithPrefix(env, prefix), prefix);
  const channelArn = read.required('CHANNEL_ARN');
  read.matching(
    'CHANNEL_ARN',
    channelArn || undefined,
    /^arn:[\w-]+:cloudtrail:[\w-]+:\d{12}:channel\/.+$/,
    'must be a CloudTrail channel ARN',
  );
  const dlqUrl = read.url('DLQ_URL');
  if (dlqUrl === undefined) read.problem('DLQ_URL', 'is required');
  const endpoint = read.url('ENDPOINT');
  const externalId = read.raw('EXTERNAL_ID');
  if (externalId !== undefined && (externalId.length < 2 || externalId.length > 1224))
    read.problem('EXTERNAL_ID', 'must be 2 to 1224 characters');
  const maxAttempts = read.integer('MAX_ATTEMPTS', 4, 1, 10);
  const timeoutMs = read.integer('TIMEOUT_MS', 5000, 100);
  const deliveredTable = read.raw('DELIVERED_TABLE');
  read.matching(
    'DELIVERED_TABLE',
    deliveredTable,
    /^[a-zA-Z0-9_.-]{3,255}$/,
    'must be a DynamoDB table name',
  );
  const parkingBucket = read.raw('PARKING_BUCKET');
  read.matching(
    'PARKING_BUCKET',
    parkingBucket,
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    'must be an S3 bucket name',
  );
  const metricsService = read.text('METRICS_SERVICE', 'mcp-identity', 255);
  const problems = read.all();
  const region = env.AWS_REGION;
  if (region === undefined || region === '') problems.push('AWS_REGION is required');
  if (problems.length > 0)
    throw new ConfigurationError(`invalid forwarder configuration: ${problems.join('; ')}`);
  return Object.freeze({
    region: region as string,
    channelArn,
    dlqUrl: dlqUrl as string,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(externalId === undefined ? {} : { externalId }),
    maxAttempts,
    timeoutMs,
    ...(deliveredTable === undefined ? {} : { deliveredTable }),
    ...(parkingBucket === undefined ? {} : { parkingBucket }),
    metricsService,
  });
}

const KMS_KEY_ARN = /^arn:aws[\w-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const DELIVERY_KEYS = ['arguments', 'assertion'];

/** One `MCP_IDENTITY_TARGET_DELIVERY` entry: exactly `{ "arguments": boolean, "assertion": boolean }`. */
function targetDelivery(value: unknown): TargetDelivery | undefined {
  if (!isRecord(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== DELIVERY_KEYS.length || !DELIVERY_KEYS.every((key) => keys.includes(key)))
    return undefined;
  if (typeof value.arguments !== 'boolean' || typeof value.assertion !== 'boolean') return undefined;
  return Object.freeze({ arguments: value.arguments, assertion: value.assertion });
}

/**
 * `MCP_IDENTITY_TARGET_DELIVERY` (compact JSON `{ "<target>": { "arguments": bool, "assertion": bool } }`) and
 * the `MCP_IDENTITY_ASSERTION_*` settings, which are required as soon as one target takes the assertion.
 */
function readIdentityDelivery(read: SettingsReader): {
  delivery: IdentityDeliverySettings;
  assertion?: AssertionSigningConfig;
} {
  const targets = new Map<string, TargetDelivery>();
  const json = read.json('TARGET_DELIVERY') ?? {};
  if (!isRecord(json))
    read.problem(
      'TARGET_DELIVERY',
      'must be a JSON object { "<target>": { "arguments": …, "assertion": … } }',
    );
  else
    for (const [name, value] of Object.entries(json)) {
      const entry = targetDelivery(value);
      if (!TARGET_NAME.test(name))
        read.problem(
          'TARGET_DELIVERY',
          `'${name.slice(0, 100)}' is not a target name (letters, digits, single hyphens)`,
        );
      else if (entry === undefined)
        read.problem(
          'TARGET_DELIVERY',
          `'${name}' must be { "arguments": true|false, "assertion": true|false }`,
        );
      else targets.set(name, entry);
    }
  const assertionHeader = read.text('ASSERTION_HEADER', DEFAULT_ASSERTION_HEADER);
  const headerProblem = assertionHeaderProblem(assertionHeader);
  if (headerProblem !== undefined) read.problem('ASSERTION_HEADER', headerProblem);
  const keyArn = read.raw('ASSERTION_KEY_ID');
  read.matching(
    'ASSERTION_KEY_ID',
    keyArn,
    KMS_KEY_ARN,
    'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>, not an alias)',
  );
  const issuer = read.raw('ASSERTION_ISSUER');
  if (issuer !== undefined && (issuer.length > 512 || /[\s\p{Cc}]/u.test(issuer)))
    read.problem('ASSERTION_ISSUER', 'must be at most 512 characters without spaces or control characters');
  const ttlSeconds = read.integer(
    'ASSERTION_TTL_SECONDS',
    MAX_ASSERTION_TTL_SECONDS,
    1,
    MAX_ASSERTION_TTL_SECONDS,
  );
  const asserted = [...targets].filter(([, entry]) => entry.assertion).map(([name]) => name);
  const delivery = { targets, assertionHeader };
  if (asserted.length === 0) return { delivery };
  const why = `when a target takes the identity assertion (${asserted.join(', ')})`;
  if (keyArn === undefined) read.problem('ASSERTION_KEY_ID', `is required ${why}`);
  if (issuer === undefined) read.problem('ASSERTION_ISSUER', `is required ${why}`);
  return { delivery, assertion: { keyArn: keyArn ?? '', issuer: issuer ?? '', ttlSeconds } };
}

const TOKEN_FACTS = ['expiresAt', 'issuedAt', 'id'];

/**
 * `MCP_IDENTITY_POLICY_TOKEN_READS`: which `context.token` facts the deployed policies read — `all` (the safe
 * default: every fresh token is decided afresh), `none`, or a comma-separated list of facts.
 */
export function policyTokenReads(
  value: string | undefined,
  problem: (message: string) => void,
): 'all' | ReadonlySet<string> {
  if (value === undefined || value.trim() === 'all') return 'all';
  if (value.trim() === 'none') return new Set();
  const facts = list(value);
  const unknown = facts.filter((fact) => !TOKEN_FACTS.includes(fact));
  if (unknown.length > 0) {
    problem(`must be all, none or a list of ${TOKEN_FACTS.join(', ')} (got '${unknown.join(', ')}')`);
    return 'all';
  }
  return new Set(facts);
}

/** The API Gateway door's Lambda REQUEST authorizer: it only authenticates (the proxy decides each call). */
export interface AuthorizerConfig {
  readonly jwt: InterceptorConfig['jwt'];
  /**
   * The authorizer's result cache TTL as configured on API Gateway (`AUTHORIZER_CACHE_TTL_SECONDS`, 0–3600). A
   * token whose remaining lifetime is shorter is refused, so no cached Allow outlives its token.
   */
  readonly cacheTtlSeconds: number;
  /** Its refusals are audited like the proxy's (same event source and account, same value patterns). */
  readonly audit: InterceptorConfig['audit'];
  readonly valuePatterns: readonly RegExp[];
}

/** Reads the authorizer's MCP_IDENTITY_* variables (the token settings, the cache TTL, audit settings). */
export function loadAuthorizerConfig(env: NodeJS.ProcessEnv = process.env): AuthorizerConfig {
  const read = new SettingsReader(settingsWithPrefix(env, PREFIX), PREFIX);
  const jwt = readJwtSettings(read);
  const cacheTtlSeconds = read.integer('AUTHORIZER_CACHE_TTL_SECONDS', 60, 0, 3600);
  const eventSource = read.text('AUDIT_EVENT_SOURCE', 'mcp-identity', 256);
  const recipientAccountId = read.required('RECIPIENT_ACCOUNT_ID');
  read.matching(
    'RECIPIENT_ACCOUNT_ID',
    recipientAccountId || undefined,
    /^\d{12}$/,
    'must be a 12-digit AWS account id',
  );
  const redactPatterns = read.json('REDACT_PATTERNS') ?? [];
  if (!isStringArray(redactPatterns)) read.problem('REDACT_PATTERNS', 'must be a JSON list of strings');
  const problems = read.all();
  if (problems.length > 0)
    throw new ConfigurationError(`invalid authorizer configuration: ${problems.join('; ')}`);
  return deepFreeze({
    jwt,
    cacheTtlSeconds,
    audit: { eventSource, recipientAccountId },
    valuePatterns: [...DEFAULT_VALUE_PATTERNS, ...(redactPatterns as string[]).map(compileRegex)],
  });
}

const UPSTREAM = 'UPSTREAM_';

/** Where the API Gateway door's MCP proxy forwards allowed requests, and how. */
export interface UpstreamConfig {
  readonly target:
    | { readonly kind: 'lambda'; readonly functionArn: string }
    | {
        readonly kind: 'https';
        readonly url: string;
        /** Outbound credentials (Secrets Manager). @default - none */
        readonly secretArn?: string;
        /** How long a secret value is reused before it is read again. @default 300 */
        readonly secretTtlSeconds: number;
      };
  /** Deadline for the upstream's whole answer. @default 290000 */
  readonly timeoutMs: number;
  /** Largest upstream response read whole (JSON bodies, one SSE event). @default 6 MiB */
  readonly maxResponseBytes: number;
  /** SSE comment keep-alive while a streamed answer is idle (API Gateway's idle timeout is 5 min). @default 30 */
  readonly keepAliveSeconds: number;
  /** Tools exposed as `${targetName}___${tool}`, as on AgentCore Gateway. @default - the upstream's own names */
  readonly targetName?: string;
}

const LAMBDA_ARN =
  /^arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$/;
const SECRET_ARN = /^arn:aws[\w-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

/**
 * The proxy's configuration: every interceptor setting (same token, policy store, injection and audit) plus the
 * `MCP_IDENTITY_UPSTREAM_*` settings. One error names every bad key of both.
 */
export function loadProxyConfig(env: NodeJS.ProcessEnv = process.env): {
  readonly guard: InterceptorConfig;
  readonly upstream: UpstreamConfig;
} {
  const prefix = `${PREFIX}${UPSTREAM}`;
  const read = new SettingsReader(settingsWithPrefix(env, prefix), prefix);
  const functionArn = read.raw('LAMBDA_ARN');
  const url = read.raw('URL');
  const secretArn = read.raw('SECRET_ARN');
  read.matching('LAMBDA_ARN', functionArn, LAMBDA_ARN, 'must be a Lambda function ARN');
  read.matching('SECRET_ARN', secretArn, SECRET_ARN, 'must be a Secrets Manager secret ARN');
  if ((functionArn === undefined) === (url === undefined))
    read.problem('URL', `set exactly one of ${prefix}URL and ${prefix}LAMBDA_ARN`);
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      read.problem('URL', 'must be a URL');
    }
    try {
      if (parsed !== undefined) assertUpstreamUrl(parsed);
    } catch (error) {
      read.problem('URL', (error as Error).message);
    }
  }
  if (secretArn !== undefined && url === undefined)
    read.problem('SECRET_ARN', `applies to ${prefix}URL only (a Lambda upstream is invoked with IAM)`);
  const secretTtlSeconds = read.integer('SECRET_TTL_SECONDS', 300, 0, 86_400);
  const timeoutMs = read.integer('TIMEOUT_MS', 290_000, 1000, 900_000);
  const maxResponseBytes = read.integer('MAX_RESPONSE_BYTES', 6 * 1024 * 1024, 1024, 64 * 1024 * 1024);
  const keepAliveSeconds = read.integer('KEEPALIVE_SECONDS', 30, 1, 290);
  const targetName = read.raw('TARGET_NAME');
  read.matching(
    'TARGET_NAME',
    targetName,
    /^(?!.*___)[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/,
    'must be letters, digits, - and _ (no ___), at most 100',
  );
  const problems = read.all();
  const rest = Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith(prefix)));
  let guard: InterceptorConfig | undefined;
  try {
    guard = loadInterceptorConfig(rest);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    problems.push(error.message.replace(/^invalid configuration: /, ''));
  }
  if (problems.length > 0 || guard === undefined)
    throw new ConfigurationError(`invalid proxy configuration: ${problems.join('; ')}`);
  const target: UpstreamConfig['target'] =
    functionArn !== undefined
      ? { kind: 'lambda', functionArn }
      : {
          kind: 'https',
          url: url as string,
          ...(secretArn === undefined ? {} : { secretArn }),
          secretTtlSeconds,
        };
  return deepFreeze({
    guard,
    upstream: {
      target,
      timeoutMs,
      maxResponseBytes,
      keepAliveSeconds,
      ...(targetName === undefined ? {} : { targetName }),
    },
  });
}

/**
 * An upstream MCP server URL: https, or plain http to loopback only (the local stack and tests), with no
 * credentials in it (they belong in Secrets Manager) and no fragment.
 */
export function assertUpstreamUrl(url: URL): void {
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw new ConfigurationError('must be an https URL (plain http only to loopback)');
  if (url.username !== '' || url.password !== '')
    throw new ConfigurationError('must not carry credentials (use the secret)');
  if (url.hash !== '') throw new ConfigurationError('must not have a fragment');
}
