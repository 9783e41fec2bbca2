/**
 * Invocation events and a Lambda context, built the way AWS sends them (see
 * /work/notes/aws-formats.md §2 and §5).
 */
import type { Context, S3Event, S3EventRecord } from 'aws-lambda';

/**
 * Encodes a key the way S3 event notifications do (application/x-www-form-urlencoded):
 * a space becomes '+', a literal '+' becomes %2B, non-ASCII is percent-encoded UTF-8;
 * '/' is kept.
 */
export function encodeS3Key(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

export interface RecordSpec {
  /** The object key, decoded (it is form-encoded into the event). */
  key: string;
  /** Put an already-encoded key into the event as is. */
  rawKey?: string;
  bucket?: string;
  size?: number;
  versionId?: string;
  eTag?: string;
  eventName?: string;
}

export function s3Record(spec: RecordSpec): S3EventRecord {
  const bucket = spec.bucket ?? 'logs';
  const object: S3EventRecord['s3']['object'] = {
    key: spec.rawKey ?? encodeS3Key(spec.key),
    size: spec.size ?? 1024,
    eTag: spec.eTag ?? 'd41d8cd98f00b204e9800998ecf8427e',
    sequencer: '0055AED6DCD90281E5',
  };
  if (spec.versionId !== undefined) object.versionId = spec.versionId;
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2026-11-20T06:00:00.000Z',
    eventName: spec.eventName ?? 'ObjectCreated:Put',
    userIdentity: { principalId: 'AIDAJDPLRKLG7UEXAMPLE' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: { 'x-amz-request-id': 'C3D13FE58DE4C810', 'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'eqlambda',
      bucket: { name: bucket, ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: `arn:aws:s3:::${bucket}` },
      object,
    },
  };
}

export function s3Event(...records: (RecordSpec | S3EventRecord)[]): S3Event {
  return { Records: records.map((r) => ('key' in r ? s3Record(r) : r)) };
}

export const S3_TEST_EVENT = {
  Service: 'Amazon S3',
  Event: 's3:TestEvent',
  Time: '2014-10-13T15:57:02.089Z',
  Bucket: 'logs',
  RequestId: '5582815E1AEA5ADF',
  HostId: '8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE',
};

export interface BatchTaskSpec {
  taskId: string;
  key: string;
  bucket?: string;
  versionId?: string | null;
}

/** An S3 Batch Operations invocation; 1.0 names the bucket by ARN, 2.0 by name. Keys are form-encoded. */
export function batchEvent(version: '1.0' | '2.0', tasks: BatchTaskSpec[], invocationId = 'YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo'): Record<string, unknown> {
  return {
    invocationSchemaVersion: version,
    invocationId,
    job: version === '2.0' ? { id: 'f3cc4f60-61f6-4a2b-8a21-d07600c373ce', userArguments: { purpose: 'backfill' } } : { id: 'f3cc4f60-61f6-4a2b-8a21-d07600c373ce' },
    tasks: tasks.map((t) => {
      const bucket = t.bucket ?? 'logs';
      const base = { taskId: t.taskId, s3Key: encodeS3Key(t.key), s3VersionId: t.versionId ?? null };
      return version === '1.0' ? { ...base, s3BucketArn: `arn:aws:s3:::${bucket}` } : { ...base, s3Bucket: bucket };
    }),
  };
}

/** A Lambda context; `remaining` answers getRemainingTimeInMillis (default: plenty). */
export function lambdaContext(remaining: () => number = () => 900_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'eqlambda',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:eqlambda',
    memoryLimitInMB: '1769',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: '/aws/lambda/eqlambda',
    logStreamName: '2026/11/20/[$LATEST]abcdef',
    getRemainingTimeInMillis: remaining,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
