// Builds the CLI (dist/cli.mjs) and a library bundle for the benchmark (dist/lib.mjs).
// Runs on `npm ci` through the prepare script.
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: 'linked', logLevel: 'warning' };
await Promise.all([
  build({ ...common, entryPoints: ['lambda/cli/bin.ts'], outfile: 'dist/cli.mjs' }),
  build({ ...common, entryPoints: ['lambda/index.ts'], outfile: 'dist/lib.mjs' }),
]);
