/**
 * createHandler with the AWS SDK mocked (aws-sdk-client-mock): event shapes, key
 * decoding, skips, failure semantics, delivery retries, message format and limits,
 * S3 Batch Operations, the time budget and index routing.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { Alert } from '../../lambda/alerts/document.js';
import { readConfig, type HandlerConfig } from '../../lambda/handler/config.js';
import { createHandler } from '../../lambda/handler/create.js';
import type { BatchResponse } from '../../lambda/handler/events.js';
import type { PublisherOptions } from '../../lambda/publish/sns.js';
import { DEFAULT_RECLAIM_EVERY_BYTES, scan } from '../../lambda/scan/pipeline.js';
import { batchEvent, lambdaContext, S3_TEST_EVENT, s3Event } from '../support/aws-events.js';
import { SNS_MAX_BATCH_ENTRIES, SNS_MAX_PAYLOAD_BYTES, snsPayloadBytes, subjectProblem } from '../support/fake-sns.js';
import { corpus, example, EXAMPLES, gz, logWith, ndjson, OPENSSL_RULE, shippedRules, SSH_RULE, unrouted, type Doc } from '../support/logs.js';
import { acceptAll, DEFAULT_ETAG, failing, MockS3, MockSns } from '../support/mock-aws.js';
import { RecordingLogger, RecordingMetrics } from '../support/observability.js';
import { alertsOf, expectDeliveredOnce, expectWellFormed, overflowsOf, recordOf } from '../support/sns-messages.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:eqlambda-alerts';
const NOW = new Date('2026-11-20T07:00:00.000Z');
const rules = shippedRules();

const s3 = new MockS3();
const sns = new MockSns();
let logger: RecordingLogger;
let metrics: RecordingMetrics;
let sleeps: number[];

beforeEach(() => {
  s3.reset();
  sns.reset();
  logger = new RecordingLogger();
  metrics = new RecordingMetrics();
  sleeps = [];
});

afterAll(() => {
  s3.restore();
  sns.restore();
});

function makeHandler(config: Partial<HandlerConfig> = {}, publisher: PublisherOptions = {}) {
  return createHandler({
    rules,
    config: { topicArn: TOPIC, indexByPrefix: [], safetyMarginMs: 15_000, serviceName: 'eqlambda', ...config },
    s3: new S3Client({ region: 'us-east-1' }),
    sns: new SNSClient({ region: 'us-east-1' }),
    logger: logger.asLogger(),
    metrics: metrics.asMetrics(),
    publisher: {
      baseDelayMs: 100,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      ...publisher,
    },
    now: () => NOW,
  });
}

async function run(event: unknown, config: Partial<HandlerConfig> = {}, publisher: PublisherOptions = {}, context = lambdaContext()) {
  return makeHandler(config, publisher)(event, context);
}

/** Rejects if `promise` has not settled after `ms` (for code paths that could hang). */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A small object: benign events around the given hits; returns the bytes and the hits' line numbers. */
function logOf(seed: number, hits: Doc[], benignBetween = 20): { body: Buffer; lines: number[] } {
  const docs = logWith(seed, hits, benignBetween);
  return { body: ndjson(docs), lines: hits.map((h) => docs.indexOf(h) + 1) };
}

const c = corpus(11);
const keyOf = (a: Alert): string => ('key' in a.source ? a.source.key : '');

describe('S3 event notifications', () => {
  it('handles every record of an event and publishes every alert once, well formed', async () => {
    const keys = EXAMPLES.map((e) => `edr/${e.file}`);
    for (const e of EXAMPLES) s3.put(`edr/${e.file}`, example(e.file));
    const result = await run(s3Event(...keys.map((key) => ({ key }))));

    expect(result).toEqual({ objects: 4, alerts: 6, skipped: 0 });
    expect(s3.requests.map((r) => [r.Bucket, r.Key, r.VersionId])).toEqual(keys.map((k) => ['logs', k, undefined]));
    expect(sns.topics.every((t) => t === TOPIC)).toBe(true);
    for (const e of sns.delivered) expectWellFormed(e);
    const alerts = expectDeliveredOnce(sns.delivered);
    expect(alerts).toHaveLength(6);
    expect(alerts.filter((a) => a.rule.name === OPENSSL_RULE)).toHaveLength(3);
    expect(alerts.filter((a) => a.rule.name === SSH_RULE)).toHaveLength(3);
    for (const e of EXAMPLES) expect(alerts.filter((a) => keyOf(a) === `edr/${e.file}`)).toHaveLength(e.alerts);
    expect(alerts.every((a) => a['@timestamp'] === NOW.toISOString())).toBe(true);
    expect(metrics.total('ObjectsScanned')).toBe(4);
    expect(metrics.total('AlertsPublished')).toBe(6);
    expect(metrics.published).toBe(1);
  });

  it('decodes keys the way S3 encodes them: + is a space, then %XX (UTF-8)', async () => {
    const a = logOf(1, [c.openssl()]);
    const b = logOf(2, [c.sshBackdoor()]);
    s3.put('logs/my file+1.gz', gz(a.body));
    s3.put('été/日本 x.ndjson', b.body);
    const result = await run(s3Event({ key: 'logs/my file+1.gz', rawKey: 'logs/my+file%2B1.gz' }, { key: 'été/日本 x.ndjson', rawKey: '%C3%A9t%C3%A9/%E6%97%A5%E6%9C%AC+x.ndjson' }));

    expect(result).toEqual({ objects: 2, alerts: 2, skipped: 0 });
    expect(s3.requests.map((r) => r.Key)).toEqual(['logs/my file+1.gz', 'été/日本 x.ndjson']);
    const alerts = alertsOf(sns.delivered);
    expect(alerts.map((x) => [x.source, x.rule.name])).toEqual([
      [{ line: a.lines[0], bucket: 'logs', key: 'logs/my file+1.gz', etag: DEFAULT_ETAG }, OPENSSL_RULE],
      [{ line: b.lines[0], bucket: 'logs', key: 'été/日本 x.ndjson', etag: DEFAULT_ETAG }, SSH_RULE],
    ]);
  });

  it('passes the versionId to GetObject and reports it in the alert', async () => {
    const { body } = logOf(3, [c.openssl()]);
    s3.put('edr/versioned.ndjson', body, { versionId: '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY' });
    s3.put('edr/unversioned.ndjson', body);
    await run(s3Event({ key: 'edr/versioned.ndjson', versionId: '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY' }, { key: 'edr/unversioned.ndjson' }));

    expect(s3.requests.map((r) => r.VersionId)).toEqual(['3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY', undefined]);
    const [versioned, plain] = alertsOf(sns.delivered);
    expect(versioned!.source).toMatchObject({ key: 'edr/versioned.ndjson', version_id: '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY' });
    expect(plain!.source).not.toHaveProperty('version_id');
    // The version is part of the object's identity: same line and rule, different alert ids.
    expect(versioned!.id).not.toBe(plain!.id);
  });

  it('skips zero-byte objects, folder markers (empty, key ending with /) and non-ObjectCreated records without fetching them', async () => {
    const { body } = logOf(4, [c.openssl()]);
    s3.put('edr/real.ndjson', body);
    s3.put('edr/host1/', logOf(48, [c.openssl()]).body); // a key ending with '/' that holds a log
    const result = await run(
      s3Event(
        { key: 'edr/empty.ndjson', size: 0 },
        { key: 'edr/2026/11/', size: 0 },
        { key: 'edr/host1/', size: 12 },
        { key: 'edr/deleted.ndjson', eventName: 'ObjectRemoved:Delete' },
        { key: 'edr/restored.ndjson', eventName: 'ObjectRestore:Completed' },
        { key: 'edr/real.ndjson' },
      ),
    );
    expect(result).toEqual({ objects: 2, alerts: 2, skipped: 4 });
    expect(s3.requests.map((r) => r.Key)).toEqual(['edr/host1/', 'edr/real.ndjson']);
    expect(logger.entries.filter((e) => e.message === 'record skipped').map((e) => e.attributes.reason)).toEqual([
      'zero-byte object',
      'folder marker',
      'event ObjectRemoved:Delete is not ObjectCreated',
      'event ObjectRestore:Completed is not ObjectCreated',
    ]);
  });

  it('fails loudly on events of another shape (EventBridge, SQS, anything else) instead of scanning nothing', async () => {
    const eventBridge = { 'detail-type': 'Object Created', source: 'aws.s3', detail: { bucket: { name: 'logs' }, object: { key: 'edr/a.ndjson' } } };
    await expect(run(eventBridge)).rejects.toThrow(/^unsupported event: .*EventBridge and SQS deliveries are not supported.*: EventBridge "Object Created" event from aws\.s3$/);
    await expect(run({})).rejects.toThrow(/: an empty object$/);
    await expect(run('text')).rejects.toThrow(/: a string event$/);
    await expect(run(null)).rejects.toThrow(/: a null event$/);
    const sqs = { Records: [{ eventSource: 'aws:sqs', body: JSON.stringify(s3Event({ key: 'edr/a.ndjson' })) }] };
    await expect(run(sqs)).rejects.toThrow(/^unsupported event: .*: 1 record\(s\) are not S3 object records$/);
    // S3 never sends these: no records at all, or a record that names no event.
    await expect(run({ Records: [] })).rejects.toThrow(/: a notification with no records$/);
    const unnamed = s3Event({ key: 'edr/a.ndjson' });
    delete (unnamed.Records[0] as { eventName?: string }).eventName;
    await expect(run(unnamed)).rejects.toThrow(/^unsupported event: .*: 1 record\(s\) are not S3 object records$/);
    expect(logger.at('error').map((e) => e.message)).toEqual(['unsupported event', 'unsupported event', 'unsupported event', 'unsupported event', 'record skipped', 'unsupported event', 'record skipped']);
    expect(s3.mock.calls()).toHaveLength(0);
  });

  it('does nothing for the s3:TestEvent', async () => {
    expect(await run(S3_TEST_EVENT)).toEqual({ objects: 0, alerts: 0, skipped: 0 });
    expect(s3.mock.calls()).toHaveLength(0);
    expect(sns.mock.calls()).toHaveLength(0);
  });

  it('logs and counts a missing object, and succeeds', async () => {
    const { body } = logOf(5, [c.sshBackdoor()]);
    s3.put('edr/here.ndjson', body);
    const result = await run(s3Event({ key: 'edr/gone.ndjson' }, { key: 'edr/here.ndjson' }));

    expect(result).toEqual({ objects: 2, alerts: 1, skipped: 0 });
    expect(alertsOf(sns.delivered)).toHaveLength(1);
    const warning = logger.at('warn').find((e) => e.message === 'object is gone; nothing to scan');
    expect(warning?.attributes.error).toBe('s3://logs/edr/gone.ndjson does not exist');
    expect(warning?.keys).toMatchObject({ bucket: 'logs', key: 'edr/gone.ndjson' });
    expect(metrics.total('ObjectErrors')).toBe(1);
  });

  it('reads only the content the event announced: an object overwritten since is logged as an error, not scanned as the new content', async () => {
    s3.put('edr/rewritten.ndjson', logOf(45, [c.openssl()]).body, { etag: 'b2b2b2' });
    s3.put('edr/versioned.ndjson', logOf(46, [c.openssl()]).body, { etag: 'c3c3c3', versionId: 'v9' });
    const result = await run(s3Event({ key: 'edr/rewritten.ndjson', eTag: 'a1a1a1' }, { key: 'edr/versioned.ndjson', eTag: 'a1a1a1', versionId: 'v9' }));
    expect(result).toEqual({ objects: 2, alerts: 1, skipped: 0 });
    // The unversioned object is asked for with If-Match; a version pins its content already.
    expect(s3.requests.map((r) => [r.Key, r.IfMatch, r.VersionId])).toEqual([
      ['edr/rewritten.ndjson', '"a1a1a1"', undefined],
      ['edr/versioned.ndjson', undefined, 'v9'],
    ]);
    expect(alertsOf(sns.delivered).map((a) => ('key' in a.source ? a.source.key : ''))).toEqual(['edr/versioned.ndjson']);
    const error = logger.at('error').find((e) => e.message === 'object was overwritten before it was scanned; its earlier content was not scanned');
    expect(error?.attributes.error).toBe('s3://logs/edr/rewritten.ndjson was overwritten before it was read: the content with ETag a1a1a1 is gone (enable versioning on the bucket to scan every upload)');
    expect(metrics.total('ObjectErrors')).toBe(1);
  });

  it('fails the invocation on AccessDenied, after processing the other records and delivering their alerts', async () => {
    const one = logOf(6, [c.openssl(), c.openssl()]);
    const two = logOf(7, [c.sshBackdoor()]);
    s3.put('edr/denied.ndjson', one.body);
    s3.fail('edr/denied.ndjson', 'AccessDenied');
    s3.put('edr/one.ndjson.gz', gz(one.body));
    s3.put('edr/two.ndjson', two.body);

    await expect(run(s3Event({ key: 'edr/denied.ndjson' }, { key: 'edr/one.ndjson.gz' }, { key: 'edr/two.ndjson' }))).rejects.toThrow(
      'cannot read s3://logs/edr/denied.ndjson: AccessDenied: Access Denied',
    );
    expect(s3.requests.map((r) => r.Key)).toEqual(['edr/denied.ndjson', 'edr/one.ndjson.gz', 'edr/two.ndjson']);
    const alerts = expectDeliveredOnce(sns.delivered);
    expect(alerts.map(keyOf)).toEqual(['edr/one.ndjson.gz', 'edr/one.ndjson.gz', 'edr/two.ndjson']);
    expect(metrics.total('ObjectErrors')).toBe(1);
    expect(metrics.published).toBe(1); // metrics are flushed even when the invocation fails
  });

  it('cuts an object at MAX_DECOMPRESSED_BYTES (a gzip bomb), publishing the alerts before the cut and succeeding', async () => {
    const { body, lines } = logOf(10, [c.openssl(), c.sshBackdoor()], 400);
    const cut = body.indexOf('\n', body.length / 2); // the cap falls between the two hits
    expect(body.subarray(0, cut).toString().split('\n').length).toBeGreaterThanOrEqual(lines[0]!);
    expect(body.subarray(0, cut).toString().split('\n').length).toBeLessThan(lines[1]!);
    s3.put('edr/bomb.ndjson.gz', gzipSync(body));
    const result = await within(10_000, run(s3Event({ key: 'edr/bomb.ndjson.gz' }), { maxDecompressedBytes: cut }));
    expect(result).toMatchObject({ objects: 1, alerts: 1, skipped: 0 });
    expect(alertsOf(sns.delivered).map((a) => a.source.line)).toEqual([lines[0]]);
    const error = logger.at('error').find((e) => e.message.startsWith('object content is damaged'));
    expect(error?.attributes.error).toBe(`decompressed size exceeds the limit of ${cut} bytes (gzip bomb?)`);
    expect(metrics.total('ObjectErrors')).toBe(1);
  });

  it('publishes the alerts from the readable part of a truncated gzip object and succeeds', async () => {
    const { body, lines } = logOf(8, [c.openssl(), c.sshBackdoor(), c.openssl()], 60);
    const compressed = gzipSync(body);
    // Cut off the end: the last hit is lost, the first two are in the readable part.
    s3.put('edr/truncated.ndjson.gz', compressed.subarray(0, Math.floor(compressed.length * 0.6)));
    s3.put('edr/fine.ndjson', logOf(9, [c.sshBackdoor()]).body);

    const result = await within(10_000, run(s3Event({ key: 'edr/truncated.ndjson.gz' }, { key: 'edr/fine.ndjson' })));
    expect(result).toMatchObject({ objects: 2, skipped: 0 });
    const truncatedAlerts = alertsOf(sns.delivered).filter((a) => keyOf(a) === 'edr/truncated.ndjson.gz');
    expect(truncatedAlerts.map((a) => a.source.line)).toEqual(lines.slice(0, 2));
    expect(result).toMatchObject({ alerts: 3 });
    const error = logger.at('error').find((e) => e.message.startsWith('object content is damaged'));
    expect(error?.attributes.error).toBe('gzip stream is truncated (unexpected end of file)');
    expect(metrics.total('ObjectErrors')).toBe(1);
  });

  // Regression test for a fixed bug (lambda/scan/decode.ts). It was: Node's zlib discards the output of the inflate call
  // that fails, and the last chunk is inflated with Z_FINISH once end() was called. When
  // the data turns out corrupt (here every byte inflates fine and only the CRC32 trailer
  // is wrong) everything that call produced is lost: a small object (< 16 KiB, one
  // write) yields nothing, 0 alerts instead of 2; streamed in 4 KiB chunks, the last
  // ~70 KB, with the second hit, are lost.
  it('publishes the alerts of a gzip object whose checksum is wrong and succeeds', async () => {
    const docs = [...Array.from({ length: 60 }, () => c.benign()), c.openssl(), ...Array.from({ length: 100 }, () => c.benign()), c.sshBackdoor()];
    const bad = Buffer.from(gzipSync(ndjson(docs)));
    bad.writeUInt32LE((bad.readUInt32LE(bad.length - 8) + 1) >>> 0, bad.length - 8); // CRC32 trailer
    expect(bad.length).toBeLessThan(16 * 1024);
    s3.put('edr/bad-crc.ndjson.gz', bad);
    const chunks: Buffer[] = [];
    for (let o = 0; o < bad.length; o += 4096) chunks.push(bad.subarray(o, o + 4096));
    s3.put('edr/bad-crc-streamed.ndjson.gz', chunks);

    const result = await within(5_000, run(s3Event({ key: 'edr/bad-crc.ndjson.gz' }, { key: 'edr/bad-crc-streamed.ndjson.gz' })));
    expect(logger.at('error').filter((e) => String(e.attributes.error).startsWith('gzip stream is corrupt'))).toHaveLength(2);
    expect(alertsOf(sns.delivered).map((a) => [keyOf(a), a.source.line])).toEqual([
      ['edr/bad-crc.ndjson.gz', 61],
      ['edr/bad-crc.ndjson.gz', 162],
      ['edr/bad-crc-streamed.ndjson.gz', 61],
      ['edr/bad-crc-streamed.ndjson.gz', 162],
    ]);
    expect(result).toEqual({ objects: 2, alerts: 4, skipped: 0 });
  });

  // Regression test for a fixed bug (lambda/scan/decode.ts). It was: Node's gunzip starts
  // the next member inside the zlib call that ended the previous one, and text appended
  // after a member fails that call, so its output, the member's end, was dropped: the
  // alert on the last line was lost. The handler now reads the object again (the same
  // version or ETag) and decodes it member by member.
  it('publishes the alert on the last line of a gzip member followed by text that is not gzip', async () => {
    const docs = [c.openssl(), ...Array.from({ length: 300 }, () => c.benign()), c.sshBackdoor()];
    s3.put('edr/appended.ndjson.gz', Buffer.concat([gzipSync(ndjson(docs)), Buffer.from('appended by mistake\n')]));
    const result = await within(5_000, run(s3Event({ key: 'edr/appended.ndjson.gz' })));
    expect(alertsOf(sns.delivered).map((a) => a.source.line)).toEqual([1, 302]);
    expect(result).toEqual({ objects: 1, alerts: 2, skipped: 0 });
    const errors = logger.at('error').map((e) => String(e.attributes.error));
    expect(errors.some((e) => e.startsWith('gzip stream is corrupt (the bytes after member 1'))).toBe(true);
  });

  // Regression test for a fixed bug (lambda/scan/decode.ts). It was: when gunzip fails in the middle of its input (here: a
  // second gzip member with an invalid deflate block), decode() destroys gunzip while
  // its feeder is waiting for 'drain', which never comes; `await feeding` never settles,
  // so the scan, and the invocation, hang until the Lambda timeout instead of delivering
  // the readable part. (The hit is early, more than 1 MiB before the damage, so the
  // output zlib drops with the failing call, see the checksum test above, is not needed.)
  it('publishes the alerts from the readable part of a gzip object corrupt mid-stream and succeeds', async () => {
    const docs = [c.openssl(), ...Array.from({ length: 2000 }, () => c.benign())];
    const invalidMember = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), Buffer.from([0x07]), Buffer.alloc(100_000, 0x5a)]);
    s3.put('edr/corrupt.ndjson.gz', Buffer.concat([gzipSync(ndjson(docs)), invalidMember]));
    const result = await within(2_000, run(s3Event({ key: 'edr/corrupt.ndjson.gz' })));
    expect(result).toEqual({ objects: 1, alerts: 1, skipped: 0 });
    expect(alertsOf(sns.delivered).map((a) => a.source.line)).toEqual([1]);
    expect(logger.at('error').some((e) => String(e.attributes.error).startsWith('gzip stream is corrupt'))).toBe(true);
  });
});

describe('objects with the same bytes', () => {
  it('finds the same alerts in two objects with the same content', async () => {
    const { body } = logOf(32, [c.openssl()]);
    s3.put('edr/copy-1.ndjson', body);
    s3.put('edr/copy-2.ndjson', body);
    expect(await run(s3Event({ key: 'edr/copy-1.ndjson' }, { key: 'edr/copy-2.ndjson' }))).toEqual({ objects: 2, alerts: 2, skipped: 0 });
  });

  // Regression test for a fixed bug (lambda/scan/prefilter.ts). It was: the Prefilter inside the handler's shared
  // PreparedRules keeps its search window keyed on the Buffer object's identity. When a
  // later object streams the very same Buffer instance (here a client returning cached
  // bytes), the stale window says "no more hits" and the second object's lines are all
  // prefiltered away: 1 alert instead of 2. Not reachable with fresh network buffers.
  it('finds the same alerts when the same Buffer object is streamed twice', async () => {
    const { body } = logOf(32, [c.openssl()]);
    s3.sameBuffers = true;
    s3.put('edr/copy-1.ndjson', body);
    s3.put('edr/copy-2.ndjson', body);
    expect(await run(s3Event({ key: 'edr/copy-1.ndjson' }, { key: 'edr/copy-2.ndjson' }))).toEqual({ objects: 2, alerts: 2, skipped: 0 });
  });
});

describe('delivery to SNS', () => {
  it('retries entries SNS reports Failed, with backoff, until they are delivered', async () => {
    const { body, lines } = logOf(13, [c.openssl(), c.sshBackdoor(), c.openssl(), c.openssl(), c.sshBackdoor()]);
    s3.put('edr/retry.ndjson', body);
    // The 2nd hit's entry fails twice, the 4th hit's once (SenderFault false: retryable).
    const failuresFor = new Map([
      [lines[1], 2],
      [lines[3], 1],
    ]);
    const attempts = new Map<number, number>();
    sns.respond(
      failing((e) => {
        const line = (recordOf(e) as Alert).source.line;
        attempts.set(line, (attempts.get(line) ?? 0) + 1);
        return attempts.get(line)! <= (failuresFor.get(line) ?? 0);
      }),
    );
    const result = await run(s3Event({ key: 'edr/retry.ndjson' }));
    expect(result).toEqual({ objects: 1, alerts: 5, skipped: 0 });
    expect(sns.batches.map((b) => b.map((e) => (recordOf(e) as Alert).source.line))).toEqual([lines, [lines[1], lines[3]], [lines[1]]]);
    expect(expectDeliveredOnce(sns.delivered).map((a) => a.source.line).sort((a, b) => a - b)).toEqual(lines);
    // Exponential backoff with jitter: [base/2, base] then [base, 2*base].
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(50);
    expect(sleeps[0]).toBeLessThanOrEqual(100);
    expect(sleeps[1]).toBeGreaterThanOrEqual(100);
    expect(sleeps[1]).toBeLessThanOrEqual(200);
  });

  it('fails the invocation when an entry keeps failing, after delivering the rest', async () => {
    const hits = [c.openssl(), c.sshBackdoor(), c.openssl()];
    const { body, lines } = logOf(14, hits);
    s3.put('edr/stuck.ndjson', body);
    s3.put('edr/other.ndjson', logOf(15, [c.openssl()]).body);
    sns.respond(failing((e) => (recordOf(e) as Alert).source.line === lines[1] && keyOf(recordOf(e) as Alert) === 'edr/stuck.ndjson'));

    await expect(run(s3Event({ key: 'edr/stuck.ndjson' }, { key: 'edr/other.ndjson' }), {}, { maxAttempts: 3 })).rejects.toThrow(
      '1 of 3 alert message(s) for s3://logs/edr/stuck.ndjson could not be published (InternalError)',
    );
    expect(sleeps).toHaveLength(2); // 3 attempts
    const delivered = expectDeliveredOnce(sns.delivered);
    expect(delivered.map((a) => a.source.line)).toEqual([lines[0], lines[2], expect.any(Number)]);
    expect(delivered.filter((a) => keyOf(a) === 'edr/other.ndjson')).toHaveLength(1);
    expect(metrics.total('PublishFailures')).toBe(1);
    expect(logger.at('error').find((e) => e.message === 'alerts could not be published')?.attributes).toMatchObject({ failed: 1, published: 2, firstError: 'InternalError: injected' });
    // AlertsPublished counts what SNS accepted: 3 found, 1 undelivered, plus the other object's.
    expect(metrics.total('AlertsPublished')).toBe(3);
  });

  it('logs the lines it skipped in an object, by reason with their first line numbers (a line padded past the cap escapes every rule)', async () => {
    const padded = JSON.stringify({ ...c.openssl(), padding: 'x'.repeat(1024 * 1024) });
    s3.put('edr/padded.ndjson', Buffer.from(`${JSON.stringify(c.benign())}\n${padded}\nnot json\n`));
    await run(s3Event({ key: 'edr/padded.ndjson' }));
    const warned = logger.at('warn').find((e) => e.message === 'object scanned; some lines were skipped');
    expect(warned?.attributes).toMatchObject({ lines: 3, alerts: 0, skipped: 'invalid_json 1 (line 3), too_long 1 (line 2)' });
  });

  it('does not retry entries SNS blames on the sender', async () => {
    const { body } = logOf(16, [c.openssl(), c.openssl()]);
    s3.put('edr/sender.ndjson', body);
    let first = true;
    sns.respond(
      failing(() => {
        const f = first;
        first = false;
        return f;
      }, 'InvalidParameter', true),
    );
    await expect(run(s3Event({ key: 'edr/sender.ndjson' }))).rejects.toThrow('1 of 2 alert message(s) for s3://logs/edr/sender.ndjson could not be published (InvalidParameter)');
    expect(sleeps).toEqual([]);
    expect(sns.batches).toHaveLength(1);
  });

  it('fails the invocation when PublishBatch itself fails (the SDK has given up)', async () => {
    s3.put('edr/down.ndjson', logOf(17, [c.openssl()]).body);
    sns.respond(() => {
      throw Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable' });
    });
    await expect(run(s3Event({ key: 'edr/down.ndjson' }))).rejects.toThrow('1 of 1 alert message(s) for s3://logs/edr/down.ndjson could not be published (ServiceUnavailable)');
  });

  it('sends at most 10 entries and 256 KiB per PublishBatch', async () => {
    // 23 small alerts in one object, then 12 alerts of ~50 KB each in another.
    const small = Array.from({ length: 23 }, (_, i) => (i % 2 === 0 ? c.openssl() : c.sshBackdoor()));
    const large = Array.from({ length: 12 }, () => {
      const d = c.openssl();
      d.process = { ...d.process, command_line: `openssl s_client -connect 203.0.113.7:4443 ${'B'.repeat(45_000)}` };
      return d;
    });
    s3.put('edr/small.ndjson.gz', gz(logOf(18, small, 3).body));
    s3.put('edr/large.ndjson', logOf(19, large, 3).body);
    const result = await run(s3Event({ key: 'edr/small.ndjson.gz' }, { key: 'edr/large.ndjson' }));
    expect(result).toEqual({ objects: 2, alerts: 35, skipped: 0 });

    const batches = sns.batches;
    for (const b of batches) {
      expect(b.length).toBeGreaterThan(0);
      expect(b.length).toBeLessThanOrEqual(SNS_MAX_BATCH_ENTRIES);
      expect(b.reduce((n, e) => n + snsPayloadBytes(e), 0)).toBeLessThanOrEqual(SNS_MAX_PAYLOAD_BYTES);
      expect(new Set(b.map((e) => e.id)).size).toBe(b.length);
    }
    expect(batches.some((b) => b.length === SNS_MAX_BATCH_ENTRIES)).toBe(true);
    // The large messages are ~50 KB: the byte limit, not the count, splits them.
    const largeBatches = batches.filter((b) => b.every((e) => keyOf(recordOf(e) as Alert) === 'edr/large.ndjson'));
    expect(Math.max(...largeBatches.map((b) => b.length))).toBeLessThan(SNS_MAX_BATCH_ENTRIES);
    expect(expectDeliveredOnce(sns.delivered)).toHaveLength(35);
  });

  it('keeps subjects valid with a hostile host.name and delivers the alert', async () => {
    const doc = c.openssl();
    doc.host = { ...(doc.host as object), name: `web-01\n\r\tFAKE: [critical] something else\u0000${'z'.repeat(1000)}` };
    s3.put('edr/hostile.ndjson', logOf(20, [doc]).body);
    await run(s3Event({ key: 'edr/hostile.ndjson' }));
    expect(sns.delivered).toHaveLength(1);
    const [entry] = sns.delivered;
    expectWellFormed(entry!);
    expect(subjectProblem(entry!.subject!)).toBeUndefined();
    expect(entry!.subject).toMatch(/^\[low\] Openssl Client or Server Activity on web-01 FAKE: \[critical\] something else z+\.\.\.$/);
  });

  it('sends a partial batch once it has waited lingerMs: an early alert is not held until the object ends', async () => {
    const { body, lines } = logOf(40, [c.openssl()], 30);
    const cut = Buffer.byteLength(body.toString('utf8').split('\n').slice(0, lines[0]).join('\n') + '\n');
    let requestsBeforeTail = -1;
    s3.put('edr/trickle.ndjson', [body.subarray(0, cut), body.subarray(cut)], {
      // The network pauses after the chunk with the alert; the alert must go out meanwhile.
      beforeChunk: async (i) => {
        if (i !== 1) return;
        await new Promise((resolve) => setTimeout(resolve, 400));
        requestsBeforeTail = sns.batches.length;
      },
    });
    await run(s3Event({ key: 'edr/trickle.ndjson' }), {}, { lingerMs: 50 });
    expect(requestsBeforeTail).toBe(1);
    expect(sns.batches).toHaveLength(1);
    expect(alertsOf(sns.delivered).map((a) => a.source.line)).toEqual(lines);
  });

  it('isolates an entry whose request cannot even be built, delivering the rest of its batch', async () => {
    const hits = Array.from({ length: 10 }, () => c.openssl());
    hits[4]!.host = { ...(hits[4]!.host as object), name: 'poison-host' };
    s3.put('edr/poison.ndjson', logOf(41, hits, 2).body);
    // As the SDK's serializer fails (before any request is sent): a plain error, no $metadata.
    sns.respond((input) => {
      if ((input.PublishBatchRequestEntries ?? []).some((e) => e.Subject?.includes('poison-host'))) throw new URIError('URI malformed');
      return acceptAll(input, 0);
    });
    await expect(run(s3Event({ key: 'edr/poison.ndjson' }))).rejects.toThrow('1 of 10 alert message(s) for s3://logs/edr/poison.ndjson could not be published (URIError)');
    expect(expectDeliveredOnce(sns.delivered)).toHaveLength(9);
    expect(sns.delivered.every((e) => !e.subject!.includes('poison-host'))).toBe(true);
  });

  it('isolates an entry SNS refuses the whole request for (its content), delivering the rest of its batch', async () => {
    const hits = Array.from({ length: 10 }, () => c.openssl());
    hits[6]!.host = { ...(hits[6]!.host as object), name: 'pc-sns-refuses' };
    s3.put('edr/refused.ndjson', logOf(42, hits, 2).body);
    // As the SDK reports a 400 from SNS: a service exception with $metadata and $fault 'client'.
    // ValidationError is the generic Query-protocol code, which the SDK names as it comes.
    for (const name of ['InvalidParameterException', 'ValidationError']) {
      sns.reset();
      sns.respond((input) => {
        if ((input.PublishBatchRequestEntries ?? []).some((e) => e.Subject?.includes('pc-sns-refuses'))) {
          throw Object.assign(new Error('Invalid parameter: Subject'), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });
        }
        return acceptAll(input, 0);
      });
      await expect(run(s3Event({ key: 'edr/refused.ndjson' }))).rejects.toThrow(`1 of 10 alert message(s) for s3://logs/edr/refused.ndjson could not be published (${name})`);
      expect(expectDeliveredOnce(sns.delivered)).toHaveLength(9);
      expect(sns.batches[0]).toHaveLength(10);
      expect(sns.batches.slice(1).every((b) => b.length === 1)).toBe(true);
    }
  });

  it('does not split a batch refused for what would fail every entry alike (server fault, throttling, access, KMS)', async () => {
    s3.put('edr/busy.ndjson', logOf(43, [c.openssl(), c.openssl(), c.openssl()]).body);
    const faults = [
      ['InternalErrorException', 'server', 500],
      ['ThrottledException', 'client', 400],
      ['AuthorizationErrorException', 'client', 403],
      ['KMSAccessDeniedException', 'client', 400],
      ['NotFoundException', 'client', 404],
    ] as const;
    for (const [name, fault, status] of faults) {
      sns.reset();
      sns.respond(() => {
        throw Object.assign(new Error('refused'), { name, $fault: fault, $metadata: { httpStatusCode: status } });
      });
      await expect(run(s3Event({ key: 'edr/busy.ndjson' }))).rejects.toThrow(`3 of 3 alert message(s) for s3://logs/edr/busy.ndjson could not be published (${name})`);
      expect(sns.batches, name).toHaveLength(1);
    }
  });

  it('sends again an entry the response accounts for in neither Successful nor Failed, and ignores unknown ids', async () => {
    const { body, lines } = logOf(44, [c.openssl(), c.openssl(), c.openssl()]);
    s3.put('edr/silent.ndjson', body);
    sns.respond((input, call) => {
      const entries = input.PublishBatchRequestEntries ?? [];
      // The first answer forgets the 2nd entry and names one that was never sent.
      const answered = call === 1 ? entries.filter((_, i) => i !== 1) : entries;
      return { $metadata: {}, Successful: [...answered.map((e) => ({ Id: e.Id!, MessageId: `m-${e.Id}` })), ...(call === 1 ? [{ Id: 'e99', MessageId: 'x' }, { Id: entries[0]!.Id!, MessageId: 'dup' }] : [])], Failed: [] };
    });
    const result = await run(s3Event({ key: 'edr/silent.ndjson' }));
    expect(result).toEqual({ objects: 1, alerts: 3, skipped: 0 });
    expect(sns.batches.map((b) => b.map((e) => (recordOf(e) as Alert).source.line))).toEqual([lines, [lines[1]]]);
  });

  it('trims an oversized document (1 MB command line) to fit, keeping the alert fields', async () => {
    const doc = c.openssl();
    doc.process = { ...doc.process, command_line: `openssl s_client -connect 203.0.113.7:4443 ${'C'.repeat(1_000_000)}` };
    const { body } = logOf(21, [doc], 5);
    s3.put('edr/huge.ndjson', body);
    await run(s3Event({ key: 'edr/huge.ndjson' }));

    // What the same scan finds without any message size limit.
    const found: Alert[] = [];
    await scan(Readable.from([body]), { kind: 's3', bucket: 'logs', key: 'edr/huge.ndjson', etag: DEFAULT_ETAG }, { rules, now: () => NOW }, (records) => {
      for (const r of records) if (r.kind === 'alert') found.push(r);
    });
    expect(found).toHaveLength(1);

    expect(sns.delivered).toHaveLength(1);
    const entry = sns.delivered[0]!;
    expect(snsPayloadBytes(entry)).toBeLessThan(SNS_MAX_PAYLOAD_BYTES);
    const alert = expectWellFormed(entry) as Alert;
    expect(alert.truncated).toBe(true);
    expect({ id: alert.id, rule: alert.rule, reason: alert.reason, source: alert.source }).toEqual({ id: found[0]!.id, rule: found[0]!.rule, reason: found[0]!.reason, source: found[0]!.source });
  });

  it('publishes overflow records too (maxAlertsPerRule 1, 3 matches)', async () => {
    const { body, lines } = logOf(22, [c.openssl(), c.openssl(), c.openssl(), c.sshBackdoor()]);
    s3.put('edr/noisy.ndjson', body);
    const result = await run(s3Event({ key: 'edr/noisy.ndjson' }), { maxAlertsPerRule: 1 });
    expect(result).toEqual({ objects: 1, alerts: 2, skipped: 0 });
    for (const e of sns.delivered) expectWellFormed(e);
    expect(alertsOf(sns.delivered).map((a) => [a.rule.name, a.source.line])).toEqual([
      [OPENSSL_RULE, lines[0]],
      [SSH_RULE, lines[3]],
    ]);
    const overflows = overflowsOf(sns.delivered);
    expect(overflows).toEqual([
      {
        kind: 'overflow',
        id: expect.stringMatching(/^[0-9a-f]{64}$/),
        rule: expect.objectContaining({ name: OPENSSL_RULE }),
        source: { bucket: 'logs', key: 'edr/noisy.ndjson', etag: DEFAULT_ETAG, first_suppressed_line: lines[1] },
        count: 2,
      },
    ]);
    expect(sns.delivered.find((e) => recordOf(e).kind === 'overflow')!.subject).toBe(`[low] ${OPENSSL_RULE}: 2 more matches suppressed`);
    expect(metrics.total('OverflowSuppressed')).toBe(2);
  });

  it('keeps at most maxInFlight PublishBatch requests open', async () => {
    const hits = Array.from({ length: 60 }, () => c.openssl());
    s3.put('edr/many.ndjson', logOf(23, hits, 1).body);
    let open = 0;
    let peak = 0;
    sns.respond(async (input) => {
      open++;
      peak = Math.max(peak, open);
      await new Promise((resolve) => setTimeout(resolve, 5));
      open--;
      return { $metadata: {}, Successful: (input.PublishBatchRequestEntries ?? []).map((e) => ({ Id: e.Id!, MessageId: 'm' })), Failed: [] };
    });
    const result = await run(s3Event({ key: 'edr/many.ndjson' }), {}, { maxInFlight: 2 });
    expect(result).toEqual({ objects: 1, alerts: 60, skipped: 0 });
    expect(peak).toBeLessThanOrEqual(2);
    expect(expectDeliveredOnce(sns.delivered)).toHaveLength(60);
  });
});

describe('S3 Batch Operations', () => {
  function setUp(): { lines: number[] } {
    const { body, lines } = logOf(24, [c.openssl(), c.sshBackdoor()]);
    s3.put('backfill/day 1+2.ndjson.gz', gz(body));
    s3.put('backfill/denied.ndjson', body);
    s3.fail('backfill/denied.ndjson', 'AccessDenied');
    return { lines };
  }

  it.each(['1.0', '2.0'] as const)('answers a schema %s job per task, echoing its ids', async (version) => {
    setUp();
    const event = batchEvent(
      version,
      [
        { taskId: 'dGFzazE', key: 'backfill/day 1+2.ndjson.gz' },
        { taskId: 'dGFzazI', key: 'backfill/missing.ndjson' },
        { taskId: 'dGFzazM', key: 'backfill/denied.ndjson' },
      ],
      `invocation-${version}`,
    );
    const result = (await run(event)) as BatchResponse;
    expect(result).toEqual({
      invocationSchemaVersion: version,
      treatMissingKeysAs: 'PermanentFailure',
      invocationId: `invocation-${version}`,
      results: [
        { taskId: 'dGFzazE', resultCode: 'Succeeded', resultString: expect.stringMatching(/^2 alert\(s\) from \d+ line\(s\)$/) },
        { taskId: 'dGFzazI', resultCode: 'PermanentFailure', resultString: 's3://logs/backfill/missing.ndjson does not exist' },
        { taskId: 'dGFzazM', resultCode: 'TemporaryFailure', resultString: 'cannot read s3://logs/backfill/denied.ndjson: AccessDenied: Access Denied' },
      ],
    });
    expect(s3.requests.map((r) => r.Key)).toEqual(['backfill/day 1+2.ndjson.gz', 'backfill/missing.ndjson', 'backfill/denied.ndjson']);
    expect(expectDeliveredOnce(sns.delivered)).toHaveLength(2);
  });

  it('passes task versions, fails tasks without a bucket, and retries tasks whose alerts were not delivered', async () => {
    const { body } = logOf(25, [c.openssl()]);
    s3.put('backfill/v.ndjson', body, { versionId: 'v7' });
    s3.put('backfill/undeliverable.ndjson', logOf(26, [c.sshBackdoor()]).body);
    sns.respond(failing((e) => keyOf(recordOf(e) as Alert) === 'backfill/undeliverable.ndjson'));
    const event = batchEvent('2.0', [
      { taskId: 't1', key: 'backfill/v.ndjson', versionId: 'v7' },
      { taskId: 't2', key: 'backfill/undeliverable.ndjson' },
    ]);
    (event.tasks as Record<string, unknown>[]).push({ taskId: 't3', s3Key: 'x', s3VersionId: null });
    const result = (await run(event, {}, { maxAttempts: 2 })) as BatchResponse;
    expect(result.results).toEqual([
      { taskId: 't1', resultCode: 'Succeeded', resultString: expect.stringMatching(/^1 alert\(s\) from/) },
      { taskId: 't2', resultCode: 'TemporaryFailure', resultString: '1 of 1 alert message(s) for s3://logs/backfill/undeliverable.ndjson could not be published (InternalError)' },
      { taskId: 't3', resultCode: 'PermanentFailure', resultString: 'task names no bucket' },
    ]);
    expect(s3.requests.map((r) => [r.Key, r.VersionId])).toEqual([
      ['backfill/v.ndjson', 'v7'],
      ['backfill/undeliverable.ndjson', undefined],
    ]);
    expect(alertsOf(sns.delivered)[0]!.source).toMatchObject({ version_id: 'v7' });
  });
});

describe('time budget', () => {
  /** Time left to open the object (the first question), then none. */
  const openedThenOutOfTime = (): (() => number) => {
    let asked = 0;
    return () => (asked++ === 0 ? 15_001 : 1);
  };

  it('fails the objects it has no time left to open without opening them (an event of many records must not outlast the function)', async () => {
    const { body } = logOf(31, [c.openssl()]);
    for (const key of ['edr/a.ndjson', 'edr/b.ndjson', 'edr/c.ndjson']) s3.put(key, body);
    // Time for the first object; its alert's delivery takes the rest.
    let left = 60_000;
    sns.respond((input) => {
      left = 14_000;
      return acceptAll(input, 0);
    });
    const outcome = await within(
      2_000,
      run(s3Event({ key: 'edr/a.ndjson' }, { key: 'edr/b.ndjson' }, { key: 'edr/c.ndjson' }), {}, {}, lambdaContext(() => left)).then(
        () => 'resolved',
        (err: Error) => err.message,
      ),
    );
    expect(outcome).toBe(
      'not scanned: the time budget ran out before s3://logs/edr/b.ndjson was opened; not scanned: the time budget ran out before s3://logs/edr/c.ndjson was opened',
    );
    expect(s3.requests.map((r) => r.Key)).toEqual(['edr/a.ndjson']);
    expect(alertsOf(sns.delivered)).toHaveLength(1);
    expect(metrics.total('ObjectErrors')).toBe(2);
  });

  it('stops a safety margin before the timeout, delivers what was found and fails with the line reached', async () => {
    const hits = [c.openssl(), c.sshBackdoor(), c.openssl()];
    const { body, lines } = logOf(27, hits, 30);
    // Two chunks: the first ends with the second hit's line.
    const cut = Buffer.byteLength(body.toString('utf8').split('\n').slice(0, lines[1]).join('\n') + '\n');
    s3.put('edr/slow.ndjson', [body.subarray(0, cut), body.subarray(cut)]);
    let calls = 0;
    const context = lambdaContext(() => {
      calls++;
      return calls === 1 ? 15_001 : 14_999; // time left to open it, then below the 15 s margin
    });
    await expect(run(s3Event({ key: 'edr/slow.ndjson' }), {}, {}, context)).rejects.toThrow(
      `stopped at line ${lines[1]! + 1} of s3://logs/edr/slow.ndjson: the time budget ran out; alerts up to there were delivered`,
    );
    expect(calls).toBe(4); // before opening, the delivery deadline, the open's time limit, then the check after the first chunk
    expect(alertsOf(sns.delivered).map((a) => a.source.line)).toEqual(lines.slice(0, 2));
  });

  // Regression test for a fixed bug (lambda/scan/decode.ts). It was: stopping early leaves the GetObject body open (decode
  // iterates its source with next() and never calls return()/destroy on it), so the
  // HTTP socket stays checked out of the SDK's pool after every stopped invocation.
  it('releases the S3 response body when it stops early', async () => {
    const { body } = logOf(33, [c.openssl()], 50);
    s3.put('edr/stopped.ndjson', [body.subarray(0, 4096), body.subarray(4096, 8192), body.subarray(8192)]);
    await expect(run(s3Event({ key: 'edr/stopped.ndjson' }), {}, {}, lambdaContext(openedThenOutOfTime()))).rejects.toThrow(/^stopped at line/);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(s3.bodies).toHaveLength(1);
    expect(s3.bodies[0]!.destroyed).toBe(true);
  });

  it('stops when the time runs out while a read has stalled, delivering what was found', async () => {
    const hits = [c.openssl(), c.sshBackdoor()];
    const { body, lines } = logOf(47, hits, 20);
    const cut = Buffer.byteLength(body.toString('utf8').split('\n').slice(0, lines[1]).join('\n') + '\n');
    // The second chunk never comes (a connection that went silent).
    s3.put('edr/stalled.ndjson', [body.subarray(0, cut), body.subarray(cut)], { beforeChunk: (i) => (i === 1 ? new Promise<void>(() => {}) : Promise.resolve()) });
    const deadline = performance.now() + 400; // the margin is reached 400 ms from now
    const context = lambdaContext(() => Math.round(15_000 + deadline - performance.now()));
    const started = performance.now();
    await expect(within(3_000, run(s3Event({ key: 'edr/stalled.ndjson' }), {}, {}, context))).rejects.toThrow(
      `stopped at line ${lines[1]! + 1} of s3://logs/edr/stalled.ndjson: the time budget ran out; alerts up to there were delivered`,
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
    expect(alertsOf(sns.delivered).map((a) => a.source.line)).toEqual(lines);
  });

  it('gives up on an SNS that never answers a third of the margin before the timeout: logs, counts and fails on its own terms', async () => {
    const { body } = logOf(29, [c.openssl(), c.sshBackdoor()]);
    s3.put('edr/unanswered.ndjson', [body]);
    sns.respond(() => new Promise(() => {})); // accepts the request, never answers
    // A 1.5 s margin: the scan reads while more than 1.5 s remain, delivery ends when 0.5 s remain.
    const timeout = performance.now() + 1_500 + 700;
    const context = lambdaContext(() => Math.round(timeout - performance.now()));
    const started = performance.now();
    await expect(within(5_000, run(s3Event({ key: 'edr/unanswered.ndjson' }), { safetyMarginMs: 1_500 }, {}, context))).rejects.toThrow(
      /^2 of 2 alert message\(s\) for s3:\/\/logs\/edr\/unanswered\.ndjson could not be published \(OutOfTime\)$/,
    );
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(1_690); // until 0.5 s was left
    expect(waited).toBeLessThan(3_000);
    expect(logger.at('error').map((e) => e.message)).toContain('alerts could not be published');
    expect(metrics.total('PublishFailures')).toBe(2);
  });

  it('does not stop while the remaining time is above the margin', async () => {
    const { body } = logOf(28, [c.openssl()]);
    s3.put('edr/fast.ndjson', [body.subarray(0, 1000), body.subarray(1000)]);
    const result = await run(s3Event({ key: 'edr/fast.ndjson' }), { safetyMarginMs: 1000 }, {}, lambdaContext(() => 1001));
    expect(result).toEqual({ objects: 1, alerts: 1, skipped: 0 });
  });

  // Regression test for a fixed bug (lambda/scan/decode.ts). It was: stopping early on a gzip object breaks out of the gunzip
  // loop and destroys gunzip while the feeder waits for 'drain'; `await feeding` never
  // settles, so instead of delivering the alerts and failing with "stopped at line N"
  // the invocation hangs until Lambda kills it (alerts still queued in the publisher,
  // fewer than 10, are never sent).
  it('stops on a gzip object too, delivering what was found', async () => {
    const hits = [c.openssl(), c.sshBackdoor()];
    const many = Array.from({ length: 3000 }, () => c.benign());
    const docs = [hits[0]!, ...many, hits[1]!];
    const compressed = gzipSync(ndjson(docs));
    s3.put('edr/slow.ndjson.gz', [compressed.subarray(0, 16 * 1024), compressed.subarray(16 * 1024)]);
    const outcome = await within(
      2_000,
      run(s3Event({ key: 'edr/slow.ndjson.gz' }), {}, {}, lambdaContext(openedThenOutOfTime())).then(
        () => 'resolved',
        (err: Error) => err.message,
      ),
    );
    expect(outcome).toMatch(/^stopped at line \d+ of s3:\/\/logs\/edr\/slow\.ndjson\.gz/);
    expect(alertsOf(sns.delivered).map((a) => a.source.line)).toContain(1);
  });
});

describe('index routing by key prefix', () => {
  // Events with neither data_stream nor agent fields are unrouted: every rule applies,
  // unless the configuration maps the object's key prefix to an index.
  const docs = () => [unrouted(c.openssl()), unrouted(c.sshBackdoor())];

  it('applies only the rules for the index INDEX_BY_PREFIX names', async () => {
    const body = logOf(29, docs()).body;
    s3.put('auditbeat/host-1.ndjson', body);
    s3.put('auditbeat/s1/host-1.ndjson', body);
    s3.put('other/host-1.ndjson', body);
    const config = readConfig({
      ALERTS_TOPIC_ARN: TOPIC,
      INDEX_BY_PREFIX: JSON.stringify({ 'auditbeat/': 'auditbeat-8.11.1', 'auditbeat/s1/': 'logs-endpoint.events.process-default' }),
    });
    await run(s3Event({ key: 'auditbeat/host-1.ndjson' }, { key: 'auditbeat/s1/host-1.ndjson' }, { key: 'other/host-1.ndjson' }), config);
    const byKey = (key: string) => alertsOf(sns.delivered).filter((a) => keyOf(a) === key).map((a) => a.rule.name);
    expect(byKey('auditbeat/host-1.ndjson')).toEqual([SSH_RULE]);
    expect(byKey('auditbeat/s1/host-1.ndjson')).toEqual([OPENSSL_RULE]); // longest prefix wins
    expect(byKey('other/host-1.ndjson')).toEqual([OPENSSL_RULE, SSH_RULE]); // unrouted: every rule
  });

  it('uses DEFAULT_INDEX for keys no prefix matches', async () => {
    const body = logOf(30, docs()).body;
    s3.put('other/host-2.ndjson', body);
    s3.put('auditbeat/host-2.ndjson', body);
    const config = readConfig({ ALERTS_TOPIC_ARN: TOPIC, DEFAULT_INDEX: 'logs-endpoint.events.process-default', INDEX_BY_PREFIX: '{"auditbeat/":"auditbeat-8.11.1"}' });
    await run(s3Event({ key: 'other/host-2.ndjson' }, { key: 'auditbeat/host-2.ndjson' }), config);
    const byKey = (key: string) => alertsOf(sns.delivered).filter((a) => keyOf(a) === key).map((a) => a.rule.name);
    expect(byKey('other/host-2.ndjson')).toEqual([OPENSSL_RULE]);
    expect(byKey('auditbeat/host-2.ndjson')).toEqual([SSH_RULE]);
  });

  it('never overrides the index of routed events', async () => {
    s3.put('auditbeat/routed.ndjson', logOf(31, [c.openssl()]).body); // Defend events: data_stream says logs-endpoint.events.process-*
    await run(s3Event({ key: 'auditbeat/routed.ndjson' }), readConfig({ ALERTS_TOPIC_ARN: TOPIC, INDEX_BY_PREFIX: '{"auditbeat/":"auditbeat-8.11.1"}' }));
    expect(alertsOf(sns.delivered).map((a) => a.rule.name)).toEqual([OPENSSL_RULE]);
  });
});

describe('memory', () => {
  it('passes reclaimMemory to the scan: called every 16 MiB of a large object', async () => {
    let calls = 0;
    const handler = createHandler({
      rules,
      config: { topicArn: TOPIC, indexByPrefix: [], safetyMarginMs: 15_000, serviceName: 'eqlambda' },
      s3: new S3Client({ region: 'us-east-1' }),
      sns: new SNSClient({ region: 'us-east-1' }),
      logger: logger.asLogger(),
      metrics: metrics.asMetrics(),
      reclaimMemory: () => calls++,
    });
    const lines = Buffer.from('{"a":1}\n'.repeat(5_000_000)); // 40 MB decompressed
    expect(Math.floor(lines.length / DEFAULT_RECLAIM_EVERY_BYTES)).toBe(2);
    s3.put('edr/large.ndjson.gz', gzipSync(lines, { level: 1 }));
    const result = await handler(s3Event({ key: 'edr/large.ndjson.gz' }), lambdaContext());
    expect(result).toMatchObject({ objects: 1, alerts: 0 });
    expect(calls).toBe(2);
  });
});
