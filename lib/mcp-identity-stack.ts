import { resolve } from 'node:path';
import { Annotations, CfnOutput, Stack, type StackProps, Token } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { PolicyFile } from '../lambda/adapters/policy-files';
import { tokenReads } from '../lambda/adapters/policy-token-reads';
import { ConfigurationError } from '../lambda/core/errors';
import type { StackConfig } from './config';
import { AgentCoreFrontDoor } from './constructs/agentcore-front-door';
import { ApiGatewayDoor, authorizerEnvironment } from './constructs/api-gateway-door';
import { AssertionKey } from './constructs/assertion-key';
import { AuditTrail } from './constructs/audit-trail';
import { GrantsTable } from './constructs/grants-table';
import { PROJECT_ROOT } from './constructs/mcp-function';
import { Observability } from './constructs/observability';
import { McpPolicyStore } from './constructs/policy-store';
import { accessLookupTtlSeconds } from './grants-config';
import { deliveryMap } from './target-config';
import { checkTargetPolicies, unknownTargetMessage } from './target-policy-check';

export interface McpIdentityStackProps extends StackProps {
  readonly config: StackConfig;
}

/**
 * mcp-identity in one stack: the front doors (the AgentCore Gateway with the interceptor and/or the API Gateway
 * REST API with the authorizer and MCP proxy), the Verified Permissions policy store with policies/, and the
 * audit trail (CloudTrail Lake or CloudWatch Logs) — one policy store and one audit trail for every door.
 */
export class McpIdentityStack extends Stack {
  /** The AgentCore Gateway door (`doors.agentcore`, the default). */
  readonly frontDoor?: AgentCoreFrontDoor;
  /** The API Gateway door (`doors.apiGateway`). */
  readonly apiGatewayDoor?: ApiGatewayDoor;
  readonly policyStore: McpPolicyStore;
  readonly auditTrail: AuditTrail;
  /** The identity assertion key and its JWKS, when some target takes the assertion. */
  readonly assertionKey?: AssertionKey;
  /** Just-in-time grants and the kill switch (`grants.enabled`, the default). */
  readonly grants?: GrantsTable;
  /** Dashboard, saved Logs Insights queries and alarms (`observability`). */
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: McpIdentityStackProps) {
    super(scope, id, props);
    const { config } = props;
    const encryptionKey =
      config.kmsKeyArn === undefined ? undefined : Key.fromKeyArn(this, 'Key', config.kmsKeyArn);
    const logRetention = config.audit.logRetentionDays as RetentionDays;

    this.policyStore = new McpPolicyStore(this, 'PolicyStore', {
      policyDir: resolve(PROJECT_ROOT, config.authorization.policyDir),
    });
    this.auditTrail = new AuditTrail(this, 'Audit', {
      store: config.audit.store,
      logRetention,
      eventDataStoreRetentionDays: config.audit.eventDataStoreRetentionDays,
      terminationProtection: config.audit.terminationProtection,
      ...(encryptionKey ? { encryptionKey } : {}),
      metrics: { namespace: config.observability.namespace, service: config.gateway.name },
    });
    // Synth cannot ask AWS whether this account may use Lake; `mcp-identity doctor` can.
    if (config.audit.store === 'cloudtrail-lake')
      Annotations.of(this.auditTrail).addWarningV2(
        'mcp-identity:cloudtrail-lake',
        'audit.store is "cloudtrail-lake": CloudTrail Lake is closed to new customers, so in an account that does not use it already the event data store cannot be created and the deploy fails. Check with `npx mcp-identity doctor`, or set "audit": { "store": "cloudwatch" }.',
      );

    // Policies and targets must agree: a tool of no declared target fails synth (issue 12 #1).
    const targets = config.doors.agentcore === undefined ? [] : config.gateway.targets;
    const apiDoor = config.doors.apiGateway;
    // The API Gateway door's upstream is a target too: its tools are named `${name}___tool`.
    const apiTarget =
      apiDoor?.upstream.name === undefined
        ? []
        : [{ name: apiDoor.upstream.name, identity: apiDoor.upstream.identity }];
    const targetNames = [...targets, ...apiTarget].map((target) => target.name);
    const coverage = checkTargetPolicies(
      this.policyStore.bundle.policies,
      targetNames,
      this.policyStore.bundle.actionParents,
      config.authorization.policyDir,
    );
    if (coverage.unknownTargets.length > 0)
      throw new ConfigurationError(unknownTargetMessage(coverage.unknownTargets, targetNames));
    if ([...targets, ...apiTarget].some((target) => target.identity.includes('assertion')))
      this.assertionKey = new AssertionKey(this, 'Assertion', {
        ...(config.assertion.keyArn ? { keyArn: config.assertion.keyArn } : {}),
        logRetention,
        ...(encryptionKey ? { encryptionKey } : {}),
      });

    const identity = config.identity;
    const environment: Record<string, string> = {
      MCP_IDENTITY_ISSUER: identity.issuer,
      MCP_IDENTITY_AUDIENCE: identity.audience.join(','),
      MCP_IDENTITY_DISCOVERY_URL: identity.discoveryUrl,
      ...(identity.jwksUri ? { MCP_IDENTITY_JWKS_URI: identity.jwksUri } : {}),
      MCP_IDENTITY_ALGORITHMS: identity.algorithms.join(','),
      MCP_IDENTITY_CLAIM_SUBJECT: identity.claims.subject,
      MCP_IDENTITY_CLAIM_ROLES: identity.claims.roles,
      MCP_IDENTITY_CLAIM_EMAIL: identity.claims.email,
      MCP_IDENTITY_CLAIM_USERNAME: identity.claims.username.join(','),
      MCP_IDENTITY_CLAIM_AGENT: identity.claims.agent.join(','),
      // The guard checks these too (not only AgentCore's authorizer), so the API Gateway door enforces them.
      ...(identity.allowedClients ? { MCP_IDENTITY_ALLOWED_CLIENTS: identity.allowedClients.join(',') } : {}),
      ...(identity.requiredClaims.length > 0
        ? { MCP_IDENTITY_REQUIRED_CLAIMS: JSON.stringify(identity.requiredClaims) }
        : {}),
      MCP_IDENTITY_DECISION_POINT: 'avp',
      MCP_IDENTITY_POLICY_STORE_ID: this.policyStore.policyStoreId,
      // Lets the decision cache reuse answers across refreshed tokens when no policy reads token facts.
      MCP_IDENTITY_POLICY_TOKEN_READS: tokenReadsSetting(this.policyStore.bundle.policies),
      MCP_IDENTITY_CEDAR_NAMESPACE: config.authorization.namespace,
      MCP_IDENTITY_RESOURCE_ID: config.gateway.name,
      MCP_IDENTITY_MODE: config.authorization.mode,
      MCP_IDENTITY_DECISION_CACHE_TTL_SECONDS: String(config.authorization.decisionCacheTtlSeconds),
      MCP_IDENTITY_INJECT_USER_PARAM: config.injection.userParameter,
      MCP_IDENTITY_INJECT_ROLES_PARAM: config.injection.rolesParameter,
      MCP_IDENTITY_INJECT_BINDINGS: JSON.stringify(config.injection.bindings),
      MCP_IDENTITY_AUDIT_ARGUMENTS: config.audit.arguments,
      MCP_IDENTITY_REDACT_KEYS: config.audit.redactKeys.join(','),
      MCP_IDENTITY_REDACT_PATTERNS: JSON.stringify(config.audit.redactPatterns),
      MCP_IDENTITY_AUDIT_EVENT_SOURCE: `mcp-identity.${config.gateway.name}`,
      MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: this.account,
      ...(config.gateway.resourceMetadataUrl
        ? { MCP_IDENTITY_RESOURCE_METADATA_URL: config.gateway.resourceMetadataUrl }
        : {}),
      // How each target takes the caller: injected arguments and/or the signed assertion header.
      MCP_IDENTITY_TARGET_DELIVERY: JSON.stringify(deliveryMap(targets)),
      ...(this.assertionKey ? this.assertionKey.signerEnvironment(config.assertion) : {}),
      // The guard's EMF metrics (lambda/adapters/emf-metrics.ts); the service dimension is the gateway name.
      POWERTOOLS_METRICS_NAMESPACE: config.observability.namespace,
    };

    if (config.grants.enabled) {
      this.grants = new GrantsTable(this, 'Grants', {
        auditLogGroup: this.auditTrail.logGroup,
        auditEnvironment: {
          MCP_IDENTITY_AUDIT_EVENT_SOURCE: environment.MCP_IDENTITY_AUDIT_EVENT_SOURCE as string,
          MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: this.account,
        },
        logRetention,
        ...(encryptionKey ? { encryptionKey } : {}),
      });
      // The doors read a subject's grants and revocations at most this long ago: the revocation bound.
      environment.MCP_IDENTITY_ACCESS_TABLE = this.grants.table.tableName;
      environment.MCP_IDENTITY_ACCESS_TTL_SECONDS = String(accessLookupTtlSeconds(config.grants));
      new CfnOutput(this, 'GrantsTable', { value: this.grants.table.tableName });
      new CfnOutput(this, 'GrantsOperatorPolicyArn', { value: this.grants.operatorPolicy.managedPolicyArn });
    }

    assertEnvironmentFits(environment);

    if (config.doors.agentcore !== undefined) {
      const frontDoor = new AgentCoreFrontDoor(this, 'FrontDoor', {
        gatewayName: config.gateway.name,
        discoveryUrl: identity.discoveryUrl,
        allowedAudience: identity.audience,
        ...(identity.allowedClients ? { allowedClients: identity.allowedClients } : {}),
        requiredClaims: identity.requiredClaims,
        interceptorEnvironment: environment,
        auditLogGroup: this.auditTrail.logGroup,
        generatedDir: this.policyStore.generatedDir,
        targets,
        assertionHeader: config.assertion.header,
        injection: config.injection,
        logRetention,
        ...(encryptionKey ? { encryptionKey } : {}),
      });
      this.policyStore.grantIsAuthorized(frontDoor.interceptor.function);
      this.policyStore.grantListPolicies(frontDoor.interceptor.function);
      this.assertionKey?.grantSign(frontDoor.interceptor.function);
      this.grants?.grantLookup(frontDoor.interceptor.function);
      for (const built of frontDoor.targets)
        if (coverage.targetsWithoutPolicy.includes(built.config.name))
          Annotations.of(built.target).addWarningV2(
            'mcp-identity:target-without-policy',
            `target ${built.config.name}: no permit policy in ${config.authorization.policyDir}/ names its tools (Action::"${built.config.name}___…", or a group holding them), so every call to it is denied. Write one (README, "Policies").`,
          );

      new CfnOutput(this, 'GatewayUrl', {
        value: frontDoor.gateway.gatewayUrl ?? '',
        description: 'MCP endpoint of the AgentCore Gateway',
      });
      this.frontDoor = frontDoor;
    }

    if (apiDoor !== undefined) {
      const proxyEnvironment = {
        ...environment,
        // Identity reaches the upstream as its delivery says, as for a gateway target.
        MCP_IDENTITY_TARGET_DELIVERY: JSON.stringify(deliveryMap(apiTarget)),
      };
      assertEnvironmentFits({ ...proxyEnvironment, MCP_IDENTITY_UPSTREAM_URL: apiDoor.upstream.url ?? '' });
      const door = new ApiGatewayDoor(this, 'ApiGatewayDoor', {
        config: apiDoor,
        authorizerEnvironment: authorizerEnvironment(environment),
        proxyEnvironment,
        auditLogGroup: this.auditTrail.logGroup,
        generatedDir: this.policyStore.generatedDir,
        authorizationServer: identity.discoveryUrl.replace(/\/\.well-known\/openid-configuration$/, ''),
        logRetention,
        ...(encryptionKey ? { encryptionKey } : {}),
      });
      // Only this policy store, only its upstream (granted by the door), and the assertion key when it signs.
      this.policyStore.grantIsAuthorized(door.proxy.function);
      this.policyStore.grantListPolicies(door.proxy.function);
      if (apiDoor.upstream.identity.includes('assertion')) this.assertionKey?.grantSign(door.proxy.function);
      this.grants?.grantLookup(door.proxy.function);
      if (apiTarget.some((target) => coverage.targetsWithoutPolicy.includes(target.name)))
        Annotations.of(door).addWarningV2(
          'mcp-identity:target-without-policy',
          `API Gateway upstream ${apiDoor.upstream.name}: no permit policy in ${config.authorization.policyDir}/ names its tools (Action::"${apiDoor.upstream.name}___…", or a group holding them), so every call to it is denied. Write one (README, "Policies").`,
        );
      new CfnOutput(this, 'ApiGatewayMcpUrl', {
        value: door.mcpUrl,
        description: 'MCP endpoint of the API Gateway door',
      });
      new CfnOutput(this, 'ApiGatewayResourceMetadataUrl', {
        value: door.resourceMetadataUrl,
        description: 'RFC 9728 protected resource metadata of the API Gateway door',
      });
      this.apiGatewayDoor = door;
    }
    this.observability = new Observability(this, 'Observability', {
      config: config.observability,
      service: config.gateway.name,
      auditLogGroup: this.auditTrail.logGroup,
      guards: [
        ...(this.frontDoor
          ? [
              {
                door: 'agentcore' as const,
                fn: this.frontDoor.interceptor.function,
                label: 'AgentCore interceptor',
              },
            ]
          : []),
        ...(this.apiGatewayDoor
          ? [
              {
                door: 'apigw' as const,
                fn: this.apiGatewayDoor.proxy.function,
                label: 'API Gateway MCP proxy',
              },
            ]
          : []),
      ],
      ...(this.auditTrail.forwarder ? { forwarder: this.auditTrail.forwarder.function } : {}),
      ...(this.auditTrail.deadLetterQueue ? { deadLetterQueue: this.auditTrail.deadLetterQueue } : {}),
      ...(encryptionKey ? { encryptionKey } : {}),
    });
    new CfnOutput(this, 'PolicyStoreId', { value: this.policyStore.policyStoreId });
    new CfnOutput(this, 'AuditStore', { value: config.audit.store });
    if (this.assertionKey) {
      new CfnOutput(this, 'AssertionJwksUrl', {
        value: this.assertionKey.jwksDocumentUrl,
        description: 'JWKS of the identity assertion key: targets verify assertions against it',
      });
      new CfnOutput(this, 'AssertionIssuer', {
        value: config.assertion.issuer ?? this.assertionKey.defaultIssuer,
        description: 'iss of the identity assertions',
      });
      new CfnOutput(this, 'AssertionKeyArn', { value: this.assertionKey.key.keyArn });
    }
    new CfnOutput(this, 'AuditLogGroup', { value: this.auditTrail.logGroup.logGroupName });
    if (this.auditTrail.eventDataStoreId !== undefined)
      new CfnOutput(this, 'EventDataStoreId', { value: this.auditTrail.eventDataStoreId });
    if (this.auditTrail.channel !== undefined)
      new CfnOutput(this, 'AuditChannelArn', { value: this.auditTrail.channel.attrChannelArn });
    if (this.auditTrail.deadLetterQueue !== undefined)
      new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.auditTrail.deadLetterQueue.queueUrl });
    if (this.auditTrail.deliveredUids !== undefined)
      new CfnOutput(this, 'DeliveredUidTableName', {
        value: this.auditTrail.deliveredUids.tableName,
        description: 'audit redrive --delivered-table: skips events already delivered',
      });
    if (this.auditTrail.parkedEvents !== undefined)
      new CfnOutput(this, 'ParkedEventsBucketName', { value: this.auditTrail.parkedEvents.bucketName });
    if (this.auditTrail.redrivePolicy !== undefined)
      new CfnOutput(this, 'AuditRedrivePolicyArn', {
        value: this.auditTrail.redrivePolicy.managedPolicyArn,
        description: 'attach to the role that runs npx mcp-identity audit redrive',
      });
  }
}

/** Lambda allows 4 KB of environment variables in all; keep room for what the constructs add. */
const LAMBDA_ENVIRONMENT_BYTES = 4096;
const RESERVED_BYTES = 300;

/**
 * Fails synth, naming the largest settings, when the interceptor's environment would not fit. The policy
 * catalogue no longer travels here (it ships in the code asset), so what can still grow is configuration:
 * redaction patterns, injection bindings, claim lists. A clear synth error beats a late CloudFormation failure.
 */
export function assertEnvironmentFits(environment: Record<string, string>): void {
  const sizes = Object.entries(environment).map(
    ([key, value]) =>
      [key, key.length + (Token.isUnresolved(value) ? 64 : Buffer.byteLength(value, 'utf8'))] as const,
  );
  const total = sizes.reduce((sum, [, size]) => sum + size, RESERVED_BYTES);
  if (total > LAMBDA_ENVIRONMENT_BYTES) {
    const largest = [...sizes]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([key, size]) => `${key} (${size} bytes)`)
      .join(', ');
    throw new ConfigurationError(
      `the interceptor's environment would take about ${total} bytes (Lambda allows ${LAMBDA_ENVIRONMENT_BYTES}); the largest settings are ${largest}. Shorten redaction patterns or injection bindings (or target names: MCP_IDENTITY_TARGET_DELIVERY has one entry per target).`,
    );
  }
}

/** The interceptor's MCP_IDENTITY_POLICY_TOKEN_READS for a policy set: which token facts its policies read. */
export function tokenReadsSetting(policies: readonly PolicyFile[]): string {
  if (policies.some((policy) => policy.json === undefined)) return 'all';
  const reads = tokenReads(policies.map((policy) => policy.json as { conditions?: unknown }));
  if (reads === 'all') return 'all';
  return reads.size === 0 ? 'none' : [...reads].sort().join(',');
}
