import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  declaredActions,
  generateCedarSchema,
  mergeTargetSchema,
  SchemaGenerationError,
  schemaChanges,
  toolsFromJson,
} from '../../cli/schema';
import { cedar } from '../../lambda/adapters/cedar-engine';
import { toolDigest } from '../../lambda/core/tool-pins';
import { startOrdersServer } from '../../local/orders-server';
import { cli, cliAsync, policyCopy, ROOT } from './helpers';

const STUB = readFileSync(join(ROOT, 'policies', 'schema-stub.cedarschema'), 'utf8');
const TOOLS_FILE = join(ROOT, 'test', 'fixtures', 'orders-tools-list.json');
const INJECTED = ['_caller_user', '_caller_roles'];

describe('toolsFromJson', () => {
  it('reads a JSON-RPC response, a result and a bare array', () => {
    const tools = [{ name: 'a___b', inputSchema: { type: 'object' } }];
    expect(toolsFromJson(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools } }))).toEqual(tools);
    expect(toolsFromJson(JSON.stringify({ tools }))).toEqual(tools);
    expect(toolsFromJson(JSON.stringify(tools))).toEqual(tools);
  });

  it.each([
    ['not json', /is not JSON/],
    ['{"result":{}}', /has no tools/],
    ['[{"inputSchema":{}}]', /tool #1 has no valid name/],
    ['[{"name":"bad name","inputSchema":{}}]', /tool #1 has no valid name/],
    ['[{"name":"a___b"}]', /tool a___b has no inputSchema/],
  ])('refuses %s', (text, message) => {
    expect(() => toolsFromJson(text)).toThrow(SchemaGenerationError);
    expect(() => toolsFromJson(text)).toThrow(message);
  });
});

describe('generateCedarSchema', () => {
  const schemaOf = (tools: unknown[]) => {
    const generated = generateCedarSchema(STUB, tools as never, INJECTED);
    const resolved = cedar.schemaToJsonWithResolvedTypes(generated.text);
    if (resolved.type === 'failure') throw new Error('does not parse');
    return resolved.json.McpIdentity;
  };

  it('makes one action per tool, in its target group and in tools/call, with typed optional input and the shared context', () => {
    const ns = schemaOf([
      {
        name: 'billing___refund',
        inputSchema: {
          type: 'object',
          properties: {
            amount: { type: 'number' },
            count: { type: 'integer' },
            reason: { type: 'string', enum: ['damaged', 'late'] },
            _caller_user: { type: 'string' },
          },
          required: ['amount', '_caller_user'],
        },
      },
      {
        name: 'x_amz_bedrock_agentcore_search',
        inputSchema: { type: 'object', properties: { query: { type: 'string' } } },
      },
    ]);
    expect(ns?.actions.billing___refund?.memberOf).toEqual([
      { id: 'target:billing', type: 'McpIdentity::Action' },
    ]);
    expect(ns?.actions['target:billing']?.memberOf).toEqual([
      { id: 'tools/call', type: 'McpIdentity::Action' },
    ]);
    expect(ns?.actions.x_amz_bedrock_agentcore_search?.memberOf).toEqual([
      { id: 'tools/call', type: 'McpIdentity::Action' },
    ]);
    const context = ns?.actions.billing___refund?.appliesTo?.context as {
      attributes: Record<string, { required?: boolean }>;
    };
    expect(Object.keys(context.attributes).sort()).toEqual(['actors', 'agent', 'input', 'token']);
    expect(context.attributes.input?.required).toBe(false);
    const input = ns?.commonTypes?.billing___refundInput as {
      attributes: Record<string, { type: string; name?: string; required?: boolean }>;
    };
    expect(input.attributes).toEqual({
      amount: { type: 'decimal' },
      count: { type: 'Long', required: false },
      reason: { type: 'String', required: false },
    });
  });

  it('reproduces the committed schema from the demo tools exactly', () => {
    const generated = generateCedarSchema(STUB, toolsFromJson(readFileSync(TOOLS_FILE, 'utf8')), INJECTED);
    expect(generated.text).toBe(readFileSync(join(ROOT, 'policies', 'schema.cedarschema'), 'utf8'));
  });

  it('describes what changed', () => {
    const before = generateCedarSchema(
      STUB,
      [
        { name: 'a___one', inputSchema: { type: 'object', properties: { x: { type: 'string' } } } },
        { name: 'a___two', inputSchema: { type: 'object' } },
      ],
      INJECTED,
    ).text;
    const after = generateCedarSchema(
      STUB,
      [
        { name: 'a___one', inputSchema: { type: 'object', properties: { x: { type: 'integer' } } } },
        { name: 'a___three', inputSchema: { type: 'object' } },
      ],
      INJECTED,
    ).text;
    expect(schemaChanges(before, after)).toEqual([
      '~ action "a___one": context changed',
      '+ action "a___three"',
      '- action "a___two"',
    ]);
    expect(schemaChanges(undefined, after)).toEqual(['(new schema file)']);
  });
});

describe('pins and per-target merge', () => {
  const nested = (name: string, description: string) => ({
    name,
    description,
    inputSchema: {
      type: 'object',
      properties: { filter: { type: 'object', properties: { kind: { type: 'string' } } } },
    },
  });
  const a = nested('a___x', 'A.');
  const b = nested('b___y', 'B.');

  it('records each tool digest on its action, when asked', () => {
    const pinned = generateCedarSchema(STUB, [a, b], INJECTED, { pins: true });
    const unpinned = generateCedarSchema(STUB, [a, b], INJECTED);

    expect(declaredActions(pinned.text)?.get('a___x')?.pin).toBe(toolDigest(a, INJECTED));
    expect(declaredActions(pinned.text)?.get('b___y')?.pin).toBe(toolDigest(b, INJECTED));
    expect(declaredActions(unpinned.text)?.get('a___x')).not.toHaveProperty('pin');
    expect(pinned.text).toMatch(/^ {2}@mcp_tool_digest\("sha256:[0-9a-f]{64}"\)\n {2}action "a___x"/m);
  });

  it('renders the same tools as the same text, whatever their order', () => {
    expect(generateCedarSchema(STUB, [b, a], INJECTED).text).toBe(
      generateCedarSchema(STUB, [a, b], INJECTED).text,
    );
  });

  it("replaces one target's actions, groups, input types and per-tool namespaces, keeping the rest", () => {
    const committed = generateCedarSchema(STUB, [a, b], INJECTED, { pins: true });
    const changed = {
      ...nested('b___z', 'Z.'),
      inputSchema: { type: 'object', properties: { n: { type: 'integer' } } },
    };

    const merged = mergeTargetSchema(
      committed.text,
      generateCedarSchema(STUB, [changed], INJECTED, { pins: true }),
      'b',
    );

    expect(Object.keys(merged.json).sort()).toStrictEqual(['McpIdentity', 'McpIdentity::a___x::Input']);
    expect(merged.tools).toStrictEqual(['a___x', 'b___z']);
    const actions = declaredActions(merged.text);
    expect(actions?.get('a___x')).toStrictEqual(declaredActions(committed.text)?.get('a___x'));
    expect(actions?.has('b___y')).toBe(false);
    expect(actions?.get('b___z')?.pin).toBe(toolDigest(changed, INJECTED));
    expect(Object.keys(merged.json.McpIdentity?.commonTypes ?? {}).sort()).toStrictEqual([
      'Token',
      'a___xInput',
      'b___zInput',
    ]);
    expect(cedar.checkParseSchema(merged.text).type).toBe('success');
  });

  it('refuses a committed schema it cannot read, or one in another namespace', () => {
    const part = generateCedarSchema(STUB, [b], INJECTED);
    expect(() => mergeTargetSchema('namespace {', part, 'b')).toThrow(/the committed schema does not parse/);
    expect(() => mergeTargetSchema('namespace Other { entity U; action "tools/call"; }', part, 'b')).toThrow(
      "the stub's namespace McpIdentity is not the committed schema's Other; generate it whole (without --target)",
    );
  });
});

describe('mcp-identity schema generate', () => {
  it('finds nothing to change for the demo tools, which are committed unpinned (--check --no-pins exits 0)', () => {
    const result = cli(['schema', 'generate', '--from', TOOLS_FILE, '--check', '--no-pins']);
    expect(result.stdout).toContain('schema unchanged');
    expect(result.status).toBe(0);
  });

  it('pins tool definitions by default: --check reports the unpinned demo tools as changed (exit 1)', () => {
    const result = cli(['schema', 'generate', '--from', TOOLS_FILE, '--check']);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^changed\s+orders___get_order\s+now pinned$/m);
    expect(result.stdout).toMatch(/^changed\s+orders___update_order\s+now pinned$/m);
    expect(result.stdout).toMatch(/^changed\s+orders___get_recent_activity\s+now pinned$/m);
  });

  it('shows what changed and writes the schema; --check fails instead', () => {
    const dir = policyCopy();
    const tools = JSON.parse(readFileSync(TOOLS_FILE, 'utf8'));
    tools.result.tools.push({
      name: 'orders___cancel_order',
      inputSchema: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
    });
    const file = join(dir, 'tools.json');
    writeFileSync(file, JSON.stringify(tools));
    const out = join(dir, 'schema.cedarschema');

    const check = cli([
      'schema',
      'generate',
      '--from',
      file,
      '--out',
      out,
      '--stub',
      join(dir, 'schema-stub.cedarschema'),
      '--check',
    ]);
    expect(check.status).toBe(1);
    expect(check.stdout).toMatch(
      /^added\s+orders___cancel_order\s+new tool, pinned: no policy names it yet$/m,
    );

    const write = cli([
      'schema',
      'generate',
      '--from',
      file,
      '--out',
      out,
      '--stub',
      join(dir, 'schema-stub.cedarschema'),
    ]);
    expect(write.status).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain(
      `@mcp_tool_digest("${toolDigest(tools.result.tools.at(-1), INJECTED)}")\n  action "orders___cancel_order" in [Action::"target:orders"]`,
    );
    expect(cli(['policies', 'validate', '--dir', dir]).status).toBe(0);
  });

  it('reads tools from a running MCP endpoint', async () => {
    const server = await startOrdersServer();
    try {
      const dir = policyCopy();
      // Asynchronously: the server runs in this process and must keep answering.
      const result = await cliAsync([
        'schema',
        'generate',
        '--endpoint',
        server.url,
        '--out',
        join(dir, 'generated.cedarschema'),
      ]);
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('3 tool(s): get_order, update_order, get_recent_activity');
      expect(readFileSync(join(dir, 'generated.cedarschema'), 'utf8')).toContain(
        'action "get_order" in [Action::"tools/call"]',
      );
    } finally {
      await server.stop();
    }
  });

  it.each([
    [['schema', 'generate'], /exactly one of --from <file> or --from-url <url>/],
    [['schema', 'generate', '--from', '/nonexistent.json'], /cannot read \/nonexistent.json/],
    [
      ['schema', 'generate', '--endpoint', 'http://127.0.0.1:9/mcp'],
      /cannot reach http:\/\/127.0.0.1:9\/mcp: bad port/,
    ],
  ])('fails clearly: %j', (args, message) => {
    const result = cli(args);
    expect(result.status).toBe(args.length === 2 ? 2 : 1);
    expect(result.stderr).toMatch(message);
  });
});
