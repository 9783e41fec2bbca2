/**
 * The invocation events the handler accepts: S3 event notifications (possibly many
 * records), S3 Batch Operations tasks (schema 1.0 and 2.0) for backfills, and S3's
 * test event. Object keys arrive URL-encoded the way S3 encodes them: `+` is a space,
 * then %XX escapes.
 */
import type { S3Event, S3EventRecord } from 'aws-lambda';

export interface ObjectTask {
  bucket: string;
  key: string;
  versionId?: string;
  size?: number;
  etag?: string;
}

/** S3's form encoding: '+' first (a space), then percent escapes. */
export function decodeS3Key(key: string): string {
  const spaced = key.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced; // malformed escapes: use the key as delivered
  }
}

/** A bucket name or object key as S3 sends them: a non-empty string. */
const isName = (value: unknown): value is string => typeof value === 'string' && value !== '';

export type Skip = { reason: string; bucket?: string; key?: string };

export const NOT_S3_RECORD = 'not an S3 object record';

/**
 * Where backfill jobs write their completion reports in the log bucket (the stack lets the
 * batch role write only there). With no notification prefix or suffix, writing one notifies
 * the function: a report is not a log, and is skipped rather than scanned as bad lines.
 */
export const BATCH_REPORT_PREFIX = 'eqlambda-batch-reports/';
/**
 * The files S3 Batch Operations writes there (`job-<id>/manifest.json`, its `.md5`, and
 * `job-<id>/results/<name>.csv`), and nothing else: any other key under the prefix is scanned,
 * so it cannot hide logs.
 */
const BATCH_REPORT = new RegExp(`^${BATCH_REPORT_PREFIX}job-[A-Za-z0-9-]+/(manifest\\.json(\\.md5)?|results/[A-Za-z0-9_-]+\\.csv)$`);
export const isBatchReport = (key: string): boolean => BATCH_REPORT.test(key);

/**
 * An event of another shape means a wiring mistake (EventBridge rule, SQS queue): failing
 * loudly beats a green invocation that scanned nothing.
 */
export const UNSUPPORTED =
  'unsupported event: expected an S3 event notification, an S3 Batch Operations task or the S3 test event (EventBridge and SQS deliveries are not supported; notify the function from the bucket)';

/** A short description of an event's shape, for the error (never its values: they could be large). */
export function describeEvent(event: unknown): string {
  if (event === null || typeof event !== 'object') return `a ${event === null ? 'null' : typeof event} event`;
  const e = event as Record<string, unknown>;
  if (typeof e['detail-type'] === 'string') return `EventBridge "${e['detail-type'].slice(0, 100)}" event from ${String(e.source).slice(0, 100)}`;
  if (Array.isArray(e.Records) && e.Records.length === 0) return 'a notification with no records';
  const keys = Object.keys(e);
  return keys.length === 0 ? 'an empty object' : `an object with keys ${keys.slice(0, 10).join(', ')}${keys.length > 10 ? ', ...' : ''}`;
}

/** The objects an S3 notification asks to scan, and the records skipped (with why). */
export function tasksFromS3Event(event: S3Event): { tasks: ObjectTask[]; skipped: Skip[] } {
  const tasks: ObjectTask[] = [];
  const skipped: Skip[] = [];
  for (const record of event.Records ?? []) {
    const s3 = (record as S3EventRecord | null)?.s3;
    // Names that are not non-empty strings: not an S3 object record (a malformed or hand-made event).
    if (s3 === undefined || s3 === null || !isName(s3.bucket?.name) || !isName(s3.object?.key)) {
      skipped.push({ reason: NOT_S3_RECORD });
      continue;
    }
    const bucket = s3.bucket.name;
    const key = decodeS3Key(s3.object.key);
    // Every S3 notification record names its event: one without is malformed, not a deletion.
    if (typeof record.eventName !== 'string' || record.eventName === '') {
      skipped.push({ reason: NOT_S3_RECORD, bucket, key });
      continue;
    }
    if (!record.eventName.startsWith('ObjectCreated:')) {
      skipped.push({ reason: `event ${record.eventName} is not ObjectCreated`, bucket, key });
      continue;
    }
    // A folder marker is an empty object whose key ends with '/'; a key ending with '/' that
    // holds bytes is an object like any other (an agent may write one), and is scanned.
    if (s3.object.size === 0) {
      skipped.push({ reason: key.endsWith('/') ? 'folder marker' : 'zero-byte object', bucket, key });
      continue;
    }
    if (isBatchReport(key)) {
      skipped.push({ reason: 'backfill job report', bucket, key });
      continue;
    }
    const task: ObjectTask = { bucket, key };
    if (s3.object.versionId) task.versionId = s3.object.versionId;
    if (typeof s3.object.size === 'number') task.size = s3.object.size;
    if (s3.object.eTag) task.etag = s3.object.eTag;
    tasks.push(task);
  }
  return { tasks, skipped };
}

/** S3 Batch Operations invocation (schema 1.0 names the bucket by ARN, 2.0 by name). */
export interface BatchEvent {
  invocationSchemaVersion: '1.0' | '2.0';
  invocationId: string;
  job: { id: string; userArguments?: Record<string, string> };
  tasks: { taskId: string; s3Key: string; s3VersionId?: string | null; s3BucketArn?: string; s3Bucket?: string }[];
}

export type BatchResultCode = 'Succeeded' | 'TemporaryFailure' | 'PermanentFailure';

export interface BatchResponse {
  invocationSchemaVersion: string;
  treatMissingKeysAs: BatchResultCode;
  invocationId: string;
  results: { taskId: string; resultCode: BatchResultCode; resultString: string }[];
}

export function isBatchEvent(event: unknown): event is BatchEvent {
  const e = event as Partial<BatchEvent> | null;
  return e !== null && typeof e === 'object' && (e.invocationSchemaVersion === '1.0' || e.invocationSchemaVersion === '2.0') && Array.isArray(e.tasks);
}

export function isS3TestEvent(event: unknown): boolean {
  return (event as { Event?: string } | null)?.Event === 's3:TestEvent';
}

export function taskFromBatch(task: BatchEvent['tasks'][number]): ObjectTask | string {
  const t = (task ?? {}) as Partial<Record<keyof BatchEvent['tasks'][number], unknown>>;
  const bucket = isName(t.s3Bucket) ? t.s3Bucket : isName(t.s3BucketArn) ? bucketOfArn(t.s3BucketArn) : undefined;
  if (bucket === undefined) return isName(t.s3BucketArn) ? `task names a bucket by an ARN of an unknown form: ${t.s3BucketArn.slice(0, 200)}` : 'task names no bucket';
  if (!isName(t.s3Key)) return 'task names no object key';
  const out: ObjectTask = { bucket, key: decodeS3Key(task.s3Key) };
  if (task.s3VersionId) out.versionId = task.s3VersionId;
  return out;
}

/**
 * The bucket a bucket ARN names: `arn:aws:s3:::name`, or with a region and account
 * (`arn:aws:s3:us-east-1:123456789012:name`). The name is not checked (legacy buckets may
 * hold capitals and underscores): S3 answers for it.
 */
function bucketOfArn(arn: string): string | undefined {
  const m = /^arn:aws[a-z-]*:s3:(?:[a-z0-9-]*:[0-9]*)?:([^/:]+)$/.exec(arn);
  return m?.[1];
}
