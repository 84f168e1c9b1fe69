import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCedarSchema } from '../../cli/schema';
import { cedar } from '../../lambda/adapters/cedar-engine';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import {
  pinsFromSchemaJson,
  readToolPinsFile,
  TOOL_PINS_FILE,
  toolPinsFileContent,
} from '../../lambda/adapters/tool-pin-store';
import { ConfigurationError } from '../../lambda/core/errors';
import { ToolPins, toolDigest } from '../../lambda/core/tool-pins';
import { POLICY_DIR } from '../helpers/harness';

const INJECTED = ['_caller_user', '_caller_roles'];
const STUB = join(POLICY_DIR, 'schema-stub.cedarschema');
const tools = [
  {
    name: 'b___y',
    description: 'Y.',
    inputSchema: { type: 'object', properties: { id: { type: 'string' } } },
  },
  { name: 'a___x', description: 'X.', inputSchema: { type: 'object' } },
];
const DIGEST = `sha256:${'0'.repeat(64)}`;

function resolved(text: string): unknown {
  const json = cedar.schemaToJsonWithResolvedTypes(text);
  if (json.type === 'failure') throw new Error('schema does not parse');
  return json.json;
}

function pinnedSchema(): string {
  return generateCedarSchema(readFileSync(STUB, 'utf8'), tools, INJECTED, { pins: true }).text;
}

describe('pins in the schema', () => {
  it('reads the @mcp_tool_digest annotation of each tool action', () => {
    expect(pinsFromSchemaJson(resolved(pinnedSchema()))).toStrictEqual(
      new Map([
        ['a___x', toolDigest(tools[1], INJECTED)],
        ['b___y', toolDigest(tools[0], INJECTED)],
      ]),
    );
  });

  it('finds none in an unpinned schema (the demo schema)', () => {
    expect(loadPolicyBundle(POLICY_DIR).toolPins).toStrictEqual(new Map());
  });

  it('refuses a malformed digest, or one on an action that is not a tool', () => {
    const schema = (annotation: string, action: string) =>
      `namespace N { entity U; ${annotation} action "${action}" appliesTo { principal: [U], resource: [U] }; }`;
    expect(() => pinsFromSchemaJson(resolved(schema('@mcp_tool_digest("sha256:abc")', 'a___x')))).toThrow(
      new ConfigurationError('schema: the digest of \'a___x\' must be "sha256:" and 64 lowercase hex digits'),
    );
    expect(() => pinsFromSchemaJson(resolved(schema(`@mcp_tool_digest("${DIGEST}")`, 'target:a')))).toThrow(
      new ConfigurationError("schema: 'target:a' carries a tool digest but is not a tool name"),
    );
    expect(pinsFromSchemaJson(resolved(schema('@other("x")', 'a___x')))).toStrictEqual(new Map());
  });

  it('loads with the policy folder, which fails to load on a bad pin', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pins-'));
    copyFileSync(STUB, join(dir, 'schema-stub.cedarschema'));
    writeFileSync(join(dir, 'schema.cedarschema'), pinnedSchema());
    expect(loadPolicyBundle(dir).toolPins.get('a___x')).toBe(toolDigest(tools[1], INJECTED));

    writeFileSync(
      join(dir, 'schema.cedarschema'),
      pinnedSchema().replace(/sha256:[0-9a-f]{64}/, 'sha256:short'),
    );
    expect(() => loadPolicyBundle(dir)).toThrow(ConfigurationError);
  });

  it('makes ToolPins that pass the tools as they were generated and refuse a changed one', () => {
    const pins = new ToolPins(pinsFromSchemaJson(resolved(pinnedSchema())), () => INJECTED);
    expect(pins.checkListed(tools[0])).toStrictEqual({ kind: 'ok' });
    expect(pins.checkListed({ ...tools[1], description: 'X, changed.' })).toMatchObject({
      kind: 'drifted',
      change: 'changed',
    });
    expect(pins.checkCall('a___x')).toMatchObject({ kind: 'drifted', tool: 'a___x' });
  });
});

describe(`${TOOL_PINS_FILE} (the Lambda's copy)`, () => {
  const file = (content: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'pins-file-')), TOOL_PINS_FILE);
    writeFileSync(path, content);
    return path;
  };

  it('round-trips the pins, keys sorted', () => {
    const pins = new Map([
      ['b___y', DIGEST],
      ['a___x', `sha256:${'f'.repeat(64)}`],
    ]);
    const content = toolPinsFileContent(pins);
    expect(content).toBe(`{"a___x":"sha256:${'f'.repeat(64)}","b___y":"${DIGEST}"}`);
    expect(readToolPinsFile(file(content))).toStrictEqual(pins);
    expect(toolPinsFileContent(new Map())).toBe('{}');
  });

  it('refuses a file it cannot use, naming it', () => {
    const missing = join(tmpdir(), 'no-such-dir', TOOL_PINS_FILE);
    expect(() => readToolPinsFile(missing)).toThrow(`cannot read the tool pins ${missing}`);
    const cases: [string, string][] = [
      ['not json', 'cannot read the tool pins'],
      ['[]', 'must hold an object of tool name → "sha256:…" digest'],
      ['null', 'must hold an object of tool name → "sha256:…" digest'],
      ['{"a___x":"sha256:00"}', 'the digest of \'a___x\' must be "sha256:" and 64 lowercase hex digits'],
      [`{"tools/call":"${DIGEST}"}`, "'tools/call' carries a tool digest but is not a tool name"],
    ];
    for (const [content, message] of cases) {
      const path = file(content);
      expect(() => readToolPinsFile(path)).toThrow(ConfigurationError);
      expect(() => readToolPinsFile(path)).toThrow(message);
    }
  });
});
