import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import { filterListings, listedIn, type Visible } from '../../lambda/core/listings';

/** What a response lists and what a caller sees of it, to the entry (see also request-path.mutation.test.ts). */
const visible = (tools: string[] = [], other: Partial<Omit<Visible, 'tools'>> = {}): Visible => ({
  tools: new Set(tools),
  prompts: new Set(),
  resources: new Set(),
  templates: new Set(),
  ...other,
});
const text = (value: string) => ({ type: 'text', text: value });

describe('listedIn', () => {
  it.each<[string, unknown]>([
    ['a message that is not an object', 'nope'],
    ['a message with neither result nor error', { jsonrpc: '2.0', id: 1 }],
    ['a result that is not an object', { jsonrpc: '2.0', id: 1, result: 'ok' }],
  ])('lists nothing for %s', (_label, message) => {
    expect(listedIn(message, true)).toStrictEqual({
      tools: [],
      prompts: [],
      resources: [],
      templates: [],
      unreadable: false,
    });
  });

  it('lists nothing and reads no embedded definitions when the result is not a search result', () => {
    expect(
      listedIn({ result: { structuredContent: { tools: [{ name: 't___a' }] }, content: [text('{')] } }),
    ).toStrictEqual({ tools: [], prompts: [], resources: [], templates: [], unreadable: false });
  });

  describe('a search result', () => {
    it('reads definitions from text content with surrounding whitespace', () => {
      const result = { result: { content: [text('  \n[{"name":"t___a"}]\n')] } };

      expect(listedIn(result, true).tools).toStrictEqual(['t___a']);
    });

    it('reads only text items whose text is a string', () => {
      const result = {
        result: {
          content: [
            'not an item',
            null,
            { type: 'image', text: '[{"name":"t___image"}]' },
            { type: 'text', text: 7 },
            { type: 'text' },
            text('{"tools":[{"name":"t___b"}]}'),
          ],
        },
      };

      expect(listedIn(result, true)).toStrictEqual({
        tools: ['t___b'],
        prompts: [],
        resources: [],
        templates: [],
        unreadable: false,
      });
    });

    it('reads every named definition of a list that also holds other values', () => {
      const result = { result: { content: [text('[null, 5, {"name":"t___a"}, {"title":"x"}]')] } };

      expect(listedIn(result, true)).toMatchObject({ tools: ['t___a'], unreadable: false });
    });
  });

  describe('tool names in error data', () => {
    it('finds only names that a tools/call could carry (with the target separator)', () => {
      const data = 'use t___ok, not a___ (no tool) or plain_words; ok too: x___y.z-1';

      expect(listedIn({ error: { code: 1, data } }).tools).toStrictEqual(['t___ok', 'x___y.z-1']);
    });

    it('finds names 32 levels down, and not below', () => {
      let at32: unknown = 't___deep';
      for (let level = 0; level < 32; level += 1) at32 = [at32];

      expect(listedIn({ error: { code: 1, data: at32 } }).tools).toStrictEqual(['t___deep']);
      expect(listedIn({ error: { code: 1, data: [at32] } }).tools).toStrictEqual([]);
    });

    it('visits at most 10,000 values', () => {
      // The root is the first visit; children are visited last to first, so the first child is visited last.
      const fill = (count: number) => ['t___last', ...Array.from({ length: count - 1 }, () => 'x')];

      expect(listedIn({ error: { code: 1, data: fill(9_999) } }).tools).toStrictEqual(['t___last']);
      expect(listedIn({ error: { code: 1, data: fill(10_000) } }).tools).toStrictEqual([]);
    });
  });
});

describe('filterListings', () => {
  describe('a JSON-RPC error', () => {
    it('loses its data when the data names a tool the caller may not see', () => {
      const message = {
        jsonrpc: '2.0',
        id: 1,
        error: { code: -1, message: 'm', data: ['t___a', 't___hidden'] },
      };

      expect(filterListings(message, visible(['t___a']), DEFAULT_INJECTION)).toStrictEqual({
        jsonrpc: '2.0',
        id: 1,
        error: { code: -1, message: 'm' },
      });
    });

    it('is passed as it is when its data names only visible tools, or none', () => {
      const named = { jsonrpc: '2.0', id: 1, error: { code: -1, message: 'm', data: 'retry t___a' } };
      const plain = { jsonrpc: '2.0', id: 1, error: { code: -1, message: 'm', data: 'retry later' } };

      expect(filterListings(named, visible(['t___a']), DEFAULT_INJECTION)).toBe(named);
      expect(filterListings(plain, visible(), DEFAULT_INJECTION)).toBe(plain);
    });
  });

  it('passes a message without a result object as it is', () => {
    const message = { jsonrpc: '2.0', id: 1, result: 'ok' };

    expect(filterListings(message, visible(), DEFAULT_INJECTION)).toBe(message);
  });

  it('adds no list the result did not have', () => {
    const message = { jsonrpc: '2.0', id: 1, result: { prompts: [{ name: 'p' }] } };

    expect(
      filterListings(message, visible([], { prompts: new Set(['p']) }), DEFAULT_INJECTION),
    ).toStrictEqual(message);
  });

  it('keeps required entries that are not names, and drops only the injected names', () => {
    const message = {
      result: {
        tools: [{ name: 't___a', inputSchema: { type: 'object', required: ['x', 5, '_caller_roles'] } }],
      },
    };

    expect(filterListings(message, visible(['t___a']), DEFAULT_INJECTION)).toStrictEqual({
      result: { tools: [{ name: 't___a', inputSchema: { type: 'object', required: ['x', 5] } }] },
    });
  });

  describe('cache scope (MCP 2026-07-28)', () => {
    it.each<[string, Record<string, unknown>, Visible]>([
      ['tools', { tools: [] }, visible()],
      ['prompts', { prompts: [{ name: 'p' }] }, visible([], { prompts: new Set(['p']) })],
      ['resources', { resources: [{ uri: 'u://1' }] }, visible([], { resources: new Set(['u://1']) })],
      [
        'resource templates',
        { resourceTemplates: [{ uriTemplate: 'u://{id}' }] },
        visible([], { templates: new Set(['u://{id}']) }),
      ],
    ])(
      'marks a filtered list of %s private, whether it had cacheScope or only ttlMs',
      (_label, lists, seen) => {
        for (const cache of [{ cacheScope: 'shared' }, { ttlMs: 60_000 }]) {
          const filtered = filterListings({ result: { ...lists, ...cache } }, seen, DEFAULT_INJECTION);

          expect(filtered).toStrictEqual({ result: { ...lists, ...cache, cacheScope: 'private' } });
        }
      },
    );

    it('leaves a result that lists nothing as the server scoped it', () => {
      const message = { result: { content: [text('hello')], cacheScope: 'shared', ttlMs: 1 } };

      expect(filterListings(message, visible(), DEFAULT_INJECTION)).toStrictEqual(message);
    });

    it('adds no cache scope for a server that does not speak 2026-07-28', () => {
      expect(filterListings({ result: { tools: [] } }, visible(), DEFAULT_INJECTION)).toStrictEqual({
        result: { tools: [] },
      });
    });
  });

  describe('a search result', () => {
    const definition = (name: string) => ({
      name,
      inputSchema: { type: 'object', properties: { q: {}, _caller_user: {} }, required: ['_caller_user'] },
    });
    const shown = (name: string) => ({
      name,
      inputSchema: { type: 'object', properties: { q: {} }, required: [] },
    });

    it('is left alone when the result is not marked as one', () => {
      const message = { result: { content: [text(JSON.stringify([definition('t___hidden')]))] } };

      expect(filterListings(message, visible(), DEFAULT_INJECTION)).toStrictEqual(message);
    });

    it('keeps only visible definitions in structured content, stripped of injected parameters', () => {
      const message = {
        result: {
          structuredContent: { query: 'orders', tools: [definition('t___a'), definition('t___hidden')] },
        },
      };

      expect(filterListings(message, visible(['t___a']), DEFAULT_INJECTION, true)).toStrictEqual({
        result: { structuredContent: { query: 'orders', tools: [shown('t___a')] } },
      });
    });

    it('filters definitions in text content, as a list or as an object with tools, whitespace around', () => {
      const message = {
        result: {
          content: [
            text(` ${JSON.stringify([definition('t___a'), definition('t___hidden')])}\n`),
            text(JSON.stringify({ total: 2, tools: [definition('t___hidden'), definition('t___a')] })),
          ],
        },
      };

      expect(filterListings(message, visible(['t___a']), DEFAULT_INJECTION, true)).toStrictEqual({
        result: {
          content: [
            text(JSON.stringify([shown('t___a')])),
            text(JSON.stringify({ total: 2, tools: [shown('t___a')] })),
          ],
        },
      });
    });

    it('leaves other items as they are: not text, text that is not JSON or not a list, unreadable JSON', () => {
      const content = [
        { type: 'image', data: 'AAAA', text: '[{"name":"t___hidden"}]' },
        { type: 'text', text: 7 },
        'loose',
        text('found 2 tools'),
        text('{"note":"no tools here"}'),
        text('[{"name":"t___a"'),
        text('"[]"'),
      ];

      expect(filterListings({ result: { content } }, visible(), DEFAULT_INJECTION, true)).toStrictEqual({
        result: { content },
      });
    });
  });
});
