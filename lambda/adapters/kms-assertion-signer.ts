import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { GetPublicKeyCommand, type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { derToJose } from '../core/ecdsa-signature';
import { AssertionSigningError, McpIdentityError } from '../core/errors';
import type { AssertionSigner } from '../core/identity-assertion';
import { jwkThumbprint, publicJwkFromSpki } from '../core/jwk-thumbprint';

export interface KmsAssertionSignerSettings {
  /** The asymmetric key (ECC_NIST_P256, SIGN_VERIFY), by key ARN. */
  readonly keyArn: string;
  /** Deadline per KMS call (GetPublicKey, Sign). @default 1000 */
  readonly timeoutMs?: number;
}

/** KMS signs at most 4096 bytes of RAW message; longer signing inputs are sent as their SHA-256 digest. */
export const MAX_RAW_MESSAGE_BYTES = 4096;

interface PublicKeyFacts {
  readonly kid: string;
  readonly key: KeyObject;
}

/**
 * Signs identity assertions with an asymmetric KMS key (ECDSA_SHA_256). The public key is read once with
 * GetPublicKey (its RFC 7638 thumbprint is the `kid`, the same value the JWKS endpoint publishes) and checked
 * to be an ECC_NIST_P256 SIGN_VERIFY key. Every signature KMS returns is converted from DER to JOSE R||S and
 * verified against that public key before use, so a key swapped under the ARN, or a bad conversion, fails
 * closed instead of emitting an assertion no target can verify.
 *
 * Sign's message is the JWS signing input as RAW (KMS hashes it with SHA-256, as ES256 requires). An input over
 * 4096 bytes (a caller with very many roles) is sent as its SHA-256 with MessageType DIGEST, which KMS
 * documents as the way to sign larger messages and which yields the same ECDSA signature.
 * Every failure is an {@link AssertionSigningError}; the cache in front (assertion-cache.ts) keeps KMS off the
 * hot path.
 */
export class KmsAssertionSigner implements AssertionSigner {
  private publicKey: Promise<PublicKeyFacts> | undefined;
  private readonly timeoutMs: number;

  constructor(
    private readonly client: KMSClient,
    private readonly settings: KmsAssertionSignerSettings,
  ) {
    this.timeoutMs = settings.timeoutMs ?? 1000;
  }

  /** The public key and its kid, fetched once; a failed fetch is forgotten so the next call tries again. */
  private facts(): Promise<PublicKeyFacts> {
    if (this.publicKey === undefined) {
      const loading = this.loadPublicKey();
      this.publicKey = loading;
      loading.catch(() => {
        if (this.publicKey === loading) this.publicKey = undefined;
      });
    }
    return this.publicKey;
  }

  private async loadPublicKey(): Promise<PublicKeyFacts> {
    const output = await this.call('GetPublicKey', (abortSignal) =>
      this.client.send(new GetPublicKeyCommand({ KeyId: this.settings.keyArn }), { abortSignal }),
    );
    if (output.KeySpec !== 'ECC_NIST_P256' || output.KeyUsage !== 'SIGN_VERIFY')
      throw new AssertionSigningError(
        `KMS key ${this.settings.keyArn} is ${output.KeySpec ?? 'of unknown spec'} for ${output.KeyUsage ?? 'unknown usage'}; identity assertions need an ECC_NIST_P256 SIGN_VERIFY key`,
      );
    if (!output.SigningAlgorithms?.includes('ECDSA_SHA_256'))
      throw new AssertionSigningError(`KMS key ${this.settings.keyArn} does not offer ECDSA_SHA_256`);
    if (output.PublicKey === undefined)
      throw new AssertionSigningError(`KMS GetPublicKey returned no public key for ${this.settings.keyArn}`);
    try {
      const spki = Buffer.from(output.PublicKey);
      const kid = jwkThumbprint(publicJwkFromSpki(spki)); // refuses anything but an EC P-256 point
      return { kid, key: createPublicKey({ key: spki, format: 'der', type: 'spki' }) };
    } catch (error) {
      throw new AssertionSigningError(
        `KMS public key of ${this.settings.keyArn} is unusable: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async keyId(): Promise<string> {
    return (await this.facts()).kid;
  }

  async sign(input: string): Promise<Uint8Array> {
    const { key } = await this.facts();
    const message = Buffer.from(input, 'utf8');
    const raw = message.length <= MAX_RAW_MESSAGE_BYTES;
    const output = await this.call('Sign', (abortSignal) =>
      this.client.send(
        new SignCommand({
          KeyId: this.settings.keyArn,
          Message: raw ? message : createHash('sha256').update(message).digest(),
          MessageType: raw ? 'RAW' : 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
        { abortSignal },
      ),
    );
    if (output.Signature === undefined) throw new AssertionSigningError('KMS Sign returned no signature');
    if (output.SigningAlgorithm !== undefined && output.SigningAlgorithm !== 'ECDSA_SHA_256')
      throw new AssertionSigningError(`KMS Sign used ${output.SigningAlgorithm}, not ECDSA_SHA_256`);
    const signature = derToJose(output.Signature);
    if (!verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature))
      throw new AssertionSigningError(
        `KMS signature does not verify with the public key of ${this.settings.keyArn} (was the key replaced?)`,
      );
    return signature;
  }

  /** One KMS call with a deadline; any failure becomes an AssertionSigningError naming the call. */
  private async call<T>(name: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([run(controller.signal), deadline]);
    } catch (error) {
      if (error instanceof McpIdentityError) throw error;
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new AssertionSigningError(`KMS ${name} failed: ${reason}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}
