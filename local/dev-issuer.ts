import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, type KeyLike, SignJWT } from 'jose';
import type { JwtVerifierSettings } from '../lambda/adapters/jwt-token-verifier';
import { DEFAULT_CLAIM_NAMES } from '../lambda/core/caller';
import { refuseNonLoopback, singleHeader } from './loopback-checks';
import { MAX_DEV_TTL_SECONDS } from './stack-names';
import type { LocalUsers } from './users';

export type DevAlgorithm = 'RS256' | 'ES256';

interface SigningKey {
  readonly kid: string;
  readonly alg: DevAlgorithm;
  readonly privateKey: KeyLike;
  readonly publicJwk: JWK;
}

export interface DevIssuerOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default ['RS256', 'ES256'] */
  readonly algorithms?: readonly DevAlgorithm[];
  /** Users the `POST /token` endpoint mints tokens for (the local stack's users file). */
  readonly users?: () => LocalUsers;
  /** `aud` of minted tokens. */
  readonly audience?: string;
  /** `client_id` of minted tokens: the agent the person uses. @default 'mcp-identity-local-agent' */
  readonly clientId?: string;
}

/** An agent or actor name the local token endpoint accepts. */
const ACTOR_NAME = /^[A-Za-z0-9._@:/-]{1,64}$/;

/** RFC 8693 `act`: the current actor outermost, each earlier one nested in it. */
export function actClaim(actors: readonly string[]): Record<string, unknown> | undefined {
  return actors.reduceRight<Record<string, unknown> | undefined>(
    (inner, sub) => (inner === undefined ? { sub } : { sub, act: inner }),
    undefined,
  );
}

export { MAX_DEV_TTL_SECONDS };

export interface SignOptions {
  readonly alg?: DevAlgorithm;
  /** Lifetime in seconds. @default 900 */
  readonly ttlSeconds?: number;
  /** Override the key id written in the header (to test unknown keys). */
  readonly kid?: string;
  /** Leave `exp` out (to test that long-lived tokens are refused). */
  readonly noExpiry?: boolean;
}

/**
 * A development OIDC issuer on loopback: discovery document and JWKS over HTTP, ephemeral keys made at start
 * (nothing to leak, nothing to rotate). It signs with `jose`; verification on the other side is aws-jwt-verify,
 * exactly as in AWS. It never binds beyond 127.0.0.1.
 */
async function readJson(request: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
}

function isJsonBody(request: IncomingMessage): boolean {
  const type = singleHeader(request, 'content-type');
  return (
    typeof type === 'string' && (type.split(';')[0] as string).trim().toLowerCase() === 'application/json'
  );
}

export class DevIssuer {
  private constructor(
    private readonly server: Server,
    private readonly keys: readonly SigningKey[],
    readonly issuer: string,
  ) {}

  static async start(options: DevIssuerOptions = {}): Promise<DevIssuer> {
    const keys: SigningKey[] = [];
    for (const alg of options.algorithms ?? ['RS256', 'ES256']) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const kid = `dev-${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`;
      keys.push({
        kid,
        alg,
        privateKey,
        publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
      });
    }
    let issuer = '';
    let self: DevIssuer | undefined;
    const server = createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        response.end(JSON.stringify(body));
      };
      // `POST /token` mints a token for any listed user: a page that rebinds its name to 127.0.0.1, or posts
      // cross-site, must get nothing here (nor the discovery document and JWKS).
      if (refuseNonLoopback(request, response, 'the dev issuer')) return;
      if (request.method === 'POST' && path === '/token' && !isJsonBody(request)) {
        // No HTML form can send application/json without a CORS preflight, which this issuer never answers.
        request.resume();
        return send(415, {
          error: 'invalid_request',
          error_description: 'the token endpoint takes Content-Type: application/json',
        });
      }
      if (
        request.method === 'POST' &&
        path === '/token' &&
        options.users !== undefined &&
        self !== undefined
      ) {
        const issuerInstance = self;
        const users = options.users;
        readJson(request)
          .then(async (body) => {
            const name = typeof body?.user === 'string' ? body.user : '';
            const ttl = typeof body?.ttlSeconds === 'number' ? body.ttlSeconds : 900;
            if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_DEV_TTL_SECONDS) {
              return send(400, {
                error: 'invalid_request',
                error_description: `ttlSeconds must be 1..${MAX_DEV_TTL_SECONDS}`,
              });
            }
            // `agent` (the token's client_id) and `act` (a delegation chain, current actor first) let agent and
            // delegation rules be tried locally; they name local test actors, so the same characters as user names.
            const agent = body?.agent;
            const act = body?.act ?? [];
            if (
              (agent !== undefined && !(typeof agent === 'string' && ACTOR_NAME.test(agent))) ||
              !Array.isArray(act) ||
              act.length > 10 ||
              act.some((actor) => !(typeof actor === 'string' && ACTOR_NAME.test(actor)))
            ) {
              return send(400, {
                error: 'invalid_request',
                error_description:
                  'agent and each act entry are 1-64 letters, digits, . _ @ : / - (at most 10 actors)',
              });
            }
            const known = users();
            const user = known[name];
            if (user === undefined) {
              return send(404, {
                error: 'unknown_user',
                error_description: `unknown user '${name}'`,
                users: Object.keys(known),
              });
            }
            const token = await issuerInstance.sign(
              {
                sub: name,
                ...(user.email ? { email: user.email } : {}),
                roles: user.roles,
                aud: options.audience,
                client_id:
                  typeof agent === 'string' ? agent : (options.clientId ?? 'mcp-identity-local-agent'),
                ...(act.length === 0 ? {} : { act: actClaim(act as string[]) }),
              },
              { ttlSeconds: ttl },
            );
            return send(200, { access_token: token, token_type: 'Bearer', expires_in: ttl });
          })
          .catch(() =>
            send(400, {
              error: 'invalid_request',
              error_description: 'send JSON: {"user": "alice", "ttlSeconds": 900}',
            }),
          );
        return;
      }
      if (request.method !== 'GET') return send(405, { error: 'method not allowed' });
      if (path === '/.well-known/openid-configuration') {
        return send(200, {
          issuer,
          jwks_uri: `${issuer}/.well-known/jwks.json`,
          id_token_signing_alg_values_supported: keys.map((key) => key.alg),
          response_types_supported: ['token'],
          subject_types_supported: ['public'],
        });
      }
      if (path === '/.well-known/jwks.json') return send(200, { keys: keys.map((key) => key.publicJwk) });
      return send(404, { error: 'not found' });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    self = new DevIssuer(server, keys, issuer);
    return self;
  }

  /** Verifier settings that trust this issuer for `audience` (what the local stack, tests and bench use). */
  verifierSettings(audience: string): JwtVerifierSettings {
    return {
      issuer: this.issuer,
      audience: [audience],
      discoveryUrl: this.discoveryUrl,
      algorithms: ['RS256', 'ES256'],
      graceSeconds: 0,
      claimNames: DEFAULT_CLAIM_NAMES,
      fetchTimeoutMs: 1500,
    };
  }

  get discoveryUrl(): string {
    return `${this.issuer}/.well-known/openid-configuration`;
  }

  get jwksUri(): string {
    return `${this.issuer}/.well-known/jwks.json`;
  }

  /** The public JWKS (what the server serves). */
  get jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((key) => key.publicJwk) };
  }

  /** Signs claims; `iss`, `iat`, `exp` and `jti` are set unless given. */
  async sign(claims: JWTPayload, options: SignOptions = {}): Promise<string> {
    const key = this.keys.find((candidate) => candidate.alg === (options.alg ?? this.keys[0]?.alg));
    if (key === undefined) throw new Error(`the dev issuer has no ${options.alg} key`);
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ jti: randomUUID(), ...claims })
      .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, typ: 'JWT' })
      .setIssuer(typeof claims.iss === 'string' ? claims.iss : this.issuer)
      .setIssuedAt(typeof claims.iat === 'number' ? claims.iat : now);
    if (!options.noExpiry)
      jwt.setExpirationTime(typeof claims.exp === 'number' ? claims.exp : now + (options.ttlSeconds ?? 900));
    return jwt.sign(key.privateKey);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
