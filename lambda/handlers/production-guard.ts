import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { VerifiedPermissionsClient } from '@aws-sdk/client-verifiedpermissions';
import { CachingAccessStore } from '../adapters/access-cache';
import { AssertionCache } from '../adapters/assertion-cache';
import { AvpDecisionPoint } from '../adapters/avp-decision-point';
import { AvpPolicyNames, StableIdDecisionPoint } from '../adapters/avp-policy-names';
import { CachingDecisionPoint } from '../adapters/decision-cache';
import { DynamoDbAccessStore } from '../adapters/dynamodb-access-store';
import { createMetrics, EmfDecisionMetrics } from '../adapters/emf-metrics';
import { JwtTokenVerifier } from '../adapters/jwt-token-verifier';
import { KmsAssertionSigner } from '../adapters/kms-assertion-signer';
import { LogAuditSink } from '../adapters/log-audit-sink';
import { CachingTokenVerifier } from '../adapters/verified-caller-cache';
import type { PolicyDecisionPoint } from '../core/decision';
import { GrantingVerifier, revocationGate } from '../guard/access-gates';
import type { GuardDeps, GuardSettings } from '../guard/deps';
import { identityDeliveryStep } from '../guard/identity-delivery-step';
import { pinGatesFor } from '../guard/tool-pin-gate';
import type { InterceptorConfig } from '../shared/config';
import { createAuditLogger, logger } from '../shared/logger';

/**
 * The guard's production adapters for a Lambda door (AgentCore interceptor, API Gateway proxy), from its
 * validated configuration: one place, so both doors verify, decide, deliver identity, check pins and audit the
 * same way. Built at cold start: the JWKS, the policy names and the assertion key's public key start loading
 * here, in the init phase, and a failed load is retried on first use.
 */
export function productionGuardDeps(
  config: InterceptorConfig,
  settings: GuardSettings,
  door: string,
): GuardDeps {
  if (config.decisionPoint.kind !== 'avp')
    throw new Error(
      `the Lambda ${door} uses Verified Permissions; MCP_IDENTITY_DECISION_POINT=local is for the local stack`,
    );
  const verifier = new JwtTokenVerifier(config.jwt);
  void verifier.hydrate();
  const client = new VerifiedPermissionsClient({ maxAttempts: 2 });
  const avp = new AvpDecisionPoint(client, config.decisionPoint);
  let pdp: PolicyDecisionPoint = avp;
  if (config.policyNames !== undefined) {
    const names = new AvpPolicyNames(client, config.decisionPoint.policyStoreId, config.policyNames);
    void names.hydrate();
    pdp = new StableIdDecisionPoint(avp, names);
  }
  let assertions: AssertionCache | undefined;
  if (config.assertion !== undefined) {
    const signer = new KmsAssertionSigner(new KMSClient({ maxAttempts: 2 }), {
      keyArn: config.assertion.keyArn,
    });
    signer.keyId().catch(() => undefined);
    assertions = new AssertionCache(signer, {
      issuer: config.assertion.issuer,
      ttlSeconds: config.assertion.ttlSeconds,
    });
  }
  // Just-in-time grants and the kill switch (docs/access-over-time.md): one strongly consistent Query per
  // subject, cached at most the revocation bound, serves both the grants and the revocation gate.
  const access =
    config.access === undefined
      ? undefined
      : new CachingAccessStore(
          new DynamoDbAccessStore(new DynamoDBClient({ maxAttempts: 2 }), config.access.tableName),
          { ttlSeconds: config.access.ttlSeconds },
        );
  // Both steps of one call, and the calls of one token, verify it once.
  const verified = new CachingTokenVerifier(verifier);
  return {
    verifier: access === undefined ? verified : new GrantingVerifier(verified, access, logger),
    pdp: new CachingDecisionPoint(pdp, config.cache),
    audit: new LogAuditSink(createAuditLogger()),
    log: logger,
    settings,
    forwardSteps: [identityDeliveryStep(config.delivery, assertions)],
    // The kill switch first: it refuses before policy, whatever the other gates would say.
    gates: [
      ...(access === undefined ? [] : [revocationGate(access)]),
      ...pinGatesFor(config.toolPins, config.injection),
    ],
    // EMF lines in the function's own log group (namespace from POWERTOOLS_METRICS_NAMESPACE); the service
    // dimension is the gateway name, so two deployments in one account keep apart on the dashboard.
    metrics: new EmfDecisionMetrics(createMetrics({ service: config.resourceId })),
  };
}
