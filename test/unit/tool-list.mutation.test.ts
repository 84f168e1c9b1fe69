import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import { filterToolList, listedToolNames } from '../../lambda/core/tool-list';

function listBody(result: Record<string, unknown>): Record<string, unknown> {
  return { jsonrpc: '2.0', id: 7, result };
}

describe('listedToolNames', () => {
  it.each([
    ['a body that is not an object', ['x']],
    ['a body without result', { jsonrpc: '2.0', id: 1 }],
    ['a result that is not an object', { result: [{ name: 'a' }] }],
    ['a result without tools', { result: { prompts: [] } }],
    ['tools that are not a list', { result: { tools: { name: 'a' } } }],
  ])('finds no tools/list answer in %s', (_label, body) => {
    expect(listedToolNames(body)).toBeUndefined();
  });

  it('names only the entries that are objects with a string name', () => {
    const names = listedToolNames(
      listBody({ tools: [{ name: 'a' }, { name: 3 }, null, ['b'], { name: 'c' }] }),
    );

    expect(names).toStrictEqual(['a', 'c']);
  });
});

describe('filterToolList', () => {
  it('marks the answer private when only cacheScope is present', () => {
    const { body } = filterToolList(
      listBody({ tools: [{ name: 'a' }], cacheScope: 'public' }),
      new Set(['a']),
      DEFAULT_INJECTION,
    );

    expect(body).toStrictEqual(listBody({ tools: [{ name: 'a' }], cacheScope: 'private' }));
  });

  it('marks the answer private when only ttlMs is present, keeping the ttl', () => {
    const { body } = filterToolList(listBody({ tools: [], ttlMs: 60000 }), new Set(), DEFAULT_INJECTION);

    expect(body).toStrictEqual(listBody({ tools: [], ttlMs: 60000, cacheScope: 'private' }));
  });

  it('adds no cache scope to an answer from a server that does not speak the cache-aware protocol', () => {
    const { body } = filterToolList(listBody({ tools: [{ name: 'a' }] }), new Set(['a']), DEFAULT_INJECTION);

    expect(body).toStrictEqual(listBody({ tools: [{ name: 'a' }] }));
  });

  it('reports nothing shown or hidden for an answer that is not a tool list, and passes it on', () => {
    const body = listBody({ prompts: [] });

    const filtered = filterToolList(body, new Set(['a___one']), DEFAULT_INJECTION);

    expect(filtered).toStrictEqual({ body, shown: [], hidden: [] });
  });

  it('drops entries it cannot name, reporting them neither shown nor hidden', () => {
    const result = filterToolList(
      listBody({ tools: [{ name: 'a' }, { title: 'nameless' }, 'b', null, { name: 5 }, { name: 'c' }] }),
      new Set(['a']),
      DEFAULT_INJECTION,
    );

    expect(result).toStrictEqual({ body: listBody({ tools: [{ name: 'a' }] }), shown: ['a'], hidden: ['c'] });
  });

  it('strips the reserved and bound parameters of each tool from its schema, and nothing else', () => {
    // Arrange
    const injection = {
      ...DEFAULT_INJECTION,
      bindings: { '*': { tenant: 'subject' as const }, a: { owner: 'email' as const } },
    };
    const schema = {
      type: 'object',
      properties: { q: { type: 'string' }, _caller_user: {}, _caller_roles: {}, tenant: {}, owner: {} },
      required: ['q', '_caller_user', 'tenant', 'owner', 7],
      additionalProperties: false,
    };

    // Act
    const { body } = filterToolList(
      listBody({
        tools: [
          { name: 'a', inputSchema: schema },
          { name: 'b', inputSchema: schema },
        ],
      }),
      new Set(['a', 'b']),
      injection,
    );

    // Assert
    expect(body).toStrictEqual(
      listBody({
        tools: [
          {
            name: 'a',
            inputSchema: {
              type: 'object',
              properties: { q: { type: 'string' } },
              required: ['q', 7],
              additionalProperties: false,
            },
          },
          {
            name: 'b',
            inputSchema: {
              type: 'object',
              properties: { q: { type: 'string' }, owner: {} },
              required: ['q', 'owner', 7],
              additionalProperties: false,
            },
          },
        ],
      }),
    );
    expect(schema.properties).toHaveProperty('_caller_user');
  });

  it('leaves a schema without properties or required list without them', () => {
    const { body } = filterToolList(
      listBody({
        tools: [
          { name: 'a', inputSchema: { type: 'object', properties: 'odd', required: 'odd' } },
          { name: 'b', inputSchema: { type: 'object' } },
        ],
      }),
      new Set(['a', 'b']),
      DEFAULT_INJECTION,
    );

    expect(body).toStrictEqual(
      listBody({
        tools: [
          { name: 'a', inputSchema: { type: 'object', properties: 'odd', required: 'odd' } },
          { name: 'b', inputSchema: { type: 'object' } },
        ],
      }),
    );
  });
});
