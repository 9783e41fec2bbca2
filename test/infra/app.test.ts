/**
 * infra/app.ts as `cdk synth` runs it (context from CDK_CONTEXT_JSON, bundling off): settings
 * that would deploy something other than what was asked fail with a message, no stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../scan/helpers.js';

const outdir = mkdtempSync(join(tmpdir(), 'eqlambda-app-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** `env` as the CDK CLI sets it (CDK_DEFAULT_REGION and CDK_DEFAULT_ACCOUNT), over this process's. */
function synth(context: Record<string, unknown>, env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context }) },
  });
  return { status: run.status, stderr: run.stderr };
}

describe('infra/app.ts', () => {
  it('refuses a mistyped context key instead of deploying without the setting', () => {
    const typos: [string, string][] = [
      ['alertEmail', 'alertEmails'],
      ['PREFIX', 'prefix'],
      ['memorysize', 'memorySize'],
      ['reservedConcurency', 'reservedConcurrency'],
      ['log-retention-days', 'logRetentionDays'],
      ['log_retention_days', 'logRetentionDays'],
    ];
    for (const [typo, meant] of typos) {
      const run = synth({ [typo]: '1' });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`eqlambda: context ${typo}: unknown context key: did you mean ${meant}?`);
      expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('refuses any other unknown key named as the stack\'s keys are, with the known keys', () => {
    for (const key of ['alertMinSev', 'foo', 'retention2', 'log_retention', 'alert.severity']) {
      const run = synth({ alertEmails: 'soc@example.com', [key]: 'high' });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`eqlambda: context ${key}: unknown context key (known: `);
      expect(run.stderr).toContain('alertMinSeverity');
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('only warns about unknown kebab-case keys, such as those the CDK CLI writes into cdk.context.json', () => {
    const run = synth({ alertEmails: 'soc@example.com', 'acknowledged-issue-numbers': [34892], 'cli-telemetry': false });
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('eqlambda: ignoring unknown context key "acknowledged-issue-numbers"');
    expect(run.stderr).toContain('eqlambda: ignoring unknown context key "cli-telemetry"');
  });

  it('refuses a stack name CloudFormation would refuse, with a message', () => {
    const run = synth({ stackName: 'bad name!' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('eqlambda: context stackName: "bad name!" is not a CloudFormation stack name');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('warns when alerts would reach no one (no email, no Slack), and still synthesizes', () => {
    const run = synth({});
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('eqlambda: warning: no alertEmails and no Slack channel');
    expect(synth({ alertEmails: 'soc@example.com' }).stderr).not.toContain('warning: no alertEmails');
  });

  it('refuses the KMS key of an existing bucket in another region than the one the CLI deploys to, with a message', () => {
    const existing = { logBucketName: 'corp-endpoint-logs', logBucketKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' };
    const run = synth(existing, { CDK_DEFAULT_REGION: 'us-east-1' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('eqlambda: context logBucketKeyArn: the key is in eu-west-1 but the stack deploys to us-east-1');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(synth(existing, { CDK_DEFAULT_REGION: 'eu-west-1' }).status).toBe(0);
  });
});
