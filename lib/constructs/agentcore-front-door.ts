import { join } from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import {
  type CustomClaimOperator,
  Gateway,
  GatewayAuthorizer,
  GatewayCustomClaim,
  LambdaInterceptor,
  MCPProtocolVersion,
  McpProtocolConfiguration,
  type SchemaDefinition,
  SchemaDefinitionType,
  ToolSchema,
} from 'aws-cdk-lib/aws-bedrockagentcore';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DEFAULT_INJECTION, type InjectionConfig, spoofedArguments } from '../../lambda/core/injection';
import { DEFAULT_CALLER_PARAMETERS, ORDER_TOOLS } from '../../lambda/demo/orders';
import { acknowledgeKmsGrant } from './audit-trail';
import { McpFunction, PROJECT_ROOT } from './mcp-function';

export interface RequiredClaim {
  readonly name: string;
  readonly match: 'EQUALS' | 'CONTAINS' | 'CONTAINS_ANY';
  readonly values: readonly string[];
}

export interface AgentCoreFrontDoorProps {
  readonly gatewayName: string;
  /** `…/.well-known/openid-configuration` of the identity provider. */
  readonly discoveryUrl: string;
  readonly allowedAudience: readonly string[];
  /** @default - any client */
  readonly allowedClients?: readonly string[];
  /** @default - none */
  readonly requiredClaims?: readonly RequiredClaim[];
  /** The interceptor's environment (MCP_IDENTITY_*). */
  readonly interceptorEnvironment: Record<string, string>;
  /** The interceptor writes its audit lines here. */
  readonly auditLogGroup: ILogGroup;
  /** Generated files copied next to the interceptor handler (input types, policy catalogue). */
  readonly generatedDir: string;
  /** @default true */
  readonly demoTarget?: boolean;
  /**
   * The parameters the interceptor injects (the stack's `injection` configuration). None of them is declared
   * `required` in the tool schemas the gateway sees, and the demo target reads the identity under these names.
   * @default - `_caller_user`, `_caller_roles`, no bindings
   */
  readonly injection?: GatewayInjection;
  /** Retention of the demo target's log group (the interceptor logs to the audit log group). */
  readonly logRetention: RetentionDays;
  readonly encryptionKey?: IKey;
}

const TYPES: Record<string, SchemaDefinitionType> = {
  string: SchemaDefinitionType.STRING,
  integer: SchemaDefinitionType.INTEGER,
  number: SchemaDefinitionType.NUMBER,
  boolean: SchemaDefinitionType.BOOLEAN,
  array: SchemaDefinitionType.ARRAY,
  object: SchemaDefinitionType.OBJECT,
};

export type JsonSchema = {
  type: string;
  description?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
};

function schemaDefinition(schema: JsonSchema): SchemaDefinition {
  const type = TYPES[schema.type];
  if (type === undefined) throw new Error(`unsupported tool schema type ${schema.type}`);
  return {
    type,
    ...(schema.description ? { description: schema.description } : {}),
    ...(schema.items ? { items: schemaDefinition(schema.items) } : {}),
    ...(schema.properties
      ? {
          properties: Object.fromEntries(
            Object.entries(schema.properties).map(([key, value]) => [key, schemaDefinition(value)]),
          ),
        }
      : {}),
    ...(schema.required && schema.required.length > 0 ? { required: [...schema.required] } : {}),
  };
}

/** The stack's `injection` configuration (binding values are caller fields; only the parameter names matter here). */
export interface GatewayInjection {
  readonly userParameter: string;
  readonly rolesParameter: string;
  readonly bindings: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** Name of the demo target on the gateway: its tools are `orders___<tool>`. */
const DEMO_TARGET_NAME = 'orders';

/**
 * A demo tool's input schema as the gateway sees it. The caller parameters are declared under the configured
 * names, and no injected parameter is `required`: whether AgentCore Gateway validates arguments against this
 * schema before the REQUEST interceptor injects them is undocumented, and a required injected parameter could
 * make it refuse every call. The tool checks for the identity itself (lambda/demo/orders.ts).
 */
export function gatewayToolSchema(
  inputSchema: JsonSchema,
  toolName: string,
  injection: GatewayInjection,
): JsonSchema {
  const rename: Record<string, string> = {
    [DEFAULT_CALLER_PARAMETERS.user]: injection.userParameter,
    [DEFAULT_CALLER_PARAMETERS.roles]: injection.rolesParameter,
  };
  const renamed = (inputSchema.required ?? []).map((name) => rename[name] ?? name);
  // The interceptor's own test (it reads only the binding keys): a name it injects, or one it refuses from
  // clients as a variant of one (case, width, separators) — neither can come from the client, so neither may
  // be required of it.
  const reserved = new Set(
    spoofedArguments(
      Object.fromEntries(renamed.map((name) => [name, true])),
      injection as InjectionConfig,
      toolName,
    ),
  );
  const required = renamed.filter((name) => !reserved.has(name));
  return {
    ...inputSchema,
    ...(inputSchema.properties
      ? {
          properties: Object.fromEntries(
            Object.entries(inputSchema.properties).map(([name, value]) => [rename[name] ?? name, value]),
          ),
        }
      : {}),
    required,
  };
}

/**
 * Front door A (DESIGN §3.1): an AgentCore Gateway with the CUSTOM_JWT inbound authorizer from configuration
 * and one interceptor Lambda at REQUEST and RESPONSE with request headers passed (it re-verifies the token);
 * optionally the demo orders Lambda target with inline tool schemas, so a fresh deploy is usable.
 */
export class AgentCoreFrontDoor extends Construct {
  readonly gateway: Gateway;
  readonly interceptor: McpFunction;
  readonly demoTarget?: McpFunction;

  constructor(scope: Construct, id: string, props: AgentCoreFrontDoorProps) {
    super(scope, id);
    this.interceptor = new McpFunction(this, 'Interceptor', {
      entry: join(PROJECT_ROOT, 'lambda', 'handlers', 'interceptor.ts'),
      description: 'mcp-identity: verifies the caller and decides each MCP call with Cedar',
      // Verify + one IsAuthorized (1 s deadline) + audit line; list filtering may batch. Short, on purpose.
      timeout: Duration.seconds(10),
      memorySize: 1024,
      logGroup: props.auditLogGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'mcp-identity-interceptor',
        MCP_IDENTITY_INPUT_TYPES_FILE: '/var/task/input-types.json',
        // The policy catalogue ships in the code asset (it grows with every policy; the environment is 4 KB).
        MCP_IDENTITY_POLICY_CATALOG_FILE: '/var/task/policy-catalog.json',
        ...props.interceptorEnvironment,
      },
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        afterBundling: (_inputDir: string, outputDir: string) => [
          `cp "${join(props.generatedDir, 'input-types.json')}" "${outputDir}/input-types.json"`,
          `cp "${join(props.generatedDir, 'policy-catalog.json')}" "${outputDir}/policy-catalog.json"`,
        ],
      },
    });

    const headers = { passRequestHeaders: true };
    this.gateway = new Gateway(this, 'Gateway', {
      gatewayName: props.gatewayName,
      description: 'mcp-identity front door: per-human identity and Cedar authorization for MCP tools',
      protocolConfiguration: new McpProtocolConfiguration({
        supportedVersions: [
          MCPProtocolVersion.MCP_2025_03_26,
          MCPProtocolVersion.MCP_2025_06_18,
          MCPProtocolVersion.MCP_2025_11_25,
          MCPProtocolVersion.MCP_2026_07_28,
        ],
      }),
      authorizerConfiguration: GatewayAuthorizer.usingCustomJwt({
        discoveryUrl: props.discoveryUrl,
        allowedAudience: [...props.allowedAudience],
        ...(props.allowedClients ? { allowedClients: [...props.allowedClients] } : {}),
        ...(props.requiredClaims && props.requiredClaims.length > 0
          ? {
              customClaims: props.requiredClaims.map((claim) =>
                claim.match === 'EQUALS'
                  ? GatewayCustomClaim.withStringValue(claim.name, claim.values[0] as string)
                  : GatewayCustomClaim.withStringArrayValue(
                      claim.name,
                      [...claim.values],
                      claim.match as CustomClaimOperator,
                    ),
              ),
            }
          : {}),
      }),
      interceptorConfigurations: [
        LambdaInterceptor.forRequest(this.interceptor.function, headers),
        LambdaInterceptor.forResponse(this.interceptor.function, headers),
      ],
      ...(props.encryptionKey ? { kmsKey: props.encryptionKey } : {}),
    });

    if (props.demoTarget ?? true) {
      const injection: GatewayInjection = props.injection ?? DEFAULT_INJECTION;
      this.demoTarget = new McpFunction(this, 'OrdersTarget', {
        entry: join(PROJECT_ROOT, 'lambda', 'handlers', 'orders-target.ts'),
        description: 'mcp-identity: demo orders tools (uses only the injected identity)',
        memorySize: 256,
        // The names the interceptor injects the identity under; the target trusts no other.
        environment: {
          MCP_IDENTITY_INJECT_USER_PARAM: injection.userParameter,
          MCP_IDENTITY_INJECT_ROLES_PARAM: injection.rolesParameter,
        },
        logRetention: props.logRetention,
        ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      });
      this.gateway.addLambdaTarget('Orders', {
        gatewayTargetName: DEMO_TARGET_NAME,
        description: 'Demo orders tools',
        lambdaFunction: this.demoTarget.function,
        toolSchema: ToolSchema.fromInline(
          ORDER_TOOLS.map((tool) => ({
            name: tool.name,
            description: tool.description,
            inputSchema: schemaDefinition(
              gatewayToolSchema(
                tool.inputSchema as JsonSchema,
                `${DEMO_TARGET_NAME}___${tool.name}`,
                injection,
              ),
            ),
          })),
        ),
      });
    }

    if (props.encryptionKey)
      acknowledgeKmsGrant(this.gateway.role, 'encrypt the gateway with the configured key');
    // The L2 grants lambda:InvokeFunction on each function and its versions (`arn:*`); nothing else.
    const stack = Stack.of(this);
    for (const fn of [this.interceptor, this.demoTarget]) {
      if (fn === undefined) continue;
      Validations.of(this.gateway.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(fn.function.node.defaultChild as CfnFunction)}.Arn>:*]`,
        reason:
          'The gateway role may invoke only its interceptor and its target (and their versions); the wildcard is the version suffix.',
      });
    }
  }
}
