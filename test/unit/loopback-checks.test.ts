import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { allowedHosts, refuseNonLoopback } from '../../local/loopback-checks';

/** The one Host/Origin check every local endpoint runs first (the endpoints themselves: test/e2e/loopback-checks). */
async function serve(address: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (!refuseNonLoopback(req, res, 'the test server')) res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, resolve);
  });
  return { server, port: (server.address() as AddressInfo).port };
}

function send(
  address: string,
  port: number,
  headers: [string, string][],
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: address, port, path: '/', headers: headers.flat(), setHost: false },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('on 127.0.0.1', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => ({ server, port } = await serve('127.0.0.1')));
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('refuses a repeated Origin, even when each names this server', async () => {
    const own = `http://127.0.0.1:${port}`;
    const answer = await send('127.0.0.1', port, [
      ['Host', `127.0.0.1:${port}`],
      ['Origin', own],
      ['Origin', own],
    ]);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toEqual({ error: 'more than one Origin header' });
  });

  it('does not answer to [::1] when it is not bound there', async () => {
    expect(allowedHosts(port, '127.0.0.1')).not.toContain(`[::1]:${port}`);
    const answer = await send('127.0.0.1', port, [['Host', `[::1]:${port}`]]);
    expect(answer.status).toBe(403);
  });
});

describe('on ::1', () => {
  it('answers to [::1]:<port> and its origin', async () => {
    let bound: { server: Server; port: number };
    try {
      bound = await serve('::1');
    } catch {
      // No IPv6 loopback on this machine: what the local stack binds (127.0.0.1) is covered above.
      expect(allowedHosts(1, '::1')).toContain('[::1]:1');
      return;
    }
    try {
      const host = `[::1]:${bound.port}`;
      expect((await send('::1', bound.port, [['Host', host]])).status).toBe(200);
      expect(
        (
          await send('::1', bound.port, [
            ['Host', host],
            ['Origin', `http://${host}`],
          ])
        ).status,
      ).toBe(200);
      expect(
        (
          await send('::1', bound.port, [
            ['Host', host],
            ['Origin', 'http://evil.example'],
          ])
        ).status,
      ).toBe(403);
    } finally {
      await new Promise((resolve) => bound.server.close(resolve));
    }
  });
});
