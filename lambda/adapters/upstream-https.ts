import {
  clientResponseHeaders,
  type Upstream,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
  upstreamHeaders,
} from '../doors/apigateway/upstream';
import { assertUpstreamUrl } from '../shared/config';
import type { OutboundCredentials } from './outbound-credentials';

const EMPTY: AsyncIterable<Uint8Array> = {
  async *[Symbol.asyncIterator]() {},
};

/**
 * An MCP server at an HTTPS URL (Streamable HTTP). The allowed request goes there with the proxy's outbound
 * credentials, never the client's token; the answer streams back as it arrives, so an SSE response is passed
 * on event by event. Redirects are not followed (credentials must not follow them elsewhere), and a 401/407
 * means the server refused *our* credentials: the cached secret is dropped and the client is told the server
 * is unavailable rather than asked to sign in again.
 */
export class HttpsUpstream implements Upstream {
  private readonly url: URL;

  constructor(
    url: string,
    private readonly credentials: OutboundCredentials,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.url = new URL(url);
    assertUpstreamUrl(this.url);
  }

  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const credential = await this.credentials.headers();
    const headers = new Headers();
    for (const [name, values] of upstreamHeaders(request.clientHeaders, request.intent, credential))
      for (const value of values) headers.append(name, value);
    let response: Response;
    try {
      response = await this.fetchImpl(this.url, {
        method: request.httpMethod,
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        signal: request.signal,
        redirect: 'manual',
      });
    } catch (error) {
      const cause = error instanceof Error ? `${error.name}: ${error.message}` : 'fetch failed';
      throw new UpstreamError(`the upstream MCP server could not be reached (${cause})`, { cause: error });
    }
    if (response.status === 401 || response.status === 407) {
      this.credentials.invalidate();
      await response.body?.cancel();
      throw new UpstreamError(`the upstream MCP server refused the proxy's credentials (${response.status})`);
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new UpstreamError(
        `the upstream MCP server answered a redirect (${response.status}); not followed`,
      );
    }
    const names = new Map<string, string[]>();
    response.headers.forEach((value, name) => {
      names.set(name, [...(names.get(name) ?? []), value]);
    });
    return {
      status: response.status,
      headers: clientResponseHeaders(names),
      body: response.body === null ? EMPTY : (response.body as unknown as AsyncIterable<Uint8Array>),
    };
  }
}
