/**
 * Parity: for the same bytes in S3, `eqlambda scan s3://...` (the CLI, configured by the
 * AWS_* environment) prints the same alerts the handler publishes to SNS, ids included,
 * once the processing time (@timestamp) is removed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DetectionRecord } from '../../lambda/alerts/document.js';
import { main } from '../../lambda/cli/main.js';
import { readConfig } from '../../lambda/handler/config.js';
import { createHandler } from '../../lambda/handler/create.js';
import { lambdaContext, s3Event } from '../support/aws-events.js';
import { FakeSns } from '../support/fake-sns.js';
import { deployedEnv, expectCleanWire, setEnv } from '../support/harness.js';
import { corpus, example, EXAMPLES, gz, logWith, ndjson, shippedRules, unrouted } from '../support/logs.js';
import { RecordingLogger, RecordingMetrics } from '../support/observability.js';
import { startLocalS3, type LocalS3 } from '../support/s3-local.js';
import { expectDeliveredOnce, recordOf, timeless } from '../support/sns-messages.js';
import { fileURLToPath } from 'node:url';

const RULES_DIR = fileURLToPath(new URL('../../rules', import.meta.url));
const c = corpus(2026);

const OBJECTS: { key: string; body: () => Buffer }[] = [
  ...EXAMPLES.map((e, i) => ({ key: `parity/${['défend', '日本 auditbeat', 's1+cloud funnel', 'endgame plain'][i]} ${e.file}`, body: () => example(e.file) })),
  { key: 'parity/mixed sample+1.ndjson.gz', body: () => gz(ndjson(logWith(5, [c.openssl(), c.sshBackdoor(), unrouted(c.openssl()), c.nearMiss(), c.openssl()], 10))) },
  { key: 'parity/noisy.ndjson', body: () => ndjson(logWith(6, [c.openssl(), c.openssl(), c.openssl(), c.sshBackdoor(), c.sshBackdoor()], 3)) },
  // A key ending with '/' that holds a log: an object to scan, not a folder marker, for both.
  { key: 'parity/host1/', body: () => ndjson(logWith(7, [c.openssl()], 3)) },
];

let s3: LocalS3;
const sns = new FakeSns();
let restoreEnv: () => void = () => {};

beforeAll(async () => {
  [s3] = await Promise.all([startLocalS3(['logs']), sns.start()]);
  for (const o of OBJECTS) await s3.put('logs', o.key, o.body());
  await s3.put('logs', 'parity/empty/', Buffer.alloc(0)); // a folder marker: nothing to scan
  restoreEnv = setEnv(deployedEnv(s3, sns));
});

afterAll(async () => {
  restoreEnv();
  await Promise.all([s3?.stop(), sns.stop()]);
});

beforeEach(() => sns.reset());

async function cli(args: string[]): Promise<{ code: number; records: DetectionRecord[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['scan', '--quiet', '--rules', RULES_DIR, ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, records: out.map((l) => JSON.parse(l) as DetectionRecord), err };
}

async function lambda(keys: string[], env: Record<string, string> = {}): Promise<DetectionRecord[]> {
  const restore = setEnv(env);
  try {
    const handler = createHandler({ rules: shippedRules(), config: readConfig(process.env), logger: new RecordingLogger().asLogger(), metrics: new RecordingMetrics().asMetrics() });
    await handler(s3Event(...keys.map((key) => ({ key }))), lambdaContext());
  } finally {
    restore();
  }
  expectCleanWire(sns);
  expectDeliveredOnce(sns.delivered);
  return sns.delivered.map(recordOf);
}

const key = (r: DetectionRecord): string => (r.kind === 'alert' ? r.id : `overflow:${r.rule.id}:${'key' in r.source ? r.source.key : ''}`);
const normalise = (records: DetectionRecord[]) => records.map(timeless).sort((a, b) => key(a as DetectionRecord).localeCompare(key(b as DetectionRecord)));

describe('CLI and handler parity over S3', () => {
  it.each(OBJECTS.map((o) => [o.key]))('finds the same alerts in %s', async (k) => {
    const fromCli = await cli([`s3://logs/${k}`]);
    expect(fromCli.err).toEqual([]);
    expect(fromCli.code).toBe(0);
    const fromLambda = await lambda([k]);
    expect(fromLambda.length).toBeGreaterThan(0);
    expect(normalise(fromLambda)).toEqual(normalise(fromCli.records));
  });

  it('finds the same alerts for a whole prefix (CLI) as for an event with every object (handler)', async () => {
    const fromCli = await cli(['s3://logs/parity/']);
    expect(fromCli.code).toBe(0);
    const fromLambda = await lambda(OBJECTS.map((o) => o.key));
    expect(fromLambda.filter((r) => r.kind === 'alert')).toHaveLength(6 + 4 + 5 + 1);
    expect(normalise(fromLambda)).toEqual(normalise(fromCli.records));
  });

  it('agrees on overflow records with the same per-rule limit', async () => {
    const k = 'parity/noisy.ndjson';
    const fromCli = await cli(['--max-alerts-per-rule', '1', `s3://logs/${k}`]);
    const fromLambda = await lambda([k], { MAX_ALERTS_PER_RULE: '1' });
    expect(fromLambda.filter((r) => r.kind === 'overflow')).toHaveLength(2);
    expect(normalise(fromLambda)).toEqual(normalise(fromCli.records));
  });

  it('agrees on index routing (CLI --index, handler DEFAULT_INDEX)', async () => {
    const k = 'parity/mixed sample+1.ndjson.gz';
    const fromCli = await cli(['--index', 'auditbeat-8.11.1', `s3://logs/${k}`]);
    const fromLambda = await lambda([k], { DEFAULT_INDEX: 'auditbeat-8.11.1' });
    expect(normalise(fromLambda)).toEqual(normalise(fromCli.records));
    // the unrouted openssl event is not an auditbeat rule's business
    expect(fromLambda.filter((r) => r.kind === 'alert')).toHaveLength(3);
  });

  // The SDK uses path-style URLs on its own only when the endpoint host is an IP address.
  // With a host name (localhost, minio, localstack) AWS_S3_FORCE_PATH_STYLE=true selects them.
  it('reaches a local S3 by host name with AWS_S3_FORCE_PATH_STYLE', async () => {
    const restore = setEnv({ AWS_ENDPOINT_URL_S3: s3.endpoint.replace('127.0.0.1', 'localhost'), AWS_S3_FORCE_PATH_STYLE: 'true' });
    try {
      const fromCli = await cli([`s3://logs/${OBJECTS[3]!.key}`]);
      expect(fromCli.err).toEqual([]);
      expect(fromCli.code).toBe(0);
    } finally {
      restore();
    }
  });
});
