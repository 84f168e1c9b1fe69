import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { assertionSigningJwk } from '../core/jwk-thumbprint';
import { type DiagnosticLog, logger } from '../shared/logger';

/**
 * The identity assertion's public key as a JWKS document (RFC 7517), served by a Lambda Function URL: targets
 * verify the assertions the interceptor signs with the KMS key (ES256, kid = RFC 7638 thumbprint). The key is
 * read once per container with KMS GetPublicKey and kept; a failed read is not kept, so the next request retries.
 * Wiring only: the JWK is built by lambda/core/jwk-thumbprint.ts, shared with the signer.
 */

/** The paths the document is served at: the Function URL's root and the conventional well-known path. */
export const JWKS_PATHS: ReadonlySet<string> = new Set(['/', '/.well-known/jwks.json']);

export interface JwksHandlerDeps {
  readonly kms: Pick<KMSClient, 'send'>;
  /** The signing key's ARN (MCP_IDENTITY_ASSERTION_KEY_ID). */
  readonly keyId: string | undefined;
  /** How long clients and caches may keep the document. @default 300 */
  readonly maxAgeSeconds?: number;
  readonly log?: DiagnosticLog;
}

/** A Function URL response (payload 2.0, the structured form of LambdaFunctionURLResult). */
interface JwksResult {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): JwksResult => ({
  statusCode,
  headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
  body: JSON.stringify(body),
});

class SigningKeyUnusable extends Error {}

export function createJwksHandler(deps: JwksHandlerDeps) {
  const log = deps.log ?? logger;
  const maxAge = deps.maxAgeSeconds ?? 300;
  let document: Promise<string> | undefined;

  const load = async (): Promise<string> => {
    if (!deps.keyId) throw new SigningKeyUnusable('MCP_IDENTITY_ASSERTION_KEY_ID is not set');
    const key = await deps.kms.send(new GetPublicKeyCommand({ KeyId: deps.keyId }));
    // Fail closed on a key that cannot make ES256 assertions (a configured keyArn of another kind).
    if (key.KeySpec !== 'ECC_NIST_P256' || key.KeyUsage !== 'SIGN_VERIFY' || key.PublicKey === undefined)
      throw new SigningKeyUnusable(
        `the assertion key is ${key.KeySpec ?? 'of unknown spec'} / ${key.KeyUsage ?? 'of unknown usage'}; it must be ECC_NIST_P256 / SIGN_VERIFY`,
      );
    return JSON.stringify({ keys: [assertionSigningJwk(key.PublicKey)] });
  };

  return async (event: LambdaFunctionURLEvent): Promise<JwksResult> => {
    const method = event.requestContext?.http?.method ?? '';
    if (method !== 'GET' && method !== 'HEAD')
      return json(405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
    if (!JWKS_PATHS.has(event.rawPath ?? '')) return json(404, { error: 'not found' });
    document ??= load().catch((error: unknown) => {
      document = undefined;
      throw error;
    });
    let body: string;
    try {
      body = await document;
    } catch (error) {
      log.error('cannot publish the identity assertion key', {
        cause: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      return json(503, { error: 'the signing key is not available' }, { 'Retry-After': '30' });
    }
    return {
      statusCode: 200,
      headers: {
        'Content-Type': 'application/jwk-set+json',
        // Public and shared: the same document for everyone. A rotated key takes at most this long to show.
        'Cache-Control': `public, max-age=${maxAge}`,
      },
      body: method === 'HEAD' ? '' : body,
    };
  };
}

export const handler = createJwksHandler({
  kms: new KMSClient({}),
  keyId: process.env.MCP_IDENTITY_ASSERTION_KEY_ID,
});
