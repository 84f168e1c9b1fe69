import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { awsPartition } from '../lambda/adapters/cloudtrail-data-client';

/**
 * One cheap, read-only call to the Bedrock AgentCore control plane (`ListGateways`, one item) to tell whether
 * AgentCore answers in a Region for these credentials. Hand-written from the SDK's parts (SigV4 signing name
 * `bedrock-agentcore`, `GET /gateways/?maxResults=1`, restJson1) because the AgentCore control client is not a
 * dependency of this project, as `CloudTrailDataClient` is for CloudTrail Data.
 */

export type AgentCoreAnswer =
  | { readonly ok: true; readonly gateways: number }
  | { readonly ok: false; readonly reason: string; readonly unavailable: boolean };

export function agentCoreControlEndpoint(region: string): string {
  return `https://bedrock-agentcore-control.${region}.${awsPartition(region).dnsSuffix}`;
}

const NOT_RESOLVED = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME']);

export async function probeAgentCore(options: {
  readonly region: string;
  readonly credentials: AwsCredentialIdentityProvider;
  /** @default {@link agentCoreControlEndpoint}(region) */
  readonly endpoint?: string;
  readonly timeoutMs?: number;
  /** @default the platform fetch */
  readonly fetch?: typeof fetch;
}): Promise<AgentCoreAnswer> {
  const endpoint = new URL(options.endpoint ?? agentCoreControlEndpoint(options.region));
  const signer = new SignatureV4({
    service: 'bedrock-agentcore',
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'GET',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port === '' ? {} : { port: Number(endpoint.port) }),
      path: '/gateways/',
      query: { maxResults: '1' },
      headers: { host: endpoint.host },
    }),
  );
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(new URL('/gateways/?maxResults=1', endpoint), {
      headers: signed.headers,
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      redirect: 'error',
    });
  } catch (error) {
    const code = ((error as { cause?: { code?: string } }).cause?.code ?? '') as string;
    if (NOT_RESOLVED.has(code))
      return {
        ok: false,
        unavailable: true,
        reason: `no AgentCore endpoint in ${options.region} (${endpoint.hostname} does not resolve)`,
      };
    return {
      ok: false,
      unavailable: false,
      reason: `AgentCore did not answer at ${endpoint.hostname}: ${code || (error as Error).message}`,
    };
  }
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON: the status line says enough.
  }
  if (response.status === 200)
    return { ok: true, gateways: Array.isArray(body.items) ? body.items.length : 0 };
  const type =
    (response.headers.get('x-amzn-errortype') ?? String(body.__type ?? '')).split(':')[0] || 'error';
  const message = String(body.message ?? body.Message ?? '').split('\n')[0];
  return {
    ok: false,
    unavailable: false,
    reason: `AgentCore answered ${type} (HTTP ${response.status})${message ? `: ${message}` : ''}`,
  };
}
