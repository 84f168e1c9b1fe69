import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, policyCopy } from './helpers';

describe('mcp-identity policies validate', () => {
  it('accepts the repository policies', () => {
    const result = cli(['policies', 'validate']);
    expect(result.stdout).toContain('4 policies: 0 error(s), 0 warning(s)');
    expect(result.status).toBe(0);
  });

  it('names file and line of a malformed policy, with exit code 1', () => {
    const dir = policyCopy();
    writeFileSync(join(dir, 'broken.cedar'), '// first line\n\npermit (principal, action resource);\n');
    const result = cli(['policies', 'validate', '--dir', dir]);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(
      /^\S*broken\.cedar:3:27: error: unexpected token `resource`.*\n {2}\|\n3 \| permit \(principal, action resource\);\n {2}\| {27}\^{8}$/m,
    );
  });

  it('names file and line when a policy does not match the schema (unknown tool, wrong type)', () => {
    const dir = policyCopy();
    writeFileSync(
      join(dir, 'mismatch.cedar'),
      '@id("mismatch")\npermit (\n  principal,\n  action == McpIdentity::Action::"orders___delete_order",\n  resource\n);\n\n@id("wrong-type")\nforbid (principal, action == McpIdentity::Action::"orders___update_order", resource)\nwhen { context has input && context.input has amount && context.input.amount == "a lot" };\n',
    );
    const result = cli(['policies', 'validate', '--dir', dir]);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^\S*mismatch\.cedar:4:13: error \[mismatch\]: .*orders___delete_order/m);
    expect(result.stdout).toMatch(/^\S*mismatch\.cedar:10:\d+: error \[wrong-type\]: /m);
  });

  it('warns about a forbid that reads an attribute without a has guard (besides what STRICT validation reports)', () => {
    const dir = policyCopy();
    writeFileSync(
      join(dir, 'tokens.cedar'),
      '@id("old-tokens")\nforbid (principal, action, resource)\nwhen { context.token.issuedAt < 1700000000 };\n',
    );
    const result = cli(['policies', 'validate', '--dir', dir, '--json']);
    const findings = JSON.parse(result.stdout) as { severity: string; message: string; policyId: string }[];
    expect(findings.filter((finding) => finding.severity === 'error').length).toBeGreaterThan(0);
    expect(findings).toContainEqual(
      expect.objectContaining({
        severity: 'warning',
        policyId: 'old-tokens',
        message: expect.stringContaining('context.token.issuedAt without a `has` guard'),
      }),
    );
  });

  it('refuses a folder without a schema', () => {
    const dir = policyCopy();
    unlinkSync(join(dir, 'schema.cedarschema'));
    const result = cli(['policies', 'validate', '--dir', dir]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('schema.cedarschema: error: no schema.cedarschema');
  });
});

describe('mcp-identity policies test', () => {
  it('runs the fixtures', () => {
    const result = cli(['policies', 'test']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^12 passed, 0 failed$/m);
  });

  it('shows the request, the expected and the actual decision and policies of a failing case', () => {
    const dir = policyCopy();
    writeFileSync(
      join(dir, 'fixtures', 'ALLOW', 'carol-should-read.json'),
      JSON.stringify({
        description: 'carol reads (wrong on purpose)',
        claims: { sub: 'carol', roles: [] },
        tool: 'orders___get_order',
        arguments: { order_id: '1' },
        determiningPolicies: ['orders-readers'],
      }),
    );
    const result = cli(['policies', 'test', '--dir', dir]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(
      '✗ ALLOW carol reads (wrong on purpose) (fixtures/ALLOW/carol-should-read.json)',
    );
    expect(result.stdout).toContain('expected: allow by [orders-readers]');
    expect(result.stdout).toContain('actual:   deny by []');
    expect(result.stdout).toMatch(/request: .*"id":"carol"/);
    expect(result.stdout).toMatch(/^12 passed, 1 failed$/m);
  });

  it('refuses a malformed fixture, naming it', () => {
    const dir = policyCopy();
    writeFileSync(join(dir, 'fixtures', 'DENY', 'bad.json'), '{"claims": {}}');
    const result = cli(['policies', 'test', '--dir', dir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/fixtures\/DENY\/bad\.json: description/);
  });
});

describe('mcp-identity policies format', () => {
  it('passes --check on the repository, and fails then fixes an unformatted file', () => {
    expect(cli(['policies', 'format', '--check']).status).toBe(0);
    const dir = policyCopy();
    writeFileSync(join(dir, 'messy.cedar'), '// keep me\npermit(principal,action,resource)when{true};\n');
    const check = cli(['policies', 'format', '--dir', dir, '--check']);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('not formatted: messy.cedar');
    expect(cli(['policies', 'format', '--dir', dir]).status).toBe(0);
    const formatted = readFileSync(join(dir, 'messy.cedar'), 'utf8');
    expect(formatted).toContain('// keep me');
    expect(formatted).toContain('permit (principal, action, resource)');
    expect(cli(['policies', 'format', '--dir', dir, '--check']).status).toBe(0);
  });
});

describe('usability (from a first-time user review)', () => {
  it('treats fixture arguments the interceptor would refuse as a deny, naming why, without a stack trace', () => {
    const dir = policyCopy();
    writeFileSync(
      join(dir, 'fixtures', 'DENY', 'float-amount.json'),
      JSON.stringify({
        description: 'a fractional refund is refused',
        claims: { sub: 'bob', roles: ['order-admin'] },
        tool: 'orders___update_order',
        arguments: { order_id: '1', status: 'refunded', amount: 600.5 },
      }),
    );
    writeFileSync(
      join(dir, 'fixtures', 'ALLOW', 'float-amount.json'),
      JSON.stringify({
        description: 'wrongly expected to pass',
        claims: { sub: 'bob', roles: ['order-admin'] },
        tool: 'orders___update_order',
        arguments: { order_id: '1', status: 'refunded', amount: 600.5 },
      }),
    );
    const result = cli(['policies', 'test', '--dir', dir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('✓ DENY a fractional refund is refused');
    expect(result.stdout).toContain('✗ ALLOW wrongly expected to pass');
    expect(result.stdout).toContain(
      'arguments refused before policy: input.amount: expected an integer, got a number',
    );
  });

  it('refuses fixtures outside ALLOW/ and DENY/ instead of skipping them', () => {
    const dir = policyCopy();
    mkdirSync(join(dir, 'fixtures', 'MAYBE'));
    const result = cli(['policies', 'test', '--dir', dir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'fixtures/MAYBE: decision fixtures go under fixtures/ALLOW or fixtures/DENY',
    );
  });

  it.each([['format', '--check'], ['validate'], ['test']])(
    'says clearly when the policy folder does not exist (%s)',
    (...command) => {
      const result = cli(['policies', ...command, '--dir', '/nonexistent/policies']);
      expect(result.status).toBe(1);
      expect(result.stderr).toBe(
        'mcp-identity: no policy folder at /nonexistent/policies (pass --dir <folder with schema.cedarschema and *.cedar>)\n',
      );
    },
  );

  it('makes bad activity options usage errors (exit 2) and names a directory given as --file', () => {
    expect(cli(['activity', '--since', 'yesterday']).status).toBe(2);
    expect(cli(['activity', '--since', '1h', '--until', '2h']).status).toBe(2);
    const both = cli(['activity', '--json', '--csv']);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/cannot be used with option '--csv'/);
    const folder = cli(['activity', '--file', '/tmp']);
    expect(folder.status).toBe(1);
    expect(folder.stderr).toContain('/tmp is not a file');
  });
});
