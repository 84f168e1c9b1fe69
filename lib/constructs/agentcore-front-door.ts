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
} from 'aws-cdk-lib/aws-bedrockagentcore';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import { DEFAULT_ASSERTION_HEADER, type TargetConfig } from '../target-config';
import { acknowledgeKmsGrant } from './audit-trail';
import { addGatewayTargets, type BuiltTarget, type GatewayInjection } from './gateway-targets';
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
  /** The targets behind the gateway (validated `gateway.targets`). */
  readonly targets: readonly TargetConfig[];
  /** The identity assertion header, allow-listed on targets that take the assertion. @default X-Mcp-Identity-Assertion */
  readonly assertionHeader?: string;
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

export type { GatewayInjection };

/**
 * Front door A (DESIGN §3.1): an AgentCore Gateway with the CUSTOM_JWT inbound authorizer from configuration
 * and one interceptor Lambda at REQUEST and RESPONSE with request headers passed (it re-verifies the token);
 * and the configured targets (lib/constructs/gateway-targets.ts), the demo orders Lambda target among them.
 */
export class AgentCoreFrontDoor extends Construct {
  readonly gateway: Gateway;
  readonly interceptor: McpFunction;
  readonly demoTarget?: McpFunction;
  /** Every configured target, in configuration order. */
  readonly targets: readonly BuiltTarget[];

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
        // Pinned tool digests from the schema (issue 12 #4); an empty object when no target is pinned.
        MCP_IDENTITY_TOOL_PINS_FILE: '/var/task/tool-pins.json',
        ...props.interceptorEnvironment,
      },
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        afterBundling: (_inputDir: string, outputDir: string) => [
          `cp "${join(props.generatedDir, 'input-types.json')}" "${outputDir}/input-types.json"`,
          `cp "${join(props.generatedDir, 'policy-catalog.json')}" "${outputDir}/policy-catalog.json"`,
          `cp "${join(props.generatedDir, 'tool-pins.json')}" "${outputDir}/tool-pins.json"`,
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

    const built = addGatewayTargets(this, this.gateway, {
      targets: props.targets,
      injection: props.injection ?? DEFAULT_INJECTION,
      assertionHeader: props.assertionHeader ?? DEFAULT_ASSERTION_HEADER,
      logRetention: props.logRetention,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
    });
    this.targets = built.targets;
    if (built.demoFunction) this.demoTarget = built.demoFunction;

    if (props.encryptionKey)
      acknowledgeKmsGrant(this.gateway.role, 'encrypt the gateway with the configured key');
    // The L2 grants lambda:InvokeFunction on the interceptor and its versions (`arn:*`); Lambda targets alike
    // (acknowledged where they are added).
    Validations.of(this.gateway.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.interceptor.function.node.defaultChild as CfnFunction)}.Arn>:*]`,
      reason:
        'The gateway role may invoke only its interceptor and its Lambda targets (and their versions); the wildcard is the version suffix.',
    });
  }
}
