/**
 * The JSON-RPC messages in a response body, in every form one can arrive in: a parsed object, JSON text, a
 * batch (array), or Server-Sent Events text (`data:` lines per event). Decoded so each message can be filtered,
 * and encoded back in the same form. Pure; never throws.
 */
export type ResponseMessages =
  | { readonly form: 'object'; readonly messages: readonly unknown[] }
  | { readonly form: 'json-text'; readonly messages: readonly unknown[] }
  | { readonly form: 'batch'; readonly messages: readonly unknown[]; readonly text: boolean }
  | { readonly form: 'sse'; readonly events: readonly SseEvent[] }
  | { readonly form: 'unreadable' };

interface SseEvent {
  /** Lines of the event other than `data:` (event name, id, comments), kept as they were. */
  readonly other: readonly string[];
  /** The parsed JSON of its data, or undefined when the data is not JSON (kept as `raw`). */
  readonly message?: unknown;
  readonly raw: string;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function decodeSse(text: string): SseEvent[] | undefined {
  const blocks = text
    .replace(/\r\n?/g, '\n')
    .split(
      // Stryker disable next-line Regex: split on exactly two, extra newlines start the next block with empty lines, which are ignored
      /\n\n+/,
    )
    .filter((block) => block.trim().length > 0);
  const events: SseEvent[] = [];
  for (const block of blocks) {
    const lines = block.split('\n');
    const data = lines
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''));
    const other = lines.filter((line) => !line.startsWith('data:'));
    if (other.some((line) => line.length > 0 && !/^(event|id|retry)?:/.test(line) && !line.startsWith(':')))
      return undefined;
    const raw = data.join('\n');
    // Stryker disable next-line ConditionalExpression,EqualityOperator: without data lines raw is '', which does not parse either
    const parsed = data.length > 0 ? parseJson(raw) : { ok: false as const };
    events.push({ other, raw, ...(parsed.ok ? { message: parsed.value } : {}) });
  }
  return events;
}

export function decodeResponseMessages(body: unknown): ResponseMessages {
  if (Array.isArray(body)) return { form: 'batch', messages: body, text: false };
  if (body !== null && typeof body === 'object') return { form: 'object', messages: [body] };
  if (typeof body !== 'string') return { form: 'unreadable' };
  const trimmed = body.trim();
  const json = parseJson(trimmed);
  if (json.ok) {
    if (Array.isArray(json.value)) return { form: 'batch', messages: json.value, text: true };
    return { form: 'json-text', messages: [json.value] };
  }
  const events = decodeSse(body);
  return events === undefined || events.length === 0 ? { form: 'unreadable' } : { form: 'sse', events };
}

/** Every message that could be read (for SSE, the events whose data is JSON). */
export function readableMessages(decoded: ResponseMessages): readonly unknown[] {
  switch (decoded.form) {
    case 'object':
    case 'json-text':
    case 'batch':
      return decoded.messages;
    case 'sse':
      return decoded.events.flatMap((event) => ('message' in event ? [event.message] : []));
    case 'unreadable':
      return [];
  }
}

/** The body again, with each readable message replaced by `map(message)`. */
export function encodeResponseMessages(
  decoded: ResponseMessages,
  map: (message: unknown) => unknown,
  original: unknown,
): unknown {
  switch (decoded.form) {
    case 'object':
      return map(decoded.messages[0]);
    case 'json-text':
      return JSON.stringify(map(decoded.messages[0]));
    case 'batch': {
      const messages = decoded.messages.map(map);
      return decoded.text ? JSON.stringify(messages) : messages;
    }
    case 'sse':
      return `${decoded.events
        .map((event) => {
          const data = 'message' in event ? JSON.stringify(map(event.message)) : event.raw;
          // An event without data (a keep-alive comment) stays without data.
          const dataLines =
            'message' in event || data.length > 0 ? data.split('\n').map((line) => `data: ${line}`) : [];
          return [...event.other.filter((line) => line.length > 0), ...dataLines].join('\n');
        })
        .join('\n\n')}\n\n`;
    case 'unreadable':
      return original;
  }
}
