import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { loadPolicyBundle, scanPolicyFiles } from '../../lambda/adapters/policy-files';
import { callerFromClaims } from '../../lambda/core/caller';
import { discoveryRequest } from '../../lambda/core/cedar-request';
import { ConfigurationError } from '../../lambda/core/errors';
import { POLICY_DIR } from '../helpers/harness';

function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'policies-'));
  cpSync(join(POLICY_DIR, 'schema.cedarschema'), join(dir, 'schema.cedarschema'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('loadPolicyBundle', () => {
  it('loads the repository policies with stable ids, reasons and resolved input types', () => {
    const bundle = loadPolicyBundle(POLICY_DIR);
    expect(bundle.policies.map((policy) => policy.id).sort()).toEqual([
      'large-refunds-need-finance',
      'order-admins-update',
      'orders-readers',
      'schema-readers',
    ]);
    expect(bundle.catalog.get('large-refunds-need-finance')?.reason).toMatch(/finance-approver/);
    expect(bundle.inputTypes.orders___update_order).toEqual({
      type: 'Record',
      attributes: {
        amount: { type: 'Long', required: false },
        order_id: { type: 'String', required: true },
        status: { type: 'String', required: true },
      },
    });
    expect(bundle.actions.has('tools/call')).toBe(true);
  });

  it('names the file and line of a syntax error', () => {
    const dir = policyDir({
      'ok.cedar': 'permit (principal, action, resource);',
      'broken.cedar': '\n\npermit (principal, action resource);',
    });
    expect(() => loadPolicyBundle(dir)).toThrow(ConfigurationError);
    expect(() => loadPolicyBundle(dir)).toThrow(
      /^\S*broken\.cedar:3:27: error: unexpected token `resource`.*\n {2}\|\n3 \| permit \(principal, action resource\);\n {2}\| {27}\^{8}$/,
    );
  });

  it('refuses a policy that does not match the schema, naming the file', () => {
    const dir = policyDir({
      'typo.cedar': 'permit (principal, action == McpIdentity::Action::"orders___get_ordr", resource);',
    });
    expect(() => loadPolicyBundle(dir)).toThrow(/typo\.cedar:1:30: error \[typo\]: .*orders___get_ordr/);
  });

  it('refuses an unguarded read of an optional attribute (STRICT, as AVP validates)', () => {
    const dir = policyDir({
      'unguarded.cedar':
        'forbid (principal, action == McpIdentity::Action::"orders___update_order", resource) when { context.input.amount > 5 };',
    });
    expect(() => loadPolicyBundle(dir)).toThrow(/unguarded\.cedar/);
  });

  it('refuses duplicate policy ids and a missing schema', () => {
    const dir = policyDir({
      'a.cedar': '@id("same") permit (principal, action, resource);',
      'b.cedar': '@id("same") forbid (principal, action, resource);',
    });
    expect(() => loadPolicyBundle(dir)).toThrow(/policy id 'same' is also used in a\.cedar/);
    expect(() => loadPolicyBundle(mkdtempSync(join(tmpdir(), 'empty-')))).toThrow(
      /cannot read .*schema\.cedarschema/,
    );
  });

  it('numbers several policies of one file', () => {
    const bundle = loadPolicyBundle(
      policyDir({
        'two.cedar': 'permit (principal, action, resource);\nforbid (principal, action, resource);',
      }),
    );
    expect(bundle.policies.map((policy) => policy.id)).toEqual(['two#1', 'two#2']);
  });
});

describe('splitting a folder in one parse', () => {
  const twelve = Array.from(
    { length: 12 },
    (_, index) => `// rule ${index}\npermit (principal == McpIdentity::User::"u${index}", action, resource);`,
  ).join('\n\n');
  // A folder of one file is split file by file; these files together are split in one parse
  // (policy-load-calls.test.ts counts the calls).
  const files: Record<string, string> = {
    'a-twelve.cedar': `${twelve}\n// no newline at the end`,
    'b-comment-holds-next.cedar':
      'forbid (principal, action, resource);\n// permit (principal, action, resource);',
    'c-next.cedar': 'permit (principal, action, resource);',
    'd-crlf.cedar': '@id("crlf")\r\n@reason("line ends")\r\npermit (principal, action, resource);\r\n',
    'e-packed.cedar':
      'permit (principal, action, resource);forbid (principal, action, resource) when { "a;//" == "b" };',
    'f-empty.cedar': '',
    'g-only-comments.cedar': '// nothing here yet\n',
  };
  const view = (dir: string) =>
    scanPolicyFiles(dir).policies.map(({ id, file, text, offset, reason, json }) => ({
      id,
      file,
      text,
      offset,
      reason,
      json,
    }));

  it('gives every policy the id, text, offset and JSON form that splitting its file alone gives', () => {
    const alone = Object.entries(files).flatMap(([name, text]) => view(policyDir({ [name]: text })));

    const together = view(policyDir(files));

    expect(alone).toHaveLength(17);
    expect(together).toEqual(alone);
    // Cedar answers a set's policies sorted by generated name (policy0, policy1, policy10, …): kept as it was.
    expect(together.filter((policy) => policy.file === 'a-twelve.cedar').map((policy) => policy.id)).toEqual(
      Array.from({ length: 12 }, (_, index) => `a-twelve#${index + 1}`),
    );
  });

  it('splits file by file when a gap holds other white space, as each file alone', () => {
    const odd = { ...files, 'h-nbsp.cedar': '\u00a0permit (principal, action, resource);' };
    const alone = Object.entries(odd).flatMap(([name, text]) => view(policyDir({ [name]: text })));

    expect(view(policyDir(odd))).toEqual(alone);
    expect(alone).toHaveLength(18);
  });

  it('still locates a broken file among good ones', () => {
    const scan = scanPolicyFiles(
      policyDir({ ...files, 'z-broken.cedar': 'permit (principal, action, resource)\n' }),
    );

    expect(scan.diagnostics.map((diagnostic) => diagnostic.file)).toEqual(['z-broken.cedar']);
    expect(scan.policies).toHaveLength(17);
  });
});

describe('partial evaluation lists a tool that only some inputs may call', () => {
  it('shows the tool when a permit depends on the input (where a discovery request would not)', async () => {
    const dir = policyDir({
      'small-updates.cedar':
        'permit (principal, action == McpIdentity::Action::"orders___update_order", resource) when { context has input && context.input has amount && context.input.amount < 10 };',
    });
    const pdp = new CedarDecisionPoint(loadPolicyBundle(dir));
    const caller = callerFromClaims({ sub: 'u', iss: 'i', exp: 4102444800 });
    const model = { namespace: 'McpIdentity', resourceId: 'gateway' };
    const request = discoveryRequest(caller, 'orders___update_order', model);
    expect(
      await pdp.couldBeAllowed([request, discoveryRequest(caller, 'orders___get_order', model)]),
    ).toEqual([true, false]);
    // The Verified Permissions convention (no input) would hide it: documented as why permits must not read input.
    expect((await pdp.isAuthorized(request)).decision).toBe('deny');
  });
});

describe('what the policy folder holds on disk', () => {
  const copy = () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-disk-'));
    cpSync(POLICY_DIR, dir, { recursive: true });
    return dir;
  };
  const forbidEveryUpdate =
    '@id("no-updates")\n@reason("frozen")\nforbid (principal, action == McpIdentity::Action::"orders___update_order", resource);\n';

  it('follows a symbolic link to a policy file: a linked forbid applies', () => {
    const dir = copy();
    const shared = mkdtempSync(join(tmpdir(), 'policy-shared-'));
    writeFileSync(join(shared, 'freeze.cedar'), forbidEveryUpdate);
    symlinkSync(join(shared, 'freeze.cedar'), join(dir, 'freeze.cedar'));

    const bundle = loadPolicyBundle(dir);

    expect(bundle.policies.map((policy) => policy.id)).toContain('no-updates');
  });

  it('refuses a symbolic link to a folder, whose policies would otherwise not be read', () => {
    const dir = copy();
    const shared = mkdtempSync(join(tmpdir(), 'policy-shared-'));
    writeFileSync(join(shared, 'freeze.cedar'), forbidEveryUpdate);
    symlinkSync(shared, join(dir, 'shared'));

    expect(() => loadPolicyBundle(dir)).toThrow(ConfigurationError);
    expect(() => loadPolicyBundle(dir)).toThrow(/shared is a symbolic link to a folder/);
  });

  it('refuses a .cedar link that points nowhere, and ignores other dangling links', () => {
    const dir = copy();
    symlinkSync(join(dir, 'gone.txt'), join(dir, 'notes.txt'));
    expect(loadPolicyBundle(dir).policies.length).toBeGreaterThan(0);

    symlinkSync(join(dir, 'gone.cedar'), join(dir, 'freeze.cedar'));
    expect(() => loadPolicyBundle(dir)).toThrow(/freeze\.cedar is a symbolic link to nothing/);
  });

  it('reads policy and schema files that start with a byte-order mark', () => {
    const dir = copy();
    writeFileSync(join(dir, 'freeze.cedar'), `\uFEFF${forbidEveryUpdate}`);
    const schema = join(dir, 'schema.cedarschema');
    writeFileSync(schema, `\uFEFF${readFileSync(schema, 'utf8')}`);

    const bundle = loadPolicyBundle(dir);

    expect(bundle.policies.find((policy) => policy.id === 'no-updates')?.text.startsWith('@id')).toBe(true);
  });
});
