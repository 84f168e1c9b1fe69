import { type Caller, callerFromClaims } from '../../lambda/core/caller';
import {
  ArgumentConversionError,
  authorizationRequest,
  type CedarModel,
  type CedarType,
  callerEntities,
  discoveryRequest,
  PROMPT_ACTION,
  principalOf,
  RESOURCE_ACTION,
  toCedarValue,
} from '../../lambda/core/cedar-request';

const model: CedarModel = { namespace: 'Ns', resourceId: 'gw-1' };

function fullCaller(): Caller {
  return callerFromClaims({
    sub: 'alice',
    iss: 'https://idp.example.com',
    exp: 2000000000,
    iat: 1999990000,
    jti: 'token-1',
    roles: ['order-admin', 'viewer'],
    email: 'alice@example.com',
    username: 'al',
    client_id: 'agent-7',
    act: { sub: 'agent-7', act: { sub: 'orchestrator' } },
  });
}

function bareCaller(): Caller {
  return callerFromClaims({ sub: 'bob', iss: 'https://idp.example.com', exp: 2000000000 });
}

const fullEntities = [
  {
    uid: { type: 'Ns::User', id: 'alice' },
    attrs: { email: 'alice@example.com', username: 'al' },
    parents: [
      { type: 'Ns::Role', id: 'order-admin' },
      { type: 'Ns::Role', id: 'viewer' },
    ],
  },
  { uid: { type: 'Ns::Role', id: 'order-admin' }, attrs: {}, parents: [] },
  { uid: { type: 'Ns::Role', id: 'viewer' }, attrs: {}, parents: [] },
];

const fullContext = {
  actors: ['agent-7', 'orchestrator'],
  token: { expiresAt: 2000000000, issuedAt: 1999990000, id: 'token-1' },
  agent: 'agent-7',
};

describe('the Cedar request for a tool call', () => {
  it('carries the principal, action, resource, entities, token facts, agent and input', () => {
    // Arrange
    const operation = {
      kind: 'tool-call' as const,
      id: 1,
      tool: { full: 'orders___refund', target: 'orders', tool: 'refund' },
      arguments: { order_id: 'o-1', amount: 900 },
    };

    // Act
    const request = authorizationRequest(fullCaller(), operation, model);

    // Assert
    expect(request).toStrictEqual({
      principal: { type: 'Ns::User', id: 'alice' },
      action: { type: 'Ns::Action', id: 'orders___refund' },
      resource: { type: 'Ns::Gateway', id: 'gw-1' },
      entities: fullEntities,
      context: { ...fullContext, input: { order_id: 'o-1', amount: 900 } },
    });
  });

  it('has no issuedAt, id or agent when the token has none, and an empty input without arguments', () => {
    const operation = { kind: 'tool-call' as const, id: 1, tool: { full: 't', tool: 't' }, arguments: {} };

    const request = authorizationRequest(bareCaller(), operation, model);

    expect(request).toStrictEqual({
      principal: { type: 'Ns::User', id: 'bob' },
      action: { type: 'Ns::Action', id: 't' },
      resource: { type: 'Ns::Gateway', id: 'gw-1' },
      entities: [{ uid: { type: 'Ns::User', id: 'bob' }, attrs: {}, parents: [] }],
      context: { actors: [], token: { expiresAt: 2000000000 }, input: {} },
    });
  });

  it('converts the input with the declared type of the tool', () => {
    const typed: CedarModel = {
      ...model,
      inputTypes: {
        orders___refund: {
          type: 'Record',
          attributes: { amount: { type: 'Extension', name: 'decimal' }, order_id: { type: 'String' } },
        },
      },
    };
    const operation = {
      kind: 'tool-call' as const,
      id: 1,
      tool: { full: 'orders___refund', target: 'orders', tool: 'refund' },
      arguments: { order_id: 'o-1', amount: 900 },
    };

    const request = authorizationRequest(bareCaller(), operation, typed);

    expect(request.context.input).toStrictEqual({
      order_id: 'o-1',
      amount: { __extn: { fn: 'decimal', arg: '900.0' } },
    });
  });

  it('refuses arguments that do not fit the declared type', () => {
    const typed: CedarModel = {
      ...model,
      inputTypes: { t: { type: 'Record', attributes: { n: { type: 'Long' } } } },
    };
    const operation = {
      kind: 'tool-call' as const,
      id: 1,
      tool: { full: 't', tool: 't' },
      arguments: { n: 'x' },
    };

    expect(() => authorizationRequest(bareCaller(), operation, typed)).toThrow(
      new ArgumentConversionError('input.n: expected an integer, got a string'),
    );
  });
});

describe('the Cedar request for prompts and resources', () => {
  it('asks about the prompts/get action with the prompt name in context', () => {
    const request = authorizationRequest(
      fullCaller(),
      { kind: 'prompt-get', id: 1, name: 'summarise', arguments: {} },
      model,
    );

    expect(request).toStrictEqual({
      principal: { type: 'Ns::User', id: 'alice' },
      action: { type: 'Ns::Action', id: 'prompts/get' },
      resource: { type: 'Ns::Gateway', id: 'gw-1' },
      entities: fullEntities,
      context: { ...fullContext, name: 'summarise' },
    });
    expect(PROMPT_ACTION).toBe('prompts/get');
  });

  it('asks about the resources/read action with the uri in context', () => {
    const request = authorizationRequest(
      fullCaller(),
      { kind: 'resource-read', id: 1, uri: 'file:///orders.csv' },
      model,
    );

    expect(request).toStrictEqual({
      principal: { type: 'Ns::User', id: 'alice' },
      action: { type: 'Ns::Action', id: 'resources/read' },
      resource: { type: 'Ns::Gateway', id: 'gw-1' },
      entities: fullEntities,
      context: { ...fullContext, uri: 'file:///orders.csv' },
    });
    expect(RESOURCE_ACTION).toBe('resources/read');
  });
});

describe('the discovery request for tools/list', () => {
  it('is the call request without input', () => {
    const request = discoveryRequest(fullCaller(), 'orders___refund', model);

    expect(request).toStrictEqual({
      principal: { type: 'Ns::User', id: 'alice' },
      action: { type: 'Ns::Action', id: 'orders___refund' },
      resource: { type: 'Ns::Gateway', id: 'gw-1' },
      context: fullContext,
      entities: fullEntities,
    });
  });

  it('has only the expiry among token facts when the token carries no others', () => {
    const request = discoveryRequest(bareCaller(), 't', model);

    expect(request.context).toStrictEqual({ actors: [], token: { expiresAt: 2000000000 } });
  });
});

describe('caller entities', () => {
  it('name the principal in the model namespace', () => {
    expect(principalOf(bareCaller(), { namespace: 'Other', resourceId: 'x' })).toStrictEqual({
      type: 'Other::User',
      id: 'bob',
    });
  });

  it('carry the email alone when there is no username', () => {
    const caller = callerFromClaims({ sub: 'c', iss: 'i', exp: 2000000000, email: 'c@example.com' });

    expect(callerEntities(caller, model)).toStrictEqual([
      { uid: { type: 'Ns::User', id: 'c' }, attrs: { email: 'c@example.com' }, parents: [] },
    ]);
  });
});

describe('toCedarValue', () => {
  const record = (attributes: Record<string, CedarType & { required?: boolean }>): CedarType => ({
    type: 'Record',
    attributes,
  });

  it('leaves out undefined as well as null', () => {
    expect(toCedarValue(undefined, undefined)).toBeUndefined();
    expect(toCedarValue({ a: undefined, b: [undefined, 1] }, undefined)).toStrictEqual({ b: [1] });
  });

  it.each([
    [-2.5, '-2.5'],
    [0.0001, '0.0001'],
    [1.2345, '1.2345'],
    [-1234.5, '-1234.5'],
  ])('writes the untyped number %p as the decimal %s', (value, arg) => {
    expect(toCedarValue(value, undefined)).toStrictEqual({ __extn: { fn: 'decimal', arg } });
  });

  it('keeps safe integers as Longs, negative ones included', () => {
    expect(toCedarValue({ a: -7, b: 0, c: Number.MAX_SAFE_INTEGER }, undefined)).toStrictEqual({
      a: -7,
      b: 0,
      c: Number.MAX_SAFE_INTEGER,
    });
  });

  it.each([
    [922337203685477, '922337203685477.0'],
    [-922337203685477, '-922337203685477.0'],
    [-3, '-3.0'],
    [2.5, '2.5'],
  ])('writes %p for a declared decimal as %s', (value, arg) => {
    expect(toCedarValue(value, { type: 'Extension', name: 'decimal' })).toStrictEqual({
      __extn: { fn: 'decimal', arg },
    });
  });

  it.each([
    [922337203685478, 'input: 922337203685478 is not a Cedar decimal (at most 4 decimal places)'],
    [-922337203685478, 'input: -922337203685478 is not a Cedar decimal (at most 4 decimal places)'],
    [0.00001, 'input: 0.00001 is not a Cedar decimal (at most 4 decimal places)'],
    [1e21, 'input: 1e+21 is not a Cedar decimal (at most 4 decimal places)'],
  ])('refuses %p as a declared decimal', (value, message) => {
    expect(() => toCedarValue(value, { type: 'Extension', name: 'decimal' })).toThrow(
      new ArgumentConversionError(message),
    );
  });

  it('refuses a decimal that has a fraction with more than four digits, naming its path', () => {
    expect(() => toCedarValue({ list: [1, 2.00001] }, undefined)).toThrow(
      new ArgumentConversionError('input.list[1]: 2.00001 is not a Cedar decimal (at most 4 decimal places)'),
    );
  });

  it.each([
    ['a list for a String', ['a'], { type: 'String' }, 'expected a string, got a list'],
    ['an object for a String', { a: 1 }, { type: 'String' }, 'expected a string, got an object'],
    ['a boolean for a String', true, { type: 'String' }, 'expected a string, got a boolean'],
    ['a number for a String', 1.5, { type: 'String' }, 'expected a string, got a number'],
    ['an integer for a Boolean', 1, { type: 'Boolean' }, 'expected true or false, got an integer'],
    ['a string for a Long', 'x', { type: 'Long' }, 'expected an integer, got a string'],
    ['an unsafe integer for a Long', 2 ** 60, { type: 'Long' }, 'expected an integer, got an integer'],
    [
      'a string for a decimal',
      '1',
      { type: 'Extension', name: 'decimal' },
      'expected a number, got a string',
    ],
    [
      'an integer for an entity',
      1,
      { type: 'Entity', name: 'Ns::Status' },
      'expected a string, got an integer',
    ],
    [
      'an object for a Set',
      { a: 1 },
      { type: 'Set', element: { type: 'String' } },
      'expected a list, got an object',
    ],
    ['a list for a Record', [1], { type: 'Record', attributes: {} }, 'expected an object, got a list'],
    ['a string for a Record', 'x', { type: 'Record', attributes: {} }, 'expected an object, got a string'],
  ])('names the mismatch of %s', (_label, value, type, message) => {
    expect(() => toCedarValue({ field: value }, record({ field: type as CedarType }))).toThrow(
      new ArgumentConversionError(`input.field: ${message}`),
    );
  });

  it('passes values that match their declared scalar types', () => {
    const type = record({
      flag: { type: 'Boolean' },
      off: { type: 'Boolean' },
      count: { type: 'Long' },
      zero: { type: 'Long' },
      name: { type: 'String' },
    });

    const converted = toCedarValue({ flag: true, off: false, count: -5, zero: 0, name: '' }, type);

    expect(converted).toStrictEqual({ flag: true, off: false, count: -5, zero: 0, name: '' });
  });

  it('refuses extension types other than decimal', () => {
    expect(() => toCedarValue('10.0.0.1', { type: 'Extension', name: 'ipaddr' })).toThrow(
      new ArgumentConversionError('input: the ipaddr extension type is not supported in tool arguments'),
    );
  });

  it('converts typed sets element by element, dropping nulls and naming the failing element', () => {
    const tags: CedarType = { type: 'Set', element: { type: 'Entity', name: 'Ns::Tag' } };

    expect(toCedarValue(['a', null, 'b'], tags)).toStrictEqual([
      { __entity: { type: 'Ns::Tag', id: 'a' } },
      { __entity: { type: 'Ns::Tag', id: 'b' } },
    ]);
    expect(() => toCedarValue(['a', 2], tags)).toThrow(
      new ArgumentConversionError('input[1]: expected a string, got an integer'),
    );
  });

  it('allows a missing optional attribute and requires the others, null counting as missing', () => {
    const type = record({ needed: { type: 'String' }, optional: { type: 'Long', required: false } });

    expect(toCedarValue({ needed: 'x' }, type)).toStrictEqual({ needed: 'x' });
    expect(toCedarValue({ needed: 'x', optional: null }, type)).toStrictEqual({ needed: 'x' });
    expect(() => toCedarValue({ needed: null }, type)).toThrow(
      new ArgumentConversionError('input.needed is required'),
    );
  });

  it('names nested paths in typed records', () => {
    const type = record({ address: record({ city: { type: 'String' } }) });

    expect(() => toCedarValue({ address: { city: 3 } }, type)).toThrow(
      new ArgumentConversionError('input.address.city: expected a string, got an integer'),
    );
    expect(() => toCedarValue({ address: { zip: 'x', city: 'y' } }, type)).toThrow(
      new ArgumentConversionError('input.address.zip is not a parameter of this tool'),
    );
  });

  it.each(['__entity', '__extn', '__expr'])('refuses the Cedar escape key %s in a typed record', (key) => {
    const type = record({ [key]: { type: 'String' } });

    expect(() => toCedarValue({ [key]: 'x' }, type)).toThrow(
      new ArgumentConversionError(`input: the key '${key}' is reserved by Cedar`),
    );
  });

  it.each(['__entity', '__extn', '__expr'])('refuses the Cedar escape key %s in untyped input', (key) => {
    expect(() => toCedarValue({ outer: { [key]: 'x' } }, undefined)).toThrow(
      new ArgumentConversionError(`input.outer: the key '${key}' is reserved by Cedar`),
    );
  });

  it('accepts keys that only start like a Cedar escape', () => {
    expect(toCedarValue({ __entityId: 'x', _extn: 'y' }, undefined)).toStrictEqual({
      __entityId: 'x',
      _extn: 'y',
    });
  });

  it('refuses a value JSON cannot carry', () => {
    expect(() => toCedarValue({ f: () => 1 }, undefined)).toThrow(
      new ArgumentConversionError('input.f: unsupported value'),
    );
  });
});
