import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { supportedSignatureAlgorithms } from 'aws-jwt-verify/jwt-verifier';
import { z } from 'zod';
import { CALLER_FIELDS } from '../lambda/core/injection';
import { doorsSchema } from './door-config';
import { grantsSchema } from './grants-config';
import { observabilitySchema } from './observability-config';
import { assertionSchema, type TargetConfig, targetListSchema } from './target-config';

/**
 * The deployment's configuration: one object under the CDK context key `mcpIdentity` (cdk.json, or
 * `-c mcpIdentityConfigFile=path.json`), with mcp-identity.config.json merged over it (lib/config-source.ts
 * reads and merges), validated here with clear messages naming each bad or missing key.
 * Security-critical settings (issuer, discovery URL, audience) have no defaults.
 */

export const CONTEXT_KEY = 'mcpIdentity';
export const CONFIG_FILE_CONTEXT_KEY = 'mcpIdentityConfigFile';

const RETENTION_DAYS = new Set<number>(
  Object.values(RetentionDays).filter((value): value is number => typeof value === 'number'),
);
const DISCOVERY_SUFFIX = '/.well-known/openid-configuration';

const claimSchema = z
  .object({
    name: z.string().min(1),
    match: z.enum(['EQUALS', 'CONTAINS', 'CONTAINS_ANY']),
    values: z.array(z.string().min(1)).min(1),
  })
  .strict()
  .refine((claim) => claim.match === 'CONTAINS_ANY' || claim.values.length === 1, {
    message: 'EQUALS and CONTAINS take exactly one value; use CONTAINS_ANY for several',
  });

export const stackConfigSchema = z
  .object({
    identity: z
      .object({
        /** Expected `iss` of user tokens. */
        issuer: z.string().min(1),
        /** OIDC discovery document; AgentCore's CUSTOM_JWT authorizer requires one. */
        discoveryUrl: z
          .url()
          .refine((url) => url.endsWith(DISCOVERY_SUFFIX), { message: `must end with ${DISCOVERY_SUFFIX}` }),
        /** JWKS location for the interceptor, when it differs from the discovery document's. */
        jwksUri: z.url().optional(),
        audience: z.array(z.string().min(1)).min(1, 'needs at least one audience'),
        /** Agent (OAuth client) ids accepted, on every door; absent: any client. */
        allowedClients: z
          .array(
            z
              .string()
              .min(1)
              .refine((client) => !/[,\s]/.test(client), { message: 'must not contain commas or spaces' }),
          )
          .min(1, 'needs at least one client; leave it out to accept any client')
          .optional(),
        requiredClaims: z.array(claimSchema).default([]),
        algorithms: z.array(z.enum(supportedSignatureAlgorithms)).min(1).default(['RS256', 'ES256']),
        claims: z
          .object({
            subject: z.string().min(1).default('sub'),
            roles: z.string().min(1).default('roles'),
            email: z.string().min(1).default('email'),
            username: z.array(z.string().min(1)).default(['username', 'preferred_username']),
            agent: z.array(z.string().min(1)).default(['client_id', 'azp']),
          })
          .strict()
          .default({
            subject: 'sub',
            roles: 'roles',
            email: 'email',
            username: ['username', 'preferred_username'],
            agent: ['client_id', 'azp'],
          }),
      })
      .strict(),
    authorization: z
      .object({
        mode: z.enum(['enforce', 'log-only']).default('enforce'),
        decisionCacheTtlSeconds: z.number().int().min(0).max(300).default(30),
        policyDir: z.string().min(1).default('policies'),
        namespace: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
          .default('McpIdentity'),
      })
      .strict()
      .default({
        mode: 'enforce',
        decisionCacheTtlSeconds: 30,
        policyDir: 'policies',
        namespace: 'McpIdentity',
      }),
    injection: z
      .object({
        userParameter: z.string().min(1).default('_caller_user'),
        rolesParameter: z.string().min(1).default('_caller_roles'),
        bindings: z
          .record(z.string(), z.record(z.string(), z.enum(CALLER_FIELDS as [string, ...string[]])))
          .default({}),
      })
      .strict()
      .default({ userParameter: '_caller_user', rolesParameter: '_caller_roles', bindings: {} }),
    audit: z
      .object({
        store: z.enum(['cloudtrail-lake', 'cloudwatch']).default('cloudtrail-lake'),
        logRetentionDays: z
          .number()
          .int()
          .refine((days) => RETENTION_DAYS.has(days), {
            message: `must be a CloudWatch Logs retention: ${[...RETENTION_DAYS].sort((a, b) => a - b).join(', ')}`,
          })
          .default(365),
        eventDataStoreRetentionDays: z.number().int().min(7).max(3653).default(365),
        terminationProtection: z.boolean().default(true),
        arguments: z.enum(['values', 'names', 'none']).default('values'),
        redactKeys: z.array(z.string().min(1)).default([]),
        redactPatterns: z
          .array(z.string().min(1))
          .default([])
          .refine(
            (patterns) =>
              patterns.every((pattern) => {
                try {
                  new RegExp(pattern);
                  return true;
                } catch {
                  return false;
                }
              }),
            { message: 'contains an invalid regular expression' },
          ),
      })
      .strict()
      .default({
        store: 'cloudtrail-lake',
        logRetentionDays: 365,
        eventDataStoreRetentionDays: 365,
        terminationProtection: true,
        arguments: 'values',
        redactKeys: [],
        redactPatterns: [],
      }),
    /** Customer managed key for the log groups, queue, event data store and gateway. */
    kmsKeyArn: z
      .string()
      .regex(/^arn:aws[\w-]*:kms:[\w-]+:\d{12}:key\/[\w-]+$/, 'must be a KMS key ARN')
      .optional(),
    gateway: z
      .object({
        name: z
          .string()
          .regex(/^[A-Za-z0-9-]{1,48}$/, 'letters, digits and hyphens, at most 48')
          .default('mcp-identity'),
        /** Before `targets` existed: `true` (the default) = the demo target alone. Not together with `targets`. */
        demoTarget: z.boolean().optional(),
        /** The endpoints behind the gateway (lib/target-config.ts). @default - the demo target alone */
        targets: targetListSchema.optional(),
        resourceMetadataUrl: z.url().optional(),
      })
      .strict()
      .superRefine((gateway, context) => {
        if (gateway.targets !== undefined && gateway.demoTarget !== undefined)
          context.addIssue({
            code: 'custom',
            path: ['demoTarget'],
            message:
              'cannot be used together with gateway.targets: list { "kind": "demo" } in gateway.targets instead (or leave it out)',
          });
      })
      .transform(({ demoTarget, targets, ...gateway }) => ({
        ...gateway,
        targets: targets ?? (demoTarget === false ? [] : DEMO_ONLY),
      }))
      .prefault({}),
    /** The signed identity assertion for targets that take it (lib/target-config.ts). */
    assertion: assertionSchema,
    /** The front doors: AgentCore Gateway and/or API Gateway (lib/door-config.ts). @default AgentCore alone */
    doors: doorsSchema,
    /** Metrics namespace, dashboard, alarms and their SNS target (lib/observability-config.ts). */
    observability: observabilitySchema,
    /** Just-in-time grants and the kill switch (lib/grants-config.ts). @default enabled, 12h, 5 s bounds */
    grants: grantsSchema,
  })
  .strict();

/** What `gateway.demoTarget: true` (or no `targets`) means. */
const DEMO_ONLY: readonly TargetConfig[] = Object.freeze([
  Object.freeze({
    kind: 'demo',
    name: 'orders',
    outboundAuth: { type: 'iam' },
    identity: ['arguments'],
  }) as TargetConfig,
]);

export type StackConfig = z.infer<typeof stackConfigSchema>;

export class StackConfigError extends Error {}

/** A key path as zod reports it (object keys and array indexes). */
export type ConfigKeyPath = readonly PropertyKey[];

/** `identity.audience[0]`: a key path as users write it. */
export function formatKeyPath(path: ConfigKeyPath): string {
  return path.reduce<string>(
    (text, part) =>
      typeof part === 'number' ? `${text}[${part}]` : text === '' ? String(part) : `${text}.${String(part)}`,
    '',
  );
}

/**
 * Validates a raw configuration object. Throws {@link StackConfigError} listing every problem by key.
 * `source` prefixes each key (`mcpIdentity.identity.issuer`); as a function it names, per key path, where the
 * key was set (lib/config-source.ts: a file merged over cdk.json context), and lines read
 * `mcp-identity.config.json: identity.audience: needs at least one audience`.
 */
export function parseStackConfig(
  raw: unknown,
  source: string | ((path: ConfigKeyPath) => string) = CONTEXT_KEY,
): StackConfig {
  if (raw === undefined || raw === null) {
    throw new StackConfigError(
      `no configuration: set the "${CONTEXT_KEY}" object in cdk.json context, write mcp-identity.config.json (npx mcp-identity init) or pass -c ${CONFIG_FILE_CONTEXT_KEY}=<file.json>`,
    );
  }
  const parsed = stackConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const key =
    typeof source === 'function'
      ? (label: string, path: ConfigKeyPath) => `${label}: ${formatKeyPath(path) || '(top level)'}`
      : (_label: string, path: ConfigKeyPath) =>
          path.length === 0 ? source : `${source}.${formatKeyPath(path)}`;
  const labelOf = typeof source === 'function' ? source : () => source;
  const problems = parsed.error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      // Unknown keys of one object may come from different sources: name each source with its keys.
      const bySource = new Map<string, string[]>();
      for (const name of issue.keys) {
        const label = labelOf([...issue.path, name]);
        bySource.set(label, [...(bySource.get(label) ?? []), name]);
      }
      return [...bySource].map(
        ([label, names]) => `${key(label, issue.path)}: unknown key(s) ${names.join(', ')}`,
      );
    }
    const message = issue.message.includes('received undefined') ? 'is required' : issue.message;
    return [`${key(labelOf(issue.path), issue.path)}: ${message}`];
  });
  throw new StackConfigError(`invalid mcp-identity configuration:\n  - ${problems.join('\n  - ')}`);
}
