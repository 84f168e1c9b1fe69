import fc from 'fast-check';
import { callerFromClaims } from '../../lambda/core/caller';
import {
  ArgumentConversionError,
  authorizationRequest,
  type CedarType,
  callerEntities,
  toCedarValue,
} from '../../lambda/core/cedar-request';

const model = { namespace: 'Ns', resourceId: 'gw' };
const caller = callerFromClaims({
  sub: 'alice',
  iss: 'i',
  exp: 2000000000,
  roles: ['a', 'b'],
  username: 'al',
  act: { sub: 'agent' },
});

describe('toCedarValue', () => {
  const record = (attributes: Record<string, CedarType>): CedarType => ({ type: 'Record', attributes });

  it('converts JSON structurally when no type is declared', () => {
    expect(
      toCedarValue(
        { s: 'x', n: 3, b: true, list: [1, null, 'y'], nested: { z: null }, gone: null },
        undefined,
      ),
    ).toEqual({
      s: 'x',
      n: 3,
      b: true,
      list: [1, 'y'],
      nested: {},
    });
    expect(toCedarValue(1.25, undefined)).toEqual({ __extn: { fn: 'decimal', arg: '1.25' } });
    expect(toCedarValue(null, undefined)).toBeUndefined();
  });

  it('follows the declared type: decimals, enum entities, sets, records', () => {
    const type = record({
      amount: { type: 'Extension', name: 'decimal' },
      status: { type: 'Entity', name: 'Ns::status' },
      tags: { type: 'Set', element: { type: 'String' } },
    });
    expect(toCedarValue({ amount: 5, status: 'shipped', tags: ['a'] }, type)).toEqual({
      amount: { __extn: { fn: 'decimal', arg: '5.0' } },
      status: { __entity: { type: 'Ns::status', id: 'shipped' } },
      tags: ['a'],
    });
  });

  it.each([
    [{ x: 1.5 }, record({ x: { type: 'Long' } }), /input\.x: expected an integer, got a number/],
    [{ x: 1 }, record({ x: { type: 'String' } }), /input\.x: expected a string, got an integer/],
    [{}, record({ x: { type: 'String' } }), /input\.x is required/],
    [{ x: 'a', y: 1 }, record({ x: { type: 'String' } }), /input\.y is not a parameter of this tool/],
    [{ x: 'a' }, record({ x: { type: 'Set', element: { type: 'String' } } }), /expected a list/],
    [{ x: 1 }, record({ x: { type: 'Boolean' } }), /expected true or false/],
    [{ x: 'a' }, record({ x: { type: 'Extension', name: 'decimal' } }), /expected a number/],
    [{ x: 1 }, record({ x: { type: 'Entity', name: 'E' } }), /expected a string/],
    [{ x: 1.23456 }, undefined, /decimal/],
    [{ x: 1e300 }, undefined, /decimal/],
    [{ __entity: { type: 'Ns::Role', id: 'admin' } }, undefined, /reserved by Cedar/],
    [{ nested: { __extn: { fn: 'ip', arg: '1.1.1.1' } } }, undefined, /reserved by Cedar/],
  ])('refuses %j', (value, type, message) => {
    expect(() => toCedarValue(value, type as CedarType | undefined)).toThrow(ArgumentConversionError);
    expect(() => toCedarValue(value, type as CedarType | undefined)).toThrow(message);
  });

  it('never produces an entity or extension escape from untyped client JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          const converted = JSON.stringify(toCedarValue(value, undefined) ?? null);
          expect(converted).not.toContain('"__entity"');
        } catch (error) {
          expect(error).toBeInstanceOf(ArgumentConversionError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('authorizationRequest', () => {
  it('makes the user a member of one Role entity per role, with claims as attributes', () => {
    expect(callerEntities(caller, model)).toEqual([
      {
        uid: { type: 'Ns::User', id: 'alice' },
        attrs: { username: 'al' },
        parents: [
          { type: 'Ns::Role', id: 'a' },
          { type: 'Ns::Role', id: 'b' },
        ],
      },
      { uid: { type: 'Ns::Role', id: 'a' }, attrs: {}, parents: [] },
      { uid: { type: 'Ns::Role', id: 'b' }, attrs: {}, parents: [] },
    ]);
  });

  it('names prompts and resources by their own actions with the name or uri in context', () => {
    expect(
      authorizationRequest(caller, { kind: 'prompt-get', id: 1, name: 'p', arguments: {} }, model),
    ).toMatchObject({
      action: { type: 'Ns::Action', id: 'prompts/get' },
      context: { name: 'p', actors: ['agent'] },
    });
    expect(authorizationRequest(caller, { kind: 'resource-read', id: 1, uri: 'u://x' }, model)).toMatchObject(
      {
        action: { type: 'Ns::Action', id: 'resources/read' },
        context: { uri: 'u://x' },
      },
    );
  });
});
