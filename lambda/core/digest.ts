import * as crypto from 'node:crypto';

type OneShotHash = (algorithm: string, data: string, encoding: 'base64url') => string;

/** `crypto.hash` (Node ≥ 20.12 and 22): one call, no Hash object; about a third faster for short inputs. */
const oneShot = (crypto as { hash?: OneShotHash }).hash;

/**
 * SHA-256 of UTF-8 text as base64url: the request digest, the request key and the verified-caller cache key are
 * taken on every call, so the one-shot form is used where the runtime has it. Same digest either way.
 */
export function sha256Base64url(text: string): string {
  return oneShot === undefined
    ? crypto.createHash('sha256').update(text).digest('base64url')
    : oneShot('sha256', text, 'base64url');
}
