import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { UpstreamError } from '../doors/apigateway/upstream';

/** Headers that authenticate the proxy (not the client) to an HTTPS MCP server. */
export interface OutboundCredentials {
  /** Throws {@link UpstreamError} when they cannot be had: the request is then not forwarded. */
  headers(): Promise<Readonly<Record<string, string>>>;
  /** Forget a cached value (the server refused it: it may have been rotated). */
  invalidate(): void;
}

/** An upstream that needs no credentials (reached over a private network, or open by design). */
export const NO_CREDENTIALS: OutboundCredentials = Object.freeze({
  headers: async () => ({}),
  invalidate: () => {},
});

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Names a secret may not set: what the proxy or HTTP itself controls. */
const RESERVED = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'te',
  'upgrade',
  'cookie',
]);

/**
 * The headers a secret stands for. Two forms: a JSON object `{ "headers": { "X-Api-Key": "…" } }`, or any
 * other text, sent as `Authorization: Bearer <text>`. Errors name the problem, never the value.
 */
export function credentialHeaders(secret: string): Record<string, string> {
  const text = secret.trim();
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UpstreamError('the upstream secret looks like JSON but is not valid JSON');
    }
    const headers = (parsed as { headers?: unknown }).headers;
    if (headers === null || typeof headers !== 'object' || Array.isArray(headers))
      throw new UpstreamError(
        'the upstream secret must be {"headers": {"Name": "value", …}} or a bearer token',
      );
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (!TOKEN.test(name) || RESERVED.has(name.toLowerCase()))
        throw new UpstreamError(
          `the upstream secret sets a header the proxy does not allow: ${name.slice(0, 64)}`,
        );
      if (typeof value !== 'string' || !VALUE.test(value))
        throw new UpstreamError(`the upstream secret's ${name} value is not a header value`);
      out[name] = value;
    }
    if (Object.keys(out).length === 0) throw new UpstreamError('the upstream secret sets no header');
    return out;
  }
  if (text.length === 0 || !/^[\x21-\x7e]+$/.test(text))
    throw new UpstreamError('the upstream secret is not a bearer token (printable ASCII, no spaces)');
  return { authorization: `Bearer ${text}` };
}

/**
 * Outbound credentials from one Secrets Manager secret, read once and reused for `ttlSeconds` (rotation takes
 * effect within that time, or at once when the server refuses the cached value). Concurrent requests share one
 * read; a failed read is not cached, and with no fresh value nothing is forwarded.
 */
export class SecretsManagerCredentials implements OutboundCredentials {
  private cached: { readonly headers: Readonly<Record<string, string>>; readonly at: number } | undefined;
  private loading: Promise<Readonly<Record<string, string>>> | undefined;

  constructor(
    private readonly client: Pick<SecretsManagerClient, 'send'>,
    private readonly secretArn: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  async headers(): Promise<Readonly<Record<string, string>>> {
    if (this.cached !== undefined && this.now() - this.cached.at < this.ttlSeconds * 1000)
      return this.cached.headers;
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async load(): Promise<Readonly<Record<string, string>>> {
    let secret: string | undefined;
    try {
      const output = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretArn }));
      secret = output.SecretString;
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      throw new UpstreamError(`the upstream secret could not be read (${name})`, { cause: error });
    }
    if (secret === undefined) throw new UpstreamError('the upstream secret has no string value');
    const headers = Object.freeze(credentialHeaders(secret));
    this.cached = { headers, at: this.now() };
    return headers;
  }
}
