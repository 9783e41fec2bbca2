import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeS3Key, isBatchEvent, isS3TestEvent, taskFromBatch, tasksFromS3Event, type BatchEvent } from '../../lambda/handler/events.js';
import { batchEvent, encodeS3Key, S3_TEST_EVENT, s3Event, type s3Record } from '../support/aws-events.js';

describe('decodeS3Key', () => {
  it.each([
    ['logs/my+file%2B1.gz', 'logs/my file+1.gz'],
    ['red+flower.jpg', 'red flower.jpg'],
    ['caf%C3%A9/%C3%A9t%C3%A9.ndjson', 'café/été.ndjson'],
    ['%E6%97%A5%E6%9C%AC/log.gz', '日本/log.gz'],
    ['a%2Bb+c', 'a+b c'],
    ['100%25+done', '100% done'],
    ['plain/key.ndjson.gz', 'plain/key.ndjson.gz'],
  ])('decodes %s as form encoding', (raw, decoded) => {
    expect(decodeS3Key(raw)).toBe(decoded);
  });

  it('keeps a key with malformed escapes as delivered (spaces decoded)', () => {
    expect(decodeS3Key('bad%E9+name%')).toBe('bad%E9 name%');
  });

  it('inverts the form encoding S3 applies, for any key', () => {
    const unit = fc.oneof(fc.constantFrom(' ', '+', '%', '/', '%2B', '&', '=', '?', '#', 'é', '日本', '😀'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }));
    fc.assert(
      fc.property(fc.string({ unit, minLength: 1, maxLength: 30 }), (key) => {
        expect(decodeS3Key(encodeS3Key(key))).toBe(key);
      }),
      { numRuns: 500 },
    );
  });
});

describe('tasksFromS3Event', () => {
  it('turns every ObjectCreated record into a task with the decoded key, version and size', () => {
    const event = s3Event(
      { key: 'logs/my file+1.gz', size: 10, versionId: 'v1' },
      { key: 'été/日本.ndjson', size: 20, bucket: 'other' },
      { key: 'x', eventName: 'ObjectCreated:CompleteMultipartUpload', size: 30 },
    );
    const { tasks, skipped } = tasksFromS3Event(event);
    expect(skipped).toEqual([]);
    expect(tasks).toEqual([
      { bucket: 'logs', key: 'logs/my file+1.gz', versionId: 'v1', size: 10, etag: 'd41d8cd98f00b204e9800998ecf8427e' },
      { bucket: 'other', key: 'été/日本.ndjson', size: 20, etag: 'd41d8cd98f00b204e9800998ecf8427e' },
      { bucket: 'logs', key: 'x', size: 30, etag: 'd41d8cd98f00b204e9800998ecf8427e' },
    ]);
  });

  it('skips folder markers, zero-byte objects, removals, non-S3 records and backfill reports, saying why', () => {
    const notS3 = { eventName: 'ObjectCreated:Put' } as unknown as ReturnType<typeof s3Record>;
    const { tasks, skipped } = tasksFromS3Event(
      s3Event(
        { key: 'logs/2026/', size: 0 },
        { key: 'logs/folder+name/', rawKey: 'logs/folder+name/', size: 0 },
        { key: 'logs/empty.gz', size: 0 },
        { key: 'logs/gone.gz', eventName: 'ObjectRemoved:Delete' },
        { key: 'logs/tagged.gz', eventName: 'ObjectTagging:Put' },
        notS3,
        { key: 'edr/host1/', size: 5_000_000 },
        { key: 'eqlambda-batch-reports/job-1f2e/results/a1b2.csv', size: 4_000 },
        { key: 'eqlambda-batch-reports/job-1f2e/manifest.json', size: 400 },
        { key: 'edr/eqlambda-batch-reports/x.gz', size: 4_000 },
        // Anything else under the prefix is scanned: writing there cannot hide logs.
        { key: 'eqlambda-batch-reports/host1.ndjson.gz', size: 4_000 },
        { key: 'eqlambda-batch-reports/job-1f2e/results/../x.csv', size: 4_000 },
      ),
    );
    // A key ending with '/' that holds bytes is an object to scan, not a folder marker.
    expect(tasks).toEqual([
      { bucket: 'logs', key: 'edr/host1/', size: 5_000_000, etag: 'd41d8cd98f00b204e9800998ecf8427e' },
      { bucket: 'logs', key: 'edr/eqlambda-batch-reports/x.gz', size: 4_000, etag: 'd41d8cd98f00b204e9800998ecf8427e' },
      { bucket: 'logs', key: 'eqlambda-batch-reports/host1.ndjson.gz', size: 4_000, etag: 'd41d8cd98f00b204e9800998ecf8427e' },
      { bucket: 'logs', key: 'eqlambda-batch-reports/job-1f2e/results/../x.csv', size: 4_000, etag: 'd41d8cd98f00b204e9800998ecf8427e' },
    ]);
    expect(skipped).toEqual([
      { reason: 'folder marker', bucket: 'logs', key: 'logs/2026/' },
      { reason: 'folder marker', bucket: 'logs', key: 'logs/folder name/' },
      { reason: 'zero-byte object', bucket: 'logs', key: 'logs/empty.gz' },
      { reason: 'event ObjectRemoved:Delete is not ObjectCreated', bucket: 'logs', key: 'logs/gone.gz' },
      { reason: 'event ObjectTagging:Put is not ObjectCreated', bucket: 'logs', key: 'logs/tagged.gz' },
      { reason: 'not an S3 object record' },
      // A backfill job's completion report (with no notification prefix, writing it notifies the function).
      { reason: 'backfill job report', bucket: 'logs', key: 'eqlambda-batch-reports/job-1f2e/results/a1b2.csv' },
      { reason: 'backfill job report', bucket: 'logs', key: 'eqlambda-batch-reports/job-1f2e/manifest.json' },
    ]);
  });
});

describe('event kinds', () => {
  it('recognises the S3 test event and Batch Operations events (1.0 and 2.0)', () => {
    expect(isS3TestEvent(S3_TEST_EVENT)).toBe(true);
    expect(isS3TestEvent(s3Event({ key: 'k' }))).toBe(false);
    expect(isS3TestEvent(null)).toBe(false);
    expect(isBatchEvent(batchEvent('1.0', []))).toBe(true);
    expect(isBatchEvent(batchEvent('2.0', []))).toBe(true);
    expect(isBatchEvent({ ...batchEvent('2.0', []), invocationSchemaVersion: '3.0' })).toBe(false);
    expect(isBatchEvent(S3_TEST_EVENT)).toBe(false);
    expect(isBatchEvent(null)).toBe(false);
  });

  it('reads a batch task bucket from the 1.0 ARN or the 2.0 name, and decodes the key', () => {
    const [t1] = (batchEvent('1.0', [{ taskId: 't1', key: 'a b+c/é.gz', versionId: 'v9' }]) as unknown as BatchEvent).tasks;
    const [t2] = (batchEvent('2.0', [{ taskId: 't2', key: 'a b+c/é.gz', bucket: 'other' }]) as unknown as BatchEvent).tasks;
    expect(t1!.s3BucketArn).toBe('arn:aws:s3:::logs');
    expect(t1!.s3Key).toBe('a+b%2Bc/%C3%A9.gz');
    expect(taskFromBatch(t1!)).toEqual({ bucket: 'logs', key: 'a b+c/é.gz', versionId: 'v9' });
    expect(taskFromBatch(t2!)).toEqual({ bucket: 'other', key: 'a b+c/é.gz' });
    expect(taskFromBatch({ taskId: 't3', s3Key: 'k', s3VersionId: null })).toBe('task names no bucket');
    expect(taskFromBatch({ taskId: 't4', s3Key: 'k', s3BucketArn: 'arn:aws-us-gov:s3:::gov-bucket' })).toEqual({ bucket: 'gov-bucket', key: 'k' });
  });

  it('refuses malformed batch tasks with a reason (no key, an empty or non-string key, a bucket ARN of an unknown form)', () => {
    const task = (fields: Record<string, unknown>): BatchEvent['tasks'][number] => ({ taskId: 't', ...fields }) as unknown as BatchEvent['tasks'][number];
    expect(taskFromBatch(task({ s3Bucket: 'logs' }))).toBe('task names no object key');
    expect(taskFromBatch(task({ s3Bucket: 'logs', s3Key: '' }))).toBe('task names no object key');
    expect(taskFromBatch(task({ s3Bucket: 'logs', s3Key: 42 }))).toBe('task names no object key');
    expect(taskFromBatch(null as unknown as BatchEvent['tasks'][number])).toBe('task names no bucket');
    expect(taskFromBatch(task({ s3BucketArn: 'arn:aws:s3:us-east-1:123456789012:accesspoint/ap', s3Key: 'k' }))).toBe(
      'task names a bucket by an ARN of an unknown form: arn:aws:s3:us-east-1:123456789012:accesspoint/ap',
    );
    // The form with a region and account, as some of AWS's examples write it.
    expect(taskFromBatch(task({ s3BucketArn: 'arn:aws:s3:us-east-1:0123456788:logs', s3Key: 'k' }))).toEqual({ bucket: 'logs', key: 'k' });
    // A legacy us-east-1 bucket name, with capitals and an underscore.
    expect(taskFromBatch(task({ s3BucketArn: 'arn:aws:s3:::Legacy_Bucket', s3Key: 'k' }))).toEqual({ bucket: 'Legacy_Bucket', key: 'k' });
  });
});

describe('malformed S3 notifications', () => {
  it('skips records that are null or whose bucket or key is not a non-empty string, as not S3 object records', () => {
    const records = [null, { eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'logs' }, object: { key: 42 } } }, { eventName: 'ObjectCreated:Put', s3: { bucket: { name: '' }, object: { key: 'k' } } }];
    const { tasks, skipped } = tasksFromS3Event({ Records: records } as unknown as Parameters<typeof tasksFromS3Event>[0]);
    expect(tasks).toEqual([]);
    expect(skipped.map((s) => s.reason)).toEqual(['not an S3 object record', 'not an S3 object record', 'not an S3 object record']);
  });
});
