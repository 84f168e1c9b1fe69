import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseStackConfig, StackConfigError } from '../../lib/config';
import {
  CONFIG_FILE,
  CONFIG_FILE_ENV,
  displayPath,
  loadProjectConfig,
  loadStackConfig,
  mergePatch,
  patchSets,
} from '../../lib/config-source';

const ROOT = join(__dirname, '..', '..');
const CDK_JSON = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8'));
const EXAMPLE = CDK_JSON.context.mcpIdentity;

/** A project folder with cdk.json (the repository's context unless given) and, optionally, a config file. */
function project(files: { cdkContext?: unknown; config?: string } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'config-source-'));
  writeFileSync(
    join(dir, 'cdk.json'),
    JSON.stringify({ app: 'x', context: { mcpIdentity: files.cdkContext ?? EXAMPLE } }),
  );
  if (files.config !== undefined) writeFileSync(join(dir, CONFIG_FILE), files.config);
  return dir;
}

const load = (dir: string, env: Record<string, string> = {}) => loadProjectConfig(join(dir, 'cdk.json'), env);

function errorOf(run: () => unknown): StackConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof StackConfigError) return error;
    throw error;
  }
  throw new Error('expected a StackConfigError');
}

// JSON values as a configuration file can hold them (null only as a patch value).
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.array(tie('value'), { maxLength: 3 }),
    tie('object'),
  ),
  object: fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 4 }),
})) as { value: fc.Arbitrary<unknown>; object: fc.Arbitrary<Record<string, unknown>> };
const patchValue = fc.oneof(json.value, fc.constant(null));
const patch = fc.dictionary(fc.string({ maxLength: 4 }), patchValue, { maxKeys: 4 });

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

describe('mergePatch (JSON Merge Patch, RFC 7396)', () => {
  it('sets every non-null value of the patch: scalars and arrays replace, objects merge key by key', () => {
    fc.assert(
      fc.property(json.object, patch, (base, change) => {
        const merged = mergePatch(base, change) as Record<string, unknown>;
        for (const [key, value] of Object.entries(change)) {
          if (value === null) expect(Object.hasOwn(merged, key)).toBe(false);
          else if (!isObject(value)) expect(merged[key]).toEqual(value);
          else expect(merged[key]).toEqual(mergePatch(base[key], value));
        }
      }),
    );
  });

  it('keeps every key of the base the patch does not name', () => {
    fc.assert(
      fc.property(json.object, patch, (base, change) => {
        const merged = mergePatch(base, change) as Record<string, unknown>;
        for (const key of Object.keys(base))
          if (!Object.hasOwn(change, key)) expect(merged[key]).toEqual(base[key]);
        expect(Object.keys(merged).every((key) => Object.hasOwn(base, key) || change[key] !== null)).toBe(
          true,
        );
      }),
    );
  });

  it('is idempotent and leaves both inputs as they were', () => {
    fc.assert(
      fc.property(json.object, patch, (base, change) => {
        const before = structuredClone({ base, change });
        const once = mergePatch(base, change);
        expect(mergePatch(once, change)).toEqual(once);
        expect({ base, change }).toEqual(before);
      }),
    );
  });

  it('replaces an array as a whole rather than merging items', () => {
    expect(mergePatch({ audience: ['a', 'b'] }, { audience: ['c'] })).toEqual({ audience: ['c'] });
  });

  it('keeps a "__proto__" key in a file as a plain key: no prototype is polluted or replaced', () => {
    const change = JSON.parse('{"__proto__": {"polluted": true}, "audit": {"__proto__": {"x": 1}}}');
    const merged = mergePatch({ audit: { store: 'cloudwatch' } }, change) as Record<string, unknown>;

    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.hasOwn(merged, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(merged.audit)).toBe(Object.prototype);
  });

  it('says which key paths a patch sets (an array or scalar sets everything under it)', () => {
    const change = { identity: { audience: ['a'] }, gateway: { targets: [{ name: 'x' }] } };
    expect(patchSets(change, ['identity', 'audience', 0])).toBe(true);
    expect(patchSets(change, ['gateway', 'targets', 0, 'kind'])).toBe(true);
    expect(patchSets(change, ['identity', 'issuer'])).toBe(false);
    expect(patchSets(change, ['audit'])).toBe(false);
  });
});

describe('loadStackConfig: a configuration file merged over cdk.json context', () => {
  it('reads a cdk.json-only project exactly as before', () => {
    const loaded = load(project());

    expect(loaded.config).toEqual(parseStackConfig(EXAMPLE));
    expect(loaded.sources).toEqual(['cdk.json context mcpIdentity']);
    expect(loaded.file).toBeUndefined();
  });

  it('lets the file override one key and keeps the rest of the context', () => {
    const dir = project({ config: JSON.stringify({ audit: { store: 'cloudwatch' } }) });

    const loaded = load(dir);

    expect(loaded.config.audit.store).toBe('cloudwatch');
    expect(loaded.config.audit.logRetentionDays).toBe(EXAMPLE.audit.logRetentionDays);
    expect(loaded.config.identity.issuer).toBe(EXAMPLE.identity.issuer);
    expect(loaded.sources).toEqual(['cdk.json context mcpIdentity', CONFIG_FILE]);
    expect(loaded.file).toBe(join(dir, CONFIG_FILE));
  });

  it('replaces arrays from the file and removes a key the file sets to null', () => {
    const context = structuredClone(EXAMPLE);
    context.identity.jwksUri = 'https://idp.example.com/keys';
    const dir = project({
      cdkContext: context,
      config: JSON.stringify({ identity: { audience: ['api://mine'], jwksUri: null } }),
    });

    const { config } = load(dir);

    expect(config.identity.audience).toEqual(['api://mine']);
    expect(config.identity.jwksUri).toBeUndefined();
    expect(config.identity.discoveryUrl).toBe(EXAMPLE.identity.discoveryUrl);
  });

  it('works with a file and no mcpIdentity context at all', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-source-'));
    writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app: 'x', context: {} }));
    writeFileSync(join(dir, CONFIG_FILE), JSON.stringify(EXAMPLE));

    expect(load(dir).config).toEqual(parseStackConfig(EXAMPLE));
    expect(load(dir).sources).toEqual([CONFIG_FILE]);
  });

  it('names the file, line and column of invalid JSON', () => {
    const dir = project({ config: '{\n  "audit": { "store": "cloudwatch", }\n}\n' });

    const error = errorOf(() => load(dir));

    expect(error.message).toMatch(/^mcp-identity\.config\.json is not valid JSON/);
    // Computed from the text, the same on every Node version; the engine's message (which quotes the text) is dropped.
    expect(error.message).toBe('mcp-identity.config.json is not valid JSON (line 2, column 37)');
  });

  it('names the file and key path of a bad value the file sets', () => {
    const dir = project({ config: JSON.stringify({ identity: { audience: [] }, audit: { store: 'lake' } }) });

    const error = errorOf(() => load(dir));

    expect(error.message).toContain(
      'mcp-identity.config.json: identity.audience: needs at least one audience',
    );
    expect(error.message).toContain('mcp-identity.config.json: audit.store: Invalid option');
  });

  it('names cdk.json context for a bad key it sets, and the file for the unknown key the file adds', () => {
    const context = { ...structuredClone(EXAMPLE), audti: {} };
    const dir = project({ cdkContext: context, config: JSON.stringify({ identity: { issuerr: 'x' } }) });

    const error = errorOf(() => load(dir));

    expect(error.message).toContain('cdk.json context mcpIdentity: (top level): unknown key(s) audti');
    expect(error.message).toContain('mcp-identity.config.json: identity: unknown key(s) issuerr');
  });

  it('refuses a file whose top level is not an object', () => {
    const error = errorOf(() => load(project({ config: '["identity"]' })));
    expect(error.message).toBe('mcp-identity.config.json must hold a JSON object (the configuration)');
  });

  it(`reads the file ${CONFIG_FILE_ENV} names, and fails naming it when it is missing`, () => {
    const dir = project();
    writeFileSync(join(dir, 'staging.json'), JSON.stringify({ audit: { store: 'cloudwatch' } }));

    expect(load(dir, { [CONFIG_FILE_ENV]: 'staging.json' }).config.audit.store).toBe('cloudwatch');
    expect(errorOf(() => load(dir, { [CONFIG_FILE_ENV]: 'prod.json' })).message).toBe(
      `cannot read ${CONFIG_FILE_ENV}=prod.json: no such file`,
    );
  });

  it(`names the project folder as "." when ${CONFIG_FILE_ENV} points at it, and says it is a folder`, () => {
    const dir = project();

    expect(displayPath(dir, dir)).toBe('.');
    expect(displayPath(dir, join(dir, 'a.json'))).toBe('a.json');
    expect(errorOf(() => load(dir, { [CONFIG_FILE_ENV]: '.' })).message).toBe(
      `cannot read ${CONFIG_FILE_ENV}=.: it is a folder, not a file`,
    );
  });

  it('names only the line and column of a configuration file that is not JSON, never its text (a .env by mistake)', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const dir = project();
    writeFileSync(join(dir, '.env'), `AWS_SECRET_ACCESS_KEY=${secret}\n`);

    const error = errorOf(() => load(dir, { [CONFIG_FILE_ENV]: '.env' }));

    expect(error.message).toBe(`${CONFIG_FILE_ENV}=.env is not valid JSON (line 1, column 1)`);
    expect(error.message).not.toContain('AWS_SECRET');
    expect(error.message).not.toContain(secret.slice(0, 6));
  });

  it('merges the file over a whole configuration file named by -c mcpIdentityConfigFile', () => {
    const dir = project({ config: JSON.stringify({ audit: { store: 'cloudwatch' } }) });
    writeFileSync(join(dir, 'whole.json'), JSON.stringify({ ...EXAMPLE, gateway: { name: 'other' } }));

    const { config } = loadStackConfig({
      projectDir: dir,
      context: (key) => (key === 'mcpIdentityConfigFile' ? 'whole.json' : undefined),
      env: {},
    });

    expect(config.gateway.name).toBe('other');
    expect(config.audit.store).toBe('cloudwatch');
  });
});
