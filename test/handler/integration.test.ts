/**
 * The handler through the real AWS SDK over HTTP: objects in a local S3 (s3rver), alerts
 * published to a local SNS endpoint speaking the Query protocol (test/support/fake-sns.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readConfig } from '../../lambda/handler/config.js';
import { createHandler } from '../../lambda/handler/create.js';
import type { BatchResponse } from '../../lambda/handler/events.js';
import { batchEvent, lambdaContext, S3_TEST_EVENT, s3Event } from '../support/aws-events.js';
import { FakeSns } from '../support/fake-sns.js';
import { deployedEnv, expectCleanWire, setEnv, TOPIC, wiredHandler } from '../support/harness.js';
import { corpus, example, gz, logWith, ndjson, OPENSSL_RULE, shippedRules, type Doc } from '../support/logs.js';
import { RecordingLogger, RecordingMetrics } from '../support/observability.js';
import { startLocalS3, type LocalS3 } from '../support/s3-local.js';
import { alertsOf, expectDeliveredOnce, overflowsOf, recordOf } from '../support/sns-messages.js';
import type { Alert } from '../../lambda/alerts/document.js';

/** The bundled examples under keys with spaces, '+', and non-ASCII characters. */
const OBJECTS = [
  { key: 'incoming/defend 2026+11+20 é.ndjson.gz', file: 'defend-linux-2026-11-20.ndjson.gz', alerts: 3 },
  { key: 'incoming/日本/auditbeat fim.ndjson.gz', file: 'auditbeat-fim.ndjson.gz', alerts: 1 },
  { key: 'incoming/s1+cloud funnel (copy) 100%.ndjson.gz', file: 'sentinelone-cloud-funnel.ndjson.gz', alerts: 1 },
  { key: 'incoming/endgame café+.ndjson', file: 'endgame-linux.ndjson', alerts: 1 },
];
const TOTAL = OBJECTS.reduce((n, o) => n + o.alerts, 0);

let s3: LocalS3;
const sns = new FakeSns();
const c = corpus(99);

const keyOf = (a: Alert): string => ('key' in a.source ? a.source.key : '');

beforeAll(async () => {
  [s3] = await Promise.all([startLocalS3(['logs']), sns.start()]);
  for (const o of OBJECTS) await s3.put('logs', o.key, example(o.file));
});

afterAll(async () => {
  await Promise.all([s3?.stop(), sns.stop()]);
});

beforeEach(() => sns.reset());

const allObjects = () => s3Event(...OBJECTS.map((o) => ({ key: o.key, size: 1000 })));

describe('S3 notifications over HTTP', () => {
  it('delivers every alert exactly once, within the SNS limits, well formed', async () => {
    const { handler, metrics } = wiredHandler(s3, sns);
    const event = allObjects();
    // The keys are form-encoded in the event, as S3 does it.
    expect(event.Records.map((r) => r.s3.object.key)).toEqual([
      'incoming/defend+2026%2B11%2B20+%C3%A9.ndjson.gz',
      'incoming/%E6%97%A5%E6%9C%AC/auditbeat+fim.ndjson.gz',
      'incoming/s1%2Bcloud+funnel+(copy)+100%25.ndjson.gz',
      'incoming/endgame+caf%C3%A9%2B.ndjson',
    ]);
    const result = await handler(event, lambdaContext());

    expect(result).toEqual({ objects: 4, alerts: TOTAL, skipped: 0 });
    expectCleanWire(sns);
    const alerts = expectDeliveredOnce(sns.delivered);
    expect(alerts).toHaveLength(TOTAL);
    expect(sns.delivered).toHaveLength(TOTAL);
    for (const o of OBJECTS) expect(alerts.filter((a) => keyOf(a) === o.key), o.key).toHaveLength(o.alerts);
    // The object's ETag (from GetObject) is part of the alert source.
    expect(alerts.every((a) => 'etag' in a.source && /^[0-9a-f]{32}$/.test(a.source.etag ?? ''))).toBe(true);
    expect(metrics.total('ObjectsScanned')).toBe(4);
  });

  it('gives a redelivered event the same alert ids (duplicates are identifiable)', async () => {
    const { handler } = wiredHandler(s3, sns);
    await handler(allObjects(), lambdaContext());
    const first = expectDeliveredOnce(sns.delivered).map((a) => a.id);
    sns.reset();
    await handler(allObjects(), lambdaContext());
    const second = expectDeliveredOnce(sns.delivered).map((a) => a.id);
    expect(second.sort()).toEqual(first.sort());
  });

  it('rides out HTTP 500s from SNS (SDK retries) without duplicates', async () => {
    sns.failRequests(2, 500);
    const { handler } = wiredHandler(s3, sns);
    await expect(handler(allObjects(), lambdaContext())).resolves.toEqual({ objects: 4, alerts: TOTAL, skipped: 0 });
    expect(sns.requests.filter((r) => r.status === 500)).toHaveLength(2);
    expectCleanWire(sns);
    expect(expectDeliveredOnce(sns.delivered)).toHaveLength(TOTAL);
    expect(sns.delivered).toHaveLength(TOTAL);
  });

  it('rides out SNS throttling (400 Throttling, SDK retries) without duplicates', async () => {
    sns.throttle(1);
    const { handler } = wiredHandler(s3, sns);
    await expect(handler(allObjects(), lambdaContext())).resolves.toMatchObject({ alerts: TOTAL });
    expect(sns.requests[0]!.status).toBe(400);
    expectCleanWire(sns);
    expect(expectDeliveredOnce(sns.delivered)).toHaveLength(TOTAL);
    expect(sns.delivered).toHaveLength(TOTAL);
  });

  it('retries entries reported in <Failed> (SenderFault false) and delivers each once', async () => {
    // The first attempt of every openssl alert fails.
    sns.failEntries({ times: 1, match: (e) => recordOf(e).rule.name === OPENSSL_RULE });
    const { handler } = wiredHandler(s3, sns);
    await expect(handler(allObjects(), lambdaContext())).resolves.toMatchObject({ alerts: TOTAL });
    expect(sns.requests.flatMap((r) => r.failedIds)).toHaveLength(3);
    expectCleanWire(sns);
    expect(expectDeliveredOnce(sns.delivered)).toHaveLength(TOTAL);
    expect(sns.delivered).toHaveLength(TOTAL);
  });

  it('fails the invocation when SNS keeps failing, after delivering what it could', async () => {
    // One openssl alert of the Defend log is never accepted.
    let victim: string | undefined;
    sns.failEntries({
      times: Infinity,
      match: (e) => {
        const r = recordOf(e);
        if (r.kind !== 'alert' || r.rule.name !== OPENSSL_RULE || keyOf(r) !== OBJECTS[0]!.key) return false;
        victim ??= r.id;
        return r.id === victim;
      },
    });
    const { handler, metrics } = wiredHandler(s3, sns, { publisher: { maxAttempts: 3 } });
    await expect(handler(allObjects(), lambdaContext())).rejects.toThrow(`1 of 3 alert message(s) for s3://logs/${OBJECTS[0]!.key} could not be published (InternalError)`);
    const delivered = expectDeliveredOnce(sns.delivered);
    expect(delivered).toHaveLength(TOTAL - 1);
    expect(delivered.map((a) => a.id)).not.toContain(victim);
    expect(sns.requests.filter((r) => r.failedIds.length > 0)).toHaveLength(3);
    expect(metrics.total('PublishFailures')).toBe(1);
  });

  it('fails the invocation when SNS is down for good (the SDK gives up)', async () => {
    sns.failRequests(1000, 503, 'ServiceUnavailable');
    const { handler } = wiredHandler(s3, sns);
    await expect(handler(s3Event({ key: OBJECTS[1]!.key }), lambdaContext())).rejects.toThrow(`1 of 1 alert message(s) for s3://logs/${OBJECTS[1]!.key} could not be published (ServiceUnavailable)`);
    expect(sns.delivered).toEqual([]);
    expect(sns.requests).toHaveLength(3); // the SDK's default: 3 attempts
  });

  it('succeeds when an object is gone (NoSuchKey), delivering the others', async () => {
    const { handler, logger } = wiredHandler(s3, sns);
    const result = await handler(s3Event({ key: 'incoming/deleted since.ndjson.gz' }, { key: OBJECTS[1]!.key }), lambdaContext());
    expect(result).toEqual({ objects: 2, alerts: 1, skipped: 0 });
    expect(logger.at('warn').map((e) => e.attributes.error)).toEqual(['s3://logs/incoming/deleted since.ndjson.gz does not exist']);
    expect(alertsOf(sns.delivered)).toHaveLength(1);
  });

  it('fails when S3 refuses access, delivering nothing it could not read', async () => {
    const { handler } = wiredHandler(s3, sns, { s3Credentials: { accessKeyId: 'NOT-S3RVER', secretAccessKey: 'nope' } });
    await expect(handler(s3Event({ key: OBJECTS[1]!.key }, { key: OBJECTS[2]!.key }), lambdaContext())).rejects.toThrow(
      /cannot read s3:\/\/logs\/incoming\/日本\/auditbeat fim\.ndjson\.gz: InvalidAccessKeyId.*; cannot read s3:\/\/logs\/incoming\/s1\+cloud/,
    );
    expect(sns.requests).toEqual([]);
  });

  it('does nothing for the s3:TestEvent', async () => {
    const { handler } = wiredHandler(s3, sns);
    expect(await handler(S3_TEST_EVENT, lambdaContext())).toEqual({ objects: 0, alerts: 0, skipped: 0 });
    expect(sns.requests).toEqual([]);
  });

  it('respects the batch limits on the wire with many and large alerts, overflow included', async () => {
    const small = Array.from({ length: 23 }, (_, i) => (i % 2 === 0 ? c.openssl() : c.sshBackdoor()));
    const large = Array.from({ length: 14 }, () => {
      const d = c.openssl();
      d.process = { ...d.process, command_line: `openssl s_client -connect 198.51.100.9:443 ${'D'.repeat(60_000)}` };
      return d;
    });
    const huge = c.sshBackdoor();
    huge.process = { ...huge.process, command_line: 'E'.repeat(1_000_000) };
    await s3.put('logs', 'bulk/small many.ndjson.gz', gz(ndjson(logWith(1, small, 2))));
    await s3.put('logs', 'bulk/large+messages.ndjson', ndjson(logWith(2, [...large, huge], 2)));
    const { handler } = wiredHandler(s3, sns, { config: { maxAlertsPerRule: 20 } });
    const result = await handler(s3Event({ key: 'bulk/small many.ndjson.gz' }, { key: 'bulk/large+messages.ndjson' }), lambdaContext());

    expect(result).toEqual({ objects: 2, alerts: 12 + 11 + 14 + 1, skipped: 0 });
    expectCleanWire(sns);
    expect(sns.requests.some((r) => r.entries.length === 10)).toBe(true);
    // ~80 KB messages: the byte limit splits them, not the entry count.
    const largeRequests = sns.requests.filter((r) => r.entries.every((e) => recordOf(e).kind === 'alert' && keyOf(recordOf(e) as Alert) === 'bulk/large+messages.ndjson'));
    expect(largeRequests.length).toBeGreaterThan(1);
    expect(Math.max(...largeRequests.map((r) => r.entries.length))).toBeLessThan(10);
    const alerts = expectDeliveredOnce(sns.delivered);
    expect(alerts).toHaveLength(38);
    expect(alerts.filter((a) => a.truncated === true)).toHaveLength(1);
    expect(overflowsOf(sns.delivered)).toEqual([]);
  });

  it('publishes overflow records over the wire', async () => {
    await s3.put('logs', 'bulk/noisy.ndjson', ndjson(logWith(3, [c.openssl(), c.openssl(), c.openssl()], 2)));
    const { handler } = wiredHandler(s3, sns, { config: { maxAlertsPerRule: 1 } });
    await handler(s3Event({ key: 'bulk/noisy.ndjson' }), lambdaContext());
    expectCleanWire(sns);
    expect(alertsOf(sns.delivered)).toHaveLength(1);
    expect(overflowsOf(sns.delivered).map((o) => o.count)).toEqual([2]);
  });

  it('keeps subjects valid on the wire with a hostile host.name', async () => {
    const doc: Doc = c.openssl();
    doc.host = { ...(doc.host as object), name: `db-01\r\n\tSubject: injected\u000b\u001b[31m ${'Ω'.repeat(1000)}` };
    await s3.put('logs', 'bulk/hostile.ndjson', ndjson(logWith(4, [doc], 2)));
    const { handler } = wiredHandler(s3, sns);
    await expect(handler(s3Event({ key: 'bulk/hostile.ndjson' }), lambdaContext())).resolves.toMatchObject({ alerts: 1 });
    expectCleanWire(sns);
    expect(sns.delivered[0]!.subject).toBe('[low] Openssl Client or Server Activity on db-01 Subject: injected [31m ?...'); // the host was clipped (…)
  });

  it('delivers a whole batch when a host.name holds a lone surrogate or a pair cut at the attribute limit', async () => {
    // `"web-01\ud800"` in the log parses to a lone surrogate; the SDK's form encoding throws on it.
    const lone: Doc = c.openssl();
    lone.host = { ...(lone.host as object), name: 'web-01\ud800' };
    const cut: Doc = c.openssl();
    cut.host = { ...(cut.host as object), name: `${'h'.repeat(1023)}😀` };
    const hits = [...Array.from({ length: 4 }, () => c.openssl()), lone, ...Array.from({ length: 4 }, () => c.openssl()), cut];
    await s3.put('logs', 'bulk/surrogates.ndjson', ndjson(logWith(6, hits, 1)));
    const { handler } = wiredHandler(s3, sns);
    await expect(handler(s3Event({ key: 'bulk/surrogates.ndjson' }), lambdaContext())).resolves.toMatchObject({ alerts: 10 });
    expect(expectDeliveredOnce(sns.delivered)).toHaveLength(10);
    expectCleanWire(sns);
    const subjects = sns.delivered.map((e) => e.subject!);
    expect(subjects).toContain('[low] Openssl Client or Server Activity on web-01?');
    const hosts = sns.delivered.map((e) => e.attributes.host?.stringValue);
    expect(hosts).toContain('web-01\ufffd');
    expect(hosts).toContain(`${'h'.repeat(1023)}\ufffd`);
    // The alert document keeps the event as parsed.
    expect(alertsOf(sns.delivered).map((a) => (a.document.host as { name: string }).name)).toContain('web-01\ud800');
  });

  // Regression test for a fixed bug (lambda/publish/format.ts). It was: see format.test.ts; a reason field of 50 KB makes a
  // ~500 KB message that SNS rejects (BatchRequestTooLong), so this alert is never
  // delivered and every retry of the invocation fails with "1 of 3 alert message(s) ...".
  it('delivers an alert whose host.name is 50 KB', async () => {
    const doc: Doc = c.openssl();
    doc.host = { ...(doc.host as object), name: `host-${'h'.repeat(50_000)}` };
    await s3.put('logs', 'bulk/long-host.ndjson', ndjson(logWith(5, [c.openssl(), doc, c.openssl()], 2)));
    const { handler } = wiredHandler(s3, sns);
    await expect(handler(s3Event({ key: 'bulk/long-host.ndjson' }), lambdaContext())).resolves.toMatchObject({ alerts: 3 });
    expect(expectDeliveredOnce(sns.delivered)).toHaveLength(3);
    expectCleanWire(sns);
  });
});

describe('S3 Batch Operations over HTTP', () => {
  it.each(['1.0', '2.0'] as const)('scans schema %s tasks and answers per task', async (version) => {
    const { handler } = wiredHandler(s3, sns);
    const event = batchEvent(version, [
      { taskId: 'task-1', key: OBJECTS[0]!.key },
      { taskId: 'task-2', key: 'incoming/never existed.gz' },
      { taskId: 'task-3', key: OBJECTS[1]!.key },
    ]);
    const result = (await handler(event, lambdaContext())) as BatchResponse;
    expect(result.invocationSchemaVersion).toBe(version);
    expect(result.invocationId).toBe(event.invocationId);
    expect(result.treatMissingKeysAs).toBe('PermanentFailure');
    expect(result.results.map((r) => [r.taskId, r.resultCode])).toEqual([
      ['task-1', 'Succeeded'],
      ['task-2', 'PermanentFailure'],
      ['task-3', 'Succeeded'],
    ]);
    expect(result.results[0]!.resultString).toMatch(/^3 alert\(s\) from \d+ line\(s\)$/);
    expect(result.results[1]!.resultString).toBe('s3://logs/incoming/never existed.gz does not exist');
    expectCleanWire(sns);
    expect(expectDeliveredOnce(sns.delivered)).toHaveLength(4);
  });

  it('reports unreadable objects as TemporaryFailure', async () => {
    const { handler } = wiredHandler(s3, sns, { s3Credentials: { accessKeyId: 'NOT-S3RVER', secretAccessKey: 'nope' } });
    const result = (await handler(batchEvent('2.0', [{ taskId: 't', key: OBJECTS[0]!.key }]), lambdaContext())) as BatchResponse;
    expect(result.results).toEqual([{ taskId: 't', resultCode: 'TemporaryFailure', resultString: expect.stringContaining('InvalidAccessKeyId') }]);
  });
});

describe('configured through the environment, as deployed', () => {
  it('finds S3 and SNS through AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_SNS with no clients injected', async () => {
    const restore = setEnv(deployedEnv(s3, sns, { MAX_ALERTS_PER_RULE: '50', INDEX_BY_PREFIX: '{"nothing-here/":"auditbeat-8.11.1"}' }));
    try {
      const logger = new RecordingLogger();
      const handler = createHandler({ rules: shippedRules(), config: readConfig(process.env), logger: logger.asLogger(), metrics: new RecordingMetrics().asMetrics() });
      const result = await handler(allObjects(), lambdaContext());
      expect(result).toEqual({ objects: 4, alerts: TOTAL, skipped: 0 });
      expectCleanWire(sns);
      expect(sns.requests.every((r) => r.topicArn === TOPIC)).toBe(true);
      expect(expectDeliveredOnce(sns.delivered)).toHaveLength(TOTAL);
    } finally {
      restore();
    }
  });

  it("logs and emits its metrics under the stack's service name (POWERTOOLS_SERVICE_NAME), with Powertools' own Logger and Metrics", async () => {
    const restore = setEnv(deployedEnv(s3, sns, { POWERTOOLS_SERVICE_NAME: 'EqlambdaStaging', POWERTOOLS_DEV: undefined, LOG_LEVEL: 'INFO' }));
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return typeof rest[rest.length - 1] === 'function' ? (rest[rest.length - 1] as () => void)() === undefined : true;
    }) as typeof process.stdout.write;
    try {
      const handler = createHandler({ rules: shippedRules(), config: readConfig(process.env) });
      await handler(allObjects(), lambdaContext());
    } finally {
      process.stdout.write = write;
      restore();
    }
    const records = written.flatMap((w) => w.split('\n')).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const emf = records.filter((r) => r._aws !== undefined);
    expect(emf.length).toBeGreaterThan(0);
    const names = emf.flatMap((r) => (r._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }).CloudWatchMetrics.flatMap((m) => m.Metrics.map((x) => x.Name)));
    expect(names).toEqual(expect.arrayContaining(['ObjectsScanned', 'BytesScanned', 'AlertsPublished']));
    expect(emf.every((r) => r.service === 'EqlambdaStaging')).toBe(true);
    const logs = records.filter((r) => r._aws === undefined && r.level !== undefined);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.every((r) => r.service === 'EqlambdaStaging')).toBe(true);
  });
});
