import { callerFromClaims, DEFAULT_CLAIM_NAMES, MAX_ROLES, parseRoles } from '../../lambda/core/caller';
import { InvalidClaimsError } from '../../lambda/core/errors';

const base = { iss: 'https://idp.example.com', sub: 'alice', exp: 2000000000 };

describe('the caller built from verified claims', () => {
  it('carries every claim it reads, under the default claim names', () => {
    // Arrange
    const claims = {
      ...base,
      roles: ['order-admin', 'viewer'],
      email: 'alice@example.com',
      preferred_username: 'al',
      azp: 'agent-7',
      jti: 'token-1',
      iat: 1999999000,
      act: { sub: 'agent-7' },
    };

    // Act
    const caller = callerFromClaims(claims);

    // Assert
    expect(caller).toStrictEqual({
      subject: 'alice',
      issuer: 'https://idp.example.com',
      roles: ['order-admin', 'viewer'],
      actors: ['agent-7'],
      expiresAt: 2000000000,
      email: 'alice@example.com',
      username: 'al',
      agent: 'agent-7',
      tokenId: 'token-1',
      issuedAt: 1999999000,
    });
    expect(Object.isFrozen(caller)).toBe(true);
  });

  it('has no optional field at all when the claims lack them', () => {
    const caller = callerFromClaims(base);

    expect(caller).toStrictEqual({
      subject: 'alice',
      issuer: 'https://idp.example.com',
      roles: [],
      actors: [],
      expiresAt: 2000000000,
    });
  });

  it('takes the first present username claim in the configured order', () => {
    const both = callerFromClaims({ ...base, username: 'first', preferred_username: 'second' });
    const skipped = callerFromClaims({ ...base, username: 42, preferred_username: 'second' });
    const empty = callerFromClaims({ ...base, username: '', preferred_username: 'second' });

    expect(both.username).toBe('first');
    expect(skipped.username).toBe('second');
    expect(empty.username).toBe('second');
  });

  it('takes the agent from client_id before azp', () => {
    const both = callerFromClaims({ ...base, client_id: 'client', azp: 'party' });
    const azpOnly = callerFromClaims({ ...base, azp: 'party' });

    expect(both.agent).toBe('client');
    expect(azpOnly.agent).toBe('party');
  });

  it('never reads the agent as a username, nor a username as the agent', () => {
    const agentOnly = callerFromClaims({ ...base, client_id: 'client' });
    const usernameOnly = callerFromClaims({ ...base, username: 'al' });

    expect(agentOnly).toStrictEqual({ ...callerFromClaims(base), agent: 'client' });
    expect(usernameOnly).toStrictEqual({ ...callerFromClaims(base), username: 'al' });
  });

  it('uses the default claim names sub, roles, email, username/preferred_username and client_id/azp', () => {
    expect(DEFAULT_CLAIM_NAMES).toStrictEqual({
      subject: 'sub',
      roles: 'roles',
      email: 'email',
      username: ['username', 'preferred_username'],
      agent: ['client_id', 'azp'],
    });
  });
});

describe('claim paths', () => {
  const names = { ...DEFAULT_CLAIM_NAMES, subject: 'user.id', roles: 'realm_access.roles' };

  it('reach into nested objects with dots', () => {
    const caller = callerFromClaims({ ...base, user: { id: 'u-1' }, realm_access: { roles: ['a'] } }, names);

    expect(caller.subject).toBe('u-1');
    expect(caller.roles).toStrictEqual(['a']);
  });

  it('prefer a claim whose own name contains the dots (namespaced claims)', () => {
    const caller = callerFromClaims(
      { ...base, 'https://example.com/roles': ['ns'], 'https://example': { 'com/roles': ['wrong'] } },
      { ...DEFAULT_CLAIM_NAMES, roles: 'https://example.com/roles' },
    );

    expect(caller.roles).toStrictEqual(['ns']);
  });

  it.each([
    ['a missing step', { realm_access: {} }],
    ['a null step', { realm_access: null }],
    ['an array step', { realm_access: [['a']] }],
    ['a string step', { realm_access: 'roles' }],
    ['an inherited step', { realm_access: Object.create({ roles: ['admin'] }) }],
  ])('find no roles through %s', (_label, claims) => {
    const caller = callerFromClaims({ ...base, user: { id: 'u-1' }, ...claims }, names);

    expect(caller.roles).toStrictEqual([]);
  });

  it('refuse a subject the path does not reach, naming the configured claim', () => {
    expect(() => callerFromClaims({ ...base, user: { uid: 'u-1' } }, names)).toThrow(
      new InvalidClaimsError("token has no usable 'user.id' claim"),
    );
  });
});

describe('required claims', () => {
  it('refuses a token without an issuer, saying so', () => {
    const { iss: _iss, ...claims } = base;

    expect(() => callerFromClaims(claims)).toThrow(new InvalidClaimsError("token has no 'iss' claim"));
  });

  it.each([
    ['missing', undefined],
    ['negative', -1],
    ['zero', 0],
    ['not finite', Number.POSITIVE_INFINITY],
    ['not a number', Number.NaN],
    ['a string', '2000000000'],
  ])('refuses a token whose exp is %s', (_label, exp) => {
    const claims = { ...base, exp };

    expect(() => callerFromClaims(claims)).toThrow(
      new InvalidClaimsError("token has no 'exp' claim; only short-lived tokens are accepted"),
    );
  });

  it('keeps exp in whole seconds', () => {
    expect(callerFromClaims({ ...base, exp: 2000000000.9 }).expiresAt).toBe(2000000000);
  });
});

describe('issued-at', () => {
  it.each([
    ['negative', -5],
    ['zero', 0],
    ['not finite', Number.NEGATIVE_INFINITY],
    ['a string', '1999999000'],
  ])('is left out when iat is %s', (_label, iat) => {
    const caller = callerFromClaims({ ...base, iat });

    expect(caller).toStrictEqual(callerFromClaims(base));
  });

  it('is kept in whole seconds', () => {
    expect(callerFromClaims({ ...base, iat: 1999999000.5 }).issuedAt).toBe(1999999000);
  });

  it('accepts the first second after the epoch', () => {
    expect(callerFromClaims({ ...base, iat: 1 }).issuedAt).toBe(1);
  });
});

describe('delegation chain', () => {
  it.each([
    ['a string act', 'agent'],
    ['an array act', [{ sub: 'agent' }]],
    ['an act without sub', { client_id: 'agent' }],
    ['an act whose sub is not a string', { sub: 7 }],
    ['a null act', null],
  ])('is empty for %s', (_label, act) => {
    expect(callerFromClaims({ ...base, act }).actors).toStrictEqual([]);
  });

  it('stops at the first actor without a usable sub', () => {
    const caller = callerFromClaims({ ...base, act: { sub: 'a', act: { sub: 'b', act: [{ sub: 'c' }] } } });

    expect(caller.actors).toStrictEqual(['a', 'b']);
  });

  it('keeps ten actors at most', () => {
    let act: Record<string, unknown> = { sub: 'a10' };
    for (let index = 9; index >= 0; index -= 1) act = { sub: `a${index}`, act };

    const caller = callerFromClaims({ ...base, act });

    expect(caller.actors).toStrictEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
  });
});

describe('parseRoles', () => {
  it('keeps a role of 256 characters and drops one of 257', () => {
    const longest = 'r'.repeat(256);

    expect(parseRoles([longest, `${longest}x`, 'ok'])).toStrictEqual([longest, 'ok']);
  });

  it('keeps exactly the first hundred distinct roles', () => {
    const roles = Array.from({ length: 150 }, (_, index) => `r${index % 120}`);

    const parsed = parseRoles(roles);

    expect(parsed).toHaveLength(MAX_ROLES);
    expect(parsed).toStrictEqual(Array.from({ length: 100 }, (_, index) => `r${index}`));
  });

  it('drops the empty entries of a delimited string', () => {
    expect(parseRoles(',a,,b,')).toStrictEqual(['a', 'b']);
  });

  it('drops empty and non-string array entries', () => {
    expect(parseRoles(['', 'a', 0, false, 'b'])).toStrictEqual(['a', 'b']);
  });
});

describe('identifier claims that cannot be used as issued', () => {
  it('keeps a subject of 1024 characters and refuses one of 1025, naming the claim', () => {
    expect(callerFromClaims({ ...base, sub: 'a'.repeat(1024) }).subject).toHaveLength(1024);
    expect(() => callerFromClaims({ ...base, sub: 'a'.repeat(1025) })).toThrow(
      new InvalidClaimsError("token claim 'sub' is longer than 1024 characters"),
    );
  });

  it.each([
    ['iss', { iss: ' https://idp.example.com' }],
    ['jti', { jti: 'token-1\u0000' }],
    ['act.sub', { act: { sub: 'agent\u200b' } }],
  ])('refuses an unclean %s, naming it', (claim, claims) => {
    expect(() => callerFromClaims({ ...base, ...claims })).toThrow(
      new InvalidClaimsError(
        `token claim '${claim}' has leading or trailing whitespace or control characters`,
      ),
    );
  });
});
