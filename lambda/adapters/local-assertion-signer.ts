import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import type { AssertionSigner } from '../core/identity-assertion';
import { type AssertionSigningJwk, jwkThumbprint } from '../core/jwk-thumbprint';

/**
 * The identity assertion signer of the local stack: an ephemeral P-256 key made in process (like the dev
 * issuer's token keys), with the JWKS targets fetch to verify. node:crypto signs straight into the JOSE R||S
 * form (`dsaEncoding: 'ieee-p1363'`). Never used in AWS, where the key lives in KMS.
 */
export class LocalAssertionSigner implements AssertionSigner {
  private readonly privateKey: KeyObject;
  private readonly publicJwk: AssertionSigningJwk;
  /** Sign calls made (tests and the bench count them). */
  signs = 0;

  constructor(
    keys: { privateKey: KeyObject; publicKey: KeyObject } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
    }),
  ) {
    const exported = keys.publicKey.export({ format: 'jwk' });
    const kid = jwkThumbprint(exported); // refuses anything but EC P-256
    this.privateKey = keys.privateKey;
    this.publicJwk = Object.freeze({
      kty: 'EC',
      crv: 'P-256',
      x: exported.x as string,
      y: exported.y as string,
      kid,
      alg: 'ES256',
      use: 'sig',
    });
  }

  async keyId(): Promise<string> {
    return this.publicJwk.kid;
  }

  async sign(input: string): Promise<Uint8Array> {
    this.signs += 1;
    return sign('sha256', Buffer.from(input, 'utf8'), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
  }

  /** The JWKS document to serve (public key only). */
  jwks(): { readonly keys: readonly AssertionSigningJwk[] } {
    return { keys: [this.publicJwk] };
  }
}
