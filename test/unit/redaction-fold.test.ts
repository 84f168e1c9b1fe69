import fc from 'fast-check';
import { DEFAULT_REDACTION, foldKey, fullFold, REDACTED, redactValue } from '../../lambda/core/redaction';

describe('redaction key folding (the hot path takes a shortcut for ASCII keys)', () => {
  it('folds every printable ASCII key exactly as the full Unicode fold does', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x21-\x7e]{0,24}$/), (key) => {
        expect(foldKey(key)).toBe(fullFold(key));
      }),
      { numRuns: 2000 },
    );
  });

  it('folds every single printable ASCII character as the full fold does', () => {
    for (let code = 0x21; code <= 0x7e; code += 1) {
      const key = `a${String.fromCharCode(code)}B`;
      expect(foldKey(key)).toBe(fullFold(key));
    }
  });

  it('still folds keys with whitespace, control or non-ASCII characters in full', () => {
    expect(foldKey('Access Token')).toBe('accesstoken');
    expect(foldKey('to\u0000ken')).toBe('token');
    expect(foldKey('ＴＯＫＥＮ')).toBe('token');
    expect(foldKey('tokenıd')).toBe('tokenid');
  });

  it('sees a change to the redacted key list made after an earlier redaction', () => {
    const keys = ['password'];
    const config = { ...DEFAULT_REDACTION, keys };
    expect(redactValue({ ssn: '1' }, config)).toEqual({ ssn: '1' });
    keys.push('SSN');
    expect(redactValue({ ssn: '1' }, config)).toEqual({ ssn: REDACTED });
  });

  it('applies a pattern without the g flag to every match, and leaves the pattern as it was', () => {
    const pattern = /secret-\d+/;
    const config = { arguments: 'values' as const, keys: [], valuePatterns: [pattern] };
    expect(redactValue({ a: 'secret-1 and secret-2' }, config)).toEqual({ a: `${REDACTED} and ${REDACTED}` });
    expect(redactValue({ a: 'secret-3 secret-4' }, config)).toEqual({ a: `${REDACTED} ${REDACTED}` });
    expect(pattern.flags).toBe('');
  });
});
