import fc from 'fast-check';
import type { Caller } from '../../lambda/core/caller';
import { AssertionSigningError, ConfigurationError, McpIdentityError } from '../../lambda/core/errors';
import {
  ASSERTION_ALGORITHM,
  ASSERTION_TYPE,
  actorClaim,
  assertionClaims,
  assertionHeader,
  assertionIdentity,
  checkAssertionTtl,
  compactJws,
  ES256_SIGNATURE_BYTES,
  MAX_ASSERTION_TTL_SECONDS,
  signingInput,
} from '../../lambda/core/identity-assertion';

const ISSUER = 'https://gateway.example.com';
const NOW = 1_700_000_000;

const alice: Caller = {
  subject: 'alice',
  issuer: 'https://idp.example.com',
  roles: ['developer', 'db-reader'],
  email: 'alice@example.com',
  username: 'alice.w',
  agent: 'claude-desktop',
  tokenId: 'token-jti-123',
  actors: ['agent-a', 'agent-b'],
  issuedAt: NOW - 60,
  expiresAt: NOW + 3600,
};

const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;

describe('the identity assertion claims', () => {
  it('carry the gateway, the target, the user, roles, agent and nested delegation chain — and nothing else', () => {
    const identity = assertionIdentity(alice, ISSUER, 'crm');
    const claims = assertionClaims(
      identity,
      { issuedAt: NOW + 0.9, ttlSeconds: 300, tokenExpiresAt: alice.expiresAt },
      'a1',
    );

    expect(claims).toStrictEqual({
      iss: ISSUER,
      sub: 'alice',
      aud: 'crm',
      roles: ['developer', 'db-reader'],
      client_id: 'claude-desktop',
      act: { sub: 'agent-a', act: { sub: 'agent-b' } },
      iat: NOW,
      exp: NOW + 300,
      jti: 'a1',
    });
  });

  it('leave out client_id and act when the token names no agent and no chain, but always list roles', () => {
    const bare: Caller = { subject: 'carol', issuer: 'i', roles: [], actors: [], expiresAt: NOW + 60 };
    expect(assertionIdentity(bare, ISSUER, 'orders')).toStrictEqual({
      iss: ISSUER,
      sub: 'carol',
      aud: 'orders',
      roles: [],
    });
  });

  it('copy the roles rather than share the caller’s list', () => {
    const identity = assertionIdentity(alice, ISSUER, 'crm');
    expect(identity.roles).not.toBe(alice.roles);
  });

  it('nest the chain RFC 8693 style: the current actor outermost', () => {
    expect(actorClaim([])).toBeUndefined();
    expect(actorClaim(['a'])).toStrictEqual({ sub: 'a' });
    expect(actorClaim(['a', 'b', 'c'])).toStrictEqual({ sub: 'a', act: { sub: 'b', act: { sub: 'c' } } });
  });

  it('refuse an empty issuer or target', () => {
    expect(() => assertionIdentity(alice, '', 'crm')).toThrow(
      new ConfigurationError('identity assertion issuer is empty'),
    );
    expect(() => assertionIdentity(alice, ISSUER, '')).toThrow(
      new ConfigurationError('identity assertion audience (target) is empty'),
    );
    expect(() => assertionIdentity(alice, 'x', 'y')).not.toThrow();
  });
});

describe('the assertion lifetime', () => {
  const identity = assertionIdentity(alice, ISSUER, 'crm');
  const claims = (ttlSeconds: number, tokenExpiresAt: number) =>
    assertionClaims(identity, { issuedAt: NOW, ttlSeconds, tokenExpiresAt }, 'j');

  it.each([1, 2, 299, 300])('accepts %i seconds', (ttl) => {
    expect(checkAssertionTtl(ttl)).toBe(ttl);
    expect(claims(ttl, NOW + 10_000).exp - NOW).toBe(ttl);
  });

  it.each([0, -1, 301, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses %s seconds', (ttl) => {
    expect(() => checkAssertionTtl(ttl)).toThrow(ConfigurationError);
    expect(() => checkAssertionTtl(ttl)).toThrow(
      `identity assertion lifetime must be 1 to 300 whole seconds (got ${ttl})`,
    );
    expect(() => claims(ttl, NOW + 10_000)).toThrow(ConfigurationError);
  });

  it('is at most 300 seconds whatever is asked', () => {
    expect(MAX_ASSERTION_TTL_SECONDS).toBe(300);
  });

  it('ends when the caller’s token does, if that is sooner', () => {
    expect(claims(300, NOW + 299).exp).toBe(NOW + 299);
    expect(claims(300, NOW + 300).exp).toBe(NOW + 300);
    expect(claims(300, NOW + 301).exp).toBe(NOW + 300);
    expect(claims(300, NOW + 1).exp).toBe(NOW + 1);
  });

  it('is refused, typed, when the token has already expired', () => {
    expect(() => claims(300, NOW)).toThrow(AssertionSigningError);
    expect(() => claims(300, NOW)).toThrow(
      `the caller's token expired at ${NOW}, at or before the assertion's issue time ${NOW}`,
    );
    expect(() => claims(300, NOW - 5)).toThrow(AssertionSigningError);
  });

  it('needs an id', () => {
    expect(() =>
      assertionClaims(identity, { issuedAt: NOW, ttlSeconds: 300, tokenExpiresAt: NOW + 400 }, ''),
    ).toThrow(new AssertionSigningError('identity assertion id (jti) is empty'));
  });
});

describe('the JOSE header and the compact serialization', () => {
  it('are ES256 with a type no access token carries', () => {
    expect(ASSERTION_ALGORITHM).toBe('ES256');
    expect(ASSERTION_TYPE).toBe('mcp-identity-assertion+jwt');
    expect(assertionHeader('kid-1')).toStrictEqual({
      alg: 'ES256',
      typ: 'mcp-identity-assertion+jwt',
      kid: 'kid-1',
    });
    expect(() => assertionHeader('')).toThrow(
      new AssertionSigningError('identity assertion key id (kid) is empty'),
    );
  });

  it('encode header and claims as base64url JSON joined by a dot', () => {
    const claims = assertionClaims(
      assertionIdentity({ ...alice, actors: [], agent: undefined }, 'g', 't'),
      { issuedAt: 10, ttlSeconds: 5, tokenExpiresAt: 100 },
      'j',
    );
    const input = signingInput(assertionHeader('k'), claims);
    expect(input).toBe(
      `${Buffer.from('{"alg":"ES256","typ":"mcp-identity-assertion+jwt","kid":"k"}').toString('base64url')}.${Buffer.from(
        '{"iss":"g","sub":"alice","aud":"t","roles":["developer","db-reader"],"iat":10,"exp":15,"jti":"j"}',
      ).toString('base64url')}`,
    );
  });

  it('append a 64-byte R||S signature and refuse any other length', () => {
    expect(ES256_SIGNATURE_BYTES).toBe(64);
    const signature = new Uint8Array(64).fill(0xfb);
    expect(compactJws('a.b', signature)).toBe(`a.b.${Buffer.from(signature).toString('base64url')}`);
    for (const length of [0, 63, 65, 72]) {
      expect(() => compactJws('a.b', new Uint8Array(length))).toThrow(
        new AssertionSigningError(`ES256 signature must be 64 bytes (R||S), got ${length}`),
      );
    }
  });
});

describe('properties', () => {
  const name = fc.string({ minLength: 1, maxLength: 40 });
  const caller = fc.record({
    subject: name,
    issuer: name,
    roles: fc.array(name, { maxLength: 8 }),
    email: fc.option(name, { nil: undefined }),
    username: fc.option(name, { nil: undefined }),
    agent: fc.option(name, { nil: undefined }),
    tokenId: fc.uuid().map((id) => `tokjti-${id}`),
    actors: fc.array(name, { maxLength: 5 }),
    issuedAt: fc.integer({ min: 1, max: NOW - 1 }),
    expiresAt: fc.integer({ min: NOW + 1, max: NOW + 100_000 }),
  });
  const timing = fc.record({
    now: fc.double({ min: NOW - 1000, max: NOW, noNaN: true }),
    ttl: fc.integer({ min: 1, max: 300 }),
  });

  it('exp − iat is 1..300 and never past the token; aud is the target; iss is the gateway', () => {
    fc.assert(
      fc.property(caller, name, timing, (who, target, { now, ttl }) => {
        const claims = assertionClaims(
          assertionIdentity(who, ISSUER, target),
          { issuedAt: now, ttlSeconds: ttl, tokenExpiresAt: who.expiresAt },
          'j',
        );
        expect(claims.exp - claims.iat).toBeGreaterThanOrEqual(1);
        expect(claims.exp - claims.iat).toBeLessThanOrEqual(Math.min(ttl, 300));
        expect(claims.exp).toBeLessThanOrEqual(who.expiresAt);
        expect(claims.aud).toBe(target);
        expect(claims.iss).toBe(ISSUER);
        expect(claims.sub).toBe(who.subject);
      }),
    );
  });

  it('carry no material of the client token and no claim outside the documented set', () => {
    const documented = new Set(['iss', 'sub', 'aud', 'roles', 'client_id', 'act', 'iat', 'exp', 'jti']);
    fc.assert(
      fc.property(caller, name, (who, target) => {
        const claims = assertionClaims(
          assertionIdentity(who, ISSUER, target),
          { issuedAt: NOW, ttlSeconds: 300, tokenExpiresAt: who.expiresAt },
          'assertion-id',
        );
        expect(Object.keys(claims).every((key) => documented.has(key))).toBe(true);
        const json = JSON.stringify(claims);
        expect(json).not.toContain(who.tokenId as string);
        expect(json).not.toContain('tokjti-');
        // The assertion's own times, not the token's.
        expect(claims.iat).toBe(NOW);
        expect(claims.exp).toBe(Math.min(NOW + 300, who.expiresAt));
      }),
    );
  });

  it('round-trip through the signing input', () => {
    fc.assert(
      fc.property(caller, name, name, (who, target, kid) => {
        const header = assertionHeader(kid);
        const claims = assertionClaims(
          assertionIdentity(who, ISSUER, target),
          { issuedAt: NOW, ttlSeconds: 300, tokenExpiresAt: who.expiresAt },
          'j',
        );
        const [h, p, ...rest] = signingInput(header, claims).split('.');
        expect(rest).toEqual([]);
        expect(decode(h as string)).toStrictEqual(header);
        expect(decode(p as string)).toStrictEqual(JSON.parse(JSON.stringify(claims)));
      }),
    );
  });
});

describe('AssertionSigningError', () => {
  it('is an McpIdentityError with fixed text the caller may see and the detail for logs', () => {
    const cause = new Error('ThrottlingException');
    const error = new AssertionSigningError('KMS Sign failed: ThrottlingException', { cause });
    expect(error).toBeInstanceOf(McpIdentityError);
    expect(error.name).toBe('AssertionSigningError');
    expect(error.message).toBe('KMS Sign failed: ThrottlingException');
    expect(error.safeReason).toBe(
      "The caller's identity could not be signed for the tool, so the request was not carried out.",
    );
    expect(error.cause).toBe(cause);
  });
});
