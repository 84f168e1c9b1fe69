import fc from 'fast-check';
import { JwtTokenVerifier } from '../../lambda/adapters/jwt-token-verifier';
import type { Caller, TokenVerifier } from '../../lambda/core/caller';
import { IssuerUnavailableError } from '../../lambda/core/errors';
import { DEFAULT_REDACTION } from '../../lambda/core/redaction';
import {
  allowResult,
  apiWideResource,
  authorizerContext,
  decodeAuthorizerEvent,
  MAX_CONTEXT_VALUE,
} from '../../lambda/doors/apigateway/authorizer';
import {
  AuthorizerFailure,
  type AuthorizerSettings,
  createAuthorizerHandler,
  UnauthorizedError,
} from '../../lambda/handlers/apigateway-authorizer';
import { DevIssuer } from '../../local/dev-issuer';
import { fixture } from '../helpers/fixtures';
import { AUDIENCE, MemoryAuditSink, silentLog, USERS } from '../helpers/harness';

type AuthorizerEvent = {
  type: string;
  methodArn: string;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  requestContext: { identity: { sourceIp: string } };
};

const INPUT = 'apigateway/request-authorizer-input.post-mcp.json';
const API_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/*';

function eventWith(authorization: string | undefined): AuthorizerEvent {
  const event = fixture<AuthorizerEvent>(INPUT);
  delete event.headers.Authorization;
  delete event.multiValueHeaders.Authorization;
  if (authorization !== undefined) {
    event.headers.Authorization = authorization;
    event.multiValueHeaders.Authorization = [authorization];
  }
  return event;
}

describe('authorizer codec (CONTRACTS §7a)', () => {
  it('reads the documented REQUEST event: every Authorization value, the whole-API ARN and what API Gateway observed', () => {
    const decoded = decodeAuthorizerEvent(fixture(INPUT));
    if (!decoded.ok) throw new Error(decoded.problem);
    const { request } = decoded;
    expect(request.credential).toEqual({ authorization: ['Bearer eyJhbGciOi...REDACTED'] });
    expect(request.methodArn).toBe('arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/POST/mcp');
    expect(request.apiArn).toBe(API_ARN);
    expect(request.facts).toMatchObject({ sourceIp: '198.51.100.23', userAgent: 'ExampleClient/1.0.0' });
    // Lower-case names, every value: the guard reads mirrored MCP headers and X-Forwarded-For from here.
    expect(request.facts.headers.get('mcp-method')).toEqual(['tools/call']);
    expect(request.facts.headers.get('x-forwarded-for')).toEqual(['198.51.100.23']);
  });

  it('reads the header whatever its casing, from either header map', () => {
    const event = eventWith(undefined);
    event.headers.authorization = 'Bearer x.y.z';
    const decoded = decodeAuthorizerEvent(event);
    expect(decoded.ok && decoded.request.credential).toEqual({ authorization: ['Bearer x.y.z'] });
  });

  it('hands on every Authorization value, so two are refused by the guard’s one verification path', () => {
    const event = eventWith('Bearer a.b.c');
    event.multiValueHeaders.Authorization = ['Bearer a.b.c', 'Bearer d.e.f'];
    const decoded = decodeAuthorizerEvent(event);
    expect(decoded.ok && decoded.request.credential).toEqual({
      authorization: ['Bearer a.b.c', 'Bearer d.e.f'],
    });
  });

  it.each([
    ['a TOKEN authorizer event', { type: 'TOKEN' }],
    ['no methodArn', { methodArn: undefined }],
    ['a methodArn of another service', { methodArn: 'arn:aws:lambda:eu-west-1:123456789012:function:f' }],
    [
      'a methodArn over 1600 bytes',
      { methodArn: `${'arn:aws:execute-api:eu-west-1:123456789012:a1/prod/POST/'}${'x'.repeat(1600)}` },
    ],
  ])('refuses %s', (_name, change) => {
    expect(decodeAuthorizerEvent({ ...fixture<Record<string, unknown>>(INPUT), ...change }).ok).toBe(false);
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const decoded = decodeAuthorizerEvent(value);
        expect(typeof decoded.ok).toBe('boolean');
      }),
    );
  });

  it.each([
    ['arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/POST/mcp', API_ARN],
    ['arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/.well-known/x', API_ARN],
    ['arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/DELETE/', API_ARN],
    [
      'arn:aws-cn:execute-api:cn-north-1:123456789012:abc/v1/POST/mcp',
      'arn:aws-cn:execute-api:cn-north-1:123456789012:abc/v1/*/*',
    ],
  ])('covers every method and path of the stage for %s', (methodArn, expected) => {
    expect(apiWideResource(methodArn)).toBe(expected);
  });

  const caller: Caller = {
    subject: 'user-7f3a',
    issuer: 'https://idp.example.com',
    roles: ['orders-reader', 'support'],
    username: 'alice',
    email: 'alice@example.com',
    agent: 'agent-client-01',
    tokenId: 'jti-0001',
    actors: [],
    expiresAt: 1798765200,
  };

  it('answers the documented output shape: an Allow for the whole API, never the method ARN, and a flat context', () => {
    const expected = fixture<{ principalId: string; policyDocument: { Statement: { Resource: string }[] } }>(
      'apigateway/request-authorizer-output.allow.json',
    );
    const result = allowResult(caller, API_ARN);
    expect(Object.keys(result).sort()).toEqual(Object.keys(expected).sort());
    expect(result.principalId).toBe(expected.principalId);
    expect(result.policyDocument).toEqual({
      ...expected.policyDocument,
      Statement: [{ ...expected.policyDocument.Statement[0], Resource: API_ARN }],
    });
    expect(result.context).toEqual({
      sub: 'user-7f3a',
      iss: 'https://idp.example.com',
      username: 'alice',
      roles: '["orders-reader","support"]',
      clientId: 'agent-client-01',
      tokenId: 'jti-0001',
      tokenExp: 1798765200,
    });
    // No needless personal data in what access logs can read.
    expect(JSON.stringify(result.context)).not.toContain('alice@example.com');
  });

  it('keeps every context value a bounded string, number or boolean, whatever the claims', () => {
    const identifier = fc.string({ minLength: 1, maxLength: 2000 });
    fc.assert(
      fc.property(
        identifier,
        fc.array(fc.string({ maxLength: 300 }), { maxLength: 100 }),
        fc.array(identifier, { maxLength: 10 }),
        (subject, roles, actors) => {
          const context = authorizerContext({ ...caller, subject, roles, actors });
          for (const value of Object.values(context)) {
            expect(['string', 'number', 'boolean']).toContain(typeof value);
            if (typeof value === 'string') expect(value.length).toBeLessThanOrEqual(MAX_CONTEXT_VALUE);
          }
          // A cut list is still JSON and says it was cut.
          const kept = JSON.parse(context.roles as string) as string[];
          expect(roles.slice(0, kept.length)).toEqual(kept);
          expect(context.rolesTruncated === true).toBe(kept.length < roles.length);
        },
      ),
    );
  });
});

describe('authorizer handler', () => {
  let issuer: DevIssuer;
  let verifier: JwtTokenVerifier;
  beforeAll(async () => {
    issuer = await DevIssuer.start();
    verifier = new JwtTokenVerifier(issuer.verifierSettings(AUDIENCE));
    await verifier.hydrate();
  });
  afterAll(() => issuer.stop());

  const settings = (ttl = 60): AuthorizerSettings => ({
    cacheTtlSeconds: ttl,
    audit: { eventSource: 'mcp-identity', recipientAccountId: '123456789012' },
    redaction: DEFAULT_REDACTION,
  });

  function handlerWith(options: { ttl?: number; verifier?: TokenVerifier } = {}) {
    const audit = new MemoryAuditSink();
    const log = silentLog();
    const handler = createAuthorizerHandler({
      verifier: options.verifier ?? verifier,
      audit,
      log,
      settings: settings(options.ttl),
    });
    return { handler, audit, log };
  }

  it('allows a verified caller on the whole API, with the caller as context', async () => {
    const { handler, audit } = handlerWith();
    const token = await issuer.sign({ ...USERS.alice, aud: AUDIENCE });
    const result = await handler(eventWith(`Bearer ${token}`));
    expect(result.principalId).toBe('alice');
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: API_ARN },
    ]);
    expect(result.context).toMatchObject({
      sub: 'alice',
      roles: '["developer","db-reader"]',
      clientId: 'agent-cli',
    });
    expect(audit.events).toHaveLength(0);
  });

  it.each([
    ['no Authorization header', () => undefined, 'no Authorization header'],
    ['a non-bearer scheme', () => 'Basic YWxpY2U6c2VjcmV0', 'Authorization is not a bearer token'],
    [
      'a token for another audience',
      () => issuer.sign({ ...USERS.alice, aud: 'someone-else' }),
      'token rejected',
    ],
    [
      'an expired token',
      () => issuer.sign({ ...USERS.alice, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) - 60 }),
      'token rejected',
    ],
  ])('answers Unauthorized (401) for %s, audited without the token', async (_name, make, cause) => {
    const { handler, audit, log } = handlerWith();
    const value = await make();
    const header = value === undefined || value.startsWith('Basic') ? value : `Bearer ${value}`;
    const error = await handler(eventWith(header)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect((error as Error).message).toBe('Unauthorized');
    expect(audit.events).toHaveLength(1);
    const event = audit.events[0];
    expect(event).toMatchObject({
      errorCode: 'InvalidToken',
      sourceIPAddress: '198.51.100.23',
      userAgent: 'ExampleClient/1.0.0',
    });
    expect(event?.additionalEventData?.cause).toContain(cause);
    expect(event).toMatchObject({ eventName: 'unknown', userIdentity: { principalId: expect.any(String) } });
    if (value !== undefined) {
      const secret = value.split(' ').at(-1) as string;
      expect(JSON.stringify(audit.events)).not.toContain(secret);
      expect(JSON.stringify(log.lines)).not.toContain(secret);
    }
  });

  it.each([
    [
      'a client not in allowedClients',
      { allowedClients: ['another-agent'] },
      {},
      'token client (client_id, azp) is not one of the allowed clients',
    ],
    [
      'an app-only token without idtyp=user (requiredClaims)',
      { requiredClaims: [{ name: 'idtyp', match: 'EQUALS' as const, values: ['user'] }] },
      { idtyp: 'app' },
      "token claim 'idtyp' does not satisfy EQUALS",
    ],
  ])('answers Unauthorized (401) for %s, audited with the reason', async (_name, required, extra, cause) => {
    const strict = new JwtTokenVerifier({ ...issuer.verifierSettings(AUDIENCE), ...required });
    const { handler, audit } = handlerWith({ verifier: strict });
    const token = await issuer.sign({ ...USERS.alice, ...extra, aud: AUDIENCE });
    await expect(handler(eventWith(`Bearer ${token}`))).rejects.toThrow(UnauthorizedError);
    expect(audit.events).toHaveLength(1);
    expect(audit.events[0]).toMatchObject({ errorCode: 'InvalidToken' });
    expect(audit.events[0]?.additionalEventData?.cause).toContain(cause);
    expect(JSON.stringify(audit.events)).not.toContain(token);
    // The same verifier allows the same user from an allowed client, with idtyp=user.
    const allowed = await issuer.sign({ ...USERS.alice, idtyp: 'user', aud: AUDIENCE });
    const lenient = new JwtTokenVerifier({
      ...issuer.verifierSettings(AUDIENCE),
      ...required,
      ...('allowedClients' in required ? { allowedClients: ['agent-cli'] } : {}),
    });
    const result = await handlerWith({ verifier: lenient }).handler(eventWith(`Bearer ${allowed}`));
    expect(result.principalId).toBe('alice');
  });

  it('answers Unauthorized for two Authorization headers, even when both are valid', async () => {
    const { handler, audit } = handlerWith();
    const token = await issuer.sign({ ...USERS.alice, aud: AUDIENCE });
    const event = eventWith(`Bearer ${token}`);
    event.multiValueHeaders.Authorization = [`Bearer ${token}`, `Bearer ${token}`];
    await expect(handler(event)).rejects.toThrow(UnauthorizedError);
    expect(audit.events[0]?.additionalEventData?.cause).toBe('more than one Authorization header');
  });

  describe('cache TTL bounded by the token lifetime', () => {
    it('refuses a token that would expire while API Gateway still serves its cached Allow', async () => {
      const { handler, audit } = handlerWith({ ttl: 300 });
      const token = await issuer.sign({ ...USERS.bob, aud: AUDIENCE }, { ttlSeconds: 299 });
      await expect(handler(eventWith(`Bearer ${token}`))).rejects.toThrow(UnauthorizedError);
      expect(audit.events[0]?.additionalEventData?.cause).toMatch(/within the authorizer cache TTL of 300 s/);
    });

    it('allows a token that outlives the TTL', async () => {
      const { handler } = handlerWith({ ttl: 300 });
      const token = await issuer.sign({ ...USERS.bob, aud: AUDIENCE }, { ttlSeconds: 310 });
      await expect(handler(eventWith(`Bearer ${token}`))).resolves.toMatchObject({ principalId: 'bob' });
    });

    it('with caching off (TTL 0), allows any unexpired token', async () => {
      const { handler } = handlerWith({ ttl: 0 });
      const token = await issuer.sign({ ...USERS.bob, aud: AUDIENCE }, { ttlSeconds: 5 });
      await expect(handler(eventWith(`Bearer ${token}`))).resolves.toMatchObject({ principalId: 'bob' });
    });
  });

  it('fails (500, never an Allow or a 401 that invites a token refresh) when the identity provider is down', async () => {
    const down: TokenVerifier = {
      verify: async () => {
        throw new IssuerUnavailableError('JWKS unavailable: connect ECONNREFUSED');
      },
    };
    const { handler, audit } = handlerWith({ verifier: down });
    const error = await handler(eventWith('Bearer a.b.c')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthorizerFailure);
    expect((error as Error).message).not.toBe('Unauthorized');
    // Audited as the guard audits an unverifiable credential at every door.
    expect(audit.events[0]).toMatchObject({ errorCode: 'InvalidToken' });
    expect(audit.events[0]?.additionalEventData?.cause).toContain('JWKS unavailable');
  });

  it('fails (500) on an event that is not a REQUEST authorizer event, audited', async () => {
    const { handler, audit } = handlerWith();
    await expect(handler({ type: 'TOKEN', authorizationToken: 'x' })).rejects.toThrow(AuthorizerFailure);
    expect(audit.events[0]).toMatchObject({ errorCode: 'MalformedRequest' });
  });

  it('still refuses when the audit sink fails, and says so in the diagnostics', async () => {
    const { handler, audit, log } = handlerWith();
    audit.failing = true;
    await expect(handler(eventWith(undefined))).rejects.toThrow(UnauthorizedError);
    expect(JSON.stringify(log.lines)).toContain('audit event could not be written');
  });
});
