import { createHmac, createPublicKey, createSign, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import {
  assertKeyUrl,
  bearerToken,
  discoverJwksUri,
  JwtTokenVerifier,
  type JwtVerifierSettings,
  MAX_TOKEN_BYTES,
} from '../../lambda/adapters/jwt-token-verifier';
import { InvalidClaimsError, InvalidTokenError, IssuerUnavailableError } from '../../lambda/core/errors';
import { DevIssuer } from '../../local/dev-issuer';

const AUDIENCE = 'mcp+https://gateway.example.com/mcp';
let issuer: DevIssuer;
let verifier: JwtTokenVerifier;

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function settings(overrides: Partial<JwtVerifierSettings> = {}): JwtVerifierSettings {
  return { ...issuer.verifierSettings(AUDIENCE), fetchTimeoutMs: 1000, ...overrides };
}

const claims = (extra: Record<string, unknown> = {}) => ({
  sub: 'alice',
  roles: ['developer'],
  aud: AUDIENCE,
  ...extra,
});

beforeAll(async () => {
  issuer = await DevIssuer.start();
  verifier = new JwtTokenVerifier(settings());
  await verifier.hydrate();
});
afterAll(() => issuer.stop());

describe('JwtTokenVerifier accepts', () => {
  it.each(['RS256', 'ES256'] as const)('a valid %s token and names the caller', async (alg) => {
    const token = await issuer.sign(claims({ email: 'alice@example.com', client_id: 'agent-1' }), { alg });
    const caller = await verifier.verify(token);
    expect(caller).toMatchObject({
      subject: 'alice',
      roles: ['developer'],
      email: 'alice@example.com',
      agent: 'agent-1',
      issuer: issuer.issuer,
    });
  });

  it('a token whose JWKS URI is configured directly (no discovery)', async () => {
    const direct = new JwtTokenVerifier(settings({ discoveryUrl: undefined, jwksUri: issuer.jwksUri }));
    await expect(direct.verify(await issuer.sign(claims()))).resolves.toMatchObject({ subject: 'alice' });
  });
});

describe('JwtTokenVerifier rejects', () => {
  const rejects = async (token: string, type: new (...args: any[]) => Error = InvalidTokenError) => {
    await expect(verifier.verify(token)).rejects.toBeInstanceOf(type);
  };

  it('alg none', async () => {
    const valid = await issuer.sign(claims());
    const [, payload] = valid.split('.');
    await rejects(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`);
  });

  it('HS256 signed with the public key (algorithm confusion)', async () => {
    const jwk = issuer.jwks.keys[0];
    const pem = createPublicKey({ key: jwk as any, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const head = b64({ alg: 'HS256', typ: 'JWT', kid: jwk?.kid });
    const body = b64({ ...claims(), iss: issuer.issuer, exp: now() + 600 });
    const signature = createHmac('sha256', pem).update(`${head}.${body}`).digest('base64url');
    await rejects(`${head}.${body}.${signature}`);
  });

  it('an expired token', async () => {
    await rejects(await issuer.sign(claims({ iat: now() - 7200, exp: now() - 3600 })));
  });

  it('a token not yet valid', async () => {
    await rejects(await issuer.sign(claims({ nbf: now() + 3600 })));
  });

  it('a wrong audience', async () => {
    await rejects(await issuer.sign(claims({ aud: 'https://other.example.com' })));
  });

  it('a wrong issuer', async () => {
    await rejects(await issuer.sign(claims({ iss: 'https://evil.example.com' })));
  });

  it('an unknown kid', async () => {
    await rejects(await issuer.sign(claims(), { kid: 'not-a-key' }));
  });

  it('a tampered payload', async () => {
    const [head, , signature] = (await issuer.sign(claims())).split('.');
    await rejects(
      `${head}.${b64({ ...claims({ roles: ['order-admin'] }), iss: issuer.issuer, exp: now() + 600 })}.${signature}`,
    );
  });

  it.each(['garbage', 'a.b.c', '...', '', 'eyJhbGciOiJSUzI1NiJ9.e30'])('garbage: %j', async (token) => {
    await rejects(token);
  });

  it('a 100 kB token without parsing it', async () => {
    const huge = `${b64({ alg: 'RS256', kid: 'x', pad: 'x'.repeat(100 * 1024) })}.e30.sig`;
    expect(huge.length).toBeGreaterThan(MAX_TOKEN_BYTES);
    await rejects(huge);
  });

  it('an algorithm that is not in the allow-list', async () => {
    const rsOnly = new JwtTokenVerifier(settings({ algorithms: ['RS256'] }));
    await expect(rsOnly.verify(await issuer.sign(claims(), { alg: 'ES256' }))).rejects.toThrow(/not allowed/);
  });

  it('a correctly signed token without exp (only short-lived tokens are accepted)', async () => {
    await rejects(await issuer.sign(claims(), { noExpiry: true }), InvalidClaimsError);
  });

  it('a token without a subject', async () => {
    await expect(verifier.verify(await issuer.sign({ aud: AUDIENCE, roles: [] }))).rejects.toBeInstanceOf(
      InvalidClaimsError,
    );
  });
});

describe('JwtTokenVerifier enforces allowedClients and requiredClaims (as AgentCore does, on every door)', () => {
  const verifierWith = (overrides: Partial<JwtVerifierSettings>) => new JwtTokenVerifier(settings(overrides));
  const refusal = async (v: JwtTokenVerifier, token: string): Promise<InvalidClaimsError> => {
    const error = await v.verify(token).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(InvalidClaimsError);
    return error as InvalidClaimsError;
  };

  it.each([
    ['client_id (Cognito)', ['client_id', 'azp'], { client_id: 'agent-1' }],
    ['azp (OIDC)', ['client_id', 'azp'], { azp: 'agent-1' }],
    ['cid (Okta)', ['cid'], { cid: 'agent-1' }],
  ])('accepts an allowed client named by %s', async (_name, agent, extra) => {
    const v = verifierWith({
      allowedClients: ['agent-1'],
      claimNames: { ...settings().claimNames, agent },
    });
    await expect(v.verify(await issuer.sign(claims(extra)))).resolves.toMatchObject({ agent: 'agent-1' });
  });

  it.each([
    ['client_id', { client_id: 'agent-9' }],
    ['azp', { azp: 'agent-9' }],
  ])('refuses a client not allowed, by %s, naming the setting but not the token', async (_name, extra) => {
    const v = verifierWith({ allowedClients: ['agent-1'] });
    const token = await issuer.sign(claims(extra));
    const error = await refusal(v, token);
    expect(error.message).toContain('not one of the allowed clients');
    expect(error.message).not.toContain(token);
    expect(error.safeReason).toBe('The access token is missing, invalid or expired.');
  });

  it('uses the first agent claim present: client_id wins over an allowed azp', async () => {
    const v = verifierWith({ allowedClients: ['agent-1'] });
    await refusal(v, await issuer.sign(claims({ client_id: 'agent-9', azp: 'agent-1' })));
  });

  it('refuses a token naming no client when allowed clients are set', async () => {
    const error = await refusal(verifierWith({ allowedClients: ['agent-1'] }), await issuer.sign(claims()));
    expect(error.message).toContain('names no client');
  });

  it('refuses an Entra app-only token (no idtyp=user) and accepts a user token', async () => {
    const v = verifierWith({ requiredClaims: [{ name: 'idtyp', match: 'EQUALS', values: ['user'] }] });
    await expect(v.verify(await issuer.sign(claims({ idtyp: 'user' })))).resolves.toMatchObject({
      subject: 'alice',
    });
    const appOnly = await refusal(v, await issuer.sign(claims({ idtyp: 'app' })));
    expect(appOnly.message).toBe("token claim 'idtyp' does not satisfy EQUALS (required claim)");
    await refusal(v, await issuer.sign(claims()));
    await refusal(v, await issuer.sign(claims({ idtyp: ['user'] })));
  });

  it('applies CONTAINS and CONTAINS_ANY to array claims only, without echoing the claim value', async () => {
    const v = verifierWith({
      requiredClaims: [
        { name: 'groups', match: 'CONTAINS', values: ['mcp-users'] },
        { name: 'scp', match: 'CONTAINS_ANY', values: ['mcp.read', 'mcp.write'] },
      ],
    });
    await expect(
      v.verify(await issuer.sign(claims({ groups: ['x', 'mcp-users'], scp: ['mcp.write'] }))),
    ).resolves.toMatchObject({ subject: 'alice' });
    const error = await refusal(v, await issuer.sign(claims({ groups: 'mcp-users', scp: ['secret-scope'] })));
    expect(error.message).toContain("'groups' does not satisfy CONTAINS");
    expect(error.message).toContain("'scp' does not satisfy CONTAINS_ANY");
    expect(error.message).not.toContain('secret-scope');
  });

  it('keeps accepting tokens when neither is configured', async () => {
    await expect(
      verifier.verify(await issuer.sign(claims({ client_id: 'anyone', idtyp: 'app' }))),
    ).resolves.toMatchObject({ agent: 'anyone' });
  });
});

describe('JwtTokenVerifier and the identity provider', () => {
  it('reports an unreachable issuer as unavailable, and recovers once it is back', async () => {
    const other = await DevIssuer.start();
    const token = await other.sign(claims());
    const discoveryUrl = other.discoveryUrl;
    const port = Number(new URL(other.issuer).port);
    await other.stop();
    const cold = new JwtTokenVerifier(settings({ issuer: other.issuer, discoveryUrl }));
    await expect(cold.verify(token)).rejects.toBeInstanceOf(IssuerUnavailableError);

    const back = await DevIssuer.start({ port });
    try {
      await expect(cold.verify(await back.sign(claims()))).resolves.toMatchObject({ subject: 'alice' });
    } finally {
      await back.stop();
    }
  });

  it('refuses a discovery document that names another issuer', async () => {
    await expect(
      discoverJwksUri(issuer.discoveryUrl, 'https://someone-else.example.com', 1000),
    ).rejects.toThrow(/does not match/);
  });

  it('refuses plain http key URLs except on loopback', () => {
    expect(() => assertKeyUrl('http://idp.example.com/jwks.json', 'JWKS URI')).toThrow(/https/);
    expect(() => assertKeyUrl('ftp://127.0.0.1/jwks.json', 'JWKS URI')).toThrow(/https/);
    expect(() => assertKeyUrl('not a url', 'JWKS URI')).toThrow(/not a URL/);
    expect(assertKeyUrl('http://127.0.0.1:8080/jwks.json', 'JWKS URI').hostname).toBe('127.0.0.1');
    expect(assertKeyUrl('https://idp.example.com/jwks.json', 'JWKS URI').protocol).toBe('https:');
  });

  it('requires issuer, audience, algorithms and a key location', () => {
    expect(() => new JwtTokenVerifier(settings({ issuer: '' }))).toThrow(/issuer/);
    expect(() => new JwtTokenVerifier(settings({ audience: [] }))).toThrow(/audience/);
    expect(() => new JwtTokenVerifier(settings({ algorithms: [] }))).toThrow(/algorithm/);
    expect(() => new JwtTokenVerifier(settings({ discoveryUrl: undefined, jwksUri: undefined }))).toThrow(
      /JWKS URI/,
    );
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
    ['Basic abc', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    [undefined, undefined],
  ])('%j → %j', (header, expected) => {
    expect(bearerToken(header)).toBe(expected);
  });
});

describe('JwtTokenVerifier and a broken identity provider', () => {
  it('reports a JWKS that is not one as unavailable (503), not as a bad token', async () => {
    let base = '';
    const server = createServer((request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(
        request.url?.includes('openid-configuration')
          ? JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` })
          : '{"keys": "nope"}',
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const broken = new JwtTokenVerifier(
        settings({ issuer: base, discoveryUrl: `${base}/.well-known/openid-configuration` }),
      );
      const token = await issuer.sign(claims({ iss: base }));
      await expect(broken.verify(token)).rejects.toBeInstanceOf(IssuerUnavailableError);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('JwtTokenVerifier refuses JWS edge cases (RFC 7515)', () => {
  const signRaw = (header: Record<string, unknown>, payload: Record<string, unknown>) => {
    const key = (
      issuer as unknown as { keys: { alg: string; kid: string; privateKey: KeyObject }[] }
    ).keys.find((candidate) => candidate.alg === 'RS256');
    if (key === undefined) throw new Error('no RS256 key');
    const input = `${b64({ ...header, alg: 'RS256', kid: key.kid })}.${b64(payload)}`;
    return `${input}.${createSign('RSA-SHA256').update(input).sign(key.privateKey).toString('base64url')}`;
  };
  const payload = () => ({ ...claims(), iss: issuer.issuer, iat: now(), exp: now() + 600 });

  it('accepts the same hand-signed token without crit (the test signs correctly)', async () => {
    await expect(verifier.verify(signRaw({ typ: 'JWT' }, payload()))).resolves.toMatchObject({
      subject: 'alice',
    });
  });

  it('rejects a validly signed token with an unknown crit header parameter', async () => {
    const token = signRaw(
      { typ: 'JWT', crit: ['urn:example:must-understand'], 'urn:example:must-understand': 1 },
      payload(),
    );
    await expect(verifier.verify(token)).rejects.toThrow(/critical extensions/);
  });

  it.each([
    ['padding', (part: string) => `${part}=`],
    ['non-zero trailing bits', (part: string) => flipTrailingBits(part)],
    ['a character outside base64url', (part: string) => `${part.slice(0, -1)}+`],
  ])('rejects %s in any part of the token', async (_, spoil) => {
    const token = signRaw({ typ: 'JWT' }, payload());
    for (let index = 0; index < 3; index += 1) {
      const parts = token.split('.');
      parts[index] = spoil(parts[index] as string);
      await expect(verifier.verify(parts.join('.'))).rejects.toThrow(/not canonical base64url/);
    }
  });

  it('rejects a token that is not three parts', async () => {
    const token = await issuer.sign(claims());
    await expect(verifier.verify(`${token}.x`)).rejects.toThrow(/compact serialization/);
  });
});

/** The same bytes spelled differently: set the unused low bits of the last base64url character. */
function flipTrailingBits(part: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const unused = [0, 0, 4, 2][part.length % 4] as number;
  const last = alphabet.indexOf(part.at(-1) as string);
  if (unused === 0) return `${part}A`; // no unused bits here: an extra character makes a length no decoder accepts canonically
  return `${part.slice(0, -1)}${alphabet[last | 1]}`;
}
