import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fixture } from './fixtures';
import { sigV4Problems } from './sigv4';

/**
 * A loopback stand-in for the CloudTrail Data `PutAuditEvents` endpoint that checks every request against the
 * official service model (test/fixtures/cloudtrail-data-2021-08-11.service-2.json) and verifies the SigV4
 * signature by re-signing, then answers as scripted: success, partial failures, 5xx, throttling, slow
 * responses or dropped connections.
 */

type Shape = {
  type: string;
  members?: Record<string, { shape: string; location?: string; locationName?: string }>;
  required?: string[];
  member?: { shape: string };
  min?: number;
  max?: number;
  pattern?: string;
};
const model = fixture<{
  metadata: Record<string, string>;
  operations: Record<string, { http: { method: string; requestUri: string }; input: { shape: string } }>;
  shapes: Record<string, Shape>;
}>('cloudtrail-data-2021-08-11.service-2.json');
const operation = model.operations.PutAuditEvents;
const shape = (name: string): Shape => {
  const found = model.shapes[name];
  if (found === undefined) throw new Error(`no shape ${name}`);
  return found;
};

export type Behavior =
  | { kind: 'ok' }
  | { kind: 'partial'; failures: Record<string, string> }
  | { kind: 'status'; status: number; code: string }
  | { kind: 'slow'; ms: number }
  | { kind: 'drop' }
  /** The service commits the request, then the connection drops: the answer is lost. */
  | { kind: 'commit-drop' };

export { TEST_CREDENTIALS } from './sigv4';

export class FakeCloudTrailData {
  readonly violations: string[] = [];
  /** How many times each id was ingested. */
  readonly ingested = new Map<string, number>();
  /** Ids committed by a request whose answer was then lost (`commit-drop`). */
  readonly answerLost = new Set<string>();
  requests = 0;
  private server: Server | undefined;
  url = '';

  constructor(
    private readonly region: string,
    private readonly behavior: (request: number, ids: string[]) => Behavior,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      this.handle(request)
        .then((answer) => {
          if (answer === 'drop') {
            request.socket.destroy();
            return;
          }
          if (answer === 'closed') return;
          response.writeHead(answer.status, {
            'Content-Type': 'application/json',
            ...(answer.code
              ? { 'x-amzn-errortype': `${answer.code}:http://internal.amazon.com/coral/` }
              : {}),
          });
          response.end(JSON.stringify(answer.body));
        })
        .catch((error) => {
          this.violations.push(`server error: ${(error as Error).message}`);
          response.writeHead(500).end();
        });
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private violation(message: string): void {
    this.violations.push(message);
  }

  private async handle(
    request: IncomingMessage,
  ): Promise<{ status: number; code?: string; body: unknown } | 'drop' | 'closed'> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    this.requests += 1;
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');

    // --- the model: method, URI, query members, body members, list bounds, id pattern ---
    if (request.method !== operation?.http.method) this.violation(`method ${request.method}`);
    if (url.pathname !== operation?.http.requestUri) this.violation(`path ${url.pathname}`);
    const input = shape(operation?.input.shape ?? '');
    const queryMembers = Object.entries(input.members ?? {}).filter(
      ([, member]) => member.location === 'querystring',
    );
    const bodyMembers = Object.entries(input.members ?? {})
      .filter(([, member]) => member.location === undefined)
      .map(([name]) => name);
    for (const key of url.searchParams.keys()) {
      if (!queryMembers.some(([, member]) => member.locationName === key))
        this.violation(`unknown query parameter ${key}`);
    }
    for (const [name, member] of queryMembers) {
      const value = url.searchParams.get(member.locationName ?? name);
      if (value === null) {
        if (input.required?.includes(name)) this.violation(`missing query ${name}`);
        continue;
      }
      const pattern = shape(member.shape).pattern;
      if (pattern !== undefined && !new RegExp(pattern).test(value))
        this.violation(`query ${name} does not match ${pattern}`);
    }
    if (request.headers['content-type'] !== 'application/json')
      this.violation(`content-type ${request.headers['content-type']}`);
    if (Buffer.byteLength(raw) > 1024 * 1024)
      this.violation(`body of ${Buffer.byteLength(raw)} bytes exceeds 1 MB`);
    await this.checkSignature(request, url, raw);

    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      this.violation('body is not JSON');
      return { status: 400, code: 'SerializationException', body: {} };
    }
    for (const key of Object.keys(body))
      if (!bodyMembers.includes(key)) this.violation(`unknown body member ${key}`);
    const listShape = shape(input.members?.auditEvents?.shape ?? '');
    const events = body.auditEvents as Record<string, unknown>[];
    if (
      !Array.isArray(events) ||
      events.length < (listShape.min ?? 0) ||
      events.length > (listShape.max ?? Number.POSITIVE_INFINITY)
    ) {
      this.violation(`auditEvents length ${Array.isArray(events) ? events.length : 'n/a'}`);
      return { status: 400, code: 'ValidationException', body: {} };
    }
    const eventShape = shape(listShape.member?.shape ?? '');
    const idShape = shape(eventShape.members?.id?.shape ?? '');
    const ids: string[] = [];
    for (const event of events) {
      for (const key of Object.keys(event))
        if (!(key in (eventShape.members ?? {}))) this.violation(`unknown event member ${key}`);
      for (const key of eventShape.required ?? [])
        if (event[key] === undefined) this.violation(`event missing ${key}`);
      const id = String(event.id);
      if (
        !new RegExp(idShape.pattern ?? '').test(id) ||
        id.length < (idShape.min ?? 0) ||
        id.length > (idShape.max ?? 1e9)
      )
        this.violation(`bad id ${id}`);
      if (typeof event.eventData !== 'string') this.violation(`eventData of ${id} is not a string`);
      const checksum = createHash('sha256').update(String(event.eventData), 'utf8').digest('base64');
      if (event.eventDataChecksum !== checksum) this.violation(`checksum of ${id} does not match`);
      ids.push(id);
    }
    if (new Set(ids).size !== ids.length)
      return { status: 400, code: 'DuplicatedAuditEventId', body: { message: 'duplicate id' } };

    const behavior = this.behavior(this.requests, ids);
    switch (behavior.kind) {
      case 'drop':
        return 'drop';
      case 'commit-drop':
        this.commit(ids, {});
        for (const id of ids) this.answerLost.add(id);
        return 'drop';
      case 'status':
        return { status: behavior.status, code: behavior.code, body: { message: behavior.code } };
      case 'slow':
        await new Promise((resolve) => setTimeout(resolve, behavior.ms));
        // The caller has given up: nothing was committed (see the README on timeouts after commit).
        if (request.socket.destroyed) return 'closed';
        // The connection outlived the caller's deadline: committed, and the answer arrives too late to count.
        for (const id of ids) this.answerLost.add(id);
        return this.commit(ids, {});
      case 'partial':
        return this.commit(ids, behavior.failures);
      case 'ok':
        return this.commit(ids, {});
    }
  }

  private commit(ids: string[], failures: Record<string, string>) {
    const successful: { id: string; eventID: string }[] = [];
    const failed: { id: string; errorCode: string; errorMessage: string }[] = [];
    for (const id of ids) {
      const code = failures[id];
      if (code !== undefined) failed.push({ id, errorCode: code, errorMessage: `${code} for ${id}` });
      else {
        this.ingested.set(id, (this.ingested.get(id) ?? 0) + 1);
        successful.push({ id, eventID: `ev-${id}` });
      }
    }
    return { status: 200, body: { successful, failed } };
  }

  /** Re-signs the request with the test credentials and the request's own date; the Authorization must match. */
  private async checkSignature(request: IncomingMessage, url: URL, body: string): Promise<void> {
    for (const problem of await sigV4Problems(
      request,
      url,
      body,
      this.region,
      model.metadata.signingName ?? '',
    ))
      this.violation(problem);
  }
}
