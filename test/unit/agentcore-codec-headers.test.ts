import fc from 'fast-check';
import { decodeInterceptorEvent } from '../../lambda/doors/agentcore/codec';
import { headerValue, headerValues } from '../../lambda/doors/agentcore/contract';

const name = fc.constantFrom(
  'Authorization',
  'authorization',
  'AUTHORIZATION',
  'Mcp-Session-Id',
  'mcp-session-id',
  'User-Agent',
  'user-agent',
  'X-Forwarded-For',
  'x-forwarded-for',
  'Accept',
);
const value = fc.oneof(fc.string({ maxLength: 6 }), fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }));

describe('AgentCore codec reads the headers in one pass, as the contract helpers read them', () => {
  it('gives the credential, session id, user agent and header map the per-header helpers give', () => {
    fc.assert(
      fc.property(fc.dictionary(name, value, { maxKeys: 8 }), (headers) => {
        const event = {
          interceptorInputVersion: '1.0',
          mcp: { gatewayRequest: { headers, body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } } },
        };
        const decoded = decodeInterceptorEvent(event);
        if (decoded.phase !== 'request') throw new Error('expected a request');
        const { credential, facts } = decoded.request;
        expect(credential.authorization).toEqual(headerValues(headers, 'authorization'));
        expect(facts.sessionId).toEqual(headerValue(headers, 'mcp-session-id'));
        expect(facts.userAgent).toEqual(headerValue(headers, 'user-agent'));
        expect('sessionId' in facts).toBe(headerValue(headers, 'mcp-session-id') !== undefined);
        for (const wanted of ['authorization', 'x-forwarded-for', 'accept'])
          expect(facts.headers.get(wanted) ?? []).toEqual(headerValues(headers, wanted));
      }),
      { numRuns: 1000 },
    );
  });

  it('takes the session id of the first spelling even when its list is empty', () => {
    const decoded = decodeInterceptorEvent({
      mcp: { gatewayRequest: { headers: { 'mcp-session-id': [], 'Mcp-Session-Id': 's-2' }, body: {} } },
    });
    if (decoded.phase !== 'request') throw new Error('expected a request');
    expect(decoded.request.facts.sessionId).toBeUndefined();
    expect(decoded.request.facts.headers.get('mcp-session-id')).toEqual(['s-2']);
  });
});
