import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cedar } from '../../lambda/adapters/cedar-engine';
import { loadPolicyBundle, scanPolicyFiles } from '../../lambda/adapters/policy-files';
import { POLICY_DIR } from '../helpers/harness';

// The engine calls a load makes (each cedar-wasm call costs about 0.15 ms however small), counted.
jest.mock('../../lambda/adapters/cedar-engine', () => {
  const actual = jest.requireActual<typeof import('../../lambda/adapters/cedar-engine')>(
    '../../lambda/adapters/cedar-engine',
  );
  return {
    cedar: {
      ...actual.cedar,
      policySetTextToParts: jest.fn(actual.cedar.policySetTextToParts),
      validate: jest.fn(actual.cedar.validate),
    },
  };
});

function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'policies-'));
  cpSync(join(POLICY_DIR, 'schema.cedarschema'), join(dir, 'schema.cedarschema'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const split = jest.mocked(cedar.policySetTextToParts);
const validate = jest.mocked(cedar.validate);

beforeEach(() => {
  split.mockClear();
  validate.mockClear();
});

describe('the engine calls of loading a policy folder', () => {
  it('splits a folder of several files in one parse', () => {
    const scan = scanPolicyFiles(
      policyDir({
        'a.cedar': 'permit (principal, action, resource);\n// forbid (principal, action, resource);',
        'b.cedar': '@id("b")\npermit (principal, action, resource);\nforbid (principal, action, resource);\n',
        'c.cedar': '',
      }),
    );

    expect(split).toHaveBeenCalledTimes(1);
    expect(scan.policies.map((policy) => [policy.id, policy.offset])).toEqual([
      ['a', 0],
      ['b', 0],
      ['b#2', 47],
    ]);
  });

  it('splits file by file when one does not parse, to locate the error in its file', () => {
    const scan = scanPolicyFiles(
      policyDir({ 'ok.cedar': 'permit (principal, action, resource);', 'broken.cedar': 'permit (' }),
    );

    expect(split).toHaveBeenCalledTimes(3);
    expect(scan.diagnostics.map((diagnostic) => diagnostic.file)).toEqual(['broken.cedar']);
  });

  it('validates a clean folder in one call', () => {
    loadPolicyBundle(POLICY_DIR);

    expect(validate).toHaveBeenCalledTimes(1);
  });

  it('validates again by id to locate a finding', () => {
    const dir = policyDir({
      'ok.cedar': 'permit (principal, action, resource);',
      'typo.cedar': 'permit (principal, action == McpIdentity::Action::"orders___get_ordr", resource);',
    });

    expect(() => loadPolicyBundle(dir)).toThrow(/typo\.cedar:1:30: error \[typo\]: .*orders___get_ordr/);
    expect(validate).toHaveBeenCalledTimes(2);
  });
});
