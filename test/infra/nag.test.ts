/** cdk-nag AwsSolutions: no open finding, and every acknowledgement is needed and explained. */
import { App, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EqlambdaStack } from '../../infra/stack.js';
import { addStack, build, cdkJsonContext, type BuildOptions } from './helpers.js';

const EXISTING_BUCKET = {
  logBucketName: 'corp-endpoint-logs',
  logBucketKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  prefix: 'edr/',
  suffix: '.json.gz',
  alertEmails: 'soc@example.com',
  alertMinSeverity: 'medium',
  opsEmail: 'ops@example.com',
  slackWorkspaceId: 'T0123ABCD',
  slackChannelId: 'C0456EFGH',
};
const CONFIGURATIONS: [string, Record<string, string>, BuildOptions][] = [
  ['bucket created by the stack', {}, {}],
  ['existing bucket with everything set', EXISTING_BUCKET, {}],
  // Offline, the CLI still sets a region: partitions and ARNs then resolve to text.
  ['bucket created, region known', {}, { env: { region: 'us-east-1' } }],
  ['existing bucket, region and account known', EXISTING_BUCKET, { env: { account: '123456789012', region: 'eu-west-1' } }],
];

interface Finding {
  rule: string;
  path: string;
}

function findings(app: App, honourAcknowledgements: boolean): Finding[] {
  const checks = new AwsSolutionsChecks();
  // isAcknowledged is private in cdk-nag's typings; replacing it reveals what the acknowledgements hide.
  if (!honourAcknowledgements) Object.assign(checks, { isAcknowledged: () => false });
  return checks
    .validateScope(app)
    .violations.flatMap((v) => v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '' })));
}

function acknowledgements(app: App): { id: string; reason: string; node: IConstruct }[] {
  return app.node.findAll().flatMap((node) =>
    node.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ id: id.replace(/^Annotation::/, ''), reason, node }))),
  );
}

describe.each(CONFIGURATIONS)('AwsSolutionsChecks, %s', (_name, context, options) => {
  let app: App;
  beforeAll(() => {
    app = build(context, options).app;
  });

  it('leaves no finding unacknowledged', () => {
    expect(findings(app, true)).toEqual([]);
  });

  it('acknowledges only findings that exist, each at or above the flagged construct', () => {
    const raw = findings(app, false);
    const acks = acknowledgements(app);
    for (const ack of acks) {
      const matching = raw.filter((f) => f.rule === ack.id && (f.path === ack.node.node.path || f.path.startsWith(`${ack.node.node.path}/`)));
      expect(matching, `stale acknowledgement ${ack.id} on ${ack.node.node.path}`).not.toEqual([]);
    }
    expect(new Set(raw.map((f) => f.rule))).toEqual(new Set(acks.map((a) => a.id)));
  });

  it('gives every acknowledgement its own specific reason', () => {
    const reasons = acknowledgements(app).map((a) => a.reason);
    for (const reason of reasons) expect(reason.length, reason).toBeGreaterThan(80);
    expect(new Set(reasons).size).toBe(reasons.length);
  });
});

describe('the app as cdk synth runs it (AwsSolutions plugin registered)', () => {
  const synth = (addExtra: (stack: EqlambdaStack) => void = () => {}) => {
    const outdir = mkdtempSync(join(tmpdir(), 'eqlambda-nag-'));
    try {
      const app = new App({ outdir, context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      addExtra(addStack(app));
      app.synth();
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  };

  it('synthesizes', () => {
    expect(() => synth()).not.toThrow();
  });

  it('fails on a new finding', () => {
    expect(() => synth((stack) => new s3.Bucket(stack, 'Unchecked'))).toThrow(/AwsSolutions-S10/);
  });
});
