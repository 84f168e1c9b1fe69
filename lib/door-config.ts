import { z } from 'zod';
import { DELIVERIES } from './target-config';

/**
 * Which front doors the stack builds (`doors` in the configuration): the AgentCore Gateway (`agentcore`, its
 * settings under `gateway`) and/or a regional API Gateway REST API in front of one MCP server (`apiGateway`).
 * Both run on one policy store, one audit trail and one `activity`. Without `doors`, the AgentCore door alone.
 */

const LAMBDA_ARN =
  /^arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$/;
const SECRET_ARN =
  /^arn:aws[\w-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const WEB_ACL_ARN = /^arn:aws[\w-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/[\w-]+\/[\w-]+$/;
/** As AgentCore target names: no `_`, so the `name___tool` prefix stays unambiguous. */
const TARGET_NAME = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;

const https = z.url().refine((url) => url.startsWith('https://'), { message: 'must be an https URL' });

const upstreamSchema = z
  .object({
    /**
     * The tools are exposed as `${name}___${tool}`, as AgentCore Gateway names a target's, so the same policies
     * serve both doors. @default - the server's own tool names
     */
    name: z
      .string()
      .max(100)
      .regex(TARGET_NAME, 'letters, digits and single hyphens between them (no "_")')
      .optional(),
    /** An MCP server that runs as a Lambda function written for API Gateway (proxy event 1.0). */
    lambdaArn: z.string().regex(LAMBDA_ARN, 'must be a Lambda function ARN').optional(),
    /** An MCP server at an HTTPS URL (Streamable HTTP). */
    url: https.optional(),
    /**
     * Outbound credentials for `url`: a Secrets Manager secret (full ARN, with its 6-character suffix) holding a
     * bearer token or `{"headers": {…}}`. @default - none
     */
    secretArn: z.string().regex(SECRET_ARN, 'must be the full ARN of a Secrets Manager secret').optional(),
    /** How long a secret value is reused. */
    secretTtlSeconds: z.number().int().min(0).max(86_400).default(300),
    /** Deadline for the upstream's whole answer (response streaming allows up to 15 minutes). */
    timeoutSeconds: z.number().int().min(1).max(890).default(290),
    /** How the verified caller reaches the upstream's tools. */
    identity: z
      .array(z.enum(DELIVERIES))
      .min(1)
      .refine((list) => new Set(list).size === list.length, { message: 'lists a delivery twice' })
      .default(['arguments']),
  })
  .strict()
  .superRefine((upstream, context) => {
    if ((upstream.lambdaArn === undefined) === (upstream.url === undefined))
      context.addIssue({ code: 'custom', message: 'set exactly one of lambdaArn and url' });
    if (upstream.identity.includes('assertion') && upstream.name === undefined)
      context.addIssue({
        code: 'custom',
        path: ['identity'],
        message: 'the assertion is addressed to a target name: set upstream.name',
      });
    if (upstream.secretArn !== undefined && upstream.url === undefined)
      context.addIssue({
        code: 'custom',
        path: ['secretArn'],
        message: 'applies to url only (a Lambda upstream is invoked with IAM)',
      });
  });

export const apiGatewayDoorSchema = z
  .object({
    upstream: upstreamSchema,
    stageName: z
      .string()
      .regex(/^[A-Za-z0-9_]{1,128}$/, 'letters, digits and _')
      .default('prod'),
    /**
     * The base URL clients use when a custom domain maps this stage (e.g. `https://mcp.example.com`); the MCP
     * endpoint is then `{publicUrl}/mcp`. @default - the execute-api URL of the stage
     */
    publicUrl: https.refine((url) => !url.endsWith('/'), { message: 'must not end with /' }).optional(),
    /**
     * API Gateway's authorizer result cache. Never beyond a token's lifetime: the authorizer refuses a token
     * that expires sooner, so the client refreshes it (README, "API Gateway door"). 0 turns caching off.
     */
    authorizerCacheTtlSeconds: z.number().int().min(0).max(3600).default(60),
    throttling: z
      .object({
        rateLimit: z.number().min(0).default(50),
        burstLimit: z.number().int().min(0).default(100),
      })
      .strict()
      .prefault({}),
    /** A regional AWS WAF web ACL to associate with the stage. @default - none */
    wafWebAclArn: z.string().regex(WEB_ACL_ARN, 'must be a regional WAFv2 web ACL ARN').optional(),
    /**
     * Create the account-wide role API Gateway writes execution logs with (one per account and Region; it
     * outlives the stack). Turn off when another stack already set it.
     */
    cloudWatchRole: z.boolean().default(true),
  })
  .strict();

export const doorsSchema = z
  .object({
    /** The AgentCore Gateway door (settings under `gateway`). */
    agentcore: z.object({}).strict().optional(),
    apiGateway: apiGatewayDoorSchema.optional(),
  })
  .strict()
  .refine((doors) => doors.agentcore !== undefined || doors.apiGateway !== undefined, {
    message: 'choose at least one door: agentcore and/or apiGateway',
  })
  .prefault({ agentcore: {} });

export type ApiGatewayDoorConfig = z.infer<typeof apiGatewayDoorSchema>;
export type DoorsConfig = z.infer<typeof doorsSchema>;
