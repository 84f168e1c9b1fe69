/**
 * Every Lambda's configuration, read from the environment once at cold start, validated, typed and frozen. One
 * module per function under ./config/ (validated by hand rather than with zod, which was too big for the Lambda
 * bundles; see ./config/settings-reader.ts):
 *
 * - ./config/interceptor.ts: the guard (the AgentCore interceptor, and the API Gateway proxy's guard settings);
 * - ./config/apigateway-proxy.ts: the API Gateway proxy (the guard plus its upstream);
 * - ./config/apigateway-authorizer.ts: the API Gateway authorizer;
 * - ./config/audit-forwarder.ts: the audit forwarder;
 * - ./config/access-audit.ts: the grants-table stream auditor.
 *
 * The settings several of them share: ./config/jwt-settings.ts (the token verifier), ./config/decision-point.ts
 * (Verified Permissions or local policies), ./config/policy-catalog.ts, ./config/delivery-settings.ts (identity
 * delivery and the assertion signer) and ./config/audit-settings.ts (audit destination and redaction patterns).
 */

export { loadAccessAuditConfig } from './config/access-audit';
export { type AuthorizerConfig, loadAuthorizerConfig } from './config/apigateway-authorizer';
export {
  assertUpstreamUrl,
  loadProxyConfig,
  type UpstreamConfig,
} from './config/apigateway-proxy';
export { type ForwarderConfig, loadForwarderConfig } from './config/audit-forwarder';
export { policyTokenReads } from './config/decision-point';
export type { AssertionSigningConfig } from './config/delivery-settings';
export { type InterceptorConfig, loadInterceptorConfig } from './config/interceptor';
