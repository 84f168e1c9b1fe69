import type { IncomingMessage, ServerResponse } from 'node:http';
import { respond } from '../lambda/doors/agentcore/contract';
import type { InterceptorHandler } from '../lambda/doors/agentcore/door';
import type { ProxyDoorSettings } from '../lambda/doors/apigateway/door';
import type { GuardDeps } from '../lambda/guard/deps';
import { type AuthorizerHandler, createAuthorizerHandler } from '../lambda/handlers/apigateway-authorizer';
import { createApiGatewayProxyHandler } from '../lambda/handlers/apigateway-proxy';
import { createInterceptorHandler } from '../lambda/handlers/interceptor';
import { type ApiGatewayDoorHandlers, startApiGatewayEmulation } from './apigateway-emulation';
import { type GatewayTarget, startGateway } from './gateway';
import { DOOR_KINDS, type DoorKind } from './stack-names';
import { createTargetsUpstream } from './targets-upstream';

/**
 * The local stack's front doors, each an emulation of the AWS service running that door's real handlers in
 * process around one guard: AgentCore Gateway (the interceptor at REQUEST and RESPONSE) or API Gateway (the
 * REQUEST authorizer, then the streaming MCP proxy). Both front the same targets, so one run of either serves
 * the same tools, policies, identity delivery and audit.
 */

export { DOOR_KINDS, type DoorKind };

export interface LocalDoorOptions {
  readonly port: number;
  readonly targets: readonly GatewayTarget[];
  readonly authorizationServer: () => string;
  readonly assertionJwks: () => unknown;
  readonly onRequest: (line: string) => void;
  /** Other pages on the door's port (the local console). */
  readonly routes?: (request: IncomingMessage, response: ServerResponse) => boolean;
  /** API Gateway only: the authorizer's result cache TTL (0–3600). @default 60, as the stack's `doors.apiGateway` */
  readonly authorizerCacheTtlSeconds?: number;
}

export interface LocalDoor {
  readonly kind: DoorKind;
  /** What the dev output calls it. */
  readonly describe: string;
  readonly url: string;
  readonly resourceMetadataUrl: string;
  readonly assertionJwksUrl: string;
  /** Puts the guard built from these deps behind the door: at start, and again after each policy reload. */
  use(deps: GuardDeps): void;
  stop(): Promise<void>;
}

/** The API Gateway door's proxy settings locally: the AgentCore emulation's target timeout, Lambda's 6 MB. */
const PROXY_SETTINGS: ProxyDoorSettings = Object.freeze({
  timeoutMs: 30_000,
  maxResponseBytes: 6 * 1024 * 1024,
  keepAliveSeconds: 30,
});

/** The stack's default `doors.apiGateway.authorizerCacheTtlSeconds` (lib/door-config.ts). */
const DEFAULT_AUTHORIZER_TTL_SECONDS = 60;

const starting: InterceptorHandler = async () =>
  respond({
    statusCode: 503,
    body: { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'The local stack is starting.' } },
  });

async function startAgentCoreDoor(options: LocalDoorOptions): Promise<LocalDoor> {
  let interceptor: InterceptorHandler | undefined;
  const gateway = await startGateway({
    port: options.port,
    interceptor: () => interceptor ?? starting,
    targets: options.targets,
    assertionJwks: options.assertionJwks,
    authorizationServer: options.authorizationServer,
    onRequest: options.onRequest,
    ...(options.routes === undefined ? {} : { routes: options.routes }),
  });
  return {
    kind: 'agentcore',
    describe: 'AgentCore gateway emulation',
    url: gateway.url,
    resourceMetadataUrl: gateway.resourceMetadataUrl,
    assertionJwksUrl: gateway.assertionJwksUrl,
    use: (deps) => {
      interceptor = createInterceptorHandler(deps);
    },
    stop: () => gateway.stop(),
  };
}

async function startApiGatewayDoor(options: LocalDoorOptions): Promise<LocalDoor> {
  const ttl = options.authorizerCacheTtlSeconds ?? DEFAULT_AUTHORIZER_TTL_SECONDS;
  // One upstream per API, as deployed: here the stack's targets behind one aggregating upstream.
  const upstream = createTargetsUpstream(options.targets);
  let handlers: ApiGatewayDoorHandlers | undefined;
  let authorizer: AuthorizerHandler | undefined;
  const emulation = await startApiGatewayEmulation({
    port: options.port,
    handlers: () => handlers,
    authorizerCacheTtlSeconds: ttl,
    authorizationServer: options.authorizationServer,
    assertionJwks: options.assertionJwks,
    onRequest: options.onRequest,
    ...(options.routes === undefined ? {} : { routes: options.routes }),
  });
  return {
    kind: 'apigateway',
    describe: 'API Gateway REST API emulation: REQUEST authorizer + streaming MCP proxy',
    url: emulation.url,
    resourceMetadataUrl: emulation.resourceMetadataUrl,
    assertionJwksUrl: emulation.assertionJwksUrl,
    use: (deps) => {
      // The authorizer only authenticates, so a policy reload leaves it (and API Gateway's cache) as it is.
      authorizer ??= createAuthorizerHandler({
        verifier: deps.verifier,
        audit: deps.audit,
        log: deps.log,
        settings: {
          cacheTtlSeconds: ttl,
          audit: deps.settings.audit,
          redaction: deps.settings.redaction,
        },
        ...(deps.now === undefined ? {} : { now: deps.now }),
      });
      handlers = {
        authorizer,
        proxy: createApiGatewayProxyHandler({ ...deps, upstream, door: PROXY_SETTINGS }),
      };
    },
    stop: async () => {
      await emulation.stop();
      upstream.close();
    },
  };
}

/** Starts the door of this kind on loopback; the guard goes behind it with {@link LocalDoor.use}. */
export function startLocalDoor(kind: DoorKind, options: LocalDoorOptions): Promise<LocalDoor> {
  switch (kind) {
    case 'agentcore':
      return startAgentCoreDoor(options);
    case 'apigateway':
      return startApiGatewayDoor(options);
  }
}
