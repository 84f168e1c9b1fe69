import { createHash, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  GetPublicKeyCommand,
  KMSClient,
  KMSInternalException,
  SignCommand,
  type SignCommandInput,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { KmsAssertionSigner, MAX_RAW_MESSAGE_BYTES } from '../../lambda/adapters/kms-assertion-signer';
import { AssertionSigningError } from '../../lambda/core/errors';
import { jwkThumbprint } from '../../lambda/core/jwk-thumbprint';
import { sigV4Problems, TEST_CREDENTIALS } from '../helpers/sigv4';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function p256() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}
const spki = (key: KeyObject) => new Uint8Array(key.export({ format: 'der', type: 'spki' }));

/** What KMS answers GetPublicKey for an ECC_NIST_P256 signing key (documented fields). */
const publicKeyAnswer = (publicKey: KeyObject) => ({
  KeyId: KEY_ARN,
  PublicKey: spki(publicKey),
  KeySpec: 'ECC_NIST_P256' as const,
  CustomerMasterKeySpec: 'ECC_NIST_P256' as const,
  KeyUsage: 'SIGN_VERIFY' as const,
  SigningAlgorithms: ['ECDSA_SHA_256' as const],
});

/**
 * Messages whose SHA-256 a test may send as a DIGEST. node:crypto cannot ECDSA-sign a bare digest (it always
 * hashes first), so the fake KMS finds the message behind a digest here and signs that, which is the same
 * signature KMS makes over the digest.
 */
const digests = new Map<string, Buffer>();
function expectDigestOf(message: string): void {
  digests.set(createHash('sha256').update(message).digest('hex'), Buffer.from(message));
}

/** KMS Sign with ECDSA_SHA_256 as documented: ECDSA over SHA-256 of a RAW message (or of the DIGEST's message), DER. */
function kmsSign(privateKey: KeyObject, input: SignCommandInput): Uint8Array {
  const bytes = Buffer.from(input.Message as Uint8Array);
  const message = input.MessageType === 'DIGEST' ? digests.get(bytes.toString('hex')) : bytes;
  if (message === undefined) throw new Error('the fake KMS was sent a digest of no registered message');
  return sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
}

const kms = mockClient(KMSClient);
afterEach(() => kms.reset());

function signer(keys = p256(), timeoutMs = 1000) {
  kms.on(GetPublicKeyCommand).resolves(publicKeyAnswer(keys.publicKey));
  kms.on(SignCommand).callsFake((input: SignCommandInput) => ({
    KeyId: KEY_ARN,
    Signature: kmsSign(keys.privateKey, input),
    SigningAlgorithm: 'ECDSA_SHA_256',
  }));
  return {
    keys,
    signer: new KmsAssertionSigner(new KMSClient({ region: 'eu-west-1' }), { keyArn: KEY_ARN, timeoutMs }),
  };
}

describe('KmsAssertionSigner', () => {
  it('names the key by the RFC 7638 thumbprint of its public key, read once', async () => {
    const { keys, signer: kmsSigner } = signer();
    const kid = jwkThumbprint(keys.publicKey.export({ format: 'jwk' }));

    expect(await kmsSigner.keyId()).toBe(kid);
    expect(await kmsSigner.keyId()).toBe(kid);
    await kmsSigner.sign('a.b');
    expect(kms).toHaveReceivedCommandTimes(GetPublicKeyCommand, 1);
    expect(kms).toHaveReceivedCommandWith(GetPublicKeyCommand, { KeyId: KEY_ARN });
  });

  it('asks Sign for ECDSA_SHA_256 over the RAW signing input and returns a verifying 64-byte R||S', async () => {
    const { keys, signer: kmsSigner } = signer();
    const input = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9';

    const signature = await kmsSigner.sign(input);

    expect(kms.commandCalls(SignCommand).map((call) => call.args[0].input)).toStrictEqual([
      {
        KeyId: KEY_ARN,
        Message: Buffer.from(input, 'utf8'),
        MessageType: 'RAW',
        SigningAlgorithm: 'ECDSA_SHA_256',
      },
    ]);
    expect(signature).toHaveLength(64);
    expect(
      verify('sha256', Buffer.from(input), { key: keys.publicKey, dsaEncoding: 'ieee-p1363' }, signature),
    ).toBe(true);
  });

  it('sends an input over 4096 bytes as its SHA-256 digest, which yields the same kind of signature', async () => {
    const { keys, signer: kmsSigner } = signer();
    const atLimit = 'a'.repeat(MAX_RAW_MESSAGE_BYTES);
    const overLimit = 'a'.repeat(MAX_RAW_MESSAGE_BYTES + 1);
    expectDigestOf(overLimit);

    await kmsSigner.sign(atLimit);
    const long = await kmsSigner.sign(overLimit);

    const [raw, digest] = kms.commandCalls(SignCommand).map((call) => call.args[0].input);
    expect(MAX_RAW_MESSAGE_BYTES).toBe(4096);
    expect(raw?.MessageType).toBe('RAW');
    expect(raw?.Message).toHaveLength(4096);
    expect(digest?.MessageType).toBe('DIGEST');
    expect(Buffer.from(digest?.Message as Uint8Array)).toStrictEqual(
      createHash('sha256').update(overLimit).digest(),
    );
    expect(
      verify('sha256', Buffer.from(overLimit), { key: keys.publicKey, dsaEncoding: 'ieee-p1363' }, long),
    ).toBe(true);
  });

  it('counts bytes, not characters, against the RAW limit', async () => {
    const { signer: kmsSigner } = signer();
    expectDigestOf('é'.repeat(2049));
    await kmsSigner.sign('é'.repeat(2049)); // 4098 bytes
    expect(kms.commandCalls(SignCommand)[0]?.args[0].input.MessageType).toBe('DIGEST');
  });

  it.each([
    [
      { KeySpec: 'RSA_2048' },
      'is RSA_2048 for SIGN_VERIFY; identity assertions need an ECC_NIST_P256 SIGN_VERIFY key',
    ],
    [{ KeySpec: 'ECC_NIST_P384' }, 'is ECC_NIST_P384 for SIGN_VERIFY'],
    [{ KeyUsage: 'ENCRYPT_DECRYPT' }, 'is ECC_NIST_P256 for ENCRYPT_DECRYPT'],
    [{ KeySpec: undefined, KeyUsage: undefined }, 'is of unknown spec for unknown usage'],
    [{ SigningAlgorithms: ['ECDSA_SHA_384'] }, 'does not offer ECDSA_SHA_256'],
    [{ SigningAlgorithms: undefined }, 'does not offer ECDSA_SHA_256'],
    [{ PublicKey: undefined }, 'KMS GetPublicKey returned no public key'],
    [{ PublicKey: new Uint8Array([1, 2, 3]) }, 'is unusable: identity assertion public key is not a DER'],
    [
      { PublicKey: spki(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey) },
      'is unusable: identity assertion key must be an EC P-256 key',
    ],
  ])('refuses a key that cannot make ES256 assertions: %j', async (change, message) => {
    const keys = p256();
    kms.on(GetPublicKeyCommand).resolves({ ...publicKeyAnswer(keys.publicKey), ...change } as never);
    const kmsSigner = new KmsAssertionSigner(new KMSClient({ region: 'eu-west-1' }), { keyArn: KEY_ARN });

    await expect(kmsSigner.keyId()).rejects.toThrow(AssertionSigningError);
    await expect(kmsSigner.keyId()).rejects.toThrow(message);
    await expect(kmsSigner.sign('a.b')).rejects.toThrow(message);
    expect(kms).toHaveReceivedCommandTimes(SignCommand, 0);
  });

  it('forgets a failed GetPublicKey, so the next call tries again', async () => {
    const keys = p256();
    kms
      .on(GetPublicKeyCommand)
      .rejectsOnce(new KMSInternalException({ message: 'try later', $metadata: {} }))
      .resolves(publicKeyAnswer(keys.publicKey));
    const kmsSigner = new KmsAssertionSigner(new KMSClient({ region: 'eu-west-1' }), { keyArn: KEY_ARN });

    const failed = kmsSigner.keyId();
    await expect(failed).rejects.toThrow(AssertionSigningError);
    await expect(failed).rejects.toThrow('KMS GetPublicKey failed: KMSInternalException: try later');
    expect(await kmsSigner.keyId()).toBe(jwkThumbprint(keys.publicKey.export({ format: 'jwk' })));
    expect(kms).toHaveReceivedCommandTimes(GetPublicKeyCommand, 2);
  });

  it('turns a Sign failure into a typed error naming the call', async () => {
    const { signer: kmsSigner } = signer();
    kms.on(SignCommand).rejects(new KMSInternalException({ message: 'internal', $metadata: {} }));

    const failure = kmsSigner.sign('a.b');
    await expect(failure).rejects.toThrow(AssertionSigningError);
    await expect(failure).rejects.toThrow('KMS Sign failed: KMSInternalException: internal');
  });

  it('refuses a signature made by another key (a key replaced under the ARN)', async () => {
    const { signer: kmsSigner } = signer();
    const other = p256();
    kms.on(SignCommand).callsFake((input: SignCommandInput) => ({
      Signature: kmsSign(other.privateKey, input),
      SigningAlgorithm: 'ECDSA_SHA_256',
    }));

    await expect(kmsSigner.sign('a.b')).rejects.toThrow(
      `KMS signature does not verify with the public key of ${KEY_ARN} (was the key replaced?)`,
    );
  });

  it.each([
    [{ Signature: undefined }, 'KMS Sign returned no signature'],
    [{ Signature: new Uint8Array([0x30, 0x00]) }, 'ECDSA signature is not valid DER: not a SEQUENCE'],
    [{ SigningAlgorithm: 'ECDSA_SHA_384' }, 'KMS Sign used ECDSA_SHA_384, not ECDSA_SHA_256'],
  ])('refuses an answer it cannot use: %j', async (change, message) => {
    const { keys, signer: kmsSigner } = signer();
    kms.on(SignCommand).callsFake((input: SignCommandInput) => ({
      Signature: kmsSign(keys.privateKey, input),
      SigningAlgorithm: 'ECDSA_SHA_256',
      ...change,
    }));
    await expect(kmsSigner.sign('a.b')).rejects.toThrow(new AssertionSigningError(message));
  });

  it('gives up on a KMS call after its deadline', async () => {
    const { signer: kmsSigner } = signer(p256(), 50);
    await kmsSigner.keyId();
    kms.on(SignCommand).callsFake(() => new Promise(() => undefined));

    const started = Date.now();
    await expect(kmsSigner.sign('a.b')).rejects.toThrow('KMS Sign failed: Error: timed out after 50 ms');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('KmsAssertionSigner on the wire (a loopback KMS speaking the JSON 1.1 protocol)', () => {
  let server: Server;
  let url: URL;
  const keys = p256();
  const seen: { target: string; contentType: string; body: Record<string, unknown>; problems: string[] }[] =
    [];

  beforeAll(async () => {
    // The last block of the file: from here on the real client, against the loopback KMS.
    kms.restore();
    server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => {
        body += chunk;
      });
      request.on('end', async () => {
        const target = String(request.headers['x-amz-target']);
        const parsed = JSON.parse(body) as Record<string, unknown>;
        const problems = await sigV4Problems(
          request,
          new URL(request.url ?? '/', url),
          body,
          'eu-west-1',
          'kms',
        );
        seen.push({ target, contentType: String(request.headers['content-type']), body: parsed, problems });
        const answer =
          target === 'TrentService.GetPublicKey'
            ? {
                ...publicKeyAnswer(keys.publicKey),
                PublicKey: Buffer.from(spki(keys.publicKey)).toString('base64'),
              }
            : {
                KeyId: KEY_ARN,
                SigningAlgorithm: 'ECDSA_SHA_256',
                Signature: Buffer.from(
                  kmsSign(keys.privateKey, {
                    ...(parsed as unknown as SignCommandInput),
                    Message: Buffer.from(String(parsed.Message), 'base64'),
                  }),
                ).toString('base64'),
              };
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends GetPublicKey and Sign as KMS documents them, SigV4-signed for kms', async () => {
    const client = new KMSClient({
      region: 'eu-west-1',
      endpoint: url.href,
      credentials: TEST_CREDENTIALS,
    });
    const kmsSigner = new KmsAssertionSigner(client, { keyArn: KEY_ARN });
    const input = 'header.payload';

    const signature = await kmsSigner.sign(input);

    expect(
      seen.map(({ target, contentType, problems }) => ({ target, contentType, problems })),
    ).toStrictEqual([
      { target: 'TrentService.GetPublicKey', contentType: 'application/x-amz-json-1.1', problems: [] },
      { target: 'TrentService.Sign', contentType: 'application/x-amz-json-1.1', problems: [] },
    ]);
    expect(seen[0]?.body).toStrictEqual({ KeyId: KEY_ARN });
    expect(seen[1]?.body).toStrictEqual({
      KeyId: KEY_ARN,
      Message: Buffer.from(input).toString('base64'),
      MessageType: 'RAW',
      SigningAlgorithm: 'ECDSA_SHA_256',
    });
    expect(
      verify('sha256', Buffer.from(input), { key: keys.publicKey, dsaEncoding: 'ieee-p1363' }, signature),
    ).toBe(true);
  });
});
