import { z } from 'zod';
import { MAX_ASSERTION_TTL_SECONDS } from '../lambda/core/identity-assertion';
import {
  assertionHeaderProblem,
  DEFAULT_ASSERTION_HEADER,
  TARGET_NAME,
} from '../lambda/core/identity-delivery';

/**
 * The gateway's targets and the identity assertion, as configured under `gateway.targets` and `assertion`
 * (validated with zod; lib/config.ts formats the issues by key path). What each target kind accepts, and which
 * outbound authentication it may use, follows CONTRACTS.md §8 (AgentCore's outbound-auth matrix and the
 * aws-cdk-lib L2 `add…Target` methods). No aws-cdk-lib import here.
 */

/** The prefix separator of gateway tool names (`target___tool`). */
export const TOOL_SEPARATOR = '___';

export const TARGET_KINDS = ['demo', 'lambda', 'mcpServer', 'openApi', 'smithy', 'apiGateway'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];
export const AUTH_TYPES = ['iam', 'apiKey', 'oauth', 'none'] as const;
export type OutboundAuthType = (typeof AUTH_TYPES)[number];
export const DELIVERIES = ['arguments', 'assertion'] as const;
export type IdentityDelivery = (typeof DELIVERIES)[number];

/**
 * Which outbound authentication each kind may use (CONTRACTS §8 matrix, from AgentCore's outbound-auth page).
 * `iamService`: whether the gateway role's SigV4 signing takes `service`/`region` (required for MCP servers and
 * OpenAPI targets, refused by the others). API key on an MCP server is in the current matrix, but an older
 * one allowed only OAuth or none: README "Limits" says so.
 */
export const OUTBOUND_AUTH: Readonly<
  Record<TargetKind, { readonly allowed: readonly OutboundAuthType[]; readonly iamService: boolean }>
> = {
  demo: { allowed: ['iam'], iamService: false },
  lambda: { allowed: ['iam'], iamService: false },
  mcpServer: { allowed: ['iam', 'oauth', 'apiKey', 'none'], iamService: true },
  openApi: { allowed: ['iam', 'oauth', 'apiKey', 'none'], iamService: true },
  smithy: { allowed: ['iam', 'oauth'], iamService: false },
  apiGateway: { allowed: ['iam', 'apiKey', 'none'], iamService: false },
};

/** How each kind receives the caller when the configuration does not say (issue 12 #2). */
export const DEFAULT_DELIVERY: Readonly<Record<TargetKind, readonly IdentityDelivery[]>> = {
  demo: ['arguments'],
  lambda: ['arguments'],
  mcpServer: ['assertion'],
  openApi: ['assertion'],
  smithy: ['assertion'],
  apiGateway: ['assertion'],
};

/** Kinds whose outbound authentication has a safe default (the gateway role); the others must say. */
const DEFAULT_AUTH: Partial<Record<TargetKind, OutboundAuthType>> = {
  demo: 'iam',
  lambda: 'iam',
  smithy: 'iam',
};

const arn = (service: string, resource: string, what: string) =>
  z.string().regex(new RegExp(`^arn:aws[\\w-]*:${service}:[\\w-]+:\\d{12}:${resource}$`), `must be ${what}`);

const secretArn = arn('secretsmanager', 'secret:.+', 'a Secrets Manager secret ARN');

const iamAuth = z
  .object({
    type: z.literal('iam'),
    /** SigV4 signing name, e.g. `bedrock-agentcore`, `execute-api`, `lambda` (MCP server and OpenAPI targets). */
    service: z
      .string()
      .regex(/^[a-zA-Z0-9._-]{1,64}$/, 'a SigV4 service name (letters, digits, . _ -), at most 64')
      .optional(),
    region: z
      .string()
      .regex(/^[a-zA-Z0-9-]{1,32}$/, 'a Region name such as eu-west-1')
      .optional(),
    /**
     * What the gateway role may call on the endpoint (e.g. `bedrock-agentcore:InvokeAgentRuntime` on a runtime
     * ARN). Lambda and API Gateway targets get theirs from the stack; nothing else is granted.
     */
    grant: z
      .object({
        actions: z
          .array(z.string().regex(/^[a-z0-9-]+:[A-Za-z0-9*]+$/, 'an IAM action such as service:Action'))
          .min(1),
        resources: z.array(z.string().regex(/^arn:aws[\w-]*:/, 'an ARN')).min(1),
      })
      .strict()
      .optional(),
  })
  .strict();

const apiKeyAuth = z
  .object({
    type: z.literal('apiKey'),
    /** An AgentCore Identity API key credential provider. */
    providerArn: arn(
      'bedrock-agentcore',
      'token-vault/[^/]+/apikeycredentialprovider/.+',
      'an AgentCore Identity API key credential provider ARN (…:token-vault/<id>/apikeycredentialprovider/<name>)',
    ),
    /** The provider's secret (returned when the provider is created). */
    secretArn,
    location: z.enum(['header', 'query']).default('header'),
    /** @default `Authorization` (header) or `api_key` (query) */
    parameterName: z.string().min(1).max(64).optional(),
    /** `""` sends the key bare. @default `Bearer ` (header) or none (query) */
    prefix: z.string().max(64).optional(),
  })
  .strict();

const oauthAuth = z
  .object({
    type: z.literal('oauth'),
    /** An AgentCore Identity OAuth2 credential provider. */
    providerArn: arn(
      'bedrock-agentcore',
      'token-vault/[^/]+/oauth2credentialprovider/.+',
      'an AgentCore Identity OAuth2 credential provider ARN (…:token-vault/<id>/oauth2credentialprovider/<name>)',
    ),
    secretArn,
    scopes: z.array(z.string().min(1).max(64)).max(100),
    customParameters: z
      .record(z.string().min(1).max(256), z.string().min(1).max(2048))
      .refine((parameters) => Object.keys(parameters).length <= 10, { message: 'at most 10 parameters' })
      .optional(),
  })
  .strict();

const noAuth = z.object({ type: z.literal('none') }).strict();

const outboundAuthSchema = z.discriminatedUnion('type', [iamAuth, apiKeyAuth, oauthAuth, noAuth], {
  error: () => `type must be one of ${AUTH_TYPES.join(', ')}`,
});
export type OutboundAuth = z.infer<typeof outboundAuthSchema>;

/** The JSON Schema subset AgentCore's inline tool schemas take (type, description, properties, items, required). */
export interface ToolInputSchema {
  type: 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object';
  description?: string | undefined;
  properties?: Record<string, ToolInputSchema> | undefined;
  items?: ToolInputSchema | undefined;
  required?: string[] | undefined;
}

const jsonSchema: z.ZodType<ToolInputSchema> = z.lazy(() =>
  z.object({
    type: z.enum(['string', 'number', 'integer', 'boolean', 'array', 'object']),
    description: z.string().optional(),
    properties: z.record(z.string().min(1), jsonSchema).optional(),
    items: jsonSchema.optional(),
    required: z.array(z.string().min(1)).optional(),
  }),
);

/** One tool of a Lambda target, as AgentCore's inline tool schema has it. */
export const toolDefinitionSchema = z
  .object({
    // MCP's tool-name guidance: 1–128 of A–Z a–z 0–9 _ - .
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'letters, digits, _ - . (at most 128)'),
    description: z.string().min(1),
    inputSchema: jsonSchema.refine((schema) => schema.type === 'object', {
      message: 'a tool input schema is of type object',
    }),
    outputSchema: jsonSchema.optional(),
  })
  .strict();
export type ToolDefinitionConfig = z.infer<typeof toolDefinitionSchema>;
export const toolListSchema = z.array(toolDefinitionSchema).min(1, 'declare at least one tool');

/** A file (relative to the project) or `s3://bucket/key`. */
const source = z
  .string()
  .min(1)
  .refine(
    (value) => !value.startsWith('s3://') || /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+/.test(value),
    {
      message: 'an S3 location is s3://bucket/key',
    },
  )
  .refine((value) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || value.startsWith('s3://'), {
    message: 'a file path or an s3://bucket/key URI',
  });

const common = {
  name: z
    .string()
    .max(100, 'at most 100 characters')
    .regex(
      TARGET_NAME,
      `letters, digits and single hyphens between them (AgentCore target names; no "_", so the "name${TOOL_SEPARATOR}tool" prefix stays unambiguous)`,
    ),
  description: z.string().min(1).max(200).optional(),
  /** How the verified caller reaches this target's tools. @default by kind (DEFAULT_DELIVERY) */
  identity: z
    .array(z.enum(DELIVERIES))
    .min(1, 'choose at least one of arguments, assertion')
    .refine((list) => new Set(list).size === list.length, { message: 'lists a delivery twice' })
    .optional(),
  outboundAuth: outboundAuthSchema.optional(),
};

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

const targetSchema = z.discriminatedUnion(
  'kind',
  [
    z.object({ ...common, kind: z.literal('demo'), name: common.name.default('orders') }).strict(),
    z
      .object({
        ...common,
        kind: z.literal('lambda'),
        functionArn: arn(
          'lambda',
          'function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?',
          'a Lambda function ARN',
        ),
        /** Inline tool definitions, or a JSON file of them / `s3://` location. */
        tools: z.union([toolListSchema, source]),
      })
      .strict(),
    z
      .object({
        ...common,
        kind: z.literal('mcpServer'),
        endpoint: z
          .url({ protocol: /^https$/, error: 'must be an https:// URL' })
          .refine((url) => !/\s/.test(url), { message: 'must be URL-encoded' }),
      })
      .strict(),
    z.object({ ...common, kind: z.literal('openApi'), spec: source }).strict(),
    z.object({ ...common, kind: z.literal('smithy'), model: source }).strict(),
    z
      .object({
        ...common,
        kind: z.literal('apiGateway'),
        restApiId: z.string().regex(/^[a-z0-9]{10}$/, 'a REST API id (10 lower-case letters and digits)'),
        stage: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'a stage name (letters, digits, _ -)'),
        toolFilters: z
          .array(
            z
              .object({
                path: z
                  .string()
                  .regex(
                    /^\/[\w\-{}/]*(\*)?$/,
                    'an explicit path (/pets/{petId}) or a prefix wildcard (/pets/*)',
                  ),
                methods: z.array(z.enum(HTTP_METHODS)).min(1, 'at least one HTTP method'),
              })
              .strict(),
          )
          .min(1, 'at least one tool filter'),
        toolOverrides: z
          .array(
            z
              .object({
                path: z.string().regex(/^\/[\w\-{}/]*$/, 'an explicit path (no wildcard)'),
                method: z.enum(HTTP_METHODS),
                name: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'letters, digits, _ - . (at most 128)'),
                description: z.string().min(1).optional(),
              })
              .strict(),
          )
          .optional(),
      })
      .strict(),
  ],
  { error: () => `kind must be one of ${TARGET_KINDS.join(', ')}` },
);

type RawTarget = z.infer<typeof targetSchema>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A target with its defaults filled in: outbound authentication and identity delivery are always set. */
export type TargetConfig = DistributiveOmit<RawTarget, 'outboundAuth' | 'identity'> & {
  readonly outboundAuth: OutboundAuth;
  readonly identity: readonly IdentityDelivery[];
};

/** Does an API Gateway tool filter cover this (explicit) path and method? */
function filterCovers(filter: { path: string; methods: readonly string[] }, path: string, method: string) {
  if (!filter.methods.includes(method)) return false;
  return filter.path.endsWith('*') ? path.startsWith(filter.path.slice(0, -1)) : filter.path === path;
}

/** Checks the kind/auth matrix and cross-field rules, and fills the per-kind defaults. */
const checkedTarget = targetSchema
  .superRefine((target, context) => {
    const rules = OUTBOUND_AUTH[target.kind];
    const auth =
      target.outboundAuth ?? (DEFAULT_AUTH[target.kind] ? { type: DEFAULT_AUTH[target.kind] } : undefined);
    if (auth === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['outboundAuth'],
        message: `is required for ${target.kind} targets: one of ${rules.allowed.map((type) => `{ "type": "${type}" }`).join(', ')} (use "none" only for an endpoint that needs no credentials)`,
      });
      return;
    }
    if (!rules.allowed.includes(auth.type as OutboundAuthType)) {
      context.addIssue({
        code: 'custom',
        path: ['outboundAuth', 'type'],
        message: `${target.kind} targets take ${rules.allowed.join(', ')} outbound authentication, not ${auth.type} (CONTRACTS §8)`,
      });
      return;
    }
    if (auth.type === 'iam') {
      const iam = auth as z.infer<typeof iamAuth>;
      if (rules.iamService && iam.service === undefined)
        context.addIssue({
          code: 'custom',
          path: ['outboundAuth', 'service'],
          message: `is required for IAM on ${target.kind} targets: the SigV4 signing name (bedrock-agentcore for an AgentCore Runtime or gateway, execute-api behind API Gateway, lambda for a function URL)`,
        });
      if (!rules.iamService)
        for (const key of ['service', 'region', 'grant'] as const)
          if (iam[key] !== undefined)
            context.addIssue({
              code: 'custom',
              path: ['outboundAuth', key],
              message: `is only for mcpServer and openApi targets (${target.kind} targets use the gateway role as it is)`,
            });
    }
    if (target.kind === 'demo' && target.identity !== undefined && !target.identity.includes('arguments'))
      context.addIssue({
        code: 'custom',
        path: ['identity'],
        message: 'the demo tools read the caller from injected arguments only: keep "arguments"',
      });
    if (target.kind === 'apiGateway')
      for (const [index, override] of (target.toolOverrides ?? []).entries())
        if (!target.toolFilters.some((filter) => filterCovers(filter, override.path, override.method)))
          context.addIssue({
            code: 'custom',
            path: ['toolOverrides', index],
            message: `${override.method} ${override.path} is matched by no tool filter`,
          });
  })
  .transform(
    (target): TargetConfig => ({
      ...target,
      outboundAuth: (target.outboundAuth ?? { type: DEFAULT_AUTH[target.kind] }) as OutboundAuth,
      identity: target.identity ?? DEFAULT_DELIVERY[target.kind],
    }),
  );

export const targetListSchema = z.array(checkedTarget).superRefine((targets, context) => {
  const seen = new Map<string, number>();
  targets.forEach((target, index) => {
    // Tool names are matched case-sensitively, but two targets differing only in case are a trap.
    const key = target.name.toLowerCase();
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else
      context.addIssue({
        code: 'custom',
        path: [index, 'name'],
        message: `"${target.name}" is already the name of target [${first}]; target names are the tool prefix and must be unique`,
      });
  });
  if (targets.filter((target) => target.kind === 'demo').length > 1)
    context.addIssue({ code: 'custom', path: [], message: 'declares the demo target twice' });
});

export { DEFAULT_ASSERTION_HEADER, MAX_ASSERTION_TTL_SECONDS };

export const assertionSchema = z
  .object({
    /**
     * An asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY) to sign with.
     * @default - the stack creates one
     */
    keyArn: z
      .string()
      .regex(/^arn:aws[\w-]*:kms:[\w-]+:\d{12}:key\/[\w-]+$/, 'must be a KMS key ARN (not an alias)')
      .optional(),
    /**
     * The header the signed assertion travels in (allow-listed on each target that takes it), checked by the
     * rule the interceptor applies at cold start (lambda/core/identity-delivery.ts).
     */
    header: z
      .string()
      .superRefine((name, context) => {
        const problem = assertionHeaderProblem(name);
        if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
      })
      .default(DEFAULT_ASSERTION_HEADER),
    /** Lifetime of an assertion. */
    ttlSeconds: z.number().int().min(30).max(MAX_ASSERTION_TTL_SECONDS).default(MAX_ASSERTION_TTL_SECONDS),
    /**
     * The assertions' `iss`.
     * @default - the JWKS URL's origin the stack publishes (see README: why not the gateway URL)
     */
    issuer: z.string().min(1).max(512).optional(),
  })
  .strict()
  .default({ header: DEFAULT_ASSERTION_HEADER, ttlSeconds: MAX_ASSERTION_TTL_SECONDS });
export type AssertionConfig = z.infer<typeof assertionSchema>;

/** `{ target: { arguments, assertion } }`: the interceptor's MCP_IDENTITY_TARGET_DELIVERY, compact JSON. */
export function deliveryMap(
  targets: readonly Pick<TargetConfig, 'name' | 'identity'>[],
): Record<string, { arguments: boolean; assertion: boolean }> {
  return Object.fromEntries(
    targets.map((target) => [
      target.name,
      { arguments: target.identity.includes('arguments'), assertion: target.identity.includes('assertion') },
    ]),
  );
}
