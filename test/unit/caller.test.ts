import fc from 'fast-check';
import { callerFromClaims, MAX_ROLES, parseRoles } from '../../lambda/core/caller';
import { InvalidClaimsError } from '../../lambda/core/errors';
import { fixture } from '../helpers/fixtures';

const base = { iss: 'https://idp.example.com', exp: 2000000000 };

describe('callerFromClaims', () => {
  it.each([
    ['a trailing space', 'bob '],
    ['a leading space', ' bob'],
    ['a no-break space', 'bob\u00a0'],
    ['an ideographic space', '\u3000bob'],
    ['a tab', 'bob\t'],
    ['a NUL', 'bo\u0000b'],
    ['a zero-width space', 'bo\u200bb'],
    ['a right-to-left override', '\u202ebob'],
  ])(
    'refuses a subject with %s instead of trimming it (identity claims are used exactly as issued)',
    (_, sub) => {
      expect(() => callerFromClaims({ ...base, sub })).toThrow(InvalidClaimsError);
      expect(() => callerFromClaims({ ...base, sub })).toThrow(
        /'sub' has leading or trailing whitespace or control/,
      );
    },
  );

  it.each(['email', 'username', 'client_id', 'jti'])(
    'refuses an unclean %s claim rather than repairing it',
    (claim) => {
      expect(() => callerFromClaims({ ...base, sub: 'bob', [claim]: 'x ' })).toThrow(InvalidClaimsError);
    },
  );

  it('keeps inner spaces of a subject: only the edges and invisible characters are refused', () => {
    expect(callerFromClaims({ ...base, sub: 'Bob Smith' }).subject).toBe('Bob Smith');
  });

  it('names the caller from the Teleport claims example', () => {
    const claims = fixture('tokens/teleport-jwt-claims.example.json');
    const caller = callerFromClaims({ ...claims, iss: 'teleport.example.com' });
    expect(caller).toEqual({
      subject: 'alice@example.com',
      issuer: 'teleport.example.com',
      roles: ['developer', 'db-reader'],
      actors: [],
      expiresAt: 1735689600,
    });
  });

  it('reads configurable claim names, including nested and namespaced ones', () => {
    const caller = callerFromClaims(
      {
        ...base,
        uid: 'u-1',
        realm_access: { roles: ['a', 'b'] },
        mail: 'x@example.com',
        preferred_username: 'x',
        azp: 'agent',
        jti: 'j',
        iat: 1999999999,
      },
      {
        subject: 'uid',
        roles: 'realm_access.roles',
        email: 'mail',
        username: ['username', 'preferred_username'],
        agent: ['client_id', 'azp'],
      },
    );
    expect(caller).toMatchObject({
      subject: 'u-1',
      roles: ['a', 'b'],
      email: 'x@example.com',
      username: 'x',
      agent: 'agent',
      tokenId: 'j',
      issuedAt: 1999999999,
    });
    const cognito = callerFromClaims(
      { ...base, sub: 's', 'cognito:groups': ['admins'] },
      { subject: 'sub', roles: 'cognito:groups', email: 'email', username: [], agent: [] },
    );
    expect(cognito.roles).toEqual(['admins']);
  });

  it('follows the RFC 8693 act chain, current actor first, bounded', () => {
    const caller = callerFromClaims({
      ...base,
      sub: 'alice',
      act: { sub: 'agent-a', act: { sub: 'agent-b', act: { nope: 1 } } },
    });
    expect(caller.actors).toEqual(['agent-a', 'agent-b']);
    let deep: Record<string, unknown> = { sub: 'last' };
    for (let index = 0; index < 50; index += 1) deep = { sub: `a${index}`, act: deep };
    expect(callerFromClaims({ ...base, sub: 'alice', act: deep }).actors).toHaveLength(10);
  });

  it.each([
    [{ exp: 2000000000, iss: 'x' }, /sub/],
    [{ sub: '   ', exp: 2000000000, iss: 'x' }, /sub/],
    [{ sub: 42, exp: 2000000000, iss: 'x' }, /sub/],
    [{ sub: 'a', exp: 2000000000 }, /iss/],
    [{ sub: 'a', iss: 'x' }, /exp/],
    [{ sub: 'a', iss: 'x', exp: 'tomorrow' }, /exp/],
  ])('refuses claims that cannot name a short-lived caller: %j', (claims, message) => {
    expect(() => callerFromClaims(claims)).toThrow(InvalidClaimsError);
    expect(() => callerFromClaims(claims)).toThrow(message);
  });

  it('does not read inherited properties as claims', () => {
    const claims = Object.create({ roles: ['order-admin'] }) as Record<string, unknown>;
    Object.assign(claims, { ...base, sub: 'a' });
    expect(callerFromClaims(claims).roles).toEqual([]);
  });
});

describe('parseRoles', () => {
  it.each([
    [
      ['a', 'b'],
      ['a', 'b'],
    ],
    ['a b', ['a', 'b']],
    ['a,b , c', ['a', 'b', 'c']],
    ['  ', []],
    // Exactly as issued: ' a ' is another role than 'a' (issue 10 #6: " order-admin " must not grant order-admin).
    [
      ['a', 'a', ' a '],
      ['a', ' a '],
    ],
    [['a', 1, null, { x: 1 }, ['b']], ['a']],
    [42, []],
    [null, []],
    [undefined, []],
    [{ roles: ['a'] }, []],
  ])('%j → %j', (value, expected) => {
    expect(parseRoles(value)).toEqual(expected);
  });

  it('caps the number and length of roles (AVP allows at most 100 parents)', () => {
    expect(parseRoles(Array.from({ length: 500 }, (_, index) => `r${index}`))).toHaveLength(MAX_ROLES);
    expect(parseRoles(['x'.repeat(257), 'ok'])).toEqual(['ok']);
  });

  it('never throws and only returns non-empty roles exactly as issued, for any input', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const roles = parseRoles(value);
        const issued: unknown[] = Array.isArray(value)
          ? value
          : typeof value === 'string'
            ? value.split(/[\s,]+/)
            : [];
        expect(
          roles.every((role) => typeof role === 'string' && role.length > 0 && issued.includes(role)),
        ).toBe(true);
        expect(new Set(roles).size).toBe(roles.length);
      }),
    );
  });

  it('never trims a role: no-break and ideographic spaces stay part of it', () => {
    expect(parseRoles([' order-admin ', '\u00a0order-admin', 'order-admin\u3000'])).toStrictEqual([
      ' order-admin ',
      '\u00a0order-admin',
      'order-admin\u3000',
    ]);
  });
});
