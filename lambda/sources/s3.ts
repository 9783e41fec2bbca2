/**
 * Source stage for S3: streams an object with GetObject (never buffering it whole),
 * and lists prefixes for backfills. Clients come from the SDK's default configuration,
 * so AWS_REGION, AWS_ENDPOINT_URL_S3 and the default credential chain all apply.
 */
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { SourceError } from '../scan/decode.js';

/**
 * An S3 client from the SDK's default configuration. AWS_S3_FORCE_PATH_STYLE=true selects
 * path-style URLs, which S3-compatible servers on a host name (localhost, MinIO) need.
 */
export function createS3Client(env: Record<string, string | undefined> = process.env, timeouts: S3Timeouts = {}): S3Client {
  const pathStyle = /^(1|true|yes)$/i.test(env.AWS_S3_FORCE_PATH_STYLE ?? '');
  const requestHandler =
    timeouts.connectMs === undefined && timeouts.idleMs === undefined ? undefined : { connectionTimeout: timeouts.connectMs, socketTimeout: timeouts.idleMs };
  return new S3Client({
    ...(pathStyle ? { forcePathStyle: true } : {}),
    ...(requestHandler === undefined ? {} : { requestHandler }),
    // By default the SDK asks S3 for the object's checksum and recomputes it in JavaScript,
    // on the scan's thread: about twice the scan's CPU on plain NDJSON. TLS guards the
    // transfer, and gzip's own CRC the content of compressed logs.
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Limits on waiting for S3 (none by default: the SDK waits as long as the server holds the connection). */
export interface S3Timeouts {
  /** Give up connecting after this long. */
  connectMs?: number;
  /** Give up on a request that has sent nothing for this long (per attempt; an object's body: see untilIdle). */
  idleMs?: number;
}

export interface S3ObjectRef {
  bucket: string;
  key: string;
  versionId?: string;
  /** Read only this content (If-Match): the ETag an S3 event announced, for an unversioned object. */
  etag?: string;
}

export interface OpenedObject {
  stream: AsyncIterable<Buffer>;
  etag?: string;
  versionId?: string;
  size?: number;
}

/** The object (or version, or its bucket) does not exist: nothing to retry. */
export class ObjectMissingError extends Error {
  constructor(ref: S3ObjectRef, noBucket = false) {
    super(
      noBucket
        ? `s3://${ref.bucket}/${ref.key}: bucket ${ref.bucket} does not exist`
        : `s3://${ref.bucket}/${ref.key}${ref.versionId ? ` (version ${ref.versionId})` : ''} does not exist`,
    );
    this.name = 'ObjectMissingError';
  }
}

/** The object was overwritten after the event that announced it: that content cannot be read any more. */
export class ObjectChangedError extends Error {
  constructor(ref: S3ObjectRef) {
    super(`s3://${ref.bucket}/${ref.key} was overwritten before it was read: the content with ETag ${ref.etag} is gone (enable versioning on the bucket to scan every upload)`);
    this.name = 'ObjectChangedError';
  }
}

export function parseS3Url(url: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  return m === null ? undefined : { bucket: m[1]!, key: m[2]! };
}

/** ETags arrive quoted from GetObject and bare in S3 events; normalise to bare. */
export function normaliseEtag(etag: string | undefined): string | undefined {
  return etag === undefined ? undefined : etag.replace(/^"|"$/g, '');
}

/**
 * Opens the object for streaming. `openTimeoutMs` bounds the wait for the response (not the
 * reading of the body, which the scan watches itself).
 */
export async function openS3Object(client: S3Client, ref: S3ObjectRef, options: { openTimeoutMs?: number } = {}): Promise<OpenedObject> {
  let response;
  const abort = new AbortController();
  const timer = options.openTimeoutMs === undefined ? undefined : setTimeout(() => abort.abort(), Math.max(options.openTimeoutMs, 0));
  try {
    const ifMatch = ref.versionId === undefined && ref.etag !== undefined ? `"${ref.etag}"` : undefined;
    response = await client.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId, IfMatch: ifMatch }), { abortSignal: abort.signal });
  } catch (err) {
    if (abort.signal.aborted) throw new SourceError(`cannot read s3://${ref.bucket}/${ref.key}: no response within ${options.openTimeoutMs} ms`, err);
    if (isMissing(err)) throw new ObjectMissingError(ref, err instanceof S3ServiceException && err.name === 'NoSuchBucket');
    if (isChanged(err)) throw new ObjectChangedError(ref);
    throw new SourceError(`cannot read s3://${ref.bucket}/${ref.key}: ${describe(err)}`, err);
  } finally {
    clearTimeout(timer);
  }
  const body = response.Body as Readable | undefined;
  const opened: OpenedObject = { stream: body ?? emptyStream() };
  const etag = normaliseEtag(response.ETag);
  if (etag !== undefined) opened.etag = etag;
  if (response.VersionId !== undefined && response.VersionId !== 'null') opened.versionId = response.VersionId;
  if (response.ContentLength !== undefined) opened.size = response.ContentLength;
  return opened;
}

/**
 * `stream`, failed once a read has waited `idleMs` for the server. Only the server's silence
 * counts: a reader that pauses (a pager, a slow pipe) asks for nothing meanwhile, where a
 * socket timeout would fire on its pause and fail the object.
 */
export async function* untilIdle(stream: AsyncIterable<Buffer>, idleMs: number, name: string): AsyncGenerator<Buffer> {
  const chunks = stream[Symbol.asyncIterator]();
  let stalled = false;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const silence = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, idleMs, undefined)));
      const next = chunks.next();
      const step = await Promise.race([next, silence]).finally(() => clearTimeout(timer));
      if (step === undefined) {
        stalled = true;
        next.catch(() => {}); // the read is abandoned with the stream
        throw new SourceError(`cannot read ${name}: it sent nothing for ${idleMs} ms`, undefined);
      }
      if (step.done === true) return;
      yield step.value;
    }
  } finally {
    // Stopped early or stalled: release the response (a read may still be pending on it).
    const released = chunks.return?.(undefined);
    if (stalled) void released?.catch(() => {});
    else await released?.catch(() => {});
  }
}

/** Every key under a prefix, in S3's (lexicographic) order, folder markers skipped. */
export async function* listS3Keys(client: S3Client, bucket: string, prefix: string, options: { pageTimeoutMs?: number } = {}): AsyncGenerator<{ key: string; size: number }> {
  let token: string | undefined;
  do {
    let page;
    // Bounds each page's wait over all the SDK's attempts (its socket timeout is per attempt).
    const signal = options.pageTimeoutMs === undefined ? undefined : AbortSignal.timeout(options.pageTimeoutMs);
    try {
      page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), signal === undefined ? {} : { abortSignal: signal });
    } catch (err) {
      if (signal?.aborted === true) throw new SourceError(`cannot list s3://${bucket}/${prefix}: no response within ${options.pageTimeoutMs} ms`, err);
      throw new SourceError(`cannot list s3://${bucket}/${prefix}: ${describe(err)}`, err);
    }
    for (const o of page.Contents ?? []) {
      // Folder markers (empty, key ending with '/') hold nothing; any other object is scanned, as the handler does.
      if (o.Key === undefined || (o.Key.endsWith('/') && (o.Size ?? 0) === 0)) continue;
      yield { key: o.Key, size: o.Size ?? 0 };
    }
    if (page.IsTruncated !== true) return;
    // A server that says there is more but gives no new place to go on from would stop the
    // listing short without a word, or go round in circles: neither passes for the whole prefix.
    const next = page.NextContinuationToken;
    if (next === undefined || next === '' || next === token) {
      throw new SourceError(`cannot list s3://${bucket}/${prefix}: the server says the listing goes on but gives ${next === token && next !== undefined ? 'the same continuation token again' : 'no continuation token'} (an S3-compatible server without ListObjectsV2 paging?)`, undefined);
    }
    token = next;
  } while (token !== undefined);
}

function isMissing(err: unknown): boolean {
  if (err instanceof NoSuchKey) return true;
  if (err instanceof S3ServiceException) return err.name === 'NoSuchKey' || err.name === 'NoSuchVersion' || err.$metadata.httpStatusCode === 404;
  return false;
}

function isChanged(err: unknown): boolean {
  return err instanceof S3ServiceException && (err.name === 'PreconditionFailed' || err.$metadata.httpStatusCode === 412);
}

function describe(err: unknown): string {
  if (err instanceof S3ServiceException) return `${err.name}${err.message && err.message !== err.name ? `: ${err.message}` : ''}`;
  return (err as Error).message ?? String(err);
}

async function* emptyStream(): AsyncGenerator<Buffer> {}
