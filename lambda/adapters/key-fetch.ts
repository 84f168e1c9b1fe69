import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';

/** A discovery document or JWKS larger than this is refused: keys are a few kB. */
export const MAX_KEY_DOCUMENT_BYTES = 1024 * 1024;

/**
 * GET a URL and return its body when the answer is 200, within `timeoutMs` for the whole exchange. Redirects
 * are not followed (a key document that moves is refused, as `fetch` with `redirect: 'error'` did).
 *
 * Written on node:http/https rather than the global `fetch`: the first `fetch` in a process compiles Node's
 * bundled undici, measured at about a tenth of the interceptor's cold start, and nothing else in the Lambda
 * bundles uses it (the AWS SDK and aws-jwt-verify use node:http/https). URL checks (https, or loopback http)
 * are the caller's (`assertKeyUrl`).
 */
export function getOk(url: URL, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const get = url.protocol === 'https:' ? httpsGet : httpGet;
    let settled = false;
    const finish = (error: Error | undefined, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error === undefined) resolve(body as Buffer);
      else {
        request.destroy();
        reject(error);
      }
    };
    const request = get(url, { headers: { accept: 'application/json' } }, (response: IncomingMessage) => {
      if (response.statusCode !== 200) {
        response.resume();
        finish(new Error(`HTTP ${response.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_KEY_DOCUMENT_BYTES)
          finish(new Error(`response larger than ${MAX_KEY_DOCUMENT_BYTES} bytes`));
        else chunks.push(chunk);
      });
      response.on('end', () => finish(undefined, Buffer.concat(chunks)));
      response.on('error', (error) => finish(error));
    });
    request.on('error', (error) => finish(error));
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    timer.unref?.();
  });
}
