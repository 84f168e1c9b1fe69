import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { generateCedarSchema, toolsFromJson } from '../../cli/schema';
import { readToolPinsFile, TOOL_PINS_FILE } from '../../lambda/adapters/tool-pin-store';
import { toolDigest } from '../../lambda/core/tool-pins';
import { McpPolicyStore } from '../../lib/constructs/policy-store';

const ROOT = join(__dirname, '..', '..');
const INJECTED = ['_caller_user', '_caller_roles'];

describe('pinned tools in the deployed policy store', () => {
  const tools = toolsFromJson(readFileSync(join(ROOT, 'test', 'fixtures', 'orders-tools-list.json'), 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'pinned-policies-'));
  cpSync(join(ROOT, 'policies'), dir, { recursive: true });
  const stub = readFileSync(join(dir, 'schema-stub.cedarschema'), 'utf8');
  writeFileSync(
    join(dir, 'schema.cedarschema'),
    generateCedarSchema(stub, tools, INJECTED, { pins: true }).text,
  );
  const store = new McpPolicyStore(new Stack(new App(), 'Pins'), 'PolicyStore', { policyDir: dir });

  it('writes the pins for the Lambda code asset at synth', () => {
    expect(readToolPinsFile(join(store.generatedDir, TOOL_PINS_FILE))).toStrictEqual(
      new Map(tools.map((tool) => [tool.name, toolDigest(tool, INJECTED)])),
    );
  });

  it('keeps the annotations out of the schema sent to Verified Permissions', () => {
    const template = Template.fromStack(Stack.of(store));
    const [policyStore] = Object.values(template.findResources('AWS::VerifiedPermissions::PolicyStore'));
    const schema = String(policyStore?.Properties.Schema.CedarJson);
    expect(schema).toContain('orders___get_order');
    expect(schema).not.toContain('mcp_tool_digest');
    expect(schema).not.toContain('sha256:');
  });
});
