// Builds the CLI bundle (dist/cli.mjs). Runs on `npm ci` through the prepare script.
import { build } from 'esbuild';

await build({
  entryPoints: ['lambda/cli/bin.ts'],
  outfile: 'dist/cli.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
