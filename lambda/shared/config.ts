import { readFileSync } from 'node:fs';
import { supportedSignatureAlgorithms } from 'aws-jwt-verify/jwt-verifier';
import { z } from 'zod';
import type { ClaimNames } from '../core/caller';
import type { CedarType } from '../core/cedar-request';
import type { PolicyCatalog, PolicyExplanation } from '../core/decision';
import { ConfigurationError } from '../core/errors';
import { CALLER_FIELDS, type InjectionConfig } from '../core/injection';
import { DEFAULT_REDACTED_KEYS, DEFAULT_VALUE_PATTERNS, type RedactionConfig } from '../core/redaction';

/**
 * Interceptor configuration, read from the environment once at cold start, validated, typed and frozen.
 * Security-critical settings (issuer, audience, key location, policy store) have no defaults. Every key is
 * documented in the README's configuration table; an unknown MCP_IDENTITY_* key is an error, so a typo
 * cannot silently leave a default in force.
 */

const PREFIX = 'MCP_IDENTITY_';

const list = (value: string) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

const csv = z.string().transform(list);
const positiveInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

const algorithm = z.enum(supportedSignatureAlgorithms);
const callerField = z.enum(CALLER_FIELDS as [string, ...string[]]);

const ENV_SCHEMA = z
  .object({
    ISSUER: z.string().min(1),
    AUDIENCE: csv.pipe(z.array(z.string()).min(1, 'needs at least one audience')),
    DISCOVERY_URL: z.url().optional(),
    JWKS_URI: z.url().optional(),
    ALGORITHMS: csv.pipe(z.array(algorithm).min(1)).default(['RS256', 'ES256']),
    CLOCK_SKEW_SECONDS: positiveInt(0),
    JWKS_TIMEOUT_MS: positiveInt(1500),
    CLAIM_SUBJECT: z.string().min(1).default('sub'),
    CLAIM_ROLES: z.string().min(1).default('roles'),
    CLAIM_EMAIL: z.string().min(1).default('email'),
    CLAIM_USERNAME: csv.default(['username', 'preferred_username']),
    CLAIM_AGENT: csv.default(['client_id', 'azp']),
    DECISION_POINT: z.enum(['avp', 'local']).default('avp'),
    POLICY_STORE_ID: z
      .string()
      .regex(/^[a-zA-Z0-9-]{1,200}$/, 'is not a policy store id')
      .optional(),
    POLICY_DIR: z.string().min(1).optional(),
    AVP_TIMEOUT_MS: positiveInt(1000),
    INPUT_TYPES_FILE: z.string().min(1).optional(),
    POLICY_CATALOG_FILE: z.string().min(1).optional(),
    POLICY_CATALOG: json(
      z.array(z.object({ id: z.string().min(1), name: z.string().min(1), reason: z.string().optional() })),
    ).optional(),
    CEDAR_NAMESPACE: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$/)
      .default('McpIdentity'),
    RESOURCE_ID: z.string().min(1).default('gateway'),
    MODE: z.enum(['enforce', 'log-only']).default('enforce'),
    INJECT_USER_PARAM: z.string().min(1).default('_caller_user'),
    INJECT_ROLES_PARAM: z.string().min(1).default('_caller_roles'),
    INJECT_BINDINGS: json(z.record(z.string(), z.record(z.string(), callerField))).default({}),
    AUDIT_ARGUMENTS: z.enum(['values', 'names', 'none']).default('values'),
    REDACT_KEYS: csv.default([]),
    REDACT_PATTERNS: json(z.array(z.string())).default([]),
    DECISION_CACHE_TTL_SECONDS: positiveInt(30),
    DECISION_CACHE_MAX_ENTRIES: positiveInt(1000),
    MAX_BODY_BYTES: positiveInt(1024 * 1024),
    AUDIT_EVENT_SOURCE: z.string().min(1).max(256).default('mcp-identity'),
    RECIPIENT_ACCOUNT_ID: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id'),
    RESOURCE_METADATA_URL: z.url().optional(),
  })
  .strict()
  .superRefine((env, ctx) => {
    if (env.DISCOVERY_URL === undefined && env.JWKS_URI === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['DISCOVERY_URL'],
        message: 'set MCP_IDENTITY_DISCOVERY_URL or MCP_IDENTITY_JWKS_URI',
      });
    }
    if (env.DECISION_POINT === 'avp' && env.POLICY_STORE_ID === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['POLICY_STORE_ID'],
        message: 'is required when MCP_IDENTITY_DECISION_POINT is avp',
      });
    }
    if (env.DECISION_POINT === 'local' && env.POLICY_DIR === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['POLICY_DIR'],
        message: 'is required when MCP_IDENTITY_DECISION_POINT is local',
      });
    }
  });

export interface InterceptorConfig {
  readonly jwt: {
    readonly issuer: string;
    readonly audience: readonly string[];
    readonly discoveryUrl?: string;
    readonly jwksUri?: string;
    readonly algorithms: readonly (typeof supportedSignatureAlgorithms)[number][];
    readonly graceSeconds: number;
    readonly fetchTimeoutMs: number;
    readonly claimNames: ClaimNames;
  };
  readonly decisionPoint:
    | { readonly kind: 'avp'; readonly policyStoreId: string; readonly timeoutMs: number }
    | { readonly kind: 'local'; readonly policyDir: string };
  readonly namespace: string;
  readonly resourceId: string;
  readonly inputTypes?: Readonly<Record<string, CedarType>>;
  readonly catalog?: PolicyCatalog;
  readonly mode: 'enforce' | 'log-only';
  readonly injection: InjectionConfig;
  readonly redaction: RedactionConfig;
  readonly cache: { readonly ttlSeconds: number; readonly maxEntries: number };
  readonly maxBodyBytes: number;
  readonly audit: { readonly eventSource: string; readonly recipientAccountId: string };
  readonly resourceMetadataUrl?: string;
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

/** Validation issues as messages naming the full variable, e.g. `MCP_IDENTITY_AUDIENCE is required`. */
function describeIssues(issues: readonly z.core.$ZodIssue[], prefix: string): string[] {
  return issues.map((issue) => {
    if (issue.code === 'unrecognized_keys')
      return `unknown setting(s) ${issue.keys.map((key) => prefix + key).join(', ')}`;
    const key = issue.path.length > 0 ? `${prefix}${String(issue.path[0])}` : 'configuration';
    return `${key} ${issue.message.includes('received undefined') ? 'is required' : issue.message}`;
  });
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
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigurationError(
      `${PREFIX}${key}: cannot read JSON from ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !(value instanceof RegExp) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

/** Reads the MCP_IDENTITY_* variables. Throws {@link ConfigurationError} naming every bad or missing key. */
export function loadInterceptorConfig(env: NodeJS.ProcessEnv = process.env): InterceptorConfig {
  const parsed = ENV_SCHEMA.safeParse(settingsWithPrefix(env, PREFIX));
  if (!parsed.success)
    throw new ConfigurationError(
      `invalid configuration: ${describeIssues(parsed.error.issues, PREFIX).join('; ')}`,
    );
  const e = parsed.data;
  const catalog =
    e.POLICY_CATALOG !== undefined
      ? new Map<string, PolicyExplanation>(
          e.POLICY_CATALOG.map((entry) => [
            entry.id,
            { name: entry.name, ...(entry.reason ? { reason: entry.reason } : {}) },
          ]),
        )
      : e.POLICY_CATALOG_FILE === undefined
        ? undefined
        : new Map(
            Object.entries(
              z
                .record(z.string(), z.object({ name: z.string(), reason: z.string().optional() }))
                .parse(readJsonFile('POLICY_CATALOG_FILE', e.POLICY_CATALOG_FILE)),
            ) as [string, PolicyExplanation][],
          );
  const config: InterceptorConfig = {
    jwt: {
      issuer: e.ISSUER,
      audience: e.AUDIENCE,
      ...(e.DISCOVERY_URL === undefined ? {} : { discoveryUrl: e.DISCOVERY_URL }),
      ...(e.JWKS_URI === undefined ? {} : { jwksUri: e.JWKS_URI }),
      algorithms: e.ALGORITHMS,
      graceSeconds: e.CLOCK_SKEW_SECONDS,
      fetchTimeoutMs: e.JWKS_TIMEOUT_MS,
      claimNames: {
        subject: e.CLAIM_SUBJECT,
        roles: e.CLAIM_ROLES,
        email: e.CLAIM_EMAIL,
        username: e.CLAIM_USERNAME,
        agent: e.CLAIM_AGENT,
      },
    },
    decisionPoint:
      e.DECISION_POINT === 'avp'
        ? { kind: 'avp', policyStoreId: e.POLICY_STORE_ID as string, timeoutMs: e.AVP_TIMEOUT_MS }
        : { kind: 'local', policyDir: e.POLICY_DIR as string },
    namespace: e.CEDAR_NAMESPACE,
    resourceId: e.RESOURCE_ID,
    ...(e.INPUT_TYPES_FILE === undefined
      ? {}
      : { inputTypes: readJsonFile('INPUT_TYPES_FILE', e.INPUT_TYPES_FILE) as Record<string, CedarType> }),
    ...(catalog === undefined ? {} : { catalog }),
    mode: e.MODE,
    injection: {
      userParameter: e.INJECT_USER_PARAM,
      rolesParameter: e.INJECT_ROLES_PARAM,
      bindings: e.INJECT_BINDINGS as InjectionConfig['bindings'],
    },
    redaction: {
      arguments: e.AUDIT_ARGUMENTS,
      keys: [...DEFAULT_REDACTED_KEYS, ...e.REDACT_KEYS],
      valuePatterns: [...DEFAULT_VALUE_PATTERNS, ...e.REDACT_PATTERNS.map(compileRegex)],
    },
    cache: { ttlSeconds: e.DECISION_CACHE_TTL_SECONDS, maxEntries: e.DECISION_CACHE_MAX_ENTRIES },
    maxBodyBytes: e.MAX_BODY_BYTES,
    audit: { eventSource: e.AUDIT_EVENT_SOURCE, recipientAccountId: e.RECIPIENT_ACCOUNT_ID },
    ...(e.RESOURCE_METADATA_URL === undefined ? {} : { resourceMetadataUrl: e.RESOURCE_METADATA_URL }),
  };
  return deepFreeze(config);
}

const FORWARDER_SCHEMA = z
  .object({
    CHANNEL_ARN: z
      .string()
      .regex(/^arn:[\w-]+:cloudtrail:[\w-]+:\d{12}:channel\/.+$/, 'must be a CloudTrail channel ARN'),
    DLQ_URL: z.url(),
    ENDPOINT: z.url().optional(),
    EXTERNAL_ID: z.string().min(2).max(1224).optional(),
    MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(4),
    TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  })
  .strict();

export interface ForwarderConfig {
  readonly region: string;
  readonly channelArn: string;
  readonly dlqUrl: string;
  readonly endpoint?: string;
  readonly externalId?: string;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
}

/** The audit forwarder's `MCP_IDENTITY_AUDIT_*` settings (plus the Lambda-provided `AWS_REGION`). */
export function loadForwarderConfig(env: NodeJS.ProcessEnv = process.env): ForwarderConfig {
  const prefix = `${PREFIX}AUDIT_`;
  const parsed = FORWARDER_SCHEMA.safeParse(settingsWithPrefix(env, prefix));
  const region = env.AWS_REGION;
  const problems = parsed.success ? [] : describeIssues(parsed.error.issues, prefix);
  if (region === undefined || region === '') problems.push('AWS_REGION is required');
  if (!parsed.success || problems.length > 0)
    throw new ConfigurationError(`invalid forwarder configuration: ${problems.join('; ')}`);
  const e = parsed.data;
  return Object.freeze({
    region: region as string,
    channelArn: e.CHANNEL_ARN,
    dlqUrl: e.DLQ_URL,
    ...(e.ENDPOINT === undefined ? {} : { endpoint: e.ENDPOINT }),
    ...(e.EXTERNAL_ID === undefined ? {} : { externalId: e.EXTERNAL_ID }),
    maxAttempts: e.MAX_ATTEMPTS,
    timeoutMs: e.TIMEOUT_MS,
  });
}
