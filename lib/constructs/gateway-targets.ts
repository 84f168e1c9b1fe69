import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Annotations, Stack, Token, Validations } from 'aws-cdk-lib';
import { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  ApiGatewayHttpMethod,
  ApiKeyCredentialLocation,
  ApiSchema,
  type CfnGatewayTarget,
  type Gateway,
  GatewayCredentialProvider,
  type GatewayTarget,
  type ICredentialProviderConfig,
  type SchemaDefinition,
  SchemaDefinitionType,
  ToolSchema,
} from 'aws-cdk-lib/aws-bedrockagentcore';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { type CfnFunction, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { z } from 'zod';
import { ConfigurationError } from '../../lambda/core/errors';
import { type InjectionConfig, spoofedArguments } from '../../lambda/core/injection';
import { DEFAULT_CALLER_PARAMETERS, ORDER_TOOLS } from '../../lambda/demo/orders';
import { parseJsonText } from '../../lambda/shared/json-syntax';
import {
  type OutboundAuth,
  type TargetConfig,
  TOOL_SEPARATOR,
  type ToolDefinitionConfig,
  toolListSchema,
} from '../target-config';
import { McpFunction, PROJECT_ROOT } from './mcp-function';

/**
 * The gateway's targets (DESIGN §3.9, CONTRACTS §8), built with aws-cdk-lib's L2 `add…Target` calls from the
 * validated `gateway.targets` configuration: outbound credentials (gateway role, or an AgentCore Identity API
 * key / OAuth provider by ARN, whose grants the L2 scopes to that provider and secret), IAM for the gateway role
 * limited to what each target names, and the identity assertion header allow-listed on each target that takes it.
 */

/** The stack's `injection` configuration (binding values are caller fields; only the parameter names matter here). */
export interface GatewayInjection {
  readonly userParameter: string;
  readonly rolesParameter: string;
  readonly bindings: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface GatewayTargetsProps {
  readonly targets: readonly TargetConfig[];
  /** The parameters the interceptor injects: declared (never `required`) in the tool schemas the gateway sees. */
  readonly injection: GatewayInjection;
  /** The identity assertion header, allow-listed on every target that takes the assertion. */
  readonly assertionHeader: string;
  /** Retention of the demo target's log group. */
  readonly logRetention: RetentionDays;
  readonly encryptionKey?: IKey;
  /** Where relative file sources (tool schemas, OpenAPI specs, Smithy models) are read from. @default PROJECT_ROOT */
  readonly sourceRoot?: string;
}

export interface BuiltTarget {
  readonly config: TargetConfig;
  readonly target: GatewayTarget;
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

export function schemaDefinition(schema: JsonSchema): SchemaDefinition {
  const type = TYPES[schema.type];
  if (type === undefined) throw new ConfigurationError(`unsupported tool schema type ${schema.type}`);
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

/** Names the interceptor injects into this tool, or refuses from clients as variants of one. */
function withoutReservedRequired(required: readonly string[], injection: GatewayInjection, toolName: string) {
  const reserved = new Set(
    spoofedArguments(
      Object.fromEntries(required.map((name) => [name, true])),
      injection as InjectionConfig,
      toolName,
    ),
  );
  return required.filter((name) => !reserved.has(name));
}

/** Name of the demo target on the gateway: its tools are `orders___<tool>`. */
export const DEMO_TARGET_NAME = 'orders';

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
  return {
    ...inputSchema,
    ...(inputSchema.properties
      ? {
          properties: Object.fromEntries(
            Object.entries(inputSchema.properties).map(([name, value]) => [rename[name] ?? name, value]),
          ),
        }
      : {}),
    required: withoutReservedRequired(renamed, injection, toolName),
  };
}

const INJECTED = 'Set by the gateway from the verified token; never by the client.';

/**
 * An operator's Lambda tool as the gateway sees it. For targets that take the identity as arguments, the
 * injected parameters are declared when the tool does not declare them (a gateway that forwards only declared
 * arguments still forwards them); for every target, an injected name is never `required` (see
 * {@link gatewayToolSchema}).
 */
export function lambdaToolSchema(
  tool: ToolDefinitionConfig,
  targetName: string,
  injection: GatewayInjection,
  declareCaller: boolean,
): JsonSchema {
  const input = tool.inputSchema as JsonSchema;
  const properties = { ...(input.properties ?? {}) };
  if (declareCaller) {
    properties[injection.userParameter] ??= { type: 'string', description: INJECTED };
    properties[injection.rolesParameter] ??= {
      type: 'array',
      items: { type: 'string' },
      description: INJECTED,
    };
  }
  return {
    ...input,
    properties,
    required: withoutReservedRequired(
      input.required ?? [],
      injection,
      `${targetName}${TOOL_SEPARATOR}${tool.name}`,
    ),
  };
}

type Source = { readonly s3: { readonly bucket: string; readonly key: string } } | { readonly text: string };

/** Reads a file source (relative to `root`) or parses an `s3://bucket/key` one. */
function readSource(root: string, value: string, keyPath: string): Source {
  if (value.startsWith('s3://')) {
    const [bucket = '', ...key] = value.slice('s3://'.length).split('/');
    return { s3: { bucket, key: key.join('/') } };
  }
  try {
    return { text: readFileSync(resolve(root, value), 'utf8') };
  } catch (error) {
    throw new ConfigurationError(
      `${keyPath}: cannot read ${value} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

function issuesAt(keyPath: string, issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map(
      (issue) =>
        `${issue.path.reduce<string>((path, part) => (typeof part === 'number' ? `${path}[${part}]` : `${path}.${String(part)}`), keyPath)}: ${issue.message}`,
    )
    .join('; ');
}

/** The tool definitions of a Lambda target from a file: JSON, validated like inline ones. */
function toolsFromFile(text: string, file: string, keyPath: string): ToolDefinitionConfig[] {
  const json = parseJsonText(text);
  if (!json.ok) throw new ConfigurationError(`${keyPath}: ${file} is not JSON (${json.place})`);
  const parsed = toolListSchema.safeParse(json.value);
  if (!parsed.success) throw new ConfigurationError(issuesAt(`${keyPath} (${file})`, parsed.error.issues));
  return parsed.data;
}

/** The L2 credential provider for a target's configured outbound authentication (none: an empty list). */
export function credentialProviders(auth: OutboundAuth): ICredentialProviderConfig[] {
  switch (auth.type) {
    case 'iam':
      return [
        GatewayCredentialProvider.fromIamRole({
          ...(auth.service ? { service: auth.service } : {}),
          ...(auth.region ? { region: auth.region } : {}),
        }),
      ];
    case 'apiKey': {
      const options = {
        ...(auth.parameterName ? { credentialParameterName: auth.parameterName } : {}),
        // An empty prefix is removed from the rendered target (the L2 knows no "none" for headers).
        ...(auth.prefix ? { credentialPrefix: auth.prefix } : {}),
      };
      return [
        GatewayCredentialProvider.fromApiKeyIdentityArn({
          providerArn: auth.providerArn,
          secretArn: auth.secretArn,
          credentialLocation:
            auth.location === 'query'
              ? ApiKeyCredentialLocation.queryParameter(options)
              : ApiKeyCredentialLocation.header(options),
        }),
      ];
    }
    case 'oauth':
      return [
        GatewayCredentialProvider.fromOauthIdentityArn({
          providerArn: auth.providerArn,
          secretArn: auth.secretArn,
          scopes: [...auth.scopes],
          ...(auth.customParameters ? { customParameters: { ...auth.customParameters } } : {}),
        }),
      ];
    case 'none':
      return [];
  }
}

/** Construct id of a target: the demo keeps the id it always had, so existing deployments do not replace it. */
const constructId = (target: TargetConfig) => (target.kind === 'demo' ? 'Orders' : `Target-${target.name}`);

/**
 * Adds every configured target to the gateway. Anything wrong with one target's sources (or refused by the
 * L2's own checks) fails synth as a {@link ConfigurationError} naming `gateway.targets[i]`, not a stack trace.
 * `scope` owns the functions and imported resources; the targets live under the gateway (their construct ids,
 * hence logical ids, are stable across releases).
 */
export function addGatewayTargets(
  scope: Construct,
  gateway: Gateway,
  props: GatewayTargetsProps,
): { readonly targets: readonly BuiltTarget[]; readonly demoFunction?: McpFunction } {
  const root = props.sourceRoot ?? PROJECT_ROOT;
  let demoFunction: McpFunction | undefined;
  const targets = props.targets.map((config, index): BuiltTarget => {
    const keyPath = `gateway.targets[${index}]`;
    try {
      const build = buildTarget(scope, gateway, config, keyPath, root, props);
      if (build.demoFunction) demoFunction = build.demoFunction;
      const takesAssertion = config.identity.includes('assertion');
      if (takesAssertion && config.kind !== 'apiGateway') {
        // The L2 exposes metadataConfiguration for API Gateway targets only; the L1 has it for all (CONTRACTS §8).
        (build.target.node.defaultChild as CfnGatewayTarget).addPropertyOverride('MetadataConfiguration', {
          AllowedRequestHeaders: [props.assertionHeader],
        });
      }
      if (config.outboundAuth.type === 'apiKey' && config.outboundAuth.prefix === '')
        (build.target.node.defaultChild as CfnGatewayTarget).addPropertyDeletionOverride(
          'CredentialProviderConfigurations.0.CredentialProvider.ApiKeyCredentialProvider.CredentialPrefix',
        );
      if (takesAssertion && (config.kind === 'lambda' || config.kind === 'demo'))
        Annotations.of(build.target).addWarningV2(
          'mcp-identity:lambda-target-assertion',
          `target ${config.name}: whether AgentCore passes allow-listed headers on to a Lambda target is not documented; the assertion may not reach it (README, Limits). Prefer "identity": ["arguments"] for Lambda targets.`,
        );
      return { config, target: build.target };
    } catch (error) {
      if (error instanceof ConfigurationError && error.message.startsWith(keyPath)) throw error;
      throw new ConfigurationError(
        `${keyPath} (${config.name}): ${(error as Error).message.split('\n').join(' ')}`,
        { cause: error },
      );
    }
  });
  return { targets, ...(demoFunction ? { demoFunction } : {}) };
}

function buildTarget(
  scope: Construct,
  gateway: Gateway,
  config: TargetConfig,
  keyPath: string,
  root: string,
  props: GatewayTargetsProps,
): { target: GatewayTarget; demoFunction?: McpFunction } {
  const id = constructId(config);
  const credentialProviderConfigurations = credentialProviders(config.outboundAuth);
  if (config.outboundAuth.type === 'apiKey' || config.outboundAuth.type === 'oauth')
    acknowledgeWorkloadIdentity(gateway);
  const common = {
    gatewayTargetName: config.name,
    ...(config.description ? { description: config.description } : {}),
  };
  const bucket = (name: string) => Bucket.fromBucketName(scope, `${id}SourceBucket`, name);
  const grantEndpoint = () => {
    if (config.outboundAuth.type === 'iam' && config.outboundAuth.grant)
      gateway.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: [...config.outboundAuth.grant.actions],
          resources: [...config.outboundAuth.grant.resources],
        }),
      );
  };

  switch (config.kind) {
    case 'demo': {
      const injection = props.injection;
      const demoFunction = new McpFunction(scope, 'OrdersTarget', {
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
      const target = gateway.addLambdaTarget(id, {
        gatewayTargetName: config.name,
        description: config.description ?? 'Demo orders tools',
        lambdaFunction: demoFunction.function,
        credentialProviderConfigurations,
        toolSchema: ToolSchema.fromInline(
          ORDER_TOOLS.map((tool) => ({
            name: tool.name,
            description: tool.description,
            inputSchema: schemaDefinition(
              gatewayToolSchema(
                tool.inputSchema as JsonSchema,
                `${config.name}${TOOL_SEPARATOR}${tool.name}`,
                injection,
              ),
            ),
          })),
        ),
      });
      acknowledgeInvoke(
        gateway,
        `<${Stack.of(gateway).getLogicalId(demoFunction.function.node.defaultChild as CfnFunction)}.Arn>`,
      );
      return { target, demoFunction };
    }
    case 'lambda': {
      const fn = LambdaFunction.fromFunctionArn(scope, `${id}Function`, config.functionArn);
      let toolSchema: ToolSchema;
      const declareCaller = config.identity.includes('arguments');
      const inline = (tools: readonly ToolDefinitionConfig[]) =>
        ToolSchema.fromInline(
          tools.map((tool) => ({
            name: tool.name,
            description: tool.description,
            inputSchema: schemaDefinition(
              lambdaToolSchema(tool, config.name, props.injection, declareCaller),
            ),
            ...(tool.outputSchema ? { outputSchema: schemaDefinition(tool.outputSchema as JsonSchema) } : {}),
          })),
        );
      if (typeof config.tools !== 'string') toolSchema = inline(config.tools);
      else {
        const source = readSource(root, config.tools, `${keyPath}.tools`);
        if ('s3' in source) {
          toolSchema = ToolSchema.fromS3File(bucket(source.s3.bucket), source.s3.key);
          Annotations.of(scope).addWarningV2(
            `mcp-identity:s3-tools-${config.name}`,
            `target ${config.name}: its tool schemas are read from S3 by the gateway, so the stack cannot declare the injected parameters in them or check that none is required; do so in the file.`,
          );
        } else toolSchema = inline(toolsFromFile(source.text, config.tools, `${keyPath}.tools`));
      }
      const target = gateway.addLambdaTarget(id, {
        ...common,
        lambdaFunction: fn,
        toolSchema,
        credentialProviderConfigurations,
      });
      acknowledgeInvoke(gateway, config.functionArn);
      return { target };
    }
    case 'mcpServer': {
      grantEndpoint();
      return {
        target: gateway.addMcpServerTarget(id, {
          ...common,
          endpoint: config.endpoint,
          credentialProviderConfigurations,
        }),
      };
    }
    case 'openApi': {
      grantEndpoint();
      const source = readSource(root, config.spec, `${keyPath}.spec`);
      return {
        target: gateway.addOpenApiTarget(id, {
          ...common,
          apiSchema:
            's3' in source
              ? ApiSchema.fromS3File(bucket(source.s3.bucket), source.s3.key)
              : ApiSchema.fromInline(source.text),
          credentialProviderConfigurations,
        }),
      };
    }
    case 'smithy': {
      const source = readSource(root, config.model, `${keyPath}.model`);
      return {
        target: gateway.addSmithyTarget(id, {
          ...common,
          smithyModel:
            's3' in source
              ? ApiSchema.fromS3File(bucket(source.s3.bucket), source.s3.key)
              : ApiSchema.fromInline(source.text),
          credentialProviderConfigurations,
        }),
      };
    }
    case 'apiGateway': {
      const target = gateway.addApiGatewayTarget(id, {
        ...common,
        restApi: RestApi.fromRestApiId(scope, `${id}RestApi`, config.restApiId),
        stage: config.stage,
        apiGatewayToolConfiguration: {
          toolFilters: config.toolFilters.map((filter) => ({
            filterPath: filter.path,
            methods: filter.methods.map((method) => ApiGatewayHttpMethod.of(method)),
          })),
          ...(config.toolOverrides
            ? {
                toolOverrides: config.toolOverrides.map((override) => ({
                  path: override.path,
                  method: ApiGatewayHttpMethod.of(override.method),
                  name: override.name,
                  ...(override.description ? { description: override.description } : {}),
                })),
              }
            : {}),
        },
        credentialProviderConfigurations,
        ...(config.identity.includes('assertion')
          ? { metadataConfiguration: { allowedRequestHeaders: [props.assertionHeader] } }
          : {}),
      });
      Validations.of(gateway.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagArnPrefix(gateway, 'execute-api')}${config.restApiId}/${config.stage}/*/*]`,
        reason: `The gateway role may invoke the methods of one REST API stage (${config.restApiId}/${config.stage}); which of them become tools is the target's tool filter.`,
      });
      return { target };
    }
  }
}

/** `arn:<AWS::Partition>:service:region:account:` as cdk-nag spells the ARNs the L2 formats in this stack. */
function nagArnPrefix(scope: Construct, service: string): string {
  const stack = Stack.of(scope);
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  return `arn:<AWS::Partition>:${service}:${region}:${account}:`;
}

/**
 * The L2's API key and OAuth grants let the gateway role get a workload access token for the gateway's own
 * workload identity, which AgentCore names after the gateway with a suffix of its own.
 */
function acknowledgeWorkloadIdentity(gateway: Gateway): void {
  Validations.of(gateway.role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${nagArnPrefix(gateway, 'bedrock-agentcore')}workload-identity-directory/default/workload-identity/${gateway.gatewayName}-*]`,
    reason:
      "The gateway's own workload identity (AgentCore names it after the gateway, with a suffix it assigns): needed to fetch the configured API key or OAuth token; the provider and secret grants name their ARNs.",
  });
}

/** The L2 grants lambda:InvokeFunction on a function and its versions (`arn:*`); nothing else. */
function acknowledgeInvoke(gateway: Gateway, functionArn: string): void {
  Validations.of(gateway.role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${functionArn}:*]`,
    reason:
      'The gateway role may invoke only its interceptor and its Lambda targets (and their versions); the wildcard is the version suffix.',
  });
}
