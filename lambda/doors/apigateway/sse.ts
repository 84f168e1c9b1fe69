/**
 * Server-Sent Events read as they stream: bytes in, whole events out (each ending in a blank line, line breaks
 * normalised to `\n`), so each event can go through the guard's response step before it is passed on. Bounded:
 * an event larger than the limit stops the stream rather than growing without end.
 */

export class SseEventTooLarge extends Error {
  constructor(limit: number) {
    super(`an SSE event exceeds ${limit} bytes`);
    this.name = 'SseEventTooLarge';
  }
}

/** Yields each complete event's text, `\n\n`-terminated; a last event without its blank line is completed. */
export async function* sseEvents(
  chunks: AsyncIterable<Uint8Array>,
  maxEventBytes: number,
): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  for await (const chunk of chunks) {
    buffer += decoder.decode(chunk, { stream: true });
    // A `\r` at the very end may be the first half of `\r\n`: keep it until the next chunk says.
    const keep = buffer.endsWith('\r') ? 1 : 0;
    let text = buffer.slice(0, buffer.length - keep).replace(/\r\n?/g, '\n');
    let end = text.indexOf('\n\n');
    while (end >= 0) {
      yield text.slice(0, end + 2);
      text = text.slice(end + 2);
      end = text.indexOf('\n\n');
    }
    buffer = text + buffer.slice(buffer.length - keep);
    if (Buffer.byteLength(buffer, 'utf8') > maxEventBytes) throw new SseEventTooLarge(maxEventBytes);
  }
  buffer = (buffer + decoder.decode()).replace(/\r\n?/g, '\n');
  if (buffer.trim() !== '') yield buffer.endsWith('\n') ? `${buffer}\n` : `${buffer}\n\n`;
}

/** The event's data, joined (`data:` lines, one leading space dropped); undefined when it has none. */
export function eventData(event: string): string | undefined {
  const lines = event.split('\n').filter((line) => line === 'data' || line.startsWith('data:'));
  if (lines.length === 0) return undefined;
  return lines.map((line) => line.slice(5).replace(/^ /, '')).join('\n');
}

/**
 * Whether an event must go through the guard's response step before it is passed on: every event carrying a
 * JSON-RPC response (`result` or `error`) and every event whose data cannot be read as a JSON-RPC message.
 * Comments, keep-alives and well-formed notifications or server requests pass as they are — as on AgentCore
 * Gateway, whose RESPONSE interceptor sees only events that answer a request.
 */
export function needsResponseStep(event: string): boolean {
  const data = eventData(event);
  if (data === undefined) return false;
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return true;
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return true;
  const record = message as Record<string, unknown>;
  return 'result' in record || 'error' in record || typeof record.method !== 'string';
}
