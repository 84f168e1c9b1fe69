import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { sha256Base64url } from '../../lambda/core/digest';

const reference = (text: string) => createHash('sha256').update(text).digest('base64url');

describe('sha256Base64url', () => {
  it('gives the digest createHash gives, for any text (lone surrogates and multi-byte included)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expect(sha256Base64url(text)).toBe(reference(text));
      }),
      { numRuns: 1000 },
    );
    expect(sha256Base64url('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  it('falls back to createHash on a runtime without crypto.hash, with the same digest', () => {
    jest.isolateModules(() => {
      const actual = jest.requireActual('node:crypto') as typeof import('node:crypto');
      const createHashSpy = jest.fn(actual.createHash);
      jest.doMock('node:crypto', () => ({ ...actual, hash: undefined, createHash: createHashSpy }));
      const { sha256Base64url: fallback } =
        require('../../lambda/core/digest') as typeof import('../../lambda/core/digest');
      expect(fallback('abc')).toBe(reference('abc'));
      expect(fallback('é\ud800')).toBe(reference('é\ud800'));
      expect(createHashSpy).toHaveBeenCalledWith('sha256');
    });
    jest.dontMock('node:crypto');
  });
});
