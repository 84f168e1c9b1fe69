import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AssertionCache } from '../../lambda/adapters/assertion-cache';
import { LocalAssertionSigner } from '../../lambda/adapters/local-assertion-signer';

const ROOT = join(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; default: string }>;
  scripts: Record<string, string>;
  bin: Record<string, string>;
};

describe('the mcp-identity/verifier package entry', () => {
  let out: string;
  beforeAll(() => {
    // Inside the project (under the ignored dist/), so the built module resolves node_modules as it will.
    mkdirSync(join(ROOT, 'dist'), { recursive: true });
    out = mkdtempSync(join(ROOT, 'dist', 'verifier-test-'));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('is exported as ./verifier, built by npm run build:verifier (also on prepare), with the bin kept', () => {
    expect(manifest.exports['./verifier']).toStrictEqual({
      types: './dist/verifier/index.d.ts',
      default: './dist/verifier/index.js',
    });
    expect(manifest.scripts['build:verifier']).toBe('tsc -p tsconfig.verifier.json');
    expect(manifest.scripts.prepare).toBe('npm run build:verifier');
    expect(manifest.bin).toStrictEqual({ 'mcp-identity': 'bin/mcp-identity.js' });
    expect(existsSync(join(ROOT, manifest.bin['mcp-identity'] as string))).toBe(true);
  });

  it('builds to the JavaScript and declarations the exports name, and the built module verifies', async () => {
    // The same build as npm run build:verifier, into a scratch folder standing for dist/.
    const build = spawnSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.verifier.json'), '--outDir', out],
      { encoding: 'utf8' },
    );
    expect(build.stdout + build.stderr).toBe('');
    expect(build.status).toBe(0);
    const entry = manifest.exports['./verifier'] as { types: string; default: string };
    const built = (path: string) => join(out, path.replace(/^\.\/dist\//, ''));
    expect(existsSync(built(entry.default))).toBe(true);
    expect(readFileSync(built(entry.types), 'utf8')).toContain(
      'export declare function createAssertionVerifier(',
    );

    const verifierModule = require(built(entry.default)) as typeof import('../../verifier');
    const signer = new LocalAssertionSigner();
    const server: Server = createServer((_, response) => {
      response
        .writeHead(200, { 'content-type': 'application/jwk-set+json' })
        .end(JSON.stringify(signer.jwks()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
      const token = await new AssertionCache(signer, { issuer: 'gw', ttlSeconds: 60 }).assertion(
        {
          subject: 'bob',
          issuer: 'idp',
          roles: ['order-admin'],
          actors: [],
          expiresAt: Date.now() / 1000 + 600,
        },
        'crm',
      );
      const verifier = verifierModule.createAssertionVerifier({ issuer: 'gw', audience: 'crm', jwksUri });
      expect(await verifier.verify(token)).toMatchObject({ sub: 'bob', roles: ['order-admin'], aud: 'crm' });
      const other = verifierModule.createAssertionVerifier({ issuer: 'gw', audience: 'orders', jwksUri });
      await expect(other.verify(token)).rejects.toThrow(verifierModule.AssertionRejectedError);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 120_000);
});
