import type { Writable } from 'node:stream';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { IsAuthorizedCommand, VerifiedPermissionsClient } from '@aws-sdk/client-verifiedpermissions';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as authorizer } from '../../lambda/handlers/apigateway-authorizer';
import { handler as proxy } from '../../lambda/handlers/apigateway-proxy';
import { DevIssuer } from '../../local/dev-issuer';
import { fixture } from '../helpers/fixtures';
import { AUDIENCE, USERS } from '../helpers/harness';
import { recordingStream, streamedResponse } from '../helpers/response-stream';

type Event = Record<string, unknown> & {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
};

function withToken(path: string, token: string, body?: unknown): Event {
  const event = fixture<Event>(path);
  for (const name of ['Authorization', 'Mcp-Name', 'Mcp-Method', 'MCP-Protocol-Version']) {
    delete event.headers[name];
    delete event.multiValueHeaders[name];
  }
  event.headers.Authorization = `Bearer ${token}`;
  event.multiValueHeaders.Authorization = [`Bearer ${token}`];
  if (body !== undefined) event.body = JSON.stringify(body);
  return event;
}

/**
 * The Lambda entry points as deployed: configuration from the environment, AWS SDK calls mocked. Each builds
 * its dependencies on the first invocation that finds a valid configuration, so the misconfigured cases run
 * first. Audit lines go to stdout (the audit log group): captured, so the output shows results.
 */
describe('API Gateway door Lambda entry points (production wiring)', () => {
  const saved = { ...process.env };
  let issuer: DevIssuer;
  const avp = mockClient(VerifiedPermissionsClient);
  const lambda = mockClient(LambdaClient);
  const stdout: string[] = [];

  beforeAll(async () => {
    issuer = await DevIssuer.start();
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await issuer.stop();
  });
  afterEach(() => {
    process.env = { ...saved };
    avp.reset();
    lambda.reset();
  });

  const common = () => ({
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    MCP_IDENTITY_ISSUER: issuer.issuer,
    MCP_IDENTITY_AUDIENCE: AUDIENCE,
    MCP_IDENTITY_DISCOVERY_URL: issuer.discoveryUrl,
    MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
  });

  it('authorizer: fails every request (500, never an Allow) when misconfigured', async () => {
    process.env.MCP_IDENTITY_ISSUER = issuer.issuer;
    const error = await authorizer(withToken('apigateway/request-authorizer-input.post-mcp.json', 'x')).catch(
      (caught: unknown) => caught as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toBe('Unauthorized');
  });

  it('proxy: refuses every request with 503 when misconfigured, forwarding nothing', async () => {
    process.env.MCP_IDENTITY_ISSUER = issuer.issuer;
    const stream = recordingStream();
    await proxy(withToken('apigateway/proxy-integration-input.tools-call.json', 'x'), stream);
    await stream.finished;
    expect(streamedResponse(stream).metadata.statusCode).toBe(503);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });

  it('authorizer: allows a verified caller on the whole API', async () => {
    Object.assign(process.env, common(), { MCP_IDENTITY_AUTHORIZER_CACHE_TTL_SECONDS: '60' });
    const token = await issuer.sign({ ...USERS.alice, aud: AUDIENCE });
    const result = await authorizer(withToken('apigateway/request-authorizer-input.post-mcp.json', token));
    expect(result.policyDocument.Statement[0].Resource).toBe(
      'arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/*',
    );
  });

  it('proxy: verifies, asks Verified Permissions, invokes the upstream function and streams its answer', async () => {
    Object.assign(process.env, common(), {
      MCP_IDENTITY_POLICY_STORE_ID: 'PSabc',
      MCP_IDENTITY_UPSTREAM_LAMBDA_ARN: 'arn:aws:lambda:eu-west-1:123456789012:function:orders-mcp',
      MCP_IDENTITY_UPSTREAM_TARGET_NAME: 'orders',
    });
    avp
      .on(IsAuthorizedCommand)
      .resolves({ decision: 'ALLOW', determiningPolicies: [{ policyId: 'SP1' }], errors: [] });
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: Buffer.from(
        JSON.stringify(fixture('apigateway/proxy-integration-output.tools-call.json')),
      ) as unknown as NonNullable<InvokeCommandOutput['Payload']>,
    });
    const token = await issuer.sign({ ...USERS.alice, aud: AUDIENCE });
    const stream = recordingStream();
    await proxy(
      withToken('apigateway/proxy-integration-input.tools-call.json', token, {
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'orders___get_order', arguments: { order_id: '42' } },
      }),
      stream,
    );
    await stream.finished;
    const { metadata, body } = streamedResponse(stream);
    expect(metadata.statusCode).toBe(200);
    expect(JSON.parse(body)).toMatchObject({
      id: 7,
      result: { content: [{ text: 'Order 42: 2 items, status SHIPPED' }] },
    });
    expect(avp).toHaveReceivedCommandWith(IsAuthorizedCommand, { policyStoreId: 'PSabc' });
    const sent = JSON.parse(
      Buffer.from(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array).toString(
        'utf8',
      ),
    );
    expect(JSON.parse(sent.body).params).toMatchObject({
      name: 'get_order',
      arguments: { _caller_user: 'alice' },
    });
    expect(JSON.stringify(sent)).not.toContain(token);
    expect(stdout.join('')).toContain('"door":"apigw"');
    expect(stdout.join('')).not.toContain(token);
  });

  it('is a response-streaming handler in Lambda: wrapped by awslambda.streamifyResponse, prelude by HttpResponseStream.from', async () => {
    const from = jest.fn((stream: Writable) => stream);
    const streamify = jest.fn(<T>(handler: T) => handler);
    (globalThis as Record<string, unknown>).awslambda = {
      streamifyResponse: streamify,
      HttpResponseStream: { from },
    };
    try {
      process.env.MCP_IDENTITY_ISSUER = issuer.issuer;
      let module: typeof import('../../lambda/handlers/apigateway-proxy') | undefined;
      jest.isolateModules(() => {
        module = require('../../lambda/handlers/apigateway-proxy');
      });
      expect(streamify).toHaveBeenCalledTimes(1);
      const stream = recordingStream();
      await module?.handler({ httpMethod: 'GET' }, stream);
      await stream.finished;
      // Misconfigured here: the 503 goes out through the runtime's prelude writer.
      expect(from).toHaveBeenCalledWith(stream, expect.objectContaining({ statusCode: 503 }));
    } finally {
      delete (globalThis as Record<string, unknown>).awslambda;
    }
  });
});
