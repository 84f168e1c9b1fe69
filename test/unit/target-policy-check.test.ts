import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { actionKey, type PolicyFile, readPolicyFiles } from '../../lambda/adapters/policy-files';
import { checkTargetPolicies, unknownTargetMessage } from '../../lib/target-policy-check';

const ACTION = 'McpIdentity::Action';

/** Policies from Cedar text, parsed as the stack reads them (file name → text). */
function policies(files: Record<string, string>): PolicyFile[] {
  const dir = mkdtempSync(join(tmpdir(), 'target-check-'));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return readPolicyFiles(dir);
}

/** The schema's action hierarchy: each tool in `target:<prefix>`, each group in `tools/call`. */
function parents(tools: string[]): Map<string, { type: string; id: string }[]> {
  const map = new Map<string, { type: string; id: string }[]>();
  const groups = new Set<string>();
  for (const tool of tools) {
    const group = `target:${tool.slice(0, tool.indexOf('___'))}`;
    groups.add(group);
    map.set(actionKey(ACTION, tool), [{ type: ACTION, id: group }]);
  }
  for (const group of groups) map.set(actionKey(ACTION, group), [{ type: ACTION, id: 'tools/call' }]);
  map.set(actionKey(ACTION, 'tools/call'), []);
  return map;
}

const TOOLS = ['crm___find', 'docs___search', 'pets___get_pet'];

describe('checkTargetPolicies', () => {
  it('finds tools and groups of undeclared targets in scopes and in conditions', () => {
    const found = checkTargetPolicies(
      policies({
        'a.cedar': '@id("a")\npermit (principal, action == McpIdentity::Action::"ghost___x", resource);',
        'b.cedar':
          '@id("b")\npermit (principal, action, resource) when { action == McpIdentity::Action::"spook___y" };',
        'c.cedar': '@id("c")\nforbid (principal, action in [McpIdentity::Action::"target:gone"], resource);',
        'd.cedar': '@id("d")\npermit (principal, action == McpIdentity::Action::"crm___find", resource);',
      }),
      ['crm'],
      parents(TOOLS),
      'policies',
    );
    expect(found.unknownTargets.map((finding) => [finding.file, finding.tool, finding.target])).toEqual([
      ['policies/a.cedar', 'ghost___x', 'ghost'],
      ['policies/b.cedar', 'spook___y', 'spook'],
      ['policies/c.cedar', 'target:gone', 'gone'],
    ]);
  });

  it('ignores unprefixed actions: system tools and other groups', () => {
    const found = checkTargetPolicies(
      policies({
        'a.cedar':
          '@id("a")\npermit (principal, action in [McpIdentity::Action::"tools/call", McpIdentity::Action::"prompts/get"], resource);',
      }),
      [],
      parents([]),
      'policies',
    );
    expect(found.unknownTargets).toEqual([]);
  });

  it('counts a target reached by a permit naming its tool, its group, an ancestor group, or any action', () => {
    const reach = (text: string) =>
      checkTargetPolicies(
        policies({ 'p.cedar': `@id("p")\n${text}` }),
        ['crm', 'docs', 'pets'],
        parents(TOOLS),
        'policies',
      ).targetsWithoutPolicy;
    expect(reach('permit (principal, action == McpIdentity::Action::"crm___find", resource);')).toEqual([
      'docs',
      'pets',
    ]);
    expect(reach('permit (principal, action in McpIdentity::Action::"target:docs", resource);')).toEqual([
      'crm',
      'pets',
    ]);
    expect(reach('permit (principal, action in McpIdentity::Action::"tools/call", resource);')).toEqual([]);
    expect(reach('permit (principal, action, resource);')).toEqual([]);
    // A forbid reaches nothing: every call would still be denied.
    expect(reach('forbid (principal, action in McpIdentity::Action::"tools/call", resource);')).toEqual([
      'crm',
      'docs',
      'pets',
    ]);
  });

  it('keeps the synth error readable for a large policy set: twenty lines, then a count', () => {
    const findings = Array.from({ length: 1000 }, (_, index) => ({
      file: `policies/p${index % 400}.cedar`,
      policyId: `p${index}`,
      tool: 'orders___get_order',
      target: 'orders',
    }));
    const message = unknownTargetMessage(findings, ['crm']);
    expect(message.split('\n')).toHaveLength(1 + 20 + 1 + 1);
    expect(message).toMatch(/missing: orders; declared: crm/);
    expect(message).toMatch(/… and 980 more \(in 400 policy file\(s\)\)/);
  });
});
