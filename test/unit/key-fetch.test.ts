import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JwtTokenVerifier } from '../../lambda/adapters/jwt-token-verifier';
import { getOk, MAX_KEY_DOCUMENT_BYTES } from '../../lambda/adapters/key-fetch';
import { DevIssuer } from '../../local/dev-issuer';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    switch (request.url) {
      case '/ok':
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
        return;
      case '/moved':
        response.writeHead(302, { location: '/ok' }).end();
        return;
      case '/missing':
        response.writeHead(404).end('no');
        return;
      case '/slow':
        setTimeout(() => response.writeHead(200).end('{}'), 2000).unref();
        return;
      case '/huge':
        response.writeHead(200);
        response.end(Buffer.alloc(MAX_KEY_DOCUMENT_BYTES + 10, 0x20));
        return;
      default:
        response.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('getOk: key documents over node:http/https', () => {
  it('returns the body of a 200 answer', async () => {
    expect((await getOk(new URL(`${base}/ok`), 1000)).toString('utf8')).toBe('{"keys":[]}');
  });

  it('refuses any other status, a redirect included (it is not followed)', async () => {
    await expect(getOk(new URL(`${base}/moved`), 1000)).rejects.toThrow('HTTP 302');
    await expect(getOk(new URL(`${base}/missing`), 1000)).rejects.toThrow('HTTP 404');
  });

  it('gives up after the timeout', async () => {
    const started = Date.now();
    await expect(getOk(new URL(`${base}/slow`), 150)).rejects.toThrow('timed out after 150 ms');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('refuses a document larger than the bound', async () => {
    await expect(getOk(new URL(`${base}/huge`), 5000)).rejects.toThrow(/larger than/);
  });

  it('refuses a closed port as an error, not a hang', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(getOk(new URL(`http://127.0.0.1:${port}/`), 1000)).rejects.toThrow();
  });

  it('lets the verifier discover, hydrate and verify without the global fetch (undici stays unloaded)', async () => {
    const issuer = await DevIssuer.start();
    const spy = jest.spyOn(globalThis, 'fetch');
    try {
      const { jwksUri: _jwks, ...settings } = issuer.verifierSettings('aud-1');
      const verifier = new JwtTokenVerifier({ ...settings, discoveryUrl: issuer.discoveryUrl });
      await verifier.hydrate();
      const caller = await verifier.verify(await issuer.sign({ sub: 'alice', aud: 'aud-1' }));
      expect(caller.subject).toBe('alice');
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
      await issuer.stop();
    }
  });
});
