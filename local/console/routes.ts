import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { isActiveGrant, isActiveRevocation, type Revocation, type RoleGrant } from '../../lambda/core/access';
import { DecisionFeed, type DecisionFilter } from './decision-feed';
import { EventStreams } from './event-stream';
import { JsonlTail } from './jsonl-tail';
import { BodyTooLargeError, MAX_PLAYGROUND_BYTES, readBoundedBody } from './playground';
import { PlaygroundRunner } from './playground-runner';
import {
  acceptsEventStream,
  checkApiRequest,
  checkHost,
  SECURITY_HEADERS,
  sendJson,
  sendRefusal,
} from './request-checks';

/**
 * The local console at `/console` on the local gateway's own port (no server of its own): a page with the live
 * decision stream, filters, per-user activity, denials by policy over time and the policy playground.
 *
 * Routes (each panel of the page is a section fed by one JSON endpoint, so a panel is added as a pair):
 *   GET  /console                 the page (static HTML, CSS and JS from local/console/static/)
 *   GET  /console/api/events      decisions as Server-Sent Events: history, then live (?user=&tool=&decision=)
 *   GET  /console/api/decisions   the same history as JSON
 *   GET  /console/api/catalog     users and tools, for the playground's suggestions
 *   POST /console/api/authorize   the playground: one call decided and explained, as `policies authorize`
 *   GET  /console/api/access      active just-in-time grants and revocations (`npx mcp-identity grant|revoke`)
 */
export const CONSOLE_PATH = '/console';

export interface ConsoleOptions {
  readonly auditFile: string;
  readonly policyDir: string;
  readonly usersFile: string;
  /** The users and tools the stack knows now (reloads included). */
  readonly catalog: () => { readonly users: readonly string[]; readonly tools: readonly string[] };
  /** The grant store's entries (`<data>/access.json`), for the active grants panel. @default none */
  readonly access?: () => Promise<{ grants: RoleGrant[]; revocations: Revocation[] }>;
  /** @default 1000 */
  readonly capacity?: number;
  /** @default 8 */
  readonly maxStreams?: number;
  /** How often an open stream looks for new audit events. @default 250 */
  readonly pollMs?: number;
}

export interface LocalConsole {
  /** Serves the request when its path is the console's; false (nothing done) otherwise. */
  handle(request: IncomingMessage, response: ServerResponse): boolean;
  /** Ends the open streams, stops polling and stops the playground's thread. */
  close(): Promise<void>;
}

/** Beside this file in the sources; a `tsc` build (dist/) does not copy assets, so it serves them from the sources. */
const STATIC_DIR = existsSync(join(__dirname, 'static'))
  ? join(__dirname, 'static')
  : join(__dirname, '..', '..', '..', 'local', 'console', 'static');
const ASSETS: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  '/console/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};
const MAX_FILTER_CHARS = 1024;

class FilterError extends Error {}

/** The filter from the query string: user, tool, decision (allow|deny); blank values mean "any". */
export function filterFromQuery(query: URLSearchParams): DecisionFilter {
  const value = (name: string): string | undefined => {
    const all = query.getAll(name);
    if (all.length > 1) throw new FilterError(`give '${name}' once`);
    const one = all[0];
    if (one === undefined || one === '') return undefined;
    if (one.length > MAX_FILTER_CHARS) throw new FilterError(`'${name}' is too long`);
    return one;
  };
  const decision = value('decision');
  if (decision !== undefined && decision !== 'allow' && decision !== 'deny')
    throw new FilterError("'decision' is allow or deny");
  const user = value('user');
  const tool = value('tool');
  return {
    ...(user === undefined ? {} : { user }),
    ...(tool === undefined ? {} : { tool }),
    ...(decision === undefined ? {} : { decision }),
  };
}

export function createConsole(options: ConsoleOptions): LocalConsole {
  const assets = new Map(
    Object.entries(ASSETS).map(([path, asset]) => [
      path,
      { body: readFileSync(join(STATIC_DIR, asset.file)), type: asset.type },
    ]),
  );
  const feed = new DecisionFeed(new JsonlTail(options.auditFile), {
    capacity: options.capacity ?? 1000,
  });
  const playground = new PlaygroundRunner({ policyDir: options.policyDir, usersFile: options.usersFile });
  const streams = new EventStreams(feed, {
    maxClients: options.maxStreams ?? 8,
    pollMs: options.pollMs ?? 250,
  });

  async function api(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const route = `${request.method} ${url.pathname}`;
    switch (route) {
      case 'GET /console/api/events':
      case 'GET /console/api/decisions': {
        let filter: DecisionFilter;
        try {
          filter = filterFromQuery(url.searchParams);
        } catch (error) {
          sendJson(response, 400, { error: (error as Error).message });
          return;
        }
        if (route === 'GET /console/api/events' && !acceptsEventStream(request)) {
          sendJson(response, 406, { error: 'the decision stream takes Accept: text/event-stream' });
          return;
        }
        if (route === 'GET /console/api/decisions') {
          feed.refresh();
          sendJson(response, 200, { decisions: feed.recent(filter), unreadableLines: feed.unreadable });
        } else if (!streams.open(response, filter))
          sendJson(response, 503, { error: 'too many open console streams: close another console tab' });
        return;
      }
      case 'GET /console/api/catalog': {
        const { users, tools } = options.catalog();
        sendJson(response, 200, { users, tools });
        return;
      }
      case 'GET /console/api/access': {
        if (options.access === undefined) {
          sendJson(response, 200, { grants: [], revocations: [] });
          return;
        }
        let entries: Awaited<ReturnType<NonNullable<ConsoleOptions['access']>>>;
        try {
          entries = await options.access();
        } catch (error) {
          // A broken access.json is what the stack sees too: it ignores grants and refuses (kill switch).
          sendJson(response, 503, { error: (error as Error).message });
          return;
        }
        const now = Date.now() / 1000;
        sendJson(response, 200, {
          grants: entries.grants.filter((grant) => isActiveGrant(grant, now)),
          revocations: entries.revocations.filter((revocation) => isActiveRevocation(revocation, now)),
        });
        return;
      }
      case 'POST /console/api/authorize': {
        let body: string;
        try {
          body = await readBoundedBody(request, MAX_PLAYGROUND_BYTES);
        } catch (error) {
          if (error instanceof BodyTooLargeError) {
            sendJson(response, 413, { error: `the playground takes at most ${MAX_PLAYGROUND_BYTES} bytes` });
            return;
          }
          throw error;
        }
        const answer = await playground.decide(body);
        sendJson(response, answer.status, answer.body);
        return;
      }
      default:
        request.resume();
        sendJson(response, 404, { error: `no console route ${route}` });
    }
  }

  function serve(request: IncomingMessage, response: ServerResponse, url: URL): void {
    const port = request.socket.localPort ?? 0;
    if (url.pathname.startsWith('/console/api/')) {
      const check = checkApiRequest(request, port);
      if (!check.ok) {
        sendRefusal(request, response, check.reason);
        return;
      }
      api(request, response, url).catch(() => {
        // Fail closed and say little: the playground's own problems are answered as 400 before this.
        if (!response.headersSent) sendJson(response, 500, { error: 'the console could not answer' });
        else response.destroy();
      });
      return;
    }
    const check = checkHost(request, port);
    if (!check.ok) {
      sendRefusal(request, response, check.reason);
      return;
    }
    const asset = assets.get(url.pathname);
    if (asset === undefined) {
      request.resume();
      sendJson(response, 404, { error: 'not found' });
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      request.resume();
      response.writeHead(405, { ...SECURITY_HEADERS, Allow: 'GET' }).end();
      return;
    }
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': asset.type,
      'Content-Length': String(asset.body.length),
    });
    response.end(request.method === 'HEAD' ? undefined : asset.body);
  }

  return {
    handle(request, response) {
      const raw = request.url ?? '/';
      if (raw !== CONSOLE_PATH && !raw.startsWith(`${CONSOLE_PATH}/`) && !raw.startsWith(`${CONSOLE_PATH}?`))
        return false;
      serve(request, response, new URL(raw, 'http://127.0.0.1'));
      return true;
    },
    close: async () => {
      streams.close();
      await playground.close();
    },
  };
}
