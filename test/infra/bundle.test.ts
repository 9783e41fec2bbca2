/** The one test that really bundles: esbuild runs locally, the asset holds the handler and rules.json. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/stack.js';
import { build, resource } from './helpers.js';

describe('synth with bundling', () => {
  // Inside the project so the bundle's external @aws-sdk/* imports resolve from node_modules.
  const parent = join(PROJECT_ROOT, 'cdk.out');
  let outdir: string;
  let asset: string;
  let ruleCount: number;

  beforeAll(() => {
    mkdirSync(parent, { recursive: true });
    outdir = mkdtempSync(join(parent, 'test-bundle-'));
    const { app, stack, template } = build({}, { bundling: true, outdir });
    const assembly = app.synth();
    ruleCount = stack.detector.ruleCount;
    const code = resource(template, 'AWS::Lambda::Function', 'DetectorFunction').Properties.Code as { S3Key: string };
    asset = join(assembly.directory, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
  });
  afterAll(() => {
    if (outdir !== undefined) rmSync(outdir, { recursive: true, force: true });
  });

  it('writes the handler, its source map and the rules', () => {
    expect(readdirSync(asset).sort()).toEqual(['index.mjs', 'index.mjs.map', 'rules.json']);
  });

  it('bundles minified ESM with the require shim and a linked source map, leaving the AWS SDK to the runtime', () => {
    const code = readFileSync(join(asset, 'index.mjs'), 'utf8');
    expect(code.startsWith("import { createRequire as __eqlCreateRequire } from 'node:module';")).toBe(true);
    expect(code.trimEnd().endsWith('//# sourceMappingURL=index.mjs.map')).toBe(true);
    expect(code).toMatch(/from"@aws-sdk\/client-sns"/);
    expect(code.split('\n').length).toBeLessThan(200); // minified (legal comments stay at the end)
    const map = JSON.parse(readFileSync(join(asset, 'index.mjs.map'), 'utf8')) as { sources: string[]; sourcesContent?: unknown };
    expect(map.sources.some((s) => s.endsWith('lambda/handler.ts'))).toBe(true);
    expect(map.sourcesContent).toBeUndefined();
  });

  it('ships the compiled rule bundle as rules.json', () => {
    const bundle = JSON.parse(readFileSync(join(asset, 'rules.json'), 'utf8')) as { format: string; rules: { path: string }[] };
    expect(bundle.format).toBe('eqlambda-rules/1');
    expect(bundle.rules).toHaveLength(ruleCount);
    expect(bundle.rules.every((r) => r.path.startsWith('rules/'))).toBe(true);
  });

  it('imports cleanly in plain Node with the function environment', () => {
    const entry = join(asset, 'index.mjs');
    expect(existsSync(entry)).toBe(true);
    const script = `const m = await import(${JSON.stringify(pathToFileURL(entry).href)}); console.log(typeof m.handler);`;
    const result = spawnSync(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'us-east-1',
        ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:eqlambda-alerts',
        POWERTOOLS_SERVICE_NAME: 'eqlambda',
        POWERTOOLS_METRICS_NAMESPACE: 'eqlambda',
        LOG_LEVEL: 'INFO',
      },
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.stdout.trim()).toBe('function');
  });
});
