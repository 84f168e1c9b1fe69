import { join } from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  EndpointType,
  IdentitySource,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  MockIntegration,
  PassthroughBehavior,
  RequestAuthorizer,
  ResponseTransferMode,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { type ILogGroup, LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { TOOL_PINS_FILE } from '../../lambda/adapters/tool-pin-store';
import type { ApiGatewayDoorConfig } from '../door-config';
import { McpFunction, PROJECT_ROOT } from './mcp-function';
import { POLICY_CATALOG_FILE } from './policy-store';

export interface ApiGatewayDoorProps {
  readonly config: ApiGatewayDoorConfig;
  /** The authorizer's environment: token settings and audit settings (MCP_IDENTITY_*). */
  readonly authorizerEnvironment: Readonly<Record<string, string>>;
  /**
   * The proxy's environment: the same guard settings as the AgentCore interceptor's. The construct adds the
   * upstream and this API's protected resource metadata URL.
   */
  readonly proxyEnvironment: Readonly<Record<string, string>>;
  /** Both functions write their audit lines here (one audit trail for every door). */
  readonly auditLogGroup: ILogGroup;
  /** Generated files copied next to the proxy handler (input types, policy catalogue). */
  readonly generatedDir: string;
  /** Advertised as `authorization_servers` in the protected resource metadata (RFC 9728). */
  readonly authorizationServer: string;
  /** Retention of the access log group. */
  readonly logRetention: RetentionDays;
  readonly encryptionKey?: IKey;
}

/** The RFC 9728 metadata path for the `/mcp` endpoint (MCP: `/.well-known/oauth-protected-resource{path}`). */
const METADATA_PATH = '/.well-known/oauth-protected-resource/mcp';

/**
 * Front door B (DESIGN §3.2, CONTRACTS §7): a regional REST API in front of one MCP server. A Lambda REQUEST
 * authorizer on the `Authorization` header authenticates (its Allow covers the whole stage, cached for the
 * configured TTL); `POST|GET|DELETE /mcp` go to the MCP proxy Lambda, which runs the guard per JSON-RPC request
 * and streams the upstream's answer back (`responseTransferMode: STREAM`). Missing or bad tokens get 401 with
 * `WWW-Authenticate` naming the protected resource metadata, which the API serves itself, unauthenticated.
 */
export class ApiGatewayDoor extends Construct {
  readonly api: RestApi;
  readonly authorizerFunction: McpFunction;
  readonly proxy: McpFunction;
  /** The MCP endpoint clients use. */
  readonly mcpUrl: string;
  /** The RFC 9728 protected resource metadata URL, as advertised in `WWW-Authenticate`. */
  readonly resourceMetadataUrl: string;

  constructor(scope: Construct, id: string, props: ApiGatewayDoorProps) {
    super(scope, id);
    const { config } = props;
    const { upstream } = config;
    const stack = Stack.of(this);

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
    });
    this.api = new RestApi(this, 'Api', {
      restApiName: `${stack.stackName}-mcp`,
      description:
        'mcp-identity API Gateway door: per-human identity and Cedar authorization for an MCP server',
      // EDGE would cut a quiet stream after 30 s; Regional allows 5 minutes (CONTRACTS §7c).
      endpointTypes: [EndpointType.REGIONAL],
      cloudWatchRole: config.cloudWatchRole,
      deployOptions: {
        stageName: config.stageName,
        throttlingRateLimit: config.throttling.rateLimit,
        throttlingBurstLimit: config.throttling.burstLimit,
        loggingLevel: MethodLoggingLevel.ERROR,
        // Full request/response logging would write tool arguments and answers to execution logs.
        dataTraceEnabled: false,
        tracingEnabled: true,
        metricsEnabled: true,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.custom(
          JSON.stringify({
            requestId: AccessLogField.contextRequestId(),
            extendedRequestId: AccessLogField.contextExtendedRequestId(),
            requestTime: AccessLogField.contextRequestTime(),
            ip: AccessLogField.contextIdentitySourceIp(),
            userAgent: AccessLogField.contextIdentityUserAgent(),
            httpMethod: AccessLogField.contextHttpMethod(),
            resourcePath: AccessLogField.contextResourcePath(),
            status: AccessLogField.contextStatus(),
            responseLength: AccessLogField.contextResponseLength(),
            principalId: AccessLogField.contextAuthorizerPrincipalId(),
            authorizerError: AccessLogField.contextAuthorizerError(),
            errorType: AccessLogField.contextErrorResponseType(),
            integrationStatus: AccessLogField.contextIntegrationStatus(),
            integrationLatency: AccessLogField.contextIntegrationLatency(),
          }),
        ),
      },
    });

    // Built from the API id and the literal stage name: a reference to the stage would make the gateway
    // responses (which the deployment depends on) depend on the stage, a cycle.
    const base =
      config.publicUrl ??
      `https://${this.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${config.stageName}`;
    this.mcpUrl = `${base}/mcp`;
    this.resourceMetadataUrl = `${base}${METADATA_PATH}`;

    this.authorizerFunction = new McpFunction(this, 'Authorizer', {
      entry: join(PROJECT_ROOT, 'lambda', 'handlers', 'apigateway-authorizer.ts'),
      description: "mcp-identity: API Gateway authorizer, verifies the caller's token",
      timeout: Duration.seconds(10),
      memorySize: 512,
      logGroup: props.auditLogGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'mcp-identity-authorizer',
        ...props.authorizerEnvironment,
        MCP_IDENTITY_AUTHORIZER_CACHE_TTL_SECONDS: String(config.authorizerCacheTtlSeconds),
      },
    });

    this.proxy = new McpFunction(this, 'Proxy', {
      entry: join(PROJECT_ROOT, 'lambda', 'handlers', 'apigateway-proxy.ts'),
      description: 'mcp-identity: API Gateway MCP proxy, forwards each MCP call its Cedar decision allows',
      // The upstream's deadline plus room to answer and audit its failure.
      timeout: Duration.seconds(upstream.timeoutSeconds + 10),
      memorySize: 1024,
      logGroup: props.auditLogGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'mcp-identity-proxy',
        MCP_IDENTITY_INPUT_TYPES_FILE: '/var/task/input-types.json',
        MCP_IDENTITY_POLICY_CATALOG_FILE: `/var/task/${POLICY_CATALOG_FILE}`,
        // Pinned tool digests from the schema (issue 12 #4), as the AgentCore interceptor has them.
        MCP_IDENTITY_TOOL_PINS_FILE: `/var/task/${TOOL_PINS_FILE}`,
        ...props.proxyEnvironment,
        MCP_IDENTITY_RESOURCE_METADATA_URL: this.resourceMetadataUrl,
        ...(upstream.lambdaArn === undefined ? {} : { MCP_IDENTITY_UPSTREAM_LAMBDA_ARN: upstream.lambdaArn }),
        ...(upstream.url === undefined ? {} : { MCP_IDENTITY_UPSTREAM_URL: upstream.url }),
        ...(upstream.secretArn === undefined
          ? {}
          : {
              MCP_IDENTITY_UPSTREAM_SECRET_ARN: upstream.secretArn,
              MCP_IDENTITY_UPSTREAM_SECRET_TTL_SECONDS: String(upstream.secretTtlSeconds),
            }),
        MCP_IDENTITY_UPSTREAM_TIMEOUT_MS: String(upstream.timeoutSeconds * 1000),
        ...(upstream.name === undefined ? {} : { MCP_IDENTITY_UPSTREAM_TARGET_NAME: upstream.name }),
      },
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        afterBundling: (_inputDir: string, outputDir: string) => [
          `cp "${join(props.generatedDir, 'input-types.json')}" "${outputDir}/input-types.json"`,
          `cp "${join(props.generatedDir, POLICY_CATALOG_FILE)}" "${outputDir}/${POLICY_CATALOG_FILE}"`,
          `cp "${join(props.generatedDir, TOOL_PINS_FILE)}" "${outputDir}/${TOOL_PINS_FILE}"`,
        ],
      },
    });
    // The proxy reaches its one upstream and nothing else.
    if (upstream.lambdaArn !== undefined)
      this.proxy.role.addToPolicy(
        new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [upstream.lambdaArn] }),
      );
    if (upstream.secretArn !== undefined)
      this.proxy.role.addToPolicy(
        new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [upstream.secretArn] }),
      );

    const authorizer = new RequestAuthorizer(this, 'JwtAuthorizer', {
      handler: this.authorizerFunction.function,
      // The cache key. A request without it is answered 401 by API Gateway without invoking the Lambda.
      identitySources: [IdentitySource.header('Authorization')],
      resultsCacheTtl: Duration.seconds(config.authorizerCacheTtlSeconds),
    });
    const integration = new LambdaIntegration(this.proxy.function, {
      responseTransferMode: ResponseTransferMode.STREAM,
      // With streaming the integration may run up to 15 minutes (CONTRACTS §7c).
      timeout: Duration.seconds(Math.min(900, upstream.timeoutSeconds + 10)),
      allowTestInvoke: false,
    });
    const mcp = this.api.root.addResource('mcp');
    for (const method of ['POST', 'GET', 'DELETE']) mcp.addMethod(method, integration, { authorizer });

    this.addProtectedResourceMetadata(props.authorizationServer);
    this.addGatewayResponses();

    if (config.wafWebAclArn !== undefined)
      new CfnWebACLAssociation(this, 'WebAcl', {
        resourceArn: this.api.deploymentStage.stageArn,
        webAclArn: config.wafWebAclArn,
      });
    this.acknowledgeNagFindings(config.wafWebAclArn !== undefined);
  }

  /**
   * RFC 9728 protected resource metadata, served by the API itself without authentication (a mock
   * integration): at `/.well-known/oauth-protected-resource/mcp` (MCP's path-specific location) and at
   * `/.well-known/oauth-protected-resource`. On the execute-api host both sit under the stage, so clients find
   * them through the `resource_metadata` of the 401 challenge.
   */
  private addProtectedResourceMetadata(authorizationServer: string): void {
    const document = JSON.stringify({
      resource: this.mcpUrl,
      authorization_servers: [authorizationServer],
      bearer_methods_supported: ['header'],
      resource_name: 'mcp-identity MCP endpoint',
    });
    const integration = new MockIntegration({
      passthroughBehavior: PassthroughBehavior.NEVER,
      requestTemplates: { 'application/json': '{"statusCode": 200}' },
      integrationResponses: [
        {
          statusCode: '200',
          responseTemplates: { 'application/json': document },
          responseParameters: {
            'method.response.header.Content-Type': "'application/json'",
            'method.response.header.Cache-Control': "'public, max-age=300'",
          },
        },
      ],
    });
    const options = {
      methodResponses: [
        {
          statusCode: '200',
          responseParameters: {
            'method.response.header.Content-Type': true,
            'method.response.header.Cache-Control': true,
          },
        },
      ],
    };
    const wellKnown = this.api.root.addResource('.well-known').addResource('oauth-protected-resource');
    const methods = [
      wellKnown.addMethod('GET', integration, options),
      wellKnown.addResource('mcp').addMethod('GET', integration, options),
    ];
    for (const method of methods)
      Validations.of(method).acknowledge(
        {
          id: 'AwsSolutions-APIG4',
          reason:
            'RFC 9728 protected resource metadata must be readable without a token: it tells clients where to get one.',
        },
        {
          id: 'AwsSolutions-COG4',
          reason:
            'RFC 9728 protected resource metadata must be readable without a token: it tells clients where to get one.',
        },
      );
  }

  /**
   * API Gateway's own answers: 401 and 403 carry `WWW-Authenticate` with the metadata URL (a literal built at
   * synth: header mappings cannot concatenate, CONTRACTS §7a), every error a JSON-RPC body an MCP client reads.
   */
  private addGatewayResponses(): void {
    const challenge = (error?: string) =>
      `'Bearer ${error === undefined ? '' : `error="${error}", `}resource_metadata="${this.resourceMetadataUrl}"'`;
    const body = (code: number, message: string) =>
      JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } });
    const json = { 'Content-Type': "'application/json'", 'Cache-Control': "'no-store'" };
    this.api.addGatewayResponse('Unauthorized', {
      type: ResponseType.UNAUTHORIZED,
      statusCode: '401',
      responseHeaders: { ...json, 'WWW-Authenticate': challenge() },
      templates: {
        'application/json': body(-32001, 'Authentication required: send a valid bearer access token.'),
      },
    });
    this.api.addGatewayResponse('MissingAuthenticationToken', {
      type: ResponseType.MISSING_AUTHENTICATION_TOKEN,
      statusCode: '403',
      responseHeaders: { ...json, 'WWW-Authenticate': challenge() },
      templates: { 'application/json': body(-32000, 'No such resource here; the MCP endpoint is /mcp.') },
    });
    this.api.addGatewayResponse('AccessDenied', {
      type: ResponseType.ACCESS_DENIED,
      statusCode: '403',
      responseHeaders: { ...json, 'WWW-Authenticate': challenge('insufficient_scope') },
      templates: { 'application/json': body(-32000, 'Access denied.') },
    });
    // The identity provider could not be reached to verify the token: try again, do not sign in again.
    this.api.addGatewayResponse('AuthorizerFailure', {
      type: ResponseType.AUTHORIZER_FAILURE,
      statusCode: '503',
      responseHeaders: { ...json, 'Retry-After': "'5'" },
      templates: {
        'application/json': body(-32000, 'The access token could not be verified now; try again shortly.'),
      },
    });
    this.api.addGatewayResponse('Default4xx', {
      type: ResponseType.DEFAULT_4XX,
      responseHeaders: json,
      templates: { 'application/json': body(-32600, 'The request was refused by the gateway.') },
    });
    this.api.addGatewayResponse('Default5xx', {
      type: ResponseType.DEFAULT_5XX,
      responseHeaders: json,
      templates: { 'application/json': body(-32603, 'The gateway could not handle the request.') },
    });
  }

  private acknowledgeNagFindings(waf: boolean): void {
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole !== undefined)
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The account-wide role API Gateway writes execution logs with: AWS documents this managed policy for it, and API Gateway chooses the log groups it writes to.',
      });
    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions-APIG2',
        reason:
          'The body is JSON-RPC, validated by the MCP proxy (the guard refuses malformed requests with 400, audited); an API Gateway model would duplicate that and reject MCP versions it does not know.',
      },
      {
        id: 'AwsSolutions-COG4',
        reason:
          'Callers hold tokens from the configured OIDC issuer, not a Cognito user pool: the Lambda REQUEST authorizer verifies them with aws-jwt-verify.',
      },
      ...(waf
        ? []
        : [
            {
              id: 'AwsSolutions-APIG3',
              reason:
                'No web ACL configured (doors.apiGateway.wafWebAclArn): the stage is throttled and every request is authenticated, then decided per call.',
            },
          ]),
    );
  }
}

/** The environment keys the authorizer reads: the token settings and what its refusal audit events need. */
const AUTHORIZER_KEYS = new Set(
  [
    'ISSUER',
    'AUDIENCE',
    'DISCOVERY_URL',
    'JWKS_URI',
    'ALGORITHMS',
    'CLOCK_SKEW_SECONDS',
    'JWKS_TIMEOUT_MS',
    'CLAIM_SUBJECT',
    'CLAIM_ROLES',
    'CLAIM_EMAIL',
    'CLAIM_USERNAME',
    'CLAIM_AGENT',
    'ALLOWED_CLIENTS',
    'REQUIRED_CLAIMS',
    'AUDIT_EVENT_SOURCE',
    'RECIPIENT_ACCOUNT_ID',
    'REDACT_PATTERNS',
  ].map((key) => `MCP_IDENTITY_${key}`),
);

/** The authorizer's share of the interceptor's environment (it rejects keys it does not read). */
export function authorizerEnvironment(environment: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(environment).filter(([key]) => AUTHORIZER_KEYS.has(key)));
}
