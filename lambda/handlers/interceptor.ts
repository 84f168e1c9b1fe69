import { ACCESS_DENIED_CODE, jsonRpcError } from '../core/mcp-responses';
import { respond } from '../doors/agentcore/contract';
import { createAgentCoreDoor, type InterceptorHandler } from '../doors/agentcore/door';
import { DECISION_HEADER } from '../guard/answers';
import type { GuardDeps, GuardSettings } from '../guard/deps';
import { createGuard } from '../guard/guard';
import { type InterceptorConfig, loadInterceptorConfig } from '../shared/config';
import { logger } from '../shared/logger';
import { productionGuardDeps } from './production-guard';

/**
 * The AgentCore Gateway interceptor Lambda: wiring only. Configuration from the environment → adapters → the
 * door-agnostic guard (`lambda/guard/`) → the AgentCore door's codec (`lambda/doors/agentcore/`).
 */

export type { InterceptorHandler } from '../doors/agentcore/door';
export { AUTHENTICATION_REQUIRED_CODE } from '../guard/answers';
export type InterceptorSettings = GuardSettings;
export type InterceptorDeps = GuardDeps;

/** The interceptor for tests, the bench and the local stack: the guard behind the AgentCore door. */
export function createInterceptorHandler(deps: InterceptorDeps): InterceptorHandler {
  return createAgentCoreDoor(createGuard(deps));
}

/** Settings for the handler from the validated configuration. */
export function interceptorSettings(config: InterceptorConfig): InterceptorSettings {
  return {
    model: {
      namespace: config.namespace,
      resourceId: config.resourceId,
      ...(config.inputTypes === undefined ? {} : { inputTypes: config.inputTypes }),
    },
    injection: config.injection,
    mode: config.mode,
    ...(config.catalog === undefined ? {} : { catalog: config.catalog }),
    redaction: config.redaction,
    audit: config.audit,
    maxBodyBytes: config.maxBodyBytes,
    ...(config.resourceMetadataUrl === undefined ? {} : { resourceMetadataUrl: config.resourceMetadataUrl }),
  };
}

/**
 * The Lambda entry point, wired once per execution environment with the real adapters. Configuration errors
 * surface at cold start (the function fails to initialise, visibly) rather than as per-request guesses.
 */
function createProductionHandler(): InterceptorHandler {
  const config = loadInterceptorConfig();
  return createInterceptorHandler(productionGuardDeps(config, interceptorSettings(config), 'interceptor'));
}

/**
 * Built at module scope — configuration parsed, clients made, JWKS and policy names loading — so that work
 * falls in Lambda's init phase and the first request does not pay for it. A configuration error is kept for
 * the handler below, which retries (the environment may be fixed without a new deploy only in tests, but a
 * retry costs nothing next to refusing every request).
 */
let production: InterceptorHandler | undefined;
try {
  production = createProductionHandler();
} catch {
  production = undefined;
}

/**
 * Lambda entry. A configuration error is logged once per invocation and every request is refused with 503:
 * the function must never throw at the gateway, and must never run a tool it cannot authorize.
 */
export const handler: InterceptorHandler = async (event) => {
  try {
    production ??= createProductionHandler();
  } catch (error) {
    logger.error('interceptor is misconfigured; refusing every request', { error });
    return respond({
      statusCode: 503,
      headers: { 'Content-Type': 'application/json', [DECISION_HEADER]: 'deny' },
      body: jsonRpcError(
        null,
        ACCESS_DENIED_CODE,
        'The gateway is misconfigured; the request was not carried out.',
      ),
    });
  }
  return production(event);
};
