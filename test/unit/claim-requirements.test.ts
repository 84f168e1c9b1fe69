import fc from 'fast-check';
import {
  type ClaimRequirement,
  claimMatches,
  claimRequirement,
  claimRequirementsMet,
  unmetClaimRequirements,
} from '../../lambda/core/claim-requirements';

const equals = (name: string, value: string): ClaimRequirement => ({
  name,
  match: 'EQUALS',
  values: [value],
});
const contains = (name: string, value: string): ClaimRequirement => ({
  name,
  match: 'CONTAINS',
  values: [value],
});
const containsAny = (name: string, ...values: string[]): ClaimRequirement => ({
  name,
  match: 'CONTAINS_ANY',
  values,
});

describe('claimMatches, with AgentCore customClaims semantics', () => {
  it.each([
    ['EQUALS matches a string claim equal to the value', { idtyp: 'user' }, equals('idtyp', 'user'), true],
    ['EQUALS refuses another string', { idtyp: 'app' }, equals('idtyp', 'user'), false],
    ['EQUALS is case-sensitive', { idtyp: 'User' }, equals('idtyp', 'user'), false],
    [
      'EQUALS refuses an array holding the value (wrong type)',
      { idtyp: ['user'] },
      equals('idtyp', 'user'),
      false,
    ],
    ['EQUALS refuses a number (wrong type)', { n: 1 }, equals('n', '1'), false],
    ['EQUALS refuses a missing claim', {}, equals('idtyp', 'user'), false],
    ['EQUALS refuses null', { idtyp: null }, equals('idtyp', 'user'), false],
    [
      'CONTAINS matches an array holding the value',
      { groups: ['a', 'mcp'] },
      contains('groups', 'mcp'),
      true,
    ],
    ['CONTAINS refuses an array without it', { groups: ['a', 'b'] }, contains('groups', 'mcp'), false],
    [
      'CONTAINS refuses a string equal to the value (wrong type)',
      { groups: 'mcp' },
      contains('groups', 'mcp'),
      false,
    ],
    [
      'CONTAINS refuses a string containing the value',
      { groups: 'mcp users' },
      contains('groups', 'mcp'),
      false,
    ],
    ['CONTAINS refuses an array with non-strings', { groups: ['mcp', 1] }, contains('groups', 'mcp'), false],
    ['CONTAINS refuses a missing claim', {}, contains('groups', 'mcp'), false],
    ['CONTAINS_ANY matches an array holding one value', { g: ['x', 'b'] }, containsAny('g', 'a', 'b'), true],
    ['CONTAINS_ANY refuses an array holding none', { g: ['x', 'y'] }, containsAny('g', 'a', 'b'), false],
    ['CONTAINS_ANY refuses an empty array', { g: [] }, containsAny('g', 'a'), false],
    [
      'CONTAINS_ANY refuses a string equal to a value (wrong type)',
      { g: 'a' },
      containsAny('g', 'a', 'b'),
      false,
    ],
    ['CONTAINS_ANY refuses an object (wrong type)', { g: { a: true } }, containsAny('g', 'a'), false],
    ['CONTAINS_ANY refuses a missing claim', {}, containsAny('g', 'a'), false],
    ['a dotted name is read literally, not as a path', { a: { b: 'x' } }, equals('a.b', 'x'), false],
    ['a dotted name present literally matches', { 'a.b': 'x' }, equals('a.b', 'x'), true],
    ['an inherited property is not a claim', {}, equals('constructor', 'x'), false],
  ] as const)('%s', (_name, claims, requirement, expected) => {
    expect(claimMatches(claims, requirement)).toBe(expected);
  });

  it('refuses an operator it does not know, and EQUALS/CONTAINS with several values', () => {
    expect(claimMatches({ a: 'x' }, { name: 'a', match: 'LIKE' as never, values: ['x'] })).toBe(false);
    expect(claimMatches({ a: 'x' }, { name: 'a', match: 'EQUALS', values: ['x', 'y'] })).toBe(false);
    expect(claimMatches({ a: ['x'] }, { name: 'a', match: 'CONTAINS', values: ['x', 'y'] })).toBe(false);
  });
});

describe('unmetClaimRequirements', () => {
  it('accepts any token when nothing is configured (tokens that worked keep working)', () => {
    expect(unmetClaimRequirements({ sub: 'alice' }, undefined, {})).toEqual([]);
    expect(unmetClaimRequirements({ sub: 'alice' }, 'agent-1', { requiredClaims: [] })).toEqual([]);
  });

  it('accepts an allowed client and refuses another one or none', () => {
    const requirements = { allowedClients: ['agent-1', 'agent-2'] };
    expect(claimRequirementsMet({}, 'agent-2', requirements)).toBe(true);
    expect(unmetClaimRequirements({}, 'agent-3', requirements)).toEqual([
      { kind: 'client', agent: 'agent-3' },
    ]);
    expect(unmetClaimRequirements({}, undefined, requirements)).toEqual([
      { kind: 'client', agent: undefined },
    ]);
  });

  it('lists every unmet requirement, the client first', () => {
    const requirement = equals('idtyp', 'user');
    expect(
      unmetClaimRequirements({ idtyp: 'app' }, 'x', { allowedClients: ['y'], requiredClaims: [requirement] }),
    ).toEqual([
      { kind: 'client', agent: 'x' },
      { kind: 'claim', requirement },
    ]);
  });
});

describe('claimRequirement (the MCP_IDENTITY_REQUIRED_CLAIMS entry shape, as lib/config.ts)', () => {
  it.each([
    [{ name: 'idtyp', match: 'EQUALS', values: ['user'] }],
    [{ name: 'groups', match: 'CONTAINS', values: ['mcp'] }],
    [{ name: 'groups', match: 'CONTAINS_ANY', values: ['a', 'b'] }],
  ])('accepts %j', (entry) => {
    expect(claimRequirement(entry)).toEqual(entry);
  });

  it.each([
    ['not an object', 'idtyp'],
    ['an array', [1]],
    ['null', null],
    ['no name', { match: 'EQUALS', values: ['x'] }],
    ['an empty name', { name: '', match: 'EQUALS', values: ['x'] }],
    ['an unknown operator', { name: 'a', match: 'equals', values: ['x'] }],
    ['values not a list', { name: 'a', match: 'EQUALS', values: 'x' }],
    ['no values', { name: 'a', match: 'CONTAINS_ANY', values: [] }],
    ['an empty value', { name: 'a', match: 'CONTAINS_ANY', values: ['x', ''] }],
    ['a non-string value', { name: 'a', match: 'CONTAINS_ANY', values: ['x', 1] }],
    ['EQUALS with two values', { name: 'a', match: 'EQUALS', values: ['x', 'y'] }],
    ['CONTAINS with two values', { name: 'a', match: 'CONTAINS', values: ['x', 'y'] }],
    ['an extra key', { name: 'a', match: 'EQUALS', values: ['x'], type: 'STRING' }],
  ])('refuses %s', (_name, entry) => {
    expect(claimRequirement(entry)).toBeUndefined();
  });
});

describe('claim requirements, property-based', () => {
  const names = fc.constantFrom('idtyp', 'groups', 'scp', 'a.b', '__proto__', 'constructor');
  const words = fc.constantFrom('user', 'app', 'mcp', 'admin', '');
  const claimValue = fc.oneof(
    words,
    fc.array(words, { maxLength: 4 }),
    fc.array(fc.oneof(words, fc.integer(), fc.constant(null)), { maxLength: 4 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.dictionary(fc.string({ maxLength: 3 }), words, { maxKeys: 2 }),
    fc.anything(),
  );
  const claimsArb = fc.dictionary(names, claimValue, { maxKeys: 6 });
  const requirementArb: fc.Arbitrary<ClaimRequirement> = fc.oneof(
    fc.record({ name: names, match: fc.constant('EQUALS' as const), values: fc.tuple(words) }),
    fc.record({ name: names, match: fc.constant('CONTAINS' as const), values: fc.tuple(words) }),
    fc.record({
      name: names,
      match: fc.constant('CONTAINS_ANY' as const),
      values: fc.array(words, { minLength: 1, maxLength: 3 }),
    }),
  );
  const agentArb = fc.option(fc.constantFrom('agent-1', 'agent-2', 'agent-3'), { nil: undefined });
  const allowedArb = fc.option(fc.array(fc.constantFrom('agent-1', 'agent-2'), { minLength: 1 }), {
    nil: undefined,
  });

  /** The specification, written independently of the implementation. */
  const holds = (claims: Record<string, unknown>, requirement: ClaimRequirement): boolean => {
    if (!Object.keys(claims).includes(requirement.name)) return false;
    const value = claims[requirement.name];
    const strings =
      Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : undefined;
    if (requirement.match === 'EQUALS') return typeof value === 'string' && value === requirement.values[0];
    if (strings === undefined) return false;
    return requirement.values.some((wanted) => strings.includes(wanted));
  };

  it('never throws, and accepts a token only when every requirement holds', () => {
    fc.assert(
      fc.property(
        claimsArb,
        agentArb,
        allowedArb,
        fc.array(requirementArb, { maxLength: 3 }),
        (claims, agent, allowedClients, requiredClaims) => {
          const settings = { ...(allowedClients ? { allowedClients } : {}), requiredClaims };
          const expected =
            (allowedClients === undefined ||
              (agent !== undefined && (allowedClients as string[]).includes(agent))) &&
            requiredClaims.every((requirement) => holds(claims, requirement));
          expect(claimRequirementsMet(claims, agent, settings)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary claims and requirement-shaped input', () => {
    fc.assert(
      fc.property(fc.anything(), fc.dictionary(fc.string(), fc.anything()), (entry, claims) => {
        const requirement = claimRequirement(entry);
        if (requirement !== undefined) claimMatches(claims, requirement);
      }),
    );
  });
});
