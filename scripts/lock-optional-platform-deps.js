#!/usr/bin/env node
// Records in package-lock.json the optional, platform-specific packages that this workplace's npm registry
// does not serve (e.g. @biomejs/cli-darwin-arm64, @unrs/resolver-binding-*). npm 11 leaves such "inert"
// optional dependencies out of the lockfile on install and then `npm ci` refuses the lockfile as out of sync
// (npm/cli#9846, fix pending in npm/cli#9850). Listing them as optional entries makes `npm ci` accept the
// lockfile; at install time npm skips them (wrong platform, or not fetchable and optional).
// Run after `npm install` changes dependencies: `node scripts/lock-optional-platform-deps.js`.

const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const lockPath = join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  if (path === '' || !entry.optionalDependencies) continue;
  for (const [name, spec] of Object.entries(entry.optionalDependencies)) {
    const nested = `${path}/node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[nested] || packages[hoisted]) continue;
    // Pinned platform packages use exact versions; anything else is left for npm to resolve.
    if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) continue;
    packages[hoisted] = { version: spec, optional: true, ...(entry.dev ? { dev: true } : {}) };
    added += 1;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: recorded ${added} optional platform package(s) the registry does not serve`);
