/**
 * Opening an S3 object through the real SDK over HTTP, against a small server that answers
 * as S3 does where s3rver cannot: If-Match (412 PreconditionFailed) and a GetObject that
 * never answers.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SourceError } from '../../lambda/scan/decode.js';
import { openS3Input } from '../../lambda/cli/scan.js';
import { createS3Client, listS3Keys, ObjectChangedError, ObjectMissingError, openS3Object } from '../../lambda/sources/s3.js';

const CURRENT_ETAG = '"9b2cf535f27731c974343645a3985328"';
const BIG_BODY = Buffer.alloc(32 * 1024 * 1024, '{"event":{"category":"process"}}\n');
const requests: { url: string; headers: IncomingHttpHeaders }[] = [];
let server: Server;
let client: S3Client;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    if (req.url?.startsWith('/logs/stalled-body')) {
      res.writeHead(200, { etag: CURRENT_ETAG, 'content-length': '1000' });
      res.write('{"a":1}\n'); // then nothing more
      return;
    }
    if (req.url?.startsWith('/logs/big-body')) {
      // 32 MiB, more than the socket buffers hold: a reader that pauses leaves the socket idle.
      res.writeHead(200, { etag: CURRENT_ETAG, 'content-length': String(BIG_BODY.length) });
      res.end(BIG_BODY);
      return;
    }
    if (req.url?.startsWith('/logs/stalled') || req.url?.startsWith('/stalled-list')) return; // never answers
    if (req.url?.startsWith('/paging-')) {
      // ListObjectsV2 answers that say there is more: with no token, or with the token just given.
      const url = new URL(req.url, 'http://x');
      const token = url.searchParams.get('continuation-token');
      const next = req.url.startsWith('/paging-none') ? '' : `<NextContinuationToken>${token ?? 'page-2'}</NextContinuationToken>`;
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>${next}<Contents><Key>k${token ?? ''}.ndjson</Key><Size>3</Size></Contents></ListBucketResult>`,
      );
      return;
    }
    if (req.url?.startsWith('/no-such-bucket/')) {
      res.writeHead(404, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>');
      return;
    }
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== CURRENT_ETAG) {
      res.writeHead(412, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-Match</Condition></Error>');
      return;
    }
    res.writeHead(200, { etag: CURRENT_ETAG, 'content-length': '3' });
    res.end('{}\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new S3Client({ endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'k', secretAccessKey: 's' }, maxAttempts: 1 });
});

afterAll(async () => {
  client.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function text(stream: AsyncIterable<Buffer>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.toString();
  return out;
}

it('sends If-Match with the announced ETag and reads the object when it still has that content', async () => {
  const opened = await openS3Object(client, { bucket: 'logs', key: 'a.ndjson', etag: '9b2cf535f27731c974343645a3985328' });
  expect(await text(opened.stream)).toBe('{}\n');
  expect(opened.etag).toBe('9b2cf535f27731c974343645a3985328');
  expect(requests.at(-1)!.headers['if-match']).toBe(CURRENT_ETAG);
});

it('reports an object overwritten since the event (412) as changed, not as unreadable', async () => {
  const failure = await openS3Object(client, { bucket: 'logs', key: 'b.ndjson', etag: 'aaaaaaaa' }).catch((err: unknown) => err);
  expect(failure).toBeInstanceOf(ObjectChangedError);
  expect((failure as Error).message).toBe('s3://logs/b.ndjson was overwritten before it was read: the content with ETag aaaaaaaa is gone (enable versioning on the bucket to scan every upload)');
});

it('does not send If-Match for a version, whose content cannot change', async () => {
  await text((await openS3Object(client, { bucket: 'logs', key: 'c.ndjson', versionId: 'v1', etag: 'aaaaaaaa' })).stream);
  expect(requests.at(-1)!.headers['if-match']).toBeUndefined();
  expect(requests.at(-1)!.url).toContain('versionId=v1');
});

it('gives up on a GetObject that never answers after openTimeoutMs, with a clear error', async () => {
  const started = performance.now();
  const failure = await openS3Object(client, { bucket: 'logs', key: 'stalled.ndjson' }, { openTimeoutMs: 300 }).catch((err: unknown) => err);
  const waited = performance.now() - started;
  expect(failure).toBeInstanceOf(SourceError);
  expect((failure as Error).message).toBe('cannot read s3://logs/stalled.ndjson: no response within 300 ms');
  expect(waited).toBeGreaterThanOrEqual(290);
  expect(waited).toBeLessThan(5_000);
});

it('says that the bucket is missing when it is (NoSuchBucket), not that the object is', async () => {
  const failure = await openS3Object(client, { bucket: 'no-such-bucket', key: 'a.ndjson' }).catch((err: unknown) => err);
  expect(failure).toBeInstanceOf(ObjectMissingError);
  expect((failure as Error).message).toBe('s3://no-such-bucket/a.ndjson: bucket no-such-bucket does not exist');
});

/** A client as the CLI makes it (createS3Client, from the environment), for the local server. */
function cliClient(timeouts: { connectMs: number; idleMs?: number }): S3Client {
  const { port } = server.address() as AddressInfo;
  vi.stubEnv('AWS_ENDPOINT_URL_S3', `http://127.0.0.1:${port}`);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'k');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 's');
  vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
  return createS3Client({ AWS_S3_FORCE_PATH_STYLE: 'true' }, timeouts);
}

it('as the CLI opens an object, fails one whose body stops coming instead of hanging', async () => {
  const timed = cliClient({ connectMs: 1_000 });
  try {
    const opened = await openS3Input(timed, { bucket: 'logs', key: 'stalled-body.ndjson' }, { idleMs: 300 });
    const started = performance.now();
    const failure = await text(opened.stream).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SourceError);
    expect((failure as Error).message).toBe('cannot read s3://logs/stalled-body.ndjson: it sent nothing for 300 ms');
    expect(performance.now() - started).toBeLessThan(5_000);
    // Nor does it ask for the object's checksum, which the SDK would recompute in JavaScript.
    expect(requests.at(-1)!.headers['x-amz-checksum-mode']).toBeUndefined();
  } finally {
    timed.destroy();
    vi.unstubAllEnvs();
  }
});

it('as the CLI opens an object, lets its reader pause longer than the idle time (a slow reader of the alerts holds the scan back)', async () => {
  const timed = cliClient({ connectMs: 1_000 });
  try {
    const opened = await openS3Input(timed, { bucket: 'logs', key: 'big-body.ndjson' }, { idleMs: 300 });
    let bytes = 0;
    let paused = false;
    for await (const chunk of opened.stream) {
      bytes += chunk.length;
      if (!paused) {
        paused = true;
        await new Promise((resolve) => setTimeout(resolve, 1_200)); // four idle times
      }
    }
    expect(bytes).toBe(BIG_BODY.length);
  } finally {
    timed.destroy();
    vi.unstubAllEnvs();
  }
});

it.each([
  ['paging-none', 'no continuation token'],
  ['paging-same', 'the same continuation token again'],
])('refuses a listing whose server says it goes on without a way on (%s), rather than stop short or go round', async (bucket, what) => {
  const keys: string[] = [];
  const failure = await (async () => {
    for await (const entry of listS3Keys(client, bucket, '')) {
      keys.push(entry.key);
      if (keys.length > 10) break;
    }
  })().catch((err: unknown) => err);
  expect(failure).toBeInstanceOf(SourceError);
  expect((failure as Error).message).toBe(`cannot list s3://${bucket}/: the server says the listing goes on but gives ${what} (an S3-compatible server without ListObjectsV2 paging?)`);
  expect(keys.length).toBeLessThanOrEqual(2);
});

describe('the CLI, with the SDK retrying as it does by default', () => {
  // The SDK's socket timeout is per attempt: three attempts of a GetObject that never answers
  // took three times the CLI's documented wait before it reported the input.
  const idle = { connectMs: 1_000, idleMs: 1_000 };
  const retrying = (): S3Client => cliClient(idle);
  afterEach(() => vi.unstubAllEnvs());

  it('gives up on an object that never answers after its idle time, over all attempts', async () => {
    const timed = retrying();
    try {
      const started = performance.now();
      const failure = await openS3Input(timed, { bucket: 'logs', key: 'stalled-open.ndjson' }, idle).catch((err: unknown) => err);
      expect((failure as Error).message).toBe('cannot read s3://logs/stalled-open.ndjson: no response within 1000 ms');
      expect(performance.now() - started).toBeLessThan(2_500);
    } finally {
      timed.destroy();
    }
  });

  it('gives up on a listing page that never comes after its idle time, over all attempts', async () => {
    const timed = retrying();
    try {
      const started = performance.now();
      const failure = await (async () => {
        for await (const entry of listS3Keys(timed, 'stalled-list', 'edr/', { pageTimeoutMs: idle.idleMs })) return entry;
      })().catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(SourceError);
      expect((failure as Error).message).toBe('cannot list s3://stalled-list/edr/: no response within 1000 ms');
      expect(performance.now() - started).toBeLessThan(2_500);
    } finally {
      timed.destroy();
    }
  });
});
