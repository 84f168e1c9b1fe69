import fc from 'fast-check';
import { interceptorInputSchema } from '../../lambda/doors/agentcore/contract';
import { requestEvent } from '../helpers/fixtures';
import { type Harness, startHarness } from '../helpers/harness';

/**
 * For arbitrary interceptor events the handler returns a valid interceptor output, never throws, and never
 * forwards a request without a valid token.
 */
let h: Harness;
let validToken: string;
beforeAll(async () => {
  h = await startHarness();
  validToken = await h.token('bob');
});
afterAll(() => h.issuer.stop());

const isValidOutput = (out: unknown) => {
  const output = out as { interceptorOutputVersion?: unknown; mcp?: Record<string, unknown> };
  expect(output.interceptorOutputVersion).toBe('1.0');
  expect(typeof output.mcp).toBe('object');
  const keys = Object.keys(output.mcp ?? {});
  expect(keys.length).toBe(1);
  expect(['transformedGatewayRequest', 'transformedGatewayResponse']).toContain(keys[0]);
  const response = output.mcp?.transformedGatewayResponse as { statusCode?: unknown } | undefined;
  if (response !== undefined) expect(Number.isInteger(response.statusCode)).toBe(true);
};

const jsonRpcBody = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      jsonrpc: fc.constantFrom('2.0', '1.0'),
      id: fc.oneof(fc.integer(), fc.string()),
      method: fc.constantFrom(
        'tools/call',
        'tools/list',
        'ping',
        'initialize',
        'prompts/get',
        'resources/read',
        'x/y',
      ),
      params: fc.record({
        name: fc.constantFrom('orders___get_order', 'orders___update_order', 'x___y', 'bad name'),
        arguments: fc.dictionary(fc.string(), fc.jsonValue()),
        uri: fc.string(),
      }),
    },
    { requiredKeys: ['jsonrpc', 'method'] },
  ),
);

const authorization = fc.oneof(
  fc.constant(undefined),
  fc.string(),
  fc.string().map((token) => `Bearer ${token}`),
  fc.constant('Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IifQ.'),
);

describe('interceptor properties', () => {
  it('never throws and always answers a valid interceptor output, for any event at all', async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything(), async (event) => {
        isValidOutput(await h.handler(event));
      }),
      { numRuns: 300 },
    );
  });

  it('never forwards a request without a valid token', async () => {
    await fc.assert(
      fc.asyncProperty(jsonRpcBody, authorization, fc.boolean(), async (body, header, asResponse) => {
        const event = requestEvent(undefined, body) as any;
        if (header !== undefined) event.mcp.gatewayRequest.headers.Authorization = header;
        if (asResponse)
          event.mcp.gatewayResponse = {
            statusCode: 200,
            body: { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'orders___get_order' }] } },
          };
        const out = (await h.handler(event)) as any;
        isValidOutput(out);
        expect(out.mcp.transformedGatewayRequest).toBeUndefined();
        if (asResponse && out.mcp.transformedGatewayResponse?.body?.result?.tools) {
          // a list can only come back filtered for a verified caller — never with a tool for an anonymous one
          expect(out.mcp.transformedGatewayResponse.body.result.tools).toHaveLength(0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('forwards only what it decided on: a forwarded tools/call carries the verified identity', async () => {
    await fc.assert(
      fc.asyncProperty(jsonRpcBody, async (body) => {
        const event = requestEvent(validToken, body);
        expect(interceptorInputSchema.safeParse(event).success).toBe(true);
        const out = (await h.handler(event)) as any;
        isValidOutput(out);
        const forwarded = out.mcp.transformedGatewayRequest?.body;
        if (forwarded?.method === 'tools/call') {
          expect(forwarded.params.arguments._caller_user).toBe('bob');
          expect(forwarded.params.arguments._caller_roles).toEqual(['order-admin']);
        }
      }),
      { numRuns: 300 },
    );
  });
});
