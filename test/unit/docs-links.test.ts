import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokenLinks, documentFiles, headings, slug, withTableOfContents } from '../../scripts/docs-links';

const root = join(__dirname, '..', '..');

describe('the documentation links', () => {
  it('gives headings the anchors GitHub gives them', () => {
    expect(slug('The API Gateway door locally (`dev --door apigateway`)')).toBe(
      'the-api-gateway-door-locally-dev---door-apigateway',
    );
    expect(slug('Write, test and deploy a policy: an argument-level rule on `update_order`')).toBe(
      'write-test-and-deploy-a-policy-an-argument-level-rule-on-update_order',
    );
    expect(slug('The `tools/list` convention')).toBe('the-toolslist-convention');
    expect(slug('See [the docs](docs/x.md) now')).toBe('see-the-docs-now');
  });

  it('numbers repeated headings and ignores headings inside code fences', () => {
    const found = headings('# A\n## Notes\n```sh\n# not a heading\n```\n## Notes\n');

    expect(found.map((h) => h.anchor)).toStrictEqual(['a', 'notes', 'notes-1']);
  });

  it('finds a link to a missing heading and to a missing file, and leaves absolute URLs alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'docs-links-'));
    writeFileSync(
      join(dir, 'a.md'),
      '# Title\n\n[a](#title) [b](#nope) [c](missing.md) [d](https://x.test/#y) `[e](#code)`\n',
    );
    try {
      expect(brokenLinks(dir, ['a.md']).map((b) => b.target)).toStrictEqual(['#nope', 'missing.md']);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('has no broken relative link or anchor in the README, CONTRIBUTING.md or docs/', () => {
    const broken = brokenLinks(root, documentFiles(root)).map(
      (b) => `${b.file}:${b.line} ${b.target}: ${b.problem}`,
    );

    expect(broken).toStrictEqual([]);
  });

  it("keeps the README's table of contents in step with its sections (npx tsx scripts/docs-links.ts --toc)", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');

    expect(withTableOfContents(readme)).toBe(readme);
  });
});
