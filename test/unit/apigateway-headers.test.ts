import fc from 'fast-check';
import { allHeaders, headerValues } from '../../lambda/doors/apigateway/headers';

/** The proxy's header map is built in one pass; it must say exactly what the per-name reader says. */

const names = fc.constantFrom(
  'Authorization',
  'authorization',
  'AUTHORIZATION',
  'Mcp-Session-Id',
  'x-a',
  'X-A',
  'b',
);
const value = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null));
const single = fc.dictionary(names, value, { maxKeys: 5 });
const multi = fc.dictionary(names, fc.oneof(fc.array(value, { maxLength: 3 }), value), { maxKeys: 5 });

describe('API Gateway header maps', () => {
  it('allHeaders agrees with headerValues for every name, whatever the casing and value types', () => {
    fc.assert(
      fc.property(
        fc.option(single, { nil: undefined }),
        fc.option(multi, { nil: undefined }),
        (singleMap, multiMap) => {
          const headers = { single: singleMap, multi: multiMap };
          const all = allHeaders(headers);
          const every = new Set(
            [...Object.keys(singleMap ?? {}), ...Object.keys(multiMap ?? {})].map((key) => key.toLowerCase()),
          );
          for (const name of every) {
            const expected = headerValues(headers, name);
            expect(all.get(name) ?? []).toStrictEqual(expected);
          }
          for (const [name, values] of all) {
            expect(every.has(name)).toBe(true);
            expect(values.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('prefers every multi value over the single one, and keeps the order sent', () => {
    const all = allHeaders({
      single: { 'X-Forwarded-For': '3.3.3.3' },
      multi: { 'x-forwarded-for': ['1.1.1.1'], 'X-FORWARDED-FOR': ['2.2.2.2'] },
    });
    expect(all.get('x-forwarded-for')).toStrictEqual(['1.1.1.1', '2.2.2.2']);
  });
});
