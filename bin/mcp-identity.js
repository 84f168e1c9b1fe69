#!/usr/bin/env node
// The mcp-identity CLI. Runs the TypeScript sources directly through tsx, so there is no build step
// between a clone and `npm start`.
require('tsx/cjs');
require('./cli.ts');
