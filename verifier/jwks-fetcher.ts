import { FetchError } from 'aws-jwt-verify/error';
import type { Fetcher } from 'aws-jwt-verify/https';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The JWKS comes over https, or plain http to loopback only (the local stack): keys in clear could be swapped. */
export function checkJwksUri(uri: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new TypeError(`jwksUri is not a URL: ${uri}`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return url;
  throw new TypeError(`jwksUri must use https (plain http only to loopback): ${uri}`);
}

/** Largest JWKS document read (a JWKS of a few keys is well under 10 kB). */
const MAX_JWKS_BYTES = 64 * 1024;

/**
 * aws-jwt-verify's own fetcher speaks https only; this one uses the platform fetch (Node ≥ 18) so the local
 * stack's loopback JWKS works, with a hard timeout, no redirects and a size bound.
 */
export class JwksFetcher implements Fetcher {
  constructor(private readonly timeoutMs: number) {}

  async fetch(uri: string): Promise<ArrayBuffer> {
    checkJwksUri(uri);
    let response: Response;
    try {
      response = await fetch(uri, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
    } catch (error) {
      throw new FetchError(uri, error instanceof Error ? error.message : 'fetch failed');
    }
    if (response.status !== 200) throw new FetchError(uri, `HTTP ${response.status}`);
    const body = await response.arrayBuffer();
    if (body.byteLength > MAX_JWKS_BYTES)
      throw new FetchError(uri, `JWKS larger than ${MAX_JWKS_BYTES} bytes`);
    return body;
  }
}
