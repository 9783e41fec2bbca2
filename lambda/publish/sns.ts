/**
 * Delivers detection records to SNS with PublishBatch while the object is still being
 * scanned: batches of at most 10 entries and 256 KiB, a partial batch sent once its first
 * record has waited `lingerMs` (an early alert in a long object is not held to the end),
 * a bounded number of requests in flight (callers wait when it is full: backpressure),
 * and entries reported `Failed` retried with exponential backoff. The SDK's own retries
 * cover throttling and 5xx. Nothing is dropped silently: what could not be delivered is
 * returned by `flush()`.
 */
import { PublishBatchCommand, type PublishBatchRequestEntry, type SNSClient } from '@aws-sdk/client-sns';
import type { DetectionRecord } from '../alerts/document.js';
import { MAX_MESSAGE_BYTES, toSnsMessage, type SnsMessage } from './format.js';

export const MAX_BATCH_ENTRIES = 10;

export interface PublisherOptions {
  /** PublishBatch requests in flight at once. */
  maxInFlight?: number;
  /** Attempts per entry, counting the first, for entries SNS reports as failed. */
  maxAttempts?: number;
  /** First backoff delay; doubles per attempt, with jitter. */
  baseDelayMs?: number;
  /** Longest a queued record waits for its batch to fill before it is sent anyway (default 1 s). */
  lingerMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Aborted when time runs out (the function's budget): requests in flight are abandoned
   * and every record not yet delivered is reported failed, so flush() returns in time.
   */
  signal?: AbortSignal;
}

/** The code of the records given up on when the signal aborted. */
export const OUT_OF_TIME = 'OutOfTime';

/**
 * A record that could not be delivered, by its identity only: its message and document
 * are let go (a function whose SNS refuses every request would otherwise hold every
 * alert of the object, documents and all, until the end).
 */
export interface DeliveryFailure {
  record: RecordIdentity;
  code: string;
  message: string;
}

export interface RecordIdentity {
  kind: DetectionRecord['kind'];
  id: string;
  ruleId: string;
}

const identityOf = (r: DetectionRecord): RecordIdentity => ({ kind: r.kind, id: r.id, ruleId: r.rule.id });

export interface PublishReport {
  published: number;
  failed: DeliveryFailure[];
}

interface Pending {
  /** The record's identity (the message holds its content). */
  record: RecordIdentity;
  message: SnsMessage;
  size: number;
  attempts: number;
}

const entrySize = (m: SnsMessage): number => {
  let n = Buffer.byteLength(m.Message) + Buffer.byteLength(m.Subject);
  for (const [name, v] of Object.entries(m.MessageAttributes)) n += name.length + (v.DataType?.length ?? 0) + Buffer.byteLength(v.StringValue ?? '');
  return n;
};

/** Whole-request refusals one entry's content can cause (SNS error names, with or without "Exception"). */
const ENTRY_FAULTS = /^(InvalidParameter|InvalidParameterValue|Validation|BatchRequestTooLong)(Exception|Error)?$/;

/** The longest the publisher builds messages without letting timers run. */
const YIELD_EVERY_MS = 5;

export class SnsPublisher {
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  /** Sends started by the linger timer that may still wait for room in flight. */
  private readonly lingering = new Set<Promise<void>>();
  private lingerTimer: NodeJS.Timeout | undefined;
  private published = 0;
  private readonly failed: DeliveryFailure[] = [];
  private readonly maxInFlight: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly lingerMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly signal: AbortSignal | undefined;

  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
    options: PublisherOptions = {},
  ) {
    this.maxInFlight = options.maxInFlight ?? 4;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.lingerMs = options.lingerMs ?? 1000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.signal = options.signal;
  }

  private outOfTime(): boolean {
    return this.signal?.aborted === true;
  }

  private giveUpOnTime(pending: Pending[]): void {
    // A request abandoned in flight may still have been delivered: the retry may then duplicate it (same alert id).
    for (const p of pending) this.failed.push({ record: p.record, code: OUT_OF_TIME, message: 'the time budget ran out before SNS confirmed this message' });
  }

  /** Queues records; resolves once they are queued or sent (waits while too many requests are in flight). */
  async publish(records: DetectionRecord[]): Promise<void> {
    let busySince = performance.now();
    for (let i = 0; i < records.length; i++) {
      // Building a message may take milliseconds (a large document trimmed to fit), and with
      // room in flight nothing here waits on a timer: every few milliseconds, let the timers
      // run, the deadline's among them, so that a batch of thousands cannot outlast it.
      if (performance.now() - busySince >= YIELD_EVERY_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        busySince = performance.now();
      }
      if (this.outOfTime()) {
        // Out of time: the rest is not even built, and is reported as not published.
        for (const r of records.slice(i)) this.failed.push({ record: identityOf(r), code: OUT_OF_TIME, message: 'the time budget ran out before this message was sent' });
        return;
      }
      const record = records[i]!;
      const message = toSnsMessage(record);
      const size = entrySize(message);
      if (this.queue.length === MAX_BATCH_ENTRIES || this.queuedBytes + size > MAX_MESSAGE_BYTES) await this.sendQueued();
      this.queue.push({ record: identityOf(record), message, size, attempts: 0 });
      this.queuedBytes += size;
    }
    if (this.queue.length === MAX_BATCH_ENTRIES) await this.sendQueued();
    if (this.queue.length > 0 && this.lingerTimer === undefined) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        const send = this.sendQueued().finally(() => this.lingering.delete(send));
        this.lingering.add(send);
      }, this.lingerMs);
      this.lingerTimer.unref();
    }
  }

  /** Sends everything still queued and waits for every request, retries included. */
  async flush(): Promise<PublishReport> {
    if (this.queue.length > 0) await this.sendQueued();
    while (this.lingering.size > 0 || this.inFlight.size > 0) await Promise.all([...this.lingering, ...this.inFlight]);
    return { published: this.published, failed: [...this.failed] };
  }

  private async sendQueued(): Promise<void> {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    const request = this.deliver(batch).finally(() => this.inFlight.delete(request));
    this.inFlight.add(request);
  }

  /** Sends one batch, then retries its failed entries (in smaller batches as needed). */
  private async deliver(batch: Pending[]): Promise<void> {
    let pending = batch;
    while (pending.length > 0) {
      if (this.outOfTime()) return this.giveUpOnTime(pending);
      for (const p of pending) p.attempts++;
      const retry: Pending[] = [];
      try {
        const entries: PublishBatchRequestEntry[] = pending.map((p, i) => ({ Id: `e${i}`, ...p.message }));
        const command = new PublishBatchCommand({ TopicArn: this.topicArn, PublishBatchRequestEntries: entries });
        const response = await untilAborted(this.client.send(command, this.signal === undefined ? {} : { abortSignal: this.signal }), this.signal);
        const answered = new Set<Pending>();
        const entryOf = (id: string | undefined): Pending | undefined => {
          const p = id !== undefined && /^e\d+$/.test(id) ? pending[Number(id.slice(1))] : undefined;
          if (p === undefined || answered.has(p)) return undefined;
          answered.add(p);
          return p;
        };
        const retryOrGiveUp = (p: Pending, code: string, message: string, retryable = true): void => {
          if (!retryable || p.attempts >= this.maxAttempts) this.failed.push({ record: p.record, code, message });
          else retry.push(p);
        };
        for (const s of response.Successful ?? []) if (entryOf(s.Id) !== undefined) this.published++;
        for (const f of response.Failed ?? []) {
          const p = entryOf(f.Id);
          if (p !== undefined) retryOrGiveUp(p, f.Code ?? 'Failed', f.Message ?? '', f.SenderFault !== true);
        }
        // An entry the response does not account for was not confirmed: send it again.
        for (const p of pending) if (!answered.has(p)) retryOrGiveUp(p, 'NoAnswer', 'SNS answered neither success nor failure for this entry');
      } catch (err) {
        if (this.outOfTime()) return this.giveUpOnTime(pending);
        const e = err as Error & { name?: string; $metadata?: unknown };
        if ((e.$metadata === undefined || ENTRY_FAULTS.test(e.name ?? '')) && pending.length > 1) {
          // The request could not be built, or SNS refused it as a whole for its content (one
          // entry's subject or attributes may be to blame): send each entry on its own, so only
          // the guilty one fails and the rest of the batch is delivered. Throttling, access,
          // KMS or a missing topic would fail every entry alike: no split for those.
          for (const p of pending) await this.deliver([p]);
          return;
        }
        // The SDK has already retried throttling, 5xx and network errors; give up on the batch.
        for (const p of pending) this.failed.push({ record: p.record, code: e.name ?? 'Error', message: e.message });
      }
      if (retry.length > 0) {
        const attempt = retry[0]!.attempts;
        await this.sleep(this.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      }
      pending = retry;
    }
  }
}

/** The promise's outcome, or a rejection as soon as `signal` aborts (whether or not the promise heeds it). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted: out of time'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}
