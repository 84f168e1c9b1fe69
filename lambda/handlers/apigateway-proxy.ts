import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NO_CREDENTIALS, SecretsManagerCredentials } from '../adapters/outbound-credentials';
import { HttpsUpstream } from '../adapters/upstream-https';
import { LambdaUpstream } from '../adapters/upstream-lambda';
import { createApiGatewayDoor, type ProxyDoorSettings, type ProxyHandler } from '../doors/apigateway/door';
import { httpResponseOpener, lambdaStreaming, type OpenHttpResponse } from '../doors/apigateway/http-stream';
import { answerResponse } from '../doors/apigateway/proxy';
import { ResponseWriter } from '../doors/apigateway/response-writer';
import type { Upstream } from '../doors/apigateway/upstream';
import { unavailable } from '../guard/answers';
import type { GuardDeps, GuardSettings } from '../guard/deps';
import { createGuard } from '../guard/guard';
import { type InterceptorConfig, loadProxyConfig, type UpstreamConfig } from '../shared/config';
import { logger } from '../shared/logger';
import { productionGuardDeps } from './production-guard';

/**
 * The API Gateway door's MCP proxy Lambda: wiring only. Configuration from the environment → adapters → the
 * door-agnostic guard (`lambda/guard/`) → the door (`lambda/doors/apigateway/`) → the upstream MCP server,
 * streamed back with `awslambda.streamifyResponse` (integration `responseTransferMode: STREAM`).
 */

export interface ApiGatewayProxyDeps extends GuardDeps {
  readonly upstream: Upstream;
  readonly door: ProxyDoorSettings;
  /** How the response prelude is written. @default the runtime's in Lambda, an equivalent elsewhere */
  readonly open?: OpenHttpResponse;
}

/** The proxy for tests, the bench and the local emulation: the guard behind the API Gateway door. */
export function createApiGatewayProxyHandler(deps: ApiGatewayProxyDeps): ProxyHandler {
  return createApiGatewayDoor({
    guard: createGuard(deps),
    upstream: deps.upstream,
    log: deps.log,
    settings: deps.door,
    ...(deps.open === undefined ? {} : { open: deps.open }),
  });
}

/** The guard's settings from the validated configuration (the same keys as the AgentCore interceptor's). */
export function proxyGuardSettings(config: InterceptorConfig): GuardSettings {
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

/** The upstream adapter for the configured target. */
export function upstreamFor(config: UpstreamConfig): Upstream {
  const { target } = config;
  if (target.kind === 'lambda')
    // One attempt: a retried Invoke could run a tool twice.
    return new LambdaUpstream(new LambdaClient({ maxAttempts: 1 }), target.functionArn);
  const credentials =
    target.secretArn === undefined
      ? NO_CREDENTIALS
      : new SecretsManagerCredentials(
          new SecretsManagerClient({ maxAttempts: 2 }),
          target.secretArn,
          target.secretTtlSeconds,
        );
  return new HttpsUpstream(target.url, credentials);
}

function createProductionHandler(): ProxyHandler {
  const { guard: config, upstream } = loadProxyConfig();
  return createApiGatewayProxyHandler({
    ...productionGuardDeps(config, proxyGuardSettings(config), 'proxy'),
    upstream: upstreamFor(upstream),
    door: {
      timeoutMs: upstream.timeoutMs,
      maxResponseBytes: upstream.maxResponseBytes,
      keepAliveSeconds: upstream.keepAliveSeconds,
      ...(upstream.targetName === undefined ? {} : { targetName: upstream.targetName }),
    },
    open: httpResponseOpener(),
  });
}

let production: ProxyHandler | undefined;
try {
  production = createProductionHandler();
} catch {
  production = undefined;
}

/** A configuration error refuses every request with 503 (logged), and never forwards anything. */
const entry: ProxyHandler = async (event, stream) => {
  try {
    production ??= createProductionHandler();
  } catch (error) {
    logger.error('proxy is misconfigured; refusing every request', { error });
    const answer = unavailable(null, 'The gateway is misconfigured; the request was not carried out.');
    const writer = new ResponseWriter(stream, httpResponseOpener());
    await writer.answer(answerResponse(answer).metadata, answer.body);
    await writer.end();
    return;
  }
  return production(event, stream);
};

/** Lambda entry: a response-streaming handler in Lambda; the plain function elsewhere (tests, local). */
export const handler: ProxyHandler = lambdaStreaming()?.streamifyResponse(entry) ?? entry;
