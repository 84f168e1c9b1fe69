import { type Caller, callerFromClaims } from '../../lambda/core/caller';
import {
  CALLER_FIELDS,
  DEFAULT_INJECTION,
  type InjectionConfig,
  injectIdentity,
  reservedParameters,
  spoofedArguments,
  spoofedParams,
} from '../../lambda/core/injection';

function fullCaller(): Caller {
  return callerFromClaims({
    sub: 'alice',
    iss: 'https://idp.example.com',
    exp: 2000000000,
    roles: ['order-admin', 'viewer'],
    email: 'alice@example.com',
    username: 'al',
    client_id: 'agent-7',
  });
}

function bareCaller(): Caller {
  return callerFromClaims({ sub: 'bob', iss: 'https://idp.example.com', exp: 2000000000, azp: 'agent-9' });
}

function bindingsFor(bindings: InjectionConfig['bindings']): InjectionConfig {
  return { ...DEFAULT_INJECTION, bindings };
}

describe('reserved identity parameters', () => {
  it('are the user and roles parameters by default', () => {
    expect(reservedParameters(DEFAULT_INJECTION, 'orders___get')).toStrictEqual([
      '_caller_user',
      '_caller_roles',
    ]);
  });

  it('follow the configured parameter names', () => {
    const config = { ...DEFAULT_INJECTION, userParameter: 'who', rolesParameter: 'groups' };

    expect(reservedParameters(config, 't')).toStrictEqual(['who', 'groups']);
    expect(spoofedArguments({ who: 'mallory', groups: [], _caller_user: 'x' }, config, 't')).toStrictEqual([
      'who',
      'groups',
    ]);
  });

  it('include the bindings for every tool and then those of the named tool', () => {
    const config = bindingsFor({ '*': { tenant: 'subject' }, a___b: { owner: 'email' } });

    expect(reservedParameters(config, 'a___b')).toStrictEqual([
      '_caller_user',
      '_caller_roles',
      'tenant',
      'owner',
    ]);
    expect(reservedParameters(config, 'a___c')).toStrictEqual(['_caller_user', '_caller_roles', 'tenant']);
  });
});

describe('spoofing detection', () => {
  it.each([
    ['_caller_user', 'the exact name'],
    ['_caller_roles', 'the roles parameter'],
    ['_CALLER_USER', 'upper case'],
    ['_Caller_Roles', 'mixed case'],
    ['callerUser', 'no separators'],
    ['caller-user', 'hyphens'],
    ['caller.user', 'a dot'],
    ['caller user', 'a space'],
    ['caller\tuser', 'a tab'],
    ['__caller__user__', 'repeated underscores'],
    ['_-caller.-_roles', 'mixed separators'],
    ['＿ｃａｌｌｅｒ＿ｕｓｅｒ', 'full-width forms'],
    ['_caller_ʳoles', 'a modifier letter that folds to r'],
    ['_caller\u200b_user', 'a zero-width space'],
    ['_caller_user\u0000', 'a NUL'],
    ['\u00adcaller_roles', 'a soft hyphen'],
    ['caller\u3000user', 'an ideographic space'],
    ['caller\u00a0user', 'a no-break space'],
    ['caller\u2028user', 'a line separator'],
    ['caller\u001fuser', 'a control character'],
  ])('refuses %j (%s)', (name) => {
    const spoofed = spoofedArguments({ [name]: 'mallory', order_id: '1' }, DEFAULT_INJECTION, 'orders___get');

    expect(spoofed).toStrictEqual([name]);
  });

  it('lists every spoofed argument, in the order the client sent them', () => {
    const spoofed = spoofedArguments(
      { a: 1, _caller_roles: ['admin'], b: 2, CALLER_USER: 'x' },
      DEFAULT_INJECTION,
      't',
    );

    expect(spoofed).toStrictEqual(['_caller_roles', 'CALLER_USER']);
  });

  it('accepts arguments that only resemble a reserved name', () => {
    const spoofed = spoofedArguments(
      { caller: 'x', user: 'y', _caller_users: 'z', caller_user_id: 1 },
      DEFAULT_INJECTION,
      't',
    );

    expect(spoofed).toStrictEqual([]);
  });

  it('refuses a bound parameter under a folded variant, only for the tools it is bound on', () => {
    const config = bindingsFor({ '*': { tenant_user: 'subject' }, orders___create: { owner: 'email' } });

    expect(spoofedArguments({ 'Tenant-User': 'x' }, config, 'other___tool')).toStrictEqual(['Tenant-User']);
    expect(spoofedArguments({ OWNER: 'x' }, config, 'orders___create')).toStrictEqual(['OWNER']);
    expect(spoofedArguments({ OWNER: 'x' }, config, 'orders___get')).toStrictEqual([]);
  });
});

describe('identity injection', () => {
  it('sets the verified subject and a copy of the roles over whatever the client sent', () => {
    const caller = fullCaller();

    const result = injectIdentity({ order_id: '1' }, caller, DEFAULT_INJECTION, 'orders___get');

    expect(result).toStrictEqual({
      arguments: { order_id: '1', _caller_user: 'alice', _caller_roles: ['order-admin', 'viewer'] },
      injected: ['_caller_user', '_caller_roles'],
    });
    expect(result.arguments._caller_roles).not.toBe(caller.roles);
  });

  it('injects an empty role list for a caller without roles', () => {
    const result = injectIdentity({}, bareCaller(), DEFAULT_INJECTION, 't');

    expect(result.arguments).toStrictEqual({ _caller_user: 'bob', _caller_roles: [] });
  });

  it('binds each caller field onto its parameter', () => {
    const config = bindingsFor({
      '*': {
        by_subject: 'subject',
        by_email: 'email',
        by_username: 'username',
        by_agent: 'agent',
        by_roles: 'roles',
      },
    });
    const caller = fullCaller();

    const result = injectIdentity({ q: 1 }, caller, config, 't');

    expect(result.arguments).toStrictEqual({
      q: 1,
      _caller_user: 'alice',
      _caller_roles: ['order-admin', 'viewer'],
      by_subject: 'alice',
      by_email: 'alice@example.com',
      by_username: 'al',
      by_agent: 'agent-7',
      by_roles: ['order-admin', 'viewer'],
    });
    expect(result.injected).toStrictEqual([
      '_caller_user',
      '_caller_roles',
      'by_subject',
      'by_email',
      'by_username',
      'by_agent',
      'by_roles',
    ]);
    expect(result.arguments.by_roles).not.toBe(caller.roles);
  });

  it('leaves out a bound field the caller lacks instead of falling through to another field', () => {
    // Arrange: bob has an agent (azp) but no email and no username.
    const config = bindingsFor({ '*': { by_email: 'email', by_username: 'username', by_agent: 'agent' } });

    // Act
    const result = injectIdentity({}, bareCaller(), config, 't');

    // Assert
    expect(result.arguments).toStrictEqual({ _caller_user: 'bob', _caller_roles: [], by_agent: 'agent-9' });
    expect(result.injected).toStrictEqual(['_caller_user', '_caller_roles', 'by_agent']);
  });

  it('applies the tool bindings after the bindings for every tool, and only for that tool', () => {
    const config = bindingsFor({
      '*': { actor: 'subject' },
      orders___create: { actor: 'email', owner: 'username' },
    });

    const create = injectIdentity({}, fullCaller(), config, 'orders___create');
    const other = injectIdentity({}, fullCaller(), config, 'orders___get');

    expect(create.arguments).toStrictEqual({
      _caller_user: 'alice',
      _caller_roles: ['order-admin', 'viewer'],
      actor: 'alice@example.com',
      owner: 'al',
    });
    expect(other.arguments).toStrictEqual({
      _caller_user: 'alice',
      _caller_roles: ['order-admin', 'viewer'],
      actor: 'alice',
    });
  });

  it('uses the configured parameter names', () => {
    const config = { ...DEFAULT_INJECTION, userParameter: 'who', rolesParameter: 'groups' };

    const result = injectIdentity({}, fullCaller(), config, 't');

    expect(result).toStrictEqual({
      arguments: { who: 'alice', groups: ['order-admin', 'viewer'] },
      injected: ['who', 'groups'],
    });
  });

  it('does not change the client arguments it was given', () => {
    const args = { order_id: '1' };

    injectIdentity(args, fullCaller(), DEFAULT_INJECTION, 't');

    expect(args).toStrictEqual({ order_id: '1' });
  });

  it('offers every caller field for binding', () => {
    expect(CALLER_FIELDS).toStrictEqual(['subject', 'email', 'username', 'agent', 'roles']);
  });
});

describe('spoofing detection anywhere in params', () => {
  it('finds reserved names at the top level, in _meta, in arguments and nested in lists, as sorted paths', () => {
    // Arrange
    const params = {
      name: 'orders___get',
      _caller_user: 'mallory',
      _meta: { 'Caller-Roles': ['admin'] },
      arguments: { order_id: '1', items: [{ note: 'x' }, { callerUser: 'eve' }] },
    };

    // Act
    const spoofed = spoofedParams(params, DEFAULT_INJECTION, 'orders___get');

    // Assert
    expect(spoofed).toStrictEqual(['_caller_user', '_meta.Caller-Roles', 'arguments.items.1.callerUser']);
  });

  it('finds nothing in clean params, whatever their shape', () => {
    const params = {
      name: 't',
      arguments: { a: [1, null, 'x', [{ b: { c: true } }]], caller: 'c' },
      _meta: null,
    };

    expect(spoofedParams(params, DEFAULT_INJECTION, 't')).toStrictEqual([]);
  });

  it('does not take list positions for names', () => {
    const config = { ...DEFAULT_INJECTION, bindings: { '*': { '0': 'subject' as const } } };

    expect(spoofedParams({ list: ['x'] }, config, 't')).toStrictEqual([]);
    expect(spoofedParams({ list: [{ '0': 'x' }] }, config, 't')).toStrictEqual(['list.0.0']);
  });

  it('refuses the bindings of the named tool and of every tool', () => {
    const config = bindingsFor({ '*': { tenant: 'subject' }, orders___create: { owner: 'email' } });

    expect(
      spoofedParams({ arguments: { owner: 'x', tenant: 'y' } }, config, 'orders___create'),
    ).toStrictEqual(['arguments.owner', 'arguments.tenant']);
    expect(spoofedParams({ arguments: { owner: 'x' } }, config, 'orders___get')).toStrictEqual([]);
  });
});
