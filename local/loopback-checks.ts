import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * What keeps every local endpoint (the dev issuer, both doors' `/mcp`, their well-known documents and JWKS, the
 * console) for the person at this machine. They listen on loopback, but a browser visiting any web site can
 * still reach 127.0.0.1:
 * - DNS rebinding: a hostile name re-resolved to 127.0.0.1 makes the browser treat the local stack as that
 *   site, same-origin; its requests arrive with the hostile name in `Host`. Only `127.0.0.1:<port>`,
 *   `localhost:<port>` (and `[::1]:<port>` on an IPv6 loopback socket) are served.
 * - Cross-site requests: an `Origin`, when sent, must be a loopback origin of this same host:port. Browsers send
 *   one with every POST and every cross-origin request; CLI clients, the MCP SDK in Node, MCP Inspector's CLI
 *   mode and aws-jwt-verify send none, so a request without one is served. The MCP Streamable HTTP transport asks
 *   servers to validate Origin for exactly this reason.
 * Refusals are 403 with a one-line JSON reason.
 */
export type LoopbackCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: LoopbackCheck = Object.freeze({ ok: true });
const refuse = (reason: string): LoopbackCheck => ({ ok: false, reason });

/** A header's one value; undefined when absent, null when repeated (which no browser sends). */
export function singleHeader(request: IncomingMessage, name: string): string | undefined | null {
  const values = request.headersDistinct[name];
  if (values === undefined) return undefined;
  return values.length === 1 ? (values[0] as string) : null;
}

/** The `Host` values a loopback server on this port answers to. */
export function allowedHosts(port: number, localAddress?: string): readonly string[] {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`];
  if (localAddress === '::1' || localAddress === '::ffff:127.0.0.1') hosts.push(`[::1]:${port}`);
  return hosts;
}

function hostsOf(request: IncomingMessage): readonly string[] {
  return allowedHosts(request.socket.localPort ?? 0, request.socket.localAddress);
}

/** `Host` must name this loopback server: refuses DNS rebinding. `who` names the server in the reason. */
export function checkLoopbackHost(request: IncomingMessage, who: string): LoopbackCheck {
  const hosts = hostsOf(request);
  const host = singleHeader(request, 'host');
  if (typeof host !== 'string' || !hosts.includes(host.toLowerCase()))
    return refuse(`${who} answers only to ${hosts.join(' or ')}`);
  return OK;
}

/** An `Origin`, when present, must be this loopback server's own (over http). */
export function checkLoopbackOrigin(request: IncomingMessage): LoopbackCheck {
  const origin = singleHeader(request, 'origin');
  if (origin === undefined) return OK;
  if (origin === null) return refuse('more than one Origin header');
  if (!hostsOf(request).some((allowed) => origin.toLowerCase() === `http://${allowed}`))
    return refuse('cross-origin requests are refused');
  return OK;
}

/** Host, then Origin: what every request to a local endpoint passes first. */
export function checkLoopbackRequest(request: IncomingMessage, who: string): LoopbackCheck {
  const host = checkLoopbackHost(request, who);
  return host.ok ? checkLoopbackOrigin(request) : host;
}

/**
 * Serves the request's refusal when it fails {@link checkLoopbackRequest}: 403, a one-line JSON reason, the body
 * drained and ignored, no CORS headers. True when it refused (the caller stops there).
 */
export function refuseNonLoopback(request: IncomingMessage, response: ServerResponse, who: string): boolean {
  const check = checkLoopbackRequest(request, who);
  if (check.ok) return false;
  request.resume();
  const text = JSON.stringify({ error: check.reason });
  response
    .writeHead(403, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(text, 'utf8')),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    })
    .end(text);
  return true;
}
