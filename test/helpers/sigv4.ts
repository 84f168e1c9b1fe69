import type { IncomingMessage } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/** The credentials every loopback fake expects requests to be signed with. */
export const TEST_CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token',
};

/**
 * Checks a request's SigV4 signature the way the loopback fakes do: re-signs it with the test credentials,
 * the request's own date and signed headers, and compares. Returns the problems found (none when it verifies).
 */
export async function sigV4Problems(
  request: IncomingMessage,
  url: URL,
  body: string,
  region: string,
  service: string,
): Promise<string[]> {
  const authorization = request.headers.authorization ?? '';
  const date = request.headers['x-amz-date'];
  if (!authorization.startsWith('AWS4-HMAC-SHA256 Credential=')) return ['missing SigV4 Authorization'];
  const problems: string[] = [];
  if (!authorization.includes(`/${region}/${service}/aws4_request`))
    problems.push(`wrong credential scope: ${authorization}`);
  if (typeof date !== 'string' || !/^\d{8}T\d{6}Z$/.test(date)) return [...problems, 'missing x-amz-date'];
  if (request.headers['x-amz-security-token'] !== TEST_CREDENTIALS.sessionToken)
    problems.push('missing x-amz-security-token');
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) headers[name] = String(request.headers[name] ?? '');
  const signer = new SignatureV4({ service, region, credentials: TEST_CREDENTIALS, sha256: Sha256 });
  const replay = new HttpRequest({
    method: request.method ?? 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams.entries()),
    headers,
    body,
  });
  const signingDate = new Date(
    `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
  );
  const expected = await signer.sign(replay, { signingDate });
  if (expected.headers.authorization !== authorization) problems.push('SigV4 signature does not verify');
  return problems;
}
