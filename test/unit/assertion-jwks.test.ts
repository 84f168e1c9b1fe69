import { generateKeyPairSync } from 'node:crypto';
import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { jwkThumbprint } from '../../lambda/core/jwk-thumbprint';
import { createJwksHandler } from '../../lambda/handlers/assertion-jwks';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const SPKI = new Uint8Array(signer.publicKey.export({ format: 'der', type: 'spki' }));
const P256 = { KeyId: KEY_ARN, KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', PublicKey: SPKI } as const;

const kms = mockClient(KMSClient);
beforeEach(() => kms.reset());

function request(method = 'GET', rawPath = '/.well-known/jwks.json'): LambdaFunctionURLEvent {
  return { rawPath, requestContext: { http: { method } } } as unknown as LambdaFunctionURLEvent;
}

function recordingLog() {
  const lines: unknown[][] = [];
  const record = (...args: unknown[]) => {
    lines.push(args);
  };
  return { info: record, warn: record, error: record, lines } as never as {
    info: typeof record;
    warn: typeof record;
    error: typeof record;
    lines: unknown[][];
  };
}

const handlerWith = (keyId: string | undefined = KEY_ARN, log = recordingLog()) =>
  createJwksHandler({ kms: new KMSClient({ region: 'eu-west-1' }), keyId, log: log as never });
const unconfigured = (log: ReturnType<typeof recordingLog>) =>
  createJwksHandler({ kms: new KMSClient({ region: 'eu-west-1' }), keyId: undefined, log: log as never });

describe('assertion JWKS handler', () => {
  it('publishes the KMS public key as an ES256 JWK whose kid is its RFC 7638 thumbprint', async () => {
    kms.on(GetPublicKeyCommand, { KeyId: KEY_ARN }).resolves(P256);
    const response = await handlerWith()(request());
    expect(response.statusCode).toBe(200);
    expect(response.headers).toEqual({
      'Content-Type': 'application/jwk-set+json',
      'Cache-Control': 'public, max-age=300',
    });
    const document = JSON.parse(response.body as string);
    const expected = signer.publicKey.export({ format: 'jwk' });
    expect(document).toEqual({
      keys: [
        {
          kty: 'EC',
          crv: 'P-256',
          x: expected.x,
          y: expected.y,
          kid: jwkThumbprint(expected),
          alg: 'ES256',
          use: 'sig',
        },
      ],
    });
  });

  it('serves a document a verifier accepts for a token signed with the private key, and no other', async () => {
    kms.on(GetPublicKeyCommand).resolves(P256);
    const document = JSON.parse((await handlerWith()(request('GET', '/'))).body as string);
    const jwks = createLocalJWKSet(document);
    const sign = (key: typeof signer.privateKey) =>
      new SignJWT({ sub: 'alice' })
        .setProtectedHeader({ alg: 'ES256', kid: document.keys[0].kid })
        .setAudience('crm')
        .setExpirationTime('5m')
        .sign(key);
    await expect(jwtVerify(await sign(signer.privateKey), jwks, { audience: 'crm' })).resolves.toMatchObject({
      payload: { sub: 'alice' },
    });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expect(jwtVerify(await sign(other.privateKey), jwks)).rejects.toThrow(/signature/);
  });

  it('reads the key from KMS once per container, whatever the number of requests', async () => {
    kms.on(GetPublicKeyCommand).resolves(P256);
    const handler = handlerWith();
    for (const event of [request(), request('GET', '/'), request('HEAD'), request()])
      expect((await handler(event)).statusCode).toBe(200);
    expect(kms).toHaveReceivedCommandTimes(GetPublicKeyCommand, 1);
  });

  it('answers HEAD with the headers and no body', async () => {
    kms.on(GetPublicKeyCommand).resolves(P256);
    const response = await handlerWith()(request('HEAD'));
    expect(response).toMatchObject({ statusCode: 200, body: '' });
  });

  it('answers 503 without caching when KMS fails, logs the cause, and retries on the next request', async () => {
    kms.on(GetPublicKeyCommand).rejectsOnce(new Error('ThrottlingException: Rate exceeded')).resolves(P256);
    const log = recordingLog();
    const handler = handlerWith(KEY_ARN, log);
    const failed = await handler(request());
    expect(failed.statusCode).toBe(503);
    expect(failed.headers['Cache-Control']).toBe('no-store');
    expect(JSON.parse(failed.body as string)).toEqual({ error: 'the signing key is not available' });
    expect(JSON.stringify(log.lines)).toContain('Rate exceeded');
    expect((await handler(request())).statusCode).toBe(200);
    expect(kms).toHaveReceivedCommandTimes(GetPublicKeyCommand, 2);
  });

  it.each([
    ['an RSA key', { ...P256, KeySpec: 'RSA_2048' }, /RSA_2048/],
    ['an encryption key', { ...P256, KeyUsage: 'ENCRYPT_DECRYPT' }, /ENCRYPT_DECRYPT/],
    ['no public key', { ...P256, PublicKey: undefined }, /must be ECC_NIST_P256/],
    ['bytes that are not a public key', { ...P256, PublicKey: new Uint8Array([1, 2, 3]) }, /not a DER/],
  ])('refuses to publish %s (fails closed with 503)', async (_what, key, cause) => {
    kms.on(GetPublicKeyCommand).resolves(key as never);
    const log = recordingLog();
    const response = await handlerWith(KEY_ARN, log)(request());
    expect(response.statusCode).toBe(503);
    expect(response.body).not.toMatch(/RSA|ENCRYPT|DER|at /);
    expect(JSON.stringify(log.lines)).toMatch(cause);
  });

  it('answers 503 without calling KMS when no key is configured', async () => {
    const log = recordingLog();
    expect((await unconfigured(log)(request())).statusCode).toBe(503);
    expect(kms).toHaveReceivedCommandTimes(GetPublicKeyCommand, 0);
    expect(JSON.stringify(log.lines)).toContain('MCP_IDENTITY_ASSERTION_KEY_ID is not set');
  });

  it.each([
    ['POST', '/.well-known/jwks.json', 405],
    ['DELETE', '/', 405],
    ['GET', '/keys', 404],
    ['GET', '/.well-known/openid-configuration', 404],
  ])('answers %s %s with %i and never reads the key', async (method, path, status) => {
    const response = await handlerWith()(request(method, path));
    expect(response.statusCode).toBe(status);
    expect(kms).toHaveReceivedCommandTimes(GetPublicKeyCommand, 0);
    if (status === 405) expect(response.headers.Allow).toBe('GET, HEAD');
  });
});
