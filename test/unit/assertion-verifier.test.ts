import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AssertionCache } from '../../lambda/adapters/assertion-cache';
import { LocalAssertionSigner } from '../../lambda/adapters/local-assertion-signer';
import type { Caller } from '../../lambda/core/caller';
import {
  AssertionKeysUnavailableError,
  AssertionRejectedError,
  createAssertionVerifier,
  DEFAULT_ASSERTION_HEADER,
} from '../../verifier';

const ISSUER = 'https://gateway.example.com';
/** One clock reading for every hand-made claim set, so their differences are exact. */
const T = Math.floor(Date.now() / 1000);
const now = () => T;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const alice = (): Caller => ({
  subject: 'alice',
  issuer: 'https://idp.example.com',
  roles: ['developer', 'db-reader'],
  agent: 'claude-desktop',
  tokenId: 'jti-of-the-access-token',
  actors: ['agent-a', 'agent-b'],
  expiresAt: now() + 3600,
});

let server: Server;
let jwksUri: string;
let jwksStatus = 200;
const signer = new LocalAssertionSigner();

beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url !== '/.well-known/jwks.json' || jwksStatus !== 200) {
      response.writeHead(jwksStatus === 200 ? 404 : jwksStatus).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/jwk-set+json' });
    response.end(JSON.stringify(signer.jwks()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const verifierFor = (audience: string, issuer = ISSUER) =>
  createAssertionVerifier({ issuer, audience, jwksUri });

/** An assertion exactly as the gateway makes one. */
const assertion = (target: string, caller = alice(), issuer = ISSUER) =>
  new AssertionCache(signer, { issuer, ttlSeconds: 300 }).assertion(caller, target);

/** A token signed with the published key, with any header and claims (forgeries the gateway never makes). */
async function signed(header: Record<string, unknown>, claims: Record<string, unknown>): Promise<string> {
  const input = `${b64({ alg: 'ES256', typ: 'mcp-identity-assertion+jwt', kid: await signer.keyId(), ...header })}.${b64(claims)}`;
  return `${input}.${Buffer.from(await signer.sign(input)).toString('base64url')}`;
}
const goodClaims = () => ({
  iss: ISSUER,
  sub: 'alice',
  aud: 'crm',
  roles: ['developer'],
  iat: now(),
  exp: now() + 300,
  jti: 'x',
});

async function rejected(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AssertionRejectedError);
    return (error as Error).message;
  }
  throw new Error('expected the assertion to be rejected');
}

describe('createAssertionVerifier', () => {
  it('accepts the gateway’s assertion for this target and returns the typed caller', async () => {
    const token = await assertion('crm');

    const caller = await verifierFor('crm').verify(token);

    expect(caller).toStrictEqual({
      iss: ISSUER,
      sub: 'alice',
      aud: 'crm',
      roles: ['developer', 'db-reader'],
      client_id: 'claude-desktop',
      act: { sub: 'agent-a', act: { sub: 'agent-b' } },
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(caller.exp - caller.iat).toBe(300);
    expect(DEFAULT_ASSERTION_HEADER).toBe('X-Mcp-Identity-Assertion');
  });

  it('accepts the header as Node gives a single value in a list', async () => {
    expect((await verifierFor('crm').verify([await assertion('crm')])).sub).toBe('alice');
  });

  it('refuses an assertion made for another target', async () => {
    const forOrders = await assertion('orders');
    expect(await rejected(verifierFor('crm').verify(forOrders))).toMatch(
      /^identity assertion rejected: .*audience/i,
    );
    expect((await verifierFor('orders').verify(forOrders)).aud).toBe('orders');
  });

  it('refuses an assertion from another issuer', async () => {
    expect(
      await rejected(verifierFor('crm', 'https://other.example.com').verify(await assertion('crm'))),
    ).toMatch(/issuer/i);
  });

  it('refuses an expired assertion', async () => {
    const token = await signed({}, { ...goodClaims(), iat: now() - 400, exp: now() - 100 });
    expect(await rejected(verifierFor('crm').verify(token))).toMatch(/expired/i);
  });

  it('refuses an assertion not yet valid', async () => {
    const token = await signed({}, { ...goodClaims(), nbf: now() + 100 });
    expect(await rejected(verifierFor('crm').verify(token))).toMatch(/not valid yet|nbf|before/i);
  });

  it.each([
    ['typ JWT (an access or ID token)', { typ: 'JWT' }, 'typ JWT'],
    ['typ at+jwt (an OAuth access token)', { typ: 'at+jwt' }, 'typ at+jwt'],
    ['no typ', { typ: undefined }, 'typ undefined'],
  ])('refuses %s', async (_, header, message) => {
    const token = await signed(header, goodClaims());
    expect(await rejected(verifierFor('crm').verify(token))).toBe(`not an identity assertion: ${message}`);
  });

  it.each(['application/mcp-identity-assertion+jwt', 'MCP-Identity-Assertion+JWT'])(
    'accepts typ %s (media types compare case-insensitively, application/ optional)',
    async (typ) => {
      expect((await verifierFor('crm').verify(await signed({ typ }, goodClaims()))).sub).toBe('alice');
    },
  );

  it('refuses any alg other than ES256', async () => {
    const kid = await signer.keyId();
    const claims = b64(goodClaims());
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const forge = (alg: string, key: KeyObject | null, hash: string | null, encoding?: 'ieee-p1363') => {
      const input = `${b64({ alg, typ: 'mcp-identity-assertion+jwt', kid })}.${claims}`;
      const signature =
        key === null
          ? Buffer.alloc(0)
          : sign(hash, Buffer.from(input), { key, ...(encoding ? { dsaEncoding: encoding } : {}) });
      return `${input}.${signature.toString('base64url')}`;
    };
    const verifier = verifierFor('crm');
    for (const token of [
      forge('RS256', rsa.privateKey, 'sha256'),
      forge('ES384', p384.privateKey, 'sha384', 'ieee-p1363'),
      `${b64({ alg: 'none', typ: 'mcp-identity-assertion+jwt', kid })}.${claims}.`,
      forge('HS256', null, null),
    ]) {
      await rejected(verifier.verify(token));
    }
  });

  it('refuses an assertion signed by another key under the published kid', async () => {
    const other = new LocalAssertionSigner();
    const input = `${b64({ alg: 'ES256', typ: 'mcp-identity-assertion+jwt', kid: await signer.keyId() })}.${b64(goodClaims())}`;
    const token = `${input}.${Buffer.from(await other.sign(input)).toString('base64url')}`;
    expect(await rejected(verifierFor('crm').verify(token))).toMatch(/signature/i);
  });

  it('refuses an access token of the identity provider', async () => {
    const idp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const input = `${b64({ alg: 'ES256', typ: 'JWT', kid: 'idp-key' })}.${b64({ ...goodClaims(), iss: 'https://idp.example.com' })}`;
    const token = `${input}.${sign('sha256', Buffer.from(input), { key: idp.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    await rejected(verifierFor('crm').verify(token));
  });

  it.each([
    ['no exp', { exp: undefined }, 'iat and exp are required'],
    ['no iat', { iat: undefined }, 'iat and exp are required'],
    ['a lifetime over 300 s', { exp: now() + 301 }, 'its lifetime must be 1 to 300 seconds'],
    ['exp before iat', { iat: now() + 10, exp: now() + 5 }, 'its lifetime must be 1 to 300 seconds'],
    ['no sub', { sub: undefined }, 'iss, sub and jti must be non-empty strings'],
    ['an empty sub', { sub: '' }, 'iss, sub and jti must be non-empty strings'],
    ['no jti', { jti: undefined }, 'iss, sub and jti must be non-empty strings'],
    ['roles not a list', { roles: 'developer' }, 'roles must be a list of strings'],
    ['a role that is not a string', { roles: ['developer', 7] }, 'roles must be a list of strings'],
    ['an audience list', { aud: ['crm', 'orders'] }, 'aud must be one target name'],
    ['an empty client_id', { client_id: '' }, 'client_id must be a non-empty string'],
    ['act without sub', { act: { act: { sub: 'x' } } }, 'act must be an RFC 8693 actor chain'],
    ['act nested wrongly', { act: { sub: 'a', act: 'b' } }, 'act must be an RFC 8693 actor chain'],
  ])('refuses claims an assertion never has: %s', async (_, change, message) => {
    const token = await signed({}, { ...goodClaims(), ...change });
    expect(await rejected(verifierFor('crm').verify(token))).toBe(`not an identity assertion: ${message}`);
  });

  it('returns only the documented claims', async () => {
    const token = await signed(
      {},
      { ...goodClaims(), email: 'alice@example.com', client_id: 'agent', act: { sub: 'a' } },
    );
    expect(await verifierFor('crm').verify(token)).toStrictEqual({
      ...goodClaims(),
      iat: expect.any(Number),
      exp: expect.any(Number),
      client_id: 'agent',
      act: { sub: 'a' },
    });
  });

  it.each([
    ['no header', undefined, 'no identity assertion'],
    ['an empty header', '', 'no identity assertion'],
    ['two headers', ['a.b.c', 'a.b.c'], 'more than one identity assertion header'],
    ['an empty list', [], 'no identity assertion'],
    ['a bearer prefix', 'Bearer a.b.c', 'identity assertion is not a compact JWS'],
    ['two parts', 'a.b', 'identity assertion is not a compact JWS'],
    ['a huge value', `a.${'b'.repeat(50_000)}.c`, 'identity assertion is too large'],
  ])('refuses %s', async (_, value, message) => {
    expect(await rejected(verifierFor('crm').verify(value as string))).toBe(message);
  });

  it('says the keys are unavailable, not that the assertion is bad, when the JWKS cannot be fetched', async () => {
    const token = await assertion('crm');
    jwksStatus = 503;
    try {
      const verifier = verifierFor('crm');
      await expect(verifier.verify(token)).rejects.toThrow(AssertionKeysUnavailableError);
      await expect(verifier.hydrate()).rejects.toThrow(AssertionKeysUnavailableError);
    } finally {
      jwksStatus = 200;
    }
  });

  it('hydrates the JWKS ahead of the first request', async () => {
    const verifier = verifierFor('crm');
    await verifier.hydrate();
    expect((await verifier.verify(await assertion('crm'))).sub).toBe('alice');
  });

  it.each([
    [{ issuer: '' }, 'issuer is required'],
    [{ audience: '' }, 'audience (this target’s name) is required'],
    [
      { jwksUri: 'http://keys.example.com/jwks.json' },
      'jwksUri must use https (plain http only to loopback): http://keys.example.com/jwks.json',
    ],
    [{ jwksUri: 'not a url' }, 'jwksUri is not a URL: not a url'],
    [{ graceSeconds: 61 }, 'graceSeconds must be an integer from 0 to 60'],
    [{ graceSeconds: -1 }, 'graceSeconds must be an integer from 0 to 60'],
  ])('refuses options that cannot be right: %j', (change, message) => {
    expect(() => createAssertionVerifier({ issuer: ISSUER, audience: 'crm', jwksUri, ...change })).toThrow(
      new TypeError(message),
    );
  });

  it('accepts an https JWKS URL', () => {
    expect(() =>
      createAssertionVerifier({
        issuer: ISSUER,
        audience: 'crm',
        jwksUri: 'https://keys.example.com/jwks.json',
      }),
    ).not.toThrow();
  });
});
