#!/usr/bin/env bash
# Mutation testing of lambda/core with Stryker (`npm run mutation`; configuration in stryker.config.mjs).
# Stryker 10 needs Node >= 22 while the project supports Node 20: with an older node on PATH this runs Stryker
# under a Node 22 binary fetched from the npm registry (`npx -y node@22`, cached by npx after the first run).
# Stryker's test-runner and checker processes inherit that binary. Extra arguments go to `stryker run`, e.g.
# `npm run mutation -- --mutate lambda/core/redaction.ts` or `-- --force` for a full re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

stryker=node_modules/@stryker-mutator/core/bin/stryker.js
if [ ! -f "$stryker" ]; then
  echo "mutation: $stryker is missing; run npm ci first" >&2
  exit 1
fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -ge 22 ]; then
  exec node "$stryker" run "$@"
fi
exec npx -y node@22 "$stryker" run "$@"
