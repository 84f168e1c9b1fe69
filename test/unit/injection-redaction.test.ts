import fc from 'fast-check';
import { callerFromClaims } from '../../lambda/core/caller';
import {
  DEFAULT_INJECTION,
  injectIdentity,
  reservedParameters,
  spoofedArguments,
} from '../../lambda/core/injection';
import { auditArguments, DEFAULT_REDACTION, REDACTED, redactValue } from '../../lambda/core/redaction';

const caller = callerFromClaims({ sub: 'alice', iss: 'i', exp: 2000000000, roles: ['r'], email: 'a@x.io' });

describe('identity injection', () => {
  const config = {
    ...DEFAULT_INJECTION,
    bindings: {
      '*': { tenant_user: 'subject' as const },
      orders___create: { owner: 'email' as const, nick: 'username' as const },
    },
  };

  it('adds the verified subject and roles and any bindings, overriding nothing the client may set', () => {
    const result = injectIdentity({ order_id: '1' }, caller, config, 'orders___create');
    expect(result.arguments).toEqual({
      order_id: '1',
      _caller_user: 'alice',
      _caller_roles: ['r'],
      tenant_user: 'alice',
      owner: 'a@x.io',
    });
    expect(result.injected).toEqual(['_caller_user', '_caller_roles', 'tenant_user', 'owner']);
  });

  it('reserves bound parameters per tool', () => {
    expect(reservedParameters(config, 'orders___create')).toEqual([
      '_caller_user',
      '_caller_roles',
      'tenant_user',
      'owner',
      'nick',
    ]);
    expect(spoofedArguments({ owner: 'mallory' }, config, 'orders___create')).toEqual(['owner']);
    expect(spoofedArguments({ owner: 'mallory' }, config, 'orders___get')).toEqual([]);
  });

  it('catches case, separator and width variants of reserved names', () => {
    expect(
      spoofedArguments(
        { _CALLER_USER: 1, 'caller user': 2, callerRoles: 3, '＿caller＿user': 4, safe: 5 },
        DEFAULT_INJECTION,
        't',
      ),
    ).toEqual(['_CALLER_USER', 'caller user', 'callerRoles', '＿caller＿user']);
  });

  it('after injection, the identity the target reads is always the verified one', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (args) => {
        if (spoofedArguments(args, DEFAULT_INJECTION, 't').length > 0) return;
        const { arguments: out } = injectIdentity(args, caller, DEFAULT_INJECTION, 't');
        expect(out._caller_user).toBe('alice');
        expect(out._caller_roles).toEqual(['r']);
      }),
    );
  });
});

describe('audit redaction', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';

  it('redacts secret keys at any depth and token-shaped values under any key', () => {
    expect(
      redactValue(
        {
          password: 'p',
          nested: { Api_Key: 'k', note: `use ${jwt} now`, auth: 'Bearer abc.def.ghi-0123456789' },
          list: ['AKIAABCDEFGHIJKLMNOP'],
        },
        DEFAULT_REDACTION,
      ),
    ).toEqual({
      password: REDACTED,
      nested: { Api_Key: REDACTED, note: `use ${REDACTED} now`, auth: REDACTED },
      list: [REDACTED],
    });
  });

  it('leaves prose that merely says "bearer" alone', () => {
    expect(redactValue({ note: 'send a bearer access token' }, DEFAULT_REDACTION)).toEqual({
      note: 'send a bearer access token',
    });
  });

  it('honours the arguments mode', () => {
    expect(auditArguments({ a: 1, b: 'x' }, { ...DEFAULT_REDACTION, arguments: 'names' })).toEqual([
      'a',
      'b',
    ]);
    expect(auditArguments({ a: 1 }, { ...DEFAULT_REDACTION, arguments: 'none' })).toBeUndefined();
  });

  it('applies configured patterns, and never leaves a JWT in any value', () => {
    expect(
      redactValue(
        { card: '4111 1111 1111 1111' },
        { ...DEFAULT_REDACTION, valuePatterns: [/\b(?:\d[ -]?){13,16}\b/] },
      ),
    ).toEqual({ card: REDACTED });
    fc.assert(
      fc.property(fc.jsonValue(), fc.string(), (value, prefix) => {
        const out = JSON.stringify(redactValue({ value, text: `${prefix}${jwt}` }, DEFAULT_REDACTION));
        expect(out).not.toContain(jwt);
      }),
    );
  });
});
