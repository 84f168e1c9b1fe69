import fc from 'fast-check';
import { isCanonicalBase64url } from '../../lambda/adapters/jwt-token-verifier';

/** The reference: canonical means Node decodes and re-encodes the part to the very same text. */
const roundTrips = (part: string) =>
  /^[A-Za-z0-9_-]+$/.test(part) && Buffer.from(part, 'base64url').toString('base64url') === part;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('isCanonicalBase64url (JWS parts, checked without decoding)', () => {
  it('agrees with decode-and-re-encode on every string of up to three base64url characters', () => {
    const disagreements: string[] = [];
    const check = (part: string) => {
      if (isCanonicalBase64url(part) !== roundTrips(part)) disagreements.push(part);
    };
    check('');
    for (const a of ALPHABET) {
      check(a);
      for (const b of ALPHABET) {
        check(a + b);
        for (const c of ALPHABET) check(a + b + c);
      }
    }
    expect(disagreements).toEqual([]);
  });

  it('agrees with decode-and-re-encode on any string, including padding and foreign characters', () => {
    const character = fc.constantFrom(...ALPHABET, '=', '+', '/', ' ', '.', 'é', '\n');
    fc.assert(
      fc.property(fc.array(character, { maxLength: 400 }), (characters) => {
        const part = characters.join('');
        expect(isCanonicalBase64url(part)).toBe(roundTrips(part));
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees on the encoding of any bytes, and on that encoding with its last character changed', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.constantFrom(...ALPHABET),
        (bytes, last) => {
          const part = Buffer.from(bytes).toString('base64url');
          expect(isCanonicalBase64url(part)).toBe(true);
          const changed = `${part.slice(0, -1)}${last}`;
          expect(isCanonicalBase64url(changed)).toBe(roundTrips(changed));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
