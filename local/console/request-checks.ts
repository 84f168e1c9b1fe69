import type { IncomingMessage, ServerResponse } from 'node:http';
import { allowedHosts, singleHeader } from '../loopback-checks';

/**
 * What keeps the console a page for the person at this machine and nobody else. It listens on loopback, but a
 * browser visiting any web site can still send requests to 127.0.0.1, so:
 * - DNS rebinding: a hostile name resolved to 127.0.0.1 arrives with its own `Host`; only `127.0.0.1:<port>` and
 *   `localhost:<port>` are served.
 * - Cross-site requests: an `Origin` (sent with every POST, and with cross-origin GETs) must be this console's;
 *   `Sec-Fetch-Site`, when the browser sends it, must say same-origin (or `none`: typed in the address bar).
 *   The API's POST takes `application/json` only, which no HTML form can send without a CORS preflight, and the
 *   console answers no preflight.
 * Refusals are 403 with a one-line JSON reason; nothing else is said.
 */

/** The headers on every console answer: a strict CSP (no inline script or style), no sniffing, no referrer. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cache-Control': 'no-store',
});

export type CheckResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: CheckResult = Object.freeze({ ok: true });
const refuse = (reason: string): CheckResult => ({ ok: false, reason });

/** Checks for every console request: the page, its assets and the API (the same Host check as every local endpoint). */
export function checkHost(request: IncomingMessage, port: number): CheckResult {
  const host = singleHeader(request, 'host');
  if (typeof host !== 'string' || !allowedHosts(port).includes(host.toLowerCase()))
    return refuse(`the console answers only to ${allowedHosts(port).join(' or ')}`);
  return OK;
}

/** Checks for the API (JSON and the event stream): the request must come from the console's own page. */
export function checkApiRequest(request: IncomingMessage, port: number): CheckResult {
  const host = checkHost(request, port);
  if (!host.ok) return host;
  const origin = singleHeader(request, 'origin');
  if (origin === null) return refuse('more than one Origin header');
  if (
    origin !== undefined &&
    !allowedHosts(port).some((allowed) => origin.toLowerCase() === `http://${allowed}`)
  )
    return refuse('cross-origin requests are refused');
  const site = singleHeader(request, 'sec-fetch-site');
  if (site === null || (site !== undefined && site !== 'same-origin' && site !== 'none'))
    return refuse('cross-site requests are refused');
  if (request.method === 'POST') {
    const type = singleHeader(request, 'content-type');
    const media = typeof type === 'string' ? (type.split(';')[0] as string).trim().toLowerCase() : '';
    if (media !== 'application/json') return refuse('the console API takes Content-Type: application/json');
  }
  return OK;
}

/**
 * True when the request asks for an event stream. `EventSource` always sends `Accept: text/event-stream`; an
 * `<img>`, `<script>` or `<link>` pointed at the stream from another site sends no Origin and (in some browsers)
 * no Sec-Fetch-*, and never this Accept, so requiring it keeps such tags from filling the stream cap.
 */
export function acceptsEventStream(request: IncomingMessage): boolean {
  const accept = request.headersDistinct.accept ?? [];
  return accept.some((value) =>
    value
      .split(',')
      .some((range) => (range.split(';')[0] as string).trim().toLowerCase() === 'text/event-stream'),
  );
}

/** A JSON answer with the security headers. */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response
    .writeHead(status, {
      ...SECURITY_HEADERS,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(text, 'utf8')),
    })
    .end(text);
}

/** 403 with the reason; the request body, if any, is drained and ignored. */
export function sendRefusal(request: IncomingMessage, response: ServerResponse, reason: string): void {
  request.resume();
  sendJson(response, 403, { error: reason });
}
