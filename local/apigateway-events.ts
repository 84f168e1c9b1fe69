import { randomBytes, randomUUID } from 'node:crypto';

/**
 * The events API Gateway (REST API) hands Lambda for one HTTP request, built the way CONTRACTS §7a/§7b document
 * them (the fixtures in test/fixtures/apigateway/ show the same shapes): the REQUEST authorizer's event, and the
 * proxy integration's payload 1.0 with the authorizer's context. Pure, apart from fresh request ids.
 *
 * The local API is served as behind a custom domain whose empty base path maps the stage (CONTRACTS §9), so the
 * MCP URL is `/mcp` — no stage segment — and `/.well-known/oauth-protected-resource/mcp` is a path of the API.
 */

/** Where the emulated API lives, as its ARNs and request context name it. */
export interface ApiDescription {
  readonly region: string;
  readonly accountId: string;
  readonly apiId: string;
  readonly stage: string;
}

export const LOCAL_API: ApiDescription = Object.freeze({
  region: 'us-east-1',
  accountId: '000000000000',
  apiId: 'mcplocal',
  stage: 'local',
});

/** The one resource the MCP methods hang on. */
export const MCP_RESOURCE = '/mcp';

/** An HTTP request as the emulation received it. */
export interface ReceivedRequest {
  readonly httpMethod: string;
  /** Node's `rawHeaders`: names in the client's casing, values in order. */
  readonly rawHeaders: readonly string[];
  readonly query: URLSearchParams;
  /** The address the emulation saw the connection come from. */
  readonly sourceIp: string;
  readonly sourcePort: number;
  readonly body: string | undefined;
  readonly receivedAt: Date;
}

/** `headers` (last value per name) and `multiValueHeaders` (every value), names in the client's casing. */
export interface HeaderMaps {
  readonly headers: Record<string, string>;
  readonly multiValueHeaders: Record<string, string[]>;
}

/**
 * The request's headers as API Gateway passes them on: the client's, with the first casing seen for each name,
 * plus the forwarding headers API Gateway adds (`X-Forwarded-For` gets the observed address appended).
 */
export function headerMaps(request: ReceivedRequest): HeaderMaps {
  const casing = new Map<string, string>();
  const values = new Map<string, string[]>();
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    if (!casing.has(key)) casing.set(key, name);
    values.set(key, [...(values.get(key) ?? []), value]);
  };
  for (let index = 0; index + 1 < request.rawHeaders.length; index += 2)
    add(request.rawHeaders[index] as string, request.rawHeaders[index + 1] as string);
  const forwarded = values.get('x-forwarded-for');
  values.set('x-forwarded-for', [
    forwarded === undefined ? request.sourceIp : `${forwarded.join(', ')}, ${request.sourceIp}`,
  ]);
  if (!casing.has('x-forwarded-for')) casing.set('x-forwarded-for', 'X-Forwarded-For');
  values.set('x-forwarded-proto', ['http']);
  casing.set('x-forwarded-proto', casing.get('x-forwarded-proto') ?? 'X-Forwarded-Proto');
  values.set('x-forwarded-port', [String(request.sourcePort)]);
  casing.set('x-forwarded-port', casing.get('x-forwarded-port') ?? 'X-Forwarded-Port');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [key, list] of values) {
    const name = casing.get(key) as string;
    headers[name] = list.at(-1) as string;
    multiValueHeaders[name] = list;
  }
  return { headers, multiValueHeaders };
}

/** `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{VERB}/mcp`. */
export function methodArn(api: ApiDescription, httpMethod: string): string {
  return `arn:aws:execute-api:${api.region}:${api.accountId}:${api.apiId}/${api.stage}/${httpMethod}${MCP_RESOURCE}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `$context.requestTime`: `dd/MMM/yyyy:HH:mm:ss +0000`. */
export function requestTime(time: Date): string {
  const two = (value: number) => String(value).padStart(2, '0');
  return `${two(time.getUTCDate())}/${MONTHS[time.getUTCMonth()]}/${time.getUTCFullYear()}:${two(time.getUTCHours())}:${two(time.getUTCMinutes())}:${two(time.getUTCSeconds())} +0000`;
}

/** One request's `$context`, shared by its authorizer and proxy events (same request id). */
export interface RequestContext extends Record<string, unknown> {
  readonly requestId: string;
}

export function requestContext(
  api: ApiDescription,
  request: ReceivedRequest,
  maps: HeaderMaps,
  domainName: string,
): RequestContext {
  const userAgent = Object.entries(maps.headers).find(([name]) => name.toLowerCase() === 'user-agent')?.[1];
  return {
    resourceId: 'mcp000',
    resourcePath: MCP_RESOURCE,
    httpMethod: request.httpMethod,
    extendedRequestId: randomBytes(12).toString('base64'),
    requestTime: requestTime(request.receivedAt),
    path: MCP_RESOURCE,
    accountId: api.accountId,
    protocol: 'HTTP/1.1',
    stage: api.stage,
    domainPrefix: domainName.split('.')[0] ?? domainName,
    requestTimeEpoch: request.receivedAt.getTime(),
    requestId: randomUUID(),
    identity: {
      cognitoIdentityPoolId: null,
      accountId: null,
      cognitoIdentityId: null,
      caller: null,
      sourceIp: request.sourceIp,
      principalOrgId: null,
      accessKey: null,
      cognitoAuthenticationType: null,
      cognitoAuthenticationProvider: null,
      userArn: null,
      userAgent: userAgent ?? null,
      user: null,
    },
    domainName,
    deploymentId: 'localdeploy',
    apiId: api.apiId,
  };
}

function queryMaps(query: URLSearchParams) {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of query) {
    single[name] = value;
    multi[name] = [...(multi[name] ?? []), value];
  }
  return { single, multi };
}

/** The REQUEST authorizer's event (CONTRACTS §7a): no body — the authorizer cannot see the JSON-RPC call. */
export function authorizerEvent(
  api: ApiDescription,
  request: ReceivedRequest,
  maps: HeaderMaps,
  context: RequestContext,
): Record<string, unknown> {
  const query = queryMaps(request.query);
  return {
    type: 'REQUEST',
    methodArn: methodArn(api, request.httpMethod),
    resource: MCP_RESOURCE,
    path: MCP_RESOURCE,
    httpMethod: request.httpMethod,
    headers: maps.headers,
    multiValueHeaders: maps.multiValueHeaders,
    queryStringParameters: query.single,
    multiValueQueryStringParameters: query.multi,
    pathParameters: {},
    stageVariables: {},
    requestContext: context,
  };
}

/**
 * The proxy integration's event, payload 1.0 (CONTRACTS §7b): `requestContext.authorizer` holds the principal,
 * every context key as a string, and the authorizer's latency.
 */
export function proxyEvent(
  request: ReceivedRequest,
  maps: HeaderMaps,
  context: RequestContext,
  authorizer: {
    readonly principalId: string;
    readonly context: Readonly<Record<string, string | number | boolean>>;
    readonly latencyMs: number;
  },
): Record<string, unknown> {
  const query = queryMaps(request.query);
  const empty = [...request.query.keys()].length === 0;
  return {
    resource: MCP_RESOURCE,
    path: MCP_RESOURCE,
    httpMethod: request.httpMethod,
    headers: maps.headers,
    multiValueHeaders: maps.multiValueHeaders,
    queryStringParameters: empty ? null : query.single,
    multiValueQueryStringParameters: empty ? null : query.multi,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      ...context,
      authorizer: {
        principalId: authorizer.principalId,
        ...Object.fromEntries(Object.entries(authorizer.context).map(([key, value]) => [key, String(value)])),
        integrationLatency: authorizer.latencyMs,
      },
    },
    body: request.body === undefined || request.body === '' ? null : request.body,
    isBase64Encoded: false,
  };
}
