import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { ConfigurationError } from '../../lambda/core/errors';
import { assertionSigningJwk, jwkThumbprint, publicJwkFromSpki } from '../../lambda/core/jwk-thumbprint';

function p256() {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    jwk: publicKey.export({ format: 'jwk' }) as Record<string, string>,
    spki: publicKey.export({ format: 'der', type: 'spki' }),
  };
}

// A fixed P-256 public key; its thumbprint below was computed once with jose's calculateJwkThumbprint.
const FIXED = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};

describe('jwkThumbprint (RFC 7638)', () => {
  it('hashes crv, kty, x, y in that order with no whitespace, as jose computes it', async () => {
    for (let index = 0; index < 5; index += 1) {
      const { jwk } = p256();
      expect(jwkThumbprint(jwk)).toBe(await calculateJwkThumbprint(jwk as never, 'sha256'));
    }
  });

  it('gives the known thumbprint of a fixed key', () => {
    expect(jwkThumbprint(FIXED)).toBe('oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U');
  });

  it('ignores members outside the four it hashes, whatever their order', () => {
    const reordered = {
      y: FIXED.y,
      x: FIXED.x,
      kid: 'other',
      alg: 'ES256',
      use: 'sig',
      crv: 'P-256',
      kty: 'EC',
    };
    expect(jwkThumbprint(reordered)).toBe(jwkThumbprint(FIXED));
  });

  it('differs when either coordinate differs', () => {
    const other = p256().jwk;
    expect(jwkThumbprint({ ...FIXED, x: other.x })).not.toBe(jwkThumbprint(FIXED));
    expect(jwkThumbprint({ ...FIXED, y: other.y })).not.toBe(jwkThumbprint(FIXED));
  });

  it.each([
    [{ ...FIXED, kty: 'RSA' }, 'must be an EC P-256 key (got kty RSA, crv P-256)'],
    [{ ...FIXED, crv: 'P-384' }, 'must be an EC P-256 key (got kty EC, crv P-384)'],
    [{ ...FIXED, kty: undefined }, 'must be an EC P-256 key (got kty undefined, crv P-256)'],
  ])('refuses a key that is not EC P-256 (%#)', (jwk, message) => {
    expect(() => jwkThumbprint(jwk)).toThrow(`identity assertion key ${message}`);
  });

  it.each([
    ['x too short', { ...FIXED, x: FIXED.x.slice(1) }],
    ['x too long', { ...FIXED, x: `${FIXED.x}A` }],
    ['y too short', { ...FIXED, y: FIXED.y.slice(1) }],
    ['x padded', { ...FIXED, x: `${FIXED.x.slice(0, 42)}=` }],
    ['y in base64, not base64url', { ...FIXED, y: FIXED.y.replace('_', '/') }],
    ['x not canonical (stray low bits in the last character)', { ...FIXED, x: `${FIXED.x.slice(0, 42)}V` }],
    ['y missing', { kty: 'EC', crv: 'P-256', x: FIXED.x }],
    ['x a number', { ...FIXED, x: 5 }],
  ])('refuses coordinates that are not 32 bytes of canonical base64url: %s', (_, jwk) => {
    expect(() => jwkThumbprint(jwk)).toThrow(
      'identity assertion key has x/y coordinates that are not 32 bytes of unpadded base64url',
    );
  });

  it('accepts a canonical last character', () => {
    // 'U' = 0b010100: its two low bits are zero, so the 43rd character carries no stray bits.
    expect(() => jwkThumbprint({ ...FIXED, x: `${FIXED.x.slice(0, 42)}U` })).not.toThrow();
  });
});

describe('publicJwkFromSpki / assertionSigningJwk', () => {
  it('reads the public JWK out of SubjectPublicKeyInfo DER (KMS GetPublicKey) with nothing else', () => {
    const { jwk, spki } = p256();
    expect(publicJwkFromSpki(spki)).toStrictEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
  });

  it('makes the JWKS entry: the JWK, its thumbprint as kid, ES256, sig', () => {
    const { jwk, spki } = p256();
    expect(assertionSigningJwk(new Uint8Array(spki))).toStrictEqual({
      kty: 'EC',
      crv: 'P-256',
      x: jwk.x,
      y: jwk.y,
      kid: jwkThumbprint(jwk),
      alg: 'ES256',
      use: 'sig',
    });
  });

  it('refuses bytes that are not a public key', () => {
    expect(() => publicJwkFromSpki(Buffer.from('not a key'))).toThrow(
      'identity assertion public key is not a DER SubjectPublicKeyInfo',
    );
  });

  it('keeps the parser failure as the cause of the refusal, for the logs', () => {
    const thrown = (act: () => unknown): unknown => {
      try {
        act();
      } catch (error) {
        return error;
      }
      throw new Error('expected a throw');
    };
    const parserFailure = thrown(() =>
      createPublicKey({ key: Buffer.from('not a key'), format: 'der', type: 'spki' }),
    );

    const refusal = thrown(() => publicJwkFromSpki(Buffer.from('not a key')));

    expect(refusal).toBeInstanceOf(ConfigurationError);
    // Errors compare by class and message.
    expect((refusal as ConfigurationError).cause).toStrictEqual(parserFailure);
  });

  it.each([
    ['an RSA key', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
    ['a P-384 key', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
    ['an Ed25519 key', () => generateKeyPairSync('ed25519').publicKey],
  ])('refuses %s', (_, key) => {
    expect(() => publicJwkFromSpki(key().export({ format: 'der', type: 'spki' }))).toThrow(
      /identity assertion key must be an EC P-256 key/,
    );
  });
});
