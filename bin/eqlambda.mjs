#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm run build` (run automatically by `npm ci`).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.mjs', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('eqlambda: dist/cli.mjs is missing; run `npm run build` (npm ci does this) first\n');
  process.exit(2);
}
await import(cli.href);
