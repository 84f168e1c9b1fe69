import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { validatePolicyFolder } from '../../cli/policies';
import { parseStackConfig } from '../../lib/config';
import { McpPolicyStore } from '../../lib/constructs/policy-store';
import { McpIdentityStack } from '../../lib/mcp-identity-stack';
import { POLICY_STACK_COUNT } from '../../lib/policy-deployment';

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context.mcpIdentity;

/** A copy of policies/ with `files` written over it. */
function policyFolder(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'policies-'));
  cpSync(join(ROOT, 'policies'), dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** `count` generated policies over the real schema: one role each, permits and guarded forbids. */
function generatedFolder(count: number): string {
  const dir = mkdtempSync(join(tmpdir(), `policies-${count}-`));
  cpSync(join(ROOT, 'policies', 'schema.cedarschema'), join(dir, 'schema.cedarschema'));
  for (let index = 0; index < count; index += 1) {
    const text =
      index % 10 === 0
        ? `@id("limit-${index}")\n@reason("refunds above ${index} need role approver-${index}")\nforbid (principal, action == McpIdentity::Action::"orders___update_order", resource)\nwhen { context has input && context.input has amount && context.input.amount > ${index} }\nunless { principal in McpIdentity::Role::"approver-${index}" };\n`
        : `@id("reader-${index}")\n@reason("role r${index} may read orders")\npermit (principal in McpIdentity::Role::"r${index}", action == McpIdentity::Action::"orders___get_order", resource);\n`;
    writeFileSync(join(dir, `p${String(index).padStart(4, '0')}.cedar`), text);
  }
  return dir;
}

interface DeployedPolicy {
  readonly logicalId: string;
  readonly stack: string;
  readonly name: string;
  readonly statement: string;
  readonly resource: Record<string, unknown>;
}

/** The policy store alone (no functions to bundle), with each policy's logical id and nested stack. */
function deployedPolicies(dir: string): Map<string, DeployedPolicy> {
  const stack = new Stack(new App(), 'Policies');
  const store = new McpPolicyStore(stack, 'PolicyStore', { policyDir: dir });
  const found = new Map<string, DeployedPolicy>();
  for (const nested of store.policyStacks.values()) {
    const template = Template.fromStack(nested);
    for (const [logicalId, resource] of Object.entries(
      template.findResources('AWS::VerifiedPermissions::Policy'),
    )) {
      const stableId = String(resource.Properties.Definition.Static.Description).split(':')[0] as string;
      found.set(stableId, {
        logicalId,
        stack: nested.node.id,
        name: resource.Properties.Name,
        statement: resource.Properties.Definition.Static.Statement,
        resource,
      });
    }
  }
  return found;
}

const FORBID = readFileSync(join(ROOT, 'policies', 'large-refunds.cedar'), 'utf8');
const PERMIT = readFileSync(join(ROOT, 'policies', 'order-admins-update.cedar'), 'utf8');

describe('policy edits: replaced when Verified Permissions cannot update them, updated in place otherwise', () => {
  let before: Map<string, DeployedPolicy>;
  beforeAll(() => {
    before = deployedPolicies(policyFolder());
  });
  const edited = (file: string, text: string) => deployedPolicies(policyFolder({ [file]: text }));

  it.each([
    [
      'the effect changes (forbid → permit)',
      'large-refunds.cedar',
      'large-refunds-need-finance',
      FORBID.replace(/^forbid \(/m, 'permit ('),
    ],
    [
      'the principal scope changes',
      'order-admins-update.cedar',
      'order-admins-update',
      PERMIT.replace(
        'principal in McpIdentity::Role::"order-admin"',
        'principal in McpIdentity::Role::"orders-admin"',
      ),
    ],
    [
      'the resource scope changes',
      'order-admins-update.cedar',
      'order-admins-update',
      PERMIT.replace(/resource\n\);/, 'resource == McpIdentity::Gateway::"gateway"\n);'),
    ],
  ])('replaces the policy when %s: new logical id and name, same nested stack', (_what, file, id, text) => {
    expect(text).not.toBe(file === 'large-refunds.cedar' ? FORBID : PERMIT);
    const after = edited(file, text);
    const old = before.get(id);
    const next = after.get(id);
    expect(old).toBeDefined();
    expect(next).toBeDefined();
    expect(next?.logicalId).not.toBe(old?.logicalId);
    // Names are unique within a store and both policies exist between create and cleanup.
    expect(next?.name).not.toBe(old?.name);
    // Same stack: the create (update phase) and the delete (cleanup phase) happen in one stack update.
    expect(next?.stack).toBe(old?.stack);
    // The other policies are untouched.
    for (const [other, policy] of before)
      if (other !== id) expect(after.get(other)?.logicalId).toBe(policy.logicalId);
  });

  it.each([
    [
      'a condition changes',
      'large-refunds.cedar',
      'large-refunds-need-finance',
      FORBID.replace('context.input.amount > 500', 'context.input.amount > 250'),
    ],
    [
      'the action scope changes (UpdatePolicy may change the action)',
      'order-admins-update.cedar',
      'order-admins-update',
      PERMIT.replace(
        'action == McpIdentity::Action::"orders___update_order"',
        'action in [McpIdentity::Action::"orders___update_order", McpIdentity::Action::"orders___get_order"]',
      ),
    ],
  ])(
    'updates the policy in place when %s: same logical id and name, new statement',
    (_what, file, id, text) => {
      const after = edited(file, text);
      const old = before.get(id);
      const next = after.get(id);
      expect(next?.logicalId).toBe(old?.logicalId);
      expect(next?.name).toBe(old?.name);
      expect(next?.statement).not.toBe(old?.statement);
    },
  );

  it('leaves no policy behind on replacement or removal (no Retain deletion or replace policy)', () => {
    for (const policy of before.values()) {
      expect(policy.resource.DeletionPolicy ?? 'Delete').toBe('Delete');
      expect(policy.resource.UpdateReplacePolicy ?? 'Delete').toBe('Delete');
    }
  });

  it('keeps a policy in the same nested stack whatever else is added', () => {
    const after = deployedPolicies(generatedFolderWith(policyFolder(), 40));
    for (const [id, policy] of before) expect(after.get(id)?.stack).toBe(policy.stack);
  });
});

/** Adds `count` generated reader policies to an existing folder. */
function generatedFolderWith(dir: string, count: number): string {
  for (let index = 0; index < count; index += 1)
    writeFileSync(
      join(dir, `gen-${index}.cedar`),
      `@id("gen-${index}")\npermit (principal in McpIdentity::Role::"g${index}", action == McpIdentity::Action::"orders___get_order", resource);\n`,
    );
  return dir;
}

describe('1,000 policies', () => {
  const dir = generatedFolder(1000);
  let out: string;
  let templates: {
    file: string;
    bytes: number;
    template: { Resources: Record<string, Record<string, any>> };
  }[];
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'cdk-out-'));
    const app = new App({ outdir: out });
    const raw = structuredClone(EXAMPLE);
    raw.authorization = { ...raw.authorization, policyDir: dir };
    new McpIdentityStack(app, 'Scale', {
      config: parseStackConfig(raw),
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    app.synth();
    templates = readdirSync(out)
      .filter((file) => file.endsWith('.template.json'))
      .map((file) => {
        const text = readFileSync(join(out, file), 'utf8');
        return { file, bytes: Buffer.byteLength(text), template: JSON.parse(text) };
      });
  }, 120_000);

  it('synthesizes one AWS::VerifiedPermissions::Policy per policy, spread over nested stacks', () => {
    const policies = templates.flatMap(({ template }) =>
      Object.values(template.Resources).filter(
        (resource) => resource.Type === 'AWS::VerifiedPermissions::Policy',
      ),
    );
    expect(policies).toHaveLength(1000);
    expect(new Set(policies.map((policy) => policy.Properties.Name)).size).toBe(1000);
    const nested = templates.filter(({ file }) => file.endsWith('.nested.template.json'));
    expect(nested.length).toBeGreaterThan(1);
    expect(nested.length).toBeLessThanOrEqual(POLICY_STACK_COUNT);
    const root = templates.find(({ file }) => file === 'Scale.template.json');
    expect(
      Object.values(root?.template.Resources ?? {}).filter(
        (resource) => resource.Type === 'AWS::VerifiedPermissions::Policy',
      ),
    ).toHaveLength(0);
  });

  it('keeps every template deployable: at most 500 resources and 1 MB each', () => {
    for (const { file, bytes, template } of templates) {
      expect({ file, resources: Object.keys(template.Resources).length <= 500 }).toEqual({
        file,
        resources: true,
      });
      expect({ file, fits: bytes <= 1_000_000 }).toEqual({ file, fits: true });
    }
  });

  it('keeps the interceptor environment small and ships the catalogue in its code asset', () => {
    const root = templates.find(({ file }) => file === 'Scale.template.json')?.template;
    const interceptor = Object.values(root?.Resources ?? {}).find(
      (resource) =>
        resource.Type === 'AWS::Lambda::Function' &&
        String(resource.Properties.Description).includes('decides'),
    );
    const variables = interceptor?.Properties.Environment.Variables as Record<string, unknown>;
    expect(variables.MCP_IDENTITY_POLICY_CATALOG).toBeUndefined();
    expect(variables.MCP_IDENTITY_POLICY_CATALOG_FILE).toBe('/var/task/policy-catalog.json');
    expect(JSON.stringify(variables).length).toBeLessThan(2500);
    const key = String(interceptor?.Properties.Code.S3Key);
    const asset = join(out, `asset.${key.replace(/\.zip$/, '')}`);
    expect(existsSync(join(asset, 'index.js'))).toBe(true);
    const catalog = JSON.parse(readFileSync(join(asset, 'policy-catalog.json'), 'utf8'));
    expect(Object.keys(catalog)).toHaveLength(1000);
    expect(catalog['limit-10']).toEqual({
      name: 'limit-10',
      reason: 'refunds above 10 need role approver-10',
      avpName: expect.stringMatching(/^name\/limit-10__[0-9a-f]{8}$/),
    });
  });

  it('is found deployable by `policies validate` as well', () => {
    const report = validatePolicyFolder(dir);
    expect(report.policies).toBe(1000);
    expect(report.findings.filter((finding) => finding.severity === 'error')).toEqual([]);
  });
});
