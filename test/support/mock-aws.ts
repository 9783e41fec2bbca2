/**
 * aws-sdk-client-mock set-ups: an in-memory S3 for GetObject (bodies streamed in the
 * chunks given, NoSuchKey / AccessDenied on demand) and an SNS PublishBatch that
 * accepts everything unless told otherwise, recording every request.
 */
import { GetObjectCommand, NoSuchKey, S3Client, S3ServiceException, type GetObjectCommandInput } from '@aws-sdk/client-s3';
import { PublishBatchCommand, SNSClient, type PublishBatchCommandInput, type PublishBatchCommandOutput } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import type { WireEntry } from './fake-sns.js';
import { fromSdkEntry } from './sns-messages.js';

export interface StoredObject {
  /** The body, or the chunks it streams in. */
  body: Buffer | Buffer[];
  versionId?: string;
  etag?: string;
  /** Awaited before each chunk is streamed (a slow or stalling network). */
  beforeChunk?: (index: number) => Promise<void>;
}

export type S3Fault = 'AccessDenied' | 'NoSuchKey';

/** The ETag of a stored object unless given: the one test S3 events announce (support/aws-events.ts). */
export const DEFAULT_ETAG = 'd41d8cd98f00b204e9800998ecf8427e';

export class MockS3 {
  readonly mock = mockClient(S3Client);
  readonly objects = new Map<string, StoredObject>();
  readonly faults = new Map<string, S3Fault>();
  /** Every GetObject Body handed out, in order. */
  readonly bodies: Readable[] = [];
  /** Stream the stored Buffer objects themselves instead of copies. */
  sameBuffers = false;

  constructor() {
    this.install();
  }

  put(key: string, body: Buffer | Buffer[], extra: Omit<StoredObject, 'body'> = {}, bucket = 'logs'): void {
    this.objects.set(`${bucket}/${key}`, { body, ...extra });
  }

  fail(key: string, fault: S3Fault, bucket = 'logs'): void {
    this.faults.set(`${bucket}/${key}`, fault);
  }

  /** GetObject inputs, in order. */
  get requests(): GetObjectCommandInput[] {
    return this.mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input);
  }

  reset(): void {
    this.mock.reset();
    this.objects.clear();
    this.faults.clear();
    this.sameBuffers = false;
    this.bodies.length = 0;
    this.install();
  }

  restore(): void {
    this.mock.restore();
  }

  private install(): void {
    this.mock.on(GetObjectCommand).callsFake(async (input: GetObjectCommandInput) => {
      const id = `${input.Bucket}/${input.Key}`;
      const fault = this.faults.get(id);
      if (fault === 'AccessDenied') {
        throw new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Access Denied' });
      }
      const stored = this.objects.get(id);
      if (fault === 'NoSuchKey' || stored === undefined || (input.VersionId !== undefined && stored.versionId !== input.VersionId)) {
        throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
      }
      const etag = `"${stored.etag ?? DEFAULT_ETAG}"`;
      if (input.IfMatch !== undefined && input.IfMatch !== etag && input.IfMatch !== '*') {
        throw new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', $metadata: { httpStatusCode: 412 }, message: 'At least one of the pre-conditions you specified did not hold' });
      }
      // Fresh buffers per request, as from the network (see sameBuffers for the other case).
      const chunks = (Array.isArray(stored.body) ? stored.body : [stored.body]).map((b) => (this.sameBuffers ? b : Buffer.from(b)));
      const { beforeChunk } = stored;
      const body =
        beforeChunk === undefined
          ? Readable.from(chunks, { objectMode: false })
          : Readable.from(
              (async function* () {
                for (const [i, chunk] of chunks.entries()) {
                  await beforeChunk(i);
                  yield chunk;
                }
              })(),
              { objectMode: false },
            );
      this.bodies.push(body);
      return {
        Body: body as never,
        ETag: etag,
        VersionId: stored.versionId,
        ContentLength: chunks.reduce((n, c) => n + c.length, 0),
      };
    });
  }
}

export type BatchResponder = (input: PublishBatchCommandInput, call: number) => PublishBatchCommandOutput | Promise<PublishBatchCommandOutput>;

/** Every entry succeeds. */
export const acceptAll: BatchResponder = (input) => ({
  $metadata: {},
  Successful: (input.PublishBatchRequestEntries ?? []).map((e, i) => ({ Id: e.Id!, MessageId: `m-${i}` })),
  Failed: [],
});

/** Entries for which `fails(entry)` is true are reported Failed; the rest succeed. */
export function failing(fails: (entry: WireEntry, call: number) => boolean, code = 'InternalError', senderFault = false): BatchResponder {
  return (input, call) => {
    const entries = input.PublishBatchRequestEntries ?? [];
    const bad = entries.filter((e) => fails(fromSdkEntry(e), call));
    return {
      $metadata: {},
      Successful: entries.filter((e) => !bad.includes(e)).map((e) => ({ Id: e.Id!, MessageId: `m-${e.Id}` })),
      Failed: bad.map((e) => ({ Id: e.Id!, Code: code, Message: 'injected', SenderFault: senderFault })),
    };
  };
}

export class MockSns {
  readonly mock = mockClient(SNSClient);
  private responder: BatchResponder = acceptAll;
  private calls = 0;

  constructor() {
    this.install();
  }

  respond(responder: BatchResponder): void {
    this.responder = responder;
  }

  /** Each PublishBatch request's entries, in order. */
  get batches(): WireEntry[][] {
    return this.mock.commandCalls(PublishBatchCommand).map((c) => (c.args[0].input.PublishBatchRequestEntries ?? []).map(fromSdkEntry));
  }

  get topics(): (string | undefined)[] {
    return this.mock.commandCalls(PublishBatchCommand).map((c) => c.args[0].input.TopicArn);
  }

  /** Entries SNS accepted (reported Successful), in order. */
  readonly delivered: WireEntry[] = [];

  reset(): void {
    this.mock.reset();
    this.responder = acceptAll;
    this.calls = 0;
    this.delivered.length = 0;
    this.install();
  }

  restore(): void {
    this.mock.restore();
  }

  private install(): void {
    this.mock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => {
      const out = await this.responder(input, ++this.calls);
      const ok = new Set((out.Successful ?? []).map((s) => s.Id));
      for (const e of input.PublishBatchRequestEntries ?? []) if (ok.has(e.Id)) this.delivered.push(fromSdkEntry(e));
      return out;
    });
  }
}
