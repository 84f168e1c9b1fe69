import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConsole, type LocalConsole } from '../../local/console/routes';
import { auditLine } from '../helpers/console-events';
import { POLICY_DIR } from '../helpers/harness';

/**
 * The console's HTTP surface on a loopback server: who it answers (Host, Origin, Sec-Fetch-Site, Content-Type),
 * the headers it sends, the bounds it keeps, and the stream of decisions.
 */
const USERS = join(__dirname, '..', '..', 'local', 'users.json');
let dir: string;
let auditFile: string;
let server: Server;
let port: number;
let localConsole: LocalConsole;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'console-routes-'));
  auditFile = join(dir, 'audit.jsonl');
  localConsole = createConsole({
    auditFile,
    policyDir: POLICY_DIR,
    usersFile: USERS,
    catalog: () => ({ users: ['alice'], tools: ['orders___get_order'] }),
    maxStreams: 2,
    pollMs: 20,
  });
  server = createServer((req, res) => {
    if (!localConsole.handle(req, res)) res.writeHead(418).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await localConsole.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function call(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; host?: string | null } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.host !== null) headers.Host = options.host ?? `127.0.0.1:${port}`;
    const outgoing = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, setHost: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

const authorize = (body: unknown, headers: Record<string, string> = {}) =>
  call('/console/api/authorize', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: `http://127.0.0.1:${port}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('the page', () => {
  it('is served with a strict CSP, nosniff and no referrer, and holds no inline script or style', async () => {
    const page = await call('/console');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const csp = page.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.body).not.toMatch(/\sstyle=|\son[a-z]+=/i);
    const script = await call('/console/console.js');
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.headers['x-content-type-options']).toBe('nosniff');
  });

  it('puts event data into the page only as text: the script never assigns HTML', () => {
    const script = readFileSync(
      join(__dirname, '..', '..', 'local', 'console', 'static', 'console.js'),
      'utf8',
    );
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
  });

  it('answers only its own paths', async () => {
    expect((await call('/mcp')).status).toBe(418);
    expect((await call('/consoleX')).status).toBe(418);
    expect((await call('/console/nope.js')).status).toBe(404);
    // A dot segment never leads out of the console: it is the console's 404, not the page it names.
    expect((await call('/console/../mcp')).status).toBe(404);
    expect((await call('/console', { method: 'DELETE' })).status).toBe(405);
    expect((await call('/console/api/nope')).status).toBe(404);
  });
});

describe('who the console answers (DNS rebinding, cross-site requests)', () => {
  it('serves 127.0.0.1 and localhost on its own port', async () => {
    expect((await call('/console')).status).toBe(200);
    expect((await call('/console', { host: `localhost:${port}` })).status).toBe(200);
    expect((await call('/console/api/catalog', { host: `LOCALHOST:${port}` })).status).toBe(200);
  });

  it.each([
    ['a rebinding name', () => `evil.example:${port}`],
    ['a rebinding name without port', () => 'evil.example'],
    ['another port', () => `127.0.0.1:${port + 1}`],
    ['a name that ends like localhost', () => `notlocalhost:${port}`],
  ])('refuses %s with 403, for the page and the API', async (_name, host) => {
    for (const path of ['/console', '/console/api/decisions', '/console/api/events']) {
      const answer = await call(path, { host: host() });
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body).error).toMatch(/answers only to/);
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('never serves a request without Host (Node refuses it first, with 400)', async () => {
    for (const path of ['/console', '/console/api/decisions'])
      expect((await call(path, { host: null })).status).toBe(400);
  });

  it.each([
    ['a foreign Origin', () => ({ Origin: 'https://evil.example' })],
    ['an opaque Origin', () => ({ Origin: 'null' })],
    ['its own host over https', () => ({ Origin: `https://127.0.0.1:${port}` })],
    ['its own host on another port', () => ({ Origin: `http://127.0.0.1:${port + 1}` })],
    ['a cross-site fetch', () => ({ 'Sec-Fetch-Site': 'cross-site' })],
    ['a same-site fetch from another port', () => ({ 'Sec-Fetch-Site': 'same-site' })],
  ])('refuses %s on the API with 403', async (_name, headersOf) => {
    const headers: Record<string, string> = headersOf();
    expect((await call('/console/api/decisions', { headers })).status).toBe(403);
    expect((await call('/console/api/events', { headers })).status).toBe(403);
    expect((await authorize({ user: 'alice', tool: 'orders___get_order' }, headers)).status).toBe(403);
  });

  it.each([
    ['no Accept (an <img> or <script> from another site)', {}],
    ['an image Accept', { Accept: 'image/avif,image/webp,*/*' }],
    ['a wildcard Accept', { Accept: '*/*' }],
    ['an Accept that only mentions it in a parameter', { Accept: 'text/html;q=text/event-stream' }],
  ])(
    'refuses the decision stream to %s with 406, holding no stream',
    async (_name, headers: Record<string, string>) => {
      for (let n = 0; n < 3; n += 1) {
        const answer = await call('/console/api/events', { headers });
        expect(answer.status).toBe(406);
        expect(JSON.parse(answer.body).error).toMatch(/text\/event-stream/);
      }
    },
  );

  it('takes its own origin and same-origin fetches', async () => {
    const headers = { Origin: `http://localhost:${port}`, 'Sec-Fetch-Site': 'same-origin' };
    expect((await call('/console/api/decisions', { headers })).status).toBe(200);
  });

  it.each([
    ['text/plain (what a form can send)', 'text/plain'],
    ['a form encoding', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['a JSON look-alike', 'application/json-seq'],
  ])('refuses a POST with %s with 403', async (_name, type) => {
    const answer = await authorize({ user: 'alice', tool: 'orders___get_order' }, { 'Content-Type': type });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).error).toMatch(/application\/json/);
  });

  it('refuses a POST with no Content-Type', async () => {
    const answer = await call('/console/api/authorize', { method: 'POST', body: '{}' });
    expect(answer.status).toBe(403);
  });
});

describe('the playground API', () => {
  it('decides with the policy file and line, as policies authorize explains it', async () => {
    const answer = await authorize(
      {
        user: 'bob',
        tool: 'orders___update_order',
        args: '{"order_id":"1","status":"refunded","amount":900}',
      },
      { 'Content-Type': 'application/json; charset=utf-8' },
    );
    expect(answer.status).toBe(200);
    const { report, lines } = JSON.parse(answer.body);
    expect(report.decision).toBe('deny');
    expect(report.determining[0]).toMatchObject({ effect: 'forbid', file: 'large-refunds.cedar' });
    expect(report.determining[0].line).toEqual(expect.any(Number));
    expect(report.overriddenPermits.length).toBeGreaterThan(0);
    expect(lines.join('\n')).toMatch(
      /denied by +forbid large-refunds-need-finance \(large-refunds\.cedar:\d+\)/,
    );
  });

  it('takes roles and an agent from the form', async () => {
    const answer = await authorize({
      user: 'zed',
      roles: 'order-admin',
      agent: 'bot-7',
      tool: 'orders___update_order',
      args: '{"order_id":"1","status":"shipped"}',
    });
    const { report } = JSON.parse(answer.body);
    expect(report).toMatchObject({
      decision: 'allow',
      caller: { subject: 'zed', roles: ['order-admin'], agent: 'bot-7' },
    });
  });

  it.each([
    [
      'arguments that are not JSON',
      { user: 'alice', tool: 'orders___get_order', args: '{oops' },
      /arguments are not JSON/,
    ],
    ['no user', { tool: 'orders___get_order' }, /user/],
    ['an unknown field', { user: 'alice', tool: 't', token: 'x' }, /token|unrecognized/i],
    ['a user not in the users file and no roles', { user: 'mallory', tool: 'orders___get_order' }, /not in/],
    [
      'arguments that are not an object',
      { user: 'alice', tool: 'orders___get_order', args: '[1]' },
      /refuse/,
    ],
    ['a body that is not JSON', '{"user":', /not JSON/],
  ])('shows %s as a message (400), not an exception', async (_name, body, message) => {
    const answer = await authorize(body);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error).toMatch(message);
  });

  it('refuses a body above its bound with 413', async () => {
    const answer = await authorize({
      user: 'alice',
      tool: 'orders___get_order',
      args: `"${'x'.repeat(20_000)}"`,
    });
    expect(answer.status).toBe(413);
  });
});

describe('the decision stream', () => {
  function openStream(
    query = '',
  ): Promise<{ events: () => { event: string; data: unknown }[]; close: () => void; status: number }> {
    return new Promise((resolve, reject) => {
      const outgoing = request(
        {
          host: '127.0.0.1',
          port,
          path: `/console/api/events${query}`,
          headers: { 'Sec-Fetch-Site': 'same-origin', Accept: 'text/event-stream' },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            text += chunk;
          });
          resolve({
            status: response.statusCode ?? 0,
            close: () => outgoing.destroy(),
            events: () =>
              text
                .split('\n\n')
                .filter((block) => block.startsWith('event: '))
                .map((block) => {
                  const [head, data] = block.split('\n');
                  return { event: (head as string).slice(7), data: JSON.parse((data as string).slice(6)) };
                }),
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  const until = async (check: () => boolean) => {
    for (let waited = 0; !check(); waited += 10) {
      if (waited > 5000) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  it('sends the filtered history, then new decisions and outcomes as they are written, and caps streams', async () => {
    appendFileSync(
      auditFile,
      `${auditLine({ uid: 'old-a', user: 'alice' })}\n${auditLine({ uid: 'old-b', user: 'bob' })}\n`,
    );
    const stream = await openStream('?user=alice');
    expect(stream.status).toBe(200);
    await until(() => stream.events().length >= 1);
    expect(stream.events()[0]).toEqual({
      event: 'history',
      data: [expect.objectContaining({ uid: 'old-a' })],
    });

    appendFileSync(
      auditFile,
      `${auditLine({ uid: 'new-b', user: 'bob' })}\n${auditLine({ uid: 'new-a', user: 'alice', requestKey: 'k' })}\n`,
    );
    appendFileSync(
      auditFile,
      `${auditLine({ uid: 'out', user: 'alice', requestKey: 'k', phase: 'response', outcome: 'tool-error' })}\n`,
    );
    await until(() => stream.events().length >= 3);
    expect(stream.events().slice(1)).toEqual([
      { event: 'decision', data: expect.objectContaining({ uid: 'new-a', user: 'alice' }) },
      { event: 'outcome', data: { uid: 'new-a', outcome: 'tool-error' } },
    ]);

    const second = await openStream();
    const third = await openStream();
    expect(second.status).toBe(200);
    expect(third.status).toBe(503);
    stream.close();
    second.close();
  });

  it('refuses a filter it cannot read with 400', async () => {
    expect((await call('/console/api/decisions?decision=maybe')).status).toBe(400);
    expect((await call('/console/api/decisions?user=a&user=b')).status).toBe(400);
    expect((await call(`/console/api/decisions?tool=${'x'.repeat(2000)}`)).status).toBe(400);
  });
});
