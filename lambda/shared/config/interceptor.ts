import { readToolPinsFile, type ToolPinMap } from '../../adapters/tool-pin-store';
import type { CedarType } from '../../core/cedar-request';
import type { PolicyCatalog } from '../../core/decision';
import { ConfigurationError } from '../../core/errors';
import type { IdentityDeliverySettings } from '../../core/identity-delivery';
import { CALLER_FIELDS, type InjectionConfig } from '../../core/injection';
import { DEFAULT_REDACTED_KEYS, type RedactionConfig } from '../../core/redaction';
import { readAuditDestination, readRedactPatterns, valuePatterns } from './audit-settings';
import { type DecisionPointSettings, readDecisionPoint } from './decision-point';
import { type AssertionSigningConfig, readIdentityDelivery } from './delivery-settings';
import { type JwtSettings, readJwtSettings } from './jwt-settings';
import { readCatalog } from './policy-catalog';
import {
  deepFreeze,
  isRecord,
  PREFIX,
  readJsonFile,
  SettingsReader,
  settingsWithPrefix,
} from './settings-reader';

/**
 * The guard's configuration: the AgentCore interceptor's, and the API Gateway proxy's guard settings (the proxy
 * loads it through {@link loadInterceptorConfig}, see ./apigateway-proxy.ts).
 *
 * Read from the environment once at cold start, validated, typed and frozen. Security-critical settings (issuer,
 * audience, key location, policy store) have no defaults. Every key is documented in the README's configuration
 * table; an unknown MCP_IDENTITY_* key is an error, so a typo cannot silently leave a default in force.
 */

export interface InterceptorConfig {
  readonly jwt: JwtSettings;
  readonly decisionPoint: DecisionPointSettings;
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

const NAMESPACE = /^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Reads the MCP_IDENTITY_* variables. Throws {@link ConfigurationError} naming every bad or missing key. */
export function loadInterceptorConfig(env: NodeJS.ProcessEnv = process.env): InterceptorConfig {
  const read = new SettingsReader(settingsWithPrefix(env, PREFIX), PREFIX);
  const jwt = readJwtSettings(read);
  const decisionPoint = readDecisionPoint(read);
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
  const redactPatterns = readRedactPatterns(read);
  const ttlSeconds = read.integer('DECISION_CACHE_TTL_SECONDS', 30);
  const maxEntries = read.integer('DECISION_CACHE_MAX_ENTRIES', 1000);
  const maxBodyBytes = read.integer('MAX_BODY_BYTES', 1024 * 1024);
  const { eventSource, recipientAccountId } = readAuditDestination(read);
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
    decisionPoint,
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
      valuePatterns: valuePatterns(redactPatterns),
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
