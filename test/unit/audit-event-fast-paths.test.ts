import fc from 'fast-check';
import { type AuditMap, eventTime, fitMap } from '../../lambda/core/audit-event';

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

// Strings that JSON escapes (controls, quotes, backslashes), multi-byte and lone surrogates: the bound that lets
// fitMap skip the exact count must hold for the worst of them.
const awkward = fc.string({
  unit: fc.oneof(
    fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', 'é', '€', '😀', '\ud800', '\udfff'),
    fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' }),
  ),
  maxLength: 40,
});

describe('audit event fast paths', () => {
  // Limits are tens of kB in use; below ~100 bytes the added truncated/originalBytes keys alone may not fit.
  it('fitMap returns a map whose JSON fits unchanged, and keeps any other map within its bound', () => {
    fc.assert(
      fc.property(
        fc.dictionary(awkward, awkward, { maxKeys: 8 }),
        fc.integer({ min: 100, max: 600 }),
        (map, max) => {
          const fitted = fitMap(map as AuditMap, max);
          if (bytes(map) <= max) expect(fitted).toBe(map);
          else expect(bytes(fitted)).toBeLessThanOrEqual(max);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('fitMap cuts a map that only the exact count finds too large (escapes take up to 6 bytes a unit)', () => {
    const map = { k: '\u0000'.repeat(20) };
    expect(bytes(map)).toBe(128);
    expect(fitMap(map, 127)).not.toBe(map);
    expect(bytes(fitMap(map, 127))).toBeLessThanOrEqual(127);
    expect(fitMap(map, 128)).toBe(map);
  });

  it('eventTime formats each second, also when seconds alternate, and refuses an invalid date', () => {
    const a = new Date('2026-12-02T06:00:00.100Z');
    const b = new Date('2026-12-02T06:00:01.900Z');
    expect(eventTime(a)).toBe('2026-12-02T06:00:00Z');
    expect(eventTime(new Date('2026-12-02T06:00:00.999Z'))).toBe('2026-12-02T06:00:00Z');
    expect(eventTime(b)).toBe('2026-12-02T06:00:01Z');
    expect(eventTime(a)).toBe('2026-12-02T06:00:00Z');
    expect(eventTime(new Date('1969-12-31T23:59:59.500Z'))).toBe('1969-12-31T23:59:59Z');
    expect(() => eventTime(new Date(Number.NaN))).toThrow(RangeError);
  });
});
