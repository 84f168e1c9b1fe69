import { createPublicKey, verify } from 'node:crypto';
import { AssertionCache } from '../../lambda/adapters/assertion-cache';
import { LocalAssertionSigner } from '../../lambda/adapters/local-assertion-signer';
import type { Caller } from '../../lambda/core/caller';
import { AssertionSigningError } from '../../lambda/core/errors';
import type { AssertionSigner } from '../../lambda/core/identity-assertion';
import { jwkThumbprint } from '../../lambda/core/jwk-thumbprint';

const ISSUER = 'https://gateway.example.com';
const T0 = 1_700_000_000_000; // ms

const alice: Caller = {
  subject: 'alice',
  issuer: 'https://idp.example.com',
  roles: ['developer', 'db-reader'],
  agent: 'claude-desktop',
  tokenId: 'jti-1',
  actors: ['agent-a'],
  issuedAt: T0 / 1000 - 10,
  expiresAt: T0 / 1000 + 3600,
};

function parts(token: string) {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const json = (part: string) =>
    JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: json(header), claims: json(payload), input: `${header}.${payload}`, signature };
}

/** A local signer whose signing can be held, failed, and counted. */
class TestSigner implements AssertionSigner {
  readonly inner = new LocalAssertionSigner();
  signs = 0;
  keyIds = 0;
  hold: Promise<void> | undefined;
  failWith: unknown;

  async keyId(): Promise<string> {
    this.keyIds += 1;
    return this.inner.keyId();
  }

  async sign(input: string): Promise<Uint8Array> {
    this.signs += 1;
    await this.hold;
    if (this.failWith !== undefined) throw this.failWith;
    return this.inner.sign(input);
  }
}

function setup(settings: Partial<ConstructorParameters<typeof AssertionCache>[1]> = {}) {
  let now = T0;
  let ids = 0;
  const signer = new TestSigner();
  const cache = new AssertionCache(
    signer,
    { issuer: ISSUER, ttlSeconds: 300, ...settings },
    () => now,
    () => `id-${++ids}`,
  );
  return {
    signer,
    cache,
    at: (ms: number) => {
      now = T0 + ms;
    },
  };
}

describe('AssertionCache', () => {
  it('signs a verifiable ES256 assertion with the documented header and claims', async () => {
    const { cache, signer } = setup();

    const token = await cache.assertion(alice, 'crm');

    const { header, claims, input, signature } = parts(token);
    expect(header).toStrictEqual({
      alg: 'ES256',
      typ: 'mcp-identity-assertion+jwt',
      kid: await signer.inner.keyId(),
    });
    expect(claims).toStrictEqual({
      iss: ISSUER,
      sub: 'alice',
      aud: 'crm',
      roles: ['developer', 'db-reader'],
      client_id: 'claude-desktop',
      act: { sub: 'agent-a' },
      iat: T0 / 1000,
      exp: T0 / 1000 + 300,
      jti: 'id-1',
    });
    const jwk = signer.inner.jwks().keys[0];
    const key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
    expect(
      verify(
        'sha256',
        Buffer.from(input),
        { key, dsaEncoding: 'ieee-p1363' },
        Buffer.from(signature, 'base64url'),
      ),
    ).toBe(true);
  });

  it('reuses the assertion for the same caller and target: one Sign call', async () => {
    const { cache, signer } = setup();
    const first = await cache.assertion(alice, 'crm');
    for (let index = 0; index < 20; index += 1) expect(await cache.assertion(alice, 'crm')).toBe(first);
    expect(signer.signs).toBe(1);
    expect(cache.signs).toBe(1);
    expect(cache.hits).toBe(20);
  });

  it('reuses it for a refreshed token carrying the same claims', async () => {
    const { cache, signer } = setup();
    const first = await cache.assertion(alice, 'crm');
    const refreshed: Caller = {
      ...alice,
      tokenId: 'jti-2',
      issuedAt: alice.expiresAt - 100,
      expiresAt: alice.expiresAt + 900,
    };
    expect(await cache.assertion(refreshed, 'crm')).toBe(first);
    expect(signer.signs).toBe(1);
  });

  it.each<[string, Partial<Caller> | undefined, string]>([
    ['another user', { subject: 'bob' }, 'crm'],
    ['another role', { roles: ['developer'] }, 'crm'],
    ['one more role', { roles: ['developer', 'db-reader', 'admin'] }, 'crm'],
    ['no roles', { roles: [] }, 'crm'],
    ['another agent', { agent: 'other-agent' }, 'crm'],
    ['no agent', { agent: undefined }, 'crm'],
    ['another delegation chain', { actors: ['agent-b'] }, 'crm'],
    ['a longer chain', { actors: ['agent-a', 'agent-z'] }, 'crm'],
    ['no chain', { actors: [] }, 'crm'],
    ['another target', undefined, 'orders'],
  ])('never shares an assertion with %s', async (_, change, target) => {
    const { cache, signer } = setup();
    const mine = await cache.assertion(alice, 'crm');
    const other: Caller = { ...alice, ...change };

    const theirs = await cache.assertion(other, target);

    expect(theirs).not.toBe(mine);
    expect(signer.signs).toBe(2);
    const claims = parts(theirs).claims;
    expect(claims.sub).toBe(other.subject);
    expect(claims.roles).toStrictEqual(other.roles);
    expect(claims.client_id).toBe(other.agent);
    expect(claims.aud).toBe(target);
  });

  it('replaces an assertion 60 seconds before it expires', async () => {
    const { cache, signer, at } = setup();
    const first = await cache.assertion(alice, 'crm');
    at(239_999);
    expect(await cache.assertion(alice, 'crm')).toBe(first);
    at(240_000);
    const second = await cache.assertion(alice, 'crm');
    expect(second).not.toBe(first);
    expect(parts(second).claims).toMatchObject({ iat: T0 / 1000 + 240, exp: T0 / 1000 + 540, jti: 'id-2' });
    expect(signer.signs).toBe(2);
  });

  it('replaces a short-lived assertion at half its lifetime', async () => {
    const { cache, at } = setup({ ttlSeconds: 30 });
    const first = await cache.assertion(alice, 'crm');
    expect(parts(first).claims.exp).toBe(T0 / 1000 + 30);
    at(14_999);
    expect(await cache.assertion(alice, 'crm')).toBe(first);
    at(15_000);
    expect(await cache.assertion(alice, 'crm')).not.toBe(first);
  });

  it('honours another refresh margin', async () => {
    const { cache, at } = setup({ refreshBeforeSeconds: 10 });
    const first = await cache.assertion(alice, 'crm');
    at(289_999);
    expect(await cache.assertion(alice, 'crm')).toBe(first);
    at(290_000);
    expect(await cache.assertion(alice, 'crm')).not.toBe(first);
  });

  it('never makes or hands out an assertion that outlives the caller’s token', async () => {
    const { cache, signer } = setup();
    const first = await cache.assertion(alice, 'crm');
    const expiringSoon: Caller = { ...alice, tokenId: 'jti-2', expiresAt: T0 / 1000 + 100 };

    const second = await cache.assertion(expiringSoon, 'crm');

    expect(second).not.toBe(first);
    expect(parts(second).claims.exp).toBe(T0 / 1000 + 100);
    expect(signer.signs).toBe(2);
    // The longer-lived one is not handed back to the short-lived token either.
    expect(await cache.assertion(expiringSoon, 'crm')).toBe(second);
  });

  it('never makes or hands out an assertion carrying a granted role past the grant’s expiry', async () => {
    const { cache, signer } = setup();
    const granted: Caller = {
      ...alice,
      roles: [...alice.roles, 'order-admin'],
      grants: [
        { id: 'g-2', role: 'order-admin', expiresAt: T0 / 1000 + 90 },
        { id: 'g-3', role: 'auditor', expiresAt: T0 / 1000 + 200 },
      ],
    };

    const assertion = await cache.assertion(granted, 'crm');

    expect(parts(assertion).claims.exp).toBe(T0 / 1000 + 90);
    expect(await cache.assertion(granted, 'crm')).toBe(assertion);
    expect(signer.signs).toBe(1);
  });

  it('refuses, typed, a caller whose token has expired', async () => {
    const { cache, at } = setup();
    at(3_600_000);
    await expect(cache.assertion(alice, 'crm')).rejects.toThrow(AssertionSigningError);
  });

  it('makes one Sign call for 50 simultaneous misses, and all get the same assertion', async () => {
    const { cache, signer } = setup();
    let release: () => void = () => undefined;
    signer.hold = new Promise((resolve) => {
      release = resolve;
    });

    const pending = Array.from({ length: 50 }, () => cache.assertion(alice, 'crm'));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const tokens = await Promise.all(pending);

    expect(signer.signs).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    expect(await cache.assertion(alice, 'crm')).toBe(tokens[0]);
    expect(signer.signs).toBe(1);
  });

  it('does not share an in-flight assertion with a token that expires before it', async () => {
    const { cache, signer } = setup();
    let release: () => void = () => undefined;
    signer.hold = new Promise((resolve) => {
      release = resolve;
    });
    const expiringSoon: Caller = { ...alice, tokenId: 'jti-2', expiresAt: T0 / 1000 + 100 };

    const pending = [cache.assertion(alice, 'crm'), cache.assertion(expiringSoon, 'crm')];
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const [long, short] = await Promise.all(pending);

    expect(parts(long as string).claims.exp).toBe(T0 / 1000 + 300);
    expect(parts(short as string).claims.exp).toBe(T0 / 1000 + 100);
    expect(signer.signs).toBe(2);
  });

  it('keeps simultaneous misses of different callers apart', async () => {
    const { cache, signer } = setup();
    const bob: Caller = { ...alice, subject: 'bob' };
    const tokens = await Promise.all([
      cache.assertion(alice, 'crm'),
      cache.assertion(bob, 'crm'),
      cache.assertion(alice, 'orders'),
      cache.assertion(alice, 'crm'),
    ]);
    expect(signer.signs).toBe(3);
    expect(tokens.map((token) => [parts(token).claims.sub, parts(token).claims.aud])).toStrictEqual([
      ['alice', 'crm'],
      ['bob', 'crm'],
      ['alice', 'orders'],
      ['alice', 'crm'],
    ]);
  });

  it('fails closed: a KMS failure is an AssertionSigningError for every waiter, and is not remembered', async () => {
    const { cache, signer } = setup();
    signer.failWith = new AssertionSigningError('KMS Sign failed: ThrottlingException: Rate exceeded');

    const results = await Promise.allSettled(Array.from({ length: 50 }, () => cache.assertion(alice, 'crm')));

    expect(signer.signs).toBe(1);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(AssertionSigningError);
      expect((result as PromiseRejectedResult).reason.message).toBe(
        'KMS Sign failed: ThrottlingException: Rate exceeded',
      );
    }
    signer.failWith = undefined;
    expect(parts(await cache.assertion(alice, 'crm')).claims.sub).toBe('alice');
    expect(signer.signs).toBe(2);
  });

  it('wraps an unexpected signer failure in AssertionSigningError', async () => {
    const { cache, signer } = setup();
    signer.failWith = new TypeError('boom');
    const failure = cache.assertion(alice, 'crm');
    await expect(failure).rejects.toThrow(AssertionSigningError);
    await expect(failure).rejects.toThrow('identity assertion signing failed: boom');
    signer.failWith = 'not an error';
    await expect(cache.assertion(alice, 'crm')).rejects.toThrow(
      'identity assertion signing failed: not an error',
    );
  });

  it('fails closed when the key id cannot be read', async () => {
    const signer: AssertionSigner = {
      keyId: () =>
        Promise.reject(new AssertionSigningError('KMS GetPublicKey failed: AccessDeniedException: no')),
      sign: () => Promise.reject(new Error('unreachable')),
    };
    const cache = new AssertionCache(signer, { issuer: ISSUER, ttlSeconds: 300 }, () => T0);
    await expect(cache.assertion(alice, 'crm')).rejects.toThrow(
      'KMS GetPublicKey failed: AccessDeniedException: no',
    );
  });

  it('is bounded: the least recently used assertion is dropped first', async () => {
    const { cache, signer } = setup({ maxEntries: 2 });
    await cache.assertion(alice, 'a');
    await cache.assertion(alice, 'b');
    await cache.assertion(alice, 'a');
    await cache.assertion(alice, 'c'); // evicts b
    expect(signer.signs).toBe(3);
    await cache.assertion(alice, 'a');
    expect(signer.signs).toBe(3);
    await cache.assertion(alice, 'b');
    expect(signer.signs).toBe(4);
  });

  it('gives every assertion its own id (random by default)', async () => {
    const cache = new AssertionCache(new LocalAssertionSigner(), { issuer: ISSUER, ttlSeconds: 300 });
    const caller: Caller = { ...alice, expiresAt: Math.floor(Date.now() / 1000) + 600 };
    const ids = new Set<unknown>();
    for (const target of ['a', 'b', 'c', 'd'])
      ids.add(parts(await cache.assertion(caller, target)).claims.jti);
    expect(ids.size).toBe(4);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('refuses an assertion lifetime over 300 seconds at construction', () => {
    expect(() => new AssertionCache(new LocalAssertionSigner(), { issuer: ISSUER, ttlSeconds: 301 })).toThrow(
      'identity assertion lifetime must be 1 to 300 whole seconds (got 301)',
    );
  });
});

describe('LocalAssertionSigner', () => {
  it('publishes one public P-256 key named by its thumbprint, and signs verifiable R||S', async () => {
    const signer = new LocalAssertionSigner();
    const { keys } = signer.jwks();
    expect(keys).toHaveLength(1);
    const [jwk] = keys as [(typeof keys)[number]];
    expect(Object.keys(jwk).sort()).toStrictEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwk.kid).toBe(jwkThumbprint(jwk));
    expect(await signer.keyId()).toBe(jwk.kid);
    const signature = await signer.sign('a.b');
    expect(signature).toHaveLength(64);
    const key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
    expect(verify('sha256', Buffer.from('a.b'), { key, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
    expect(signer.signs).toBe(1);
  });

  it('makes a new key per instance', async () => {
    expect(await new LocalAssertionSigner().keyId()).not.toBe(await new LocalAssertionSigner().keyId());
  });
});
