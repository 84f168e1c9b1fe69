import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  decodeInterceptorEvent,
  encodeRequestResult,
  encodeResponseResult,
  headerMap,
} from '../../lambda/doors/agentcore/codec';
import type { GatewayResponse } from '../../lambda/doors/agentcore/contract';
import { DECISION_HEADER, refused, unauthenticated } from '../../lambda/guard/answers';
import type { GuardResult } from '../../lambda/guard/types';

/**
 * The AgentCore door's codec against the documented interceptor payloads: the repository's fixtures and the
 * shared ones they were copied from (CONTRACTS §1).
 */

const REPOSITORY_FIXTURES = join(__dirname, '..', 'fixtures', 'agentcore');
/** The workplace's shared contract fixtures, next to the repository; absent in a plain clone. */
const SHARED_FIXTURES = join(__dirname, '..', '..', '..', 'shared', 'fixtures', 'agentcore');
const ROOTS: [string, string][] = [
  ['test/fixtures', REPOSITORY_FIXTURES],
  ...(existsSync(SHARED_FIXTURES) ? [['shared fixtures', SHARED_FIXTURES] as [string, string]] : []),
];

const ALLOW = { kind: 'allow', policies: ['orders-readers'] } as const;

describe.each(ROOTS)('AgentCore codec against %s', (_label, root) => {
  const load = <T = any>(name: string): T => JSON.parse(readFileSync(join(root, name), 'utf8')) as T;

  it('decodes the REQUEST event of a tools/call into a guard request', () => {
    const event = load('request-interceptor-input.tools-call.json');

    const decoded = decodeInterceptorEvent(event);

    if (decoded.phase !== 'request') throw new Error('expected a request');
    const { request } = decoded;
    expect(request.door).toBe('agentcore');
    expect(request.credential).toEqual({ authorization: ['Bearer <bearer_token>'] });
    expect(request.message).toEqual(event.mcp.gatewayRequest.body);
    expect(request.parsed).toBe(true);
    expect(request.rawBytes).toBe(Buffer.byteLength(event.mcp.rawGatewayRequest.body, 'utf8'));
    expect(request.facts.sessionId).toBe('<session_id>');
    expect(request.facts.userAgent).toBe('<client_user_agent>');
    expect(request.facts.headers.get('accept')).toEqual(['application/json']);
    // The gateway reports no address it observed: the door claims none.
    expect(request.facts.sourceIp).toBeUndefined();
    expect(request.undecodable).toBeUndefined();
  });

  it('decodes the RESPONSE event of a tools/list into a guard response carrying its request', () => {
    const event = load('response-interceptor-input.tools-list.json');

    const decoded = decodeInterceptorEvent(event);

    if (decoded.phase !== 'response') throw new Error('expected a response');
    expect(decoded.response.request).toEqual({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(decoded.response.credential.authorization).toEqual(['Bearer <bearer_token>']);
    expect(decoded.response.response).toEqual({ status: 200, body: event.mcp.gatewayResponse.body });
    expect(decoded.original).toEqual(event.mcp.gatewayResponse);
  });

  it('encodes a forward without header changes as the documented pass-through output', () => {
    const decoded = decodeInterceptorEvent(load('request-interceptor-input.tools-list.json'));
    if (decoded.phase !== 'request') throw new Error('expected a request');
    const result: GuardResult = {
      kind: 'forward',
      message: decoded.request.message,
      headers: { set: {}, remove: ['authorization'] },
      decision: ALLOW,
      decisionId: 'd-1',
    };

    expect(encodeRequestResult(result)).toEqual(load('request-interceptor-output.pass-through.json'));
  });

  it('encodes a forward that sets headers as the documented output with headers', () => {
    const expected = load('request-interceptor-output.with-headers.json');
    const result: GuardResult = {
      kind: 'forward',
      message: expected.mcp.transformedGatewayRequest.body,
      headers: { set: expected.mcp.transformedGatewayRequest.headers, remove: ['authorization'] },
      decision: ALLOW,
      decisionId: 'd-2',
    };

    expect(encodeRequestResult(result)).toEqual(expected);
  });

  it('encodes a denied tools/call as a 200 tool error, the shape AgentCore Policy answers with', () => {
    const documented = load('request-interceptor-output.deny-tool-error-200.json');
    const answer = refused(
      {
        kind: 'tool-call',
        id: 7,
        tool: { full: 'orders___update_order', tool: 'update_order' },
        arguments: {},
      },
      'No policy permits it.',
    );

    const out = encodeRequestResult({ kind: 'answer', ...answer, decisionId: 'd-3' }) as any;

    expect(Object.keys(out.mcp)).toEqual(Object.keys(documented.mcp));
    expect(out.mcp.transformedGatewayResponse.statusCode).toBe(200);
    expect(out.mcp.transformedGatewayResponse.headers[DECISION_HEADER]).toBe('deny');
    expect(Object.keys(out.mcp.transformedGatewayResponse.body).sort()).toEqual(
      Object.keys(documented.mcp.transformedGatewayResponse.body).sort(),
    );
    expect(out.mcp.transformedGatewayResponse.body.result).toEqual({
      content: [{ type: 'text', text: 'No policy permits it.' }],
      isError: true,
    });
  });

  it('encodes another denial as a 403 JSON-RPC error, the documented shape', () => {
    const documented = load('request-interceptor-output.deny-jsonrpc-403.json');
    const answer = refused({ kind: 'resource-read', id: 7, uri: 'orders://42' }, 'Denied.');

    const out = encodeRequestResult({ kind: 'answer', ...answer, decisionId: 'd-4' }) as any;

    expect(out.interceptorOutputVersion).toBe(documented.interceptorOutputVersion);
    expect(out.mcp.transformedGatewayResponse.statusCode).toBe(403);
    expect(Object.keys(out.mcp.transformedGatewayResponse.body.error).sort()).toEqual(['code', 'message']);
    expect(out.mcp.transformedGatewayRequest).toBeUndefined();
  });
});

describe('AgentCore codec: decoding edge cases', () => {
  const base = () =>
    JSON.parse(readFileSync(join(REPOSITORY_FIXTURES, 'request-interceptor-input.tools-call.json'), 'utf8'));

  it('merges every casing and every value of a header, in order', () => {
    const headers = headerMap({ Authorization: 'a', authorization: ['b', 'c'], 'X-Other': 'x' });
    expect(headers.get('authorization')).toEqual(['a', 'b', 'c']);
    expect(headers.get('x-other')).toEqual(['x']);
  });

  it('hands the guard every Authorization value, so it can refuse two', () => {
    const event = base();
    event.mcp.gatewayRequest.headers = { Authorization: 'Bearer one', authorization: 'Bearer two' };
    const decoded = decodeInterceptorEvent(event);
    if (decoded.phase !== 'request') throw new Error('expected a request');
    expect(decoded.request.credential.authorization).toEqual(['Bearer one', 'Bearer two']);
  });

  it('reads the raw text when the gateway gives no parsed body, and flags text that is not JSON', () => {
    const event = base();
    delete event.mcp.gatewayRequest.body;
    const fromRaw = decodeInterceptorEvent(structuredClone(event));
    event.mcp.rawGatewayRequest.body = '{"jsonrpc": "2.0", "id": 1, "method": ';
    const broken = decodeInterceptorEvent(event);

    if (fromRaw.phase !== 'request' || broken.phase !== 'request') throw new Error('expected requests');
    expect(fromRaw.request.message).toMatchObject({ method: 'tools/call', id: 7 });
    expect(fromRaw.request.parsed).toBe(true);
    expect(broken.request.parsed).toBe(false);
    expect(broken.request.message).toBeUndefined();
  });

  it('parses a body the gateway hands over as JSON text', () => {
    const event = base();
    event.mcp.gatewayRequest.body = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' });
    const decoded = decodeInterceptorEvent(event);
    if (decoded.phase !== 'request') throw new Error('expected a request');
    expect(decoded.request.message).toEqual({ jsonrpc: '2.0', id: 3, method: 'ping' });
  });

  it.each([
    ['not an object', 'hello'],
    ['no mcp', { interceptorInputVersion: '1.0' }],
    ['no gatewayRequest', { mcp: {} }],
    ['headers that are not strings', { mcp: { gatewayRequest: { headers: { a: 1 } } } }],
  ])('decodes an event that is %s into a request the guard refuses as undecodable', (_label, event) => {
    const decoded = decodeInterceptorEvent(event);
    if (decoded.phase !== 'request') throw new Error('expected a request');
    expect(decoded.request.undecodable?.reason).toBe('The gateway event could not be read.');
    expect(decoded.request.credential.authorization).toEqual([]);
    expect(decoded.request.message).toBeUndefined();
  });

  it('never throws, whatever the event', () => {
    fc.assert(
      fc.property(fc.anything(), (event) => {
        const decoded = decodeInterceptorEvent(event);
        expect(['request', 'response']).toContain(decoded.phase);
      }),
      { numRuns: 500 },
    );
  });
});

describe('AgentCore codec: encoding', () => {
  const original: GatewayResponse = {
    statusCode: 200,
    headers: { 'Content-Type': 'application/json', 'content-length': '99', Vary: ['Origin', 'Accept'] },
    body: { jsonrpc: '2.0', id: 1, result: { tools: [] } },
  };

  it('passes the target answer through with its headers flattened', () => {
    expect(encodeResponseResult({ kind: 'pass' }, original)).toEqual({
      interceptorOutputVersion: '1.0',
      mcp: {
        transformedGatewayResponse: {
          statusCode: 200,
          headers: { 'Content-Type': 'application/json', 'content-length': '99', Vary: 'Origin, Accept' },
          body: original.body,
        },
      },
    });
  });

  it('replaces the body and drops the stale Content-Length, whatever its casing', () => {
    const out = encodeResponseResult({ kind: 'replace', body: 'filtered' }, original);
    expect(out.mcp.transformedGatewayResponse).toEqual({
      statusCode: 200,
      headers: { 'Content-Type': 'application/json', Vary: 'Origin, Accept' },
      body: 'filtered',
    });
  });

  it('answers 200 when the gateway gave no status, and leaves headers out when it gave none', () => {
    const out = encodeResponseResult({ kind: 'pass' }, { body: 'x' });
    expect(out.mcp.transformedGatewayResponse).toEqual({ statusCode: 200, body: 'x' });
  });

  it('encodes a response-step answer in place of the target answer', () => {
    const answer = unauthenticated(1, 'Authentication required.', false, undefined);
    const out = encodeResponseResult({ kind: 'answer', ...answer }, original);
    expect(out.mcp.transformedGatewayResponse).toEqual({
      statusCode: 401,
      headers: answer.headers,
      body: answer.body,
    });
  });

  it('does not forward when asked to remove a client header this door cannot remove', () => {
    const out = encodeRequestResult({
      kind: 'forward',
      message: { jsonrpc: '2.0', id: 4, method: 'tools/call' },
      headers: { set: {}, remove: ['authorization', 'x-client-secret'] },
      decision: ALLOW,
      decisionId: 'd-5',
    });
    expect(out.mcp.transformedGatewayRequest).toBeUndefined();
    expect(out.mcp.transformedGatewayResponse?.statusCode).toBe(503);
    expect(out.mcp.transformedGatewayResponse?.body).toMatchObject({ id: 4 });
  });
});
