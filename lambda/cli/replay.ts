/**
 * `eqlambda replay --queue-url URL [--function NAME|ARN] [--max N] [--dry-run] [--visibility-timeout S]`
 * Re-drives the S3 events that failed every attempt of the detector. Lambda puts an
 * invocation record ({requestContext, requestPayload, responsePayload, ...}) into the
 * stack's dead-letter queue (the asynchronous-invocation on-failure destination); this
 * command invokes the function again, asynchronously, with each record's requestPayload
 * and deletes the message only once that invoke was accepted. Anything not replayed stays
 * in the queue. One line per message and a summary go to stderr.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ChangeMessageVisibilityBatchCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { S3Event } from 'aws-lambda';
import { isBatchEvent, isS3TestEvent, tasksFromS3Event } from '../handler/events.js';
import { parse, positiveInteger, UsageError, type Output } from './args.js';

export const REPLAY_USAGE = `usage: eqlambda replay --queue-url URL [options]
  Re-drives the failed S3 events in the dead-letter queue: each message is a Lambda
  invocation record, whose original event is sent to the function again (asynchronous
  invoke). A message is deleted only after its invoke was accepted; the rest stay in the
  queue. One line per message and a summary go to stderr.
  --queue-url URL           the dead-letter queue (stack output DeadLetterQueueUrl)
  --function NAME|ARN       function to invoke (default: the function named in each
                            record's requestContext.functionArn, without its version
                            qualifier, i.e. the function's current code; a record naming
                            one outside the queue's account is left in the queue)
  --max N                   handle at most N messages (default: until the queue is empty)
  --dry-run                 list each record's objects, condition and error; invoke and
                            delete nothing (the messages are made visible again at the end)
  --visibility-timeout S    seconds a received message stays hidden; a failed one comes
                            back after this (default: the queue's setting)
exit status: 0 when every message was replayed (or, with --dry-run, is replayable), 1 if an
invoke failed, a message was not an invocation record, or the queue could not be read,
2 on usage errors.`;

/** Clients can be injected (tests); otherwise the SDK's default configuration is used. */
export interface ReplayClients {
  sqs?: SQSClient;
  lambda?: LambdaClient;
  /** Limits of the clients made here (REQUEST_TIMEOUTS by default). */
  requestTimeouts?: { connectionTimeout: number; socketTimeout: number };
}

/** SQS's limits: 10 messages per receive, visibility timeout up to 12 hours. */
const RECEIVE_BATCH = 10;
const MAX_VISIBILITY_TIMEOUT = 43_200;
/** Short, but not 0: a 0-second (short-polling) receive may miss messages that exist. */
const WAIT_TIME_SECONDS = 1;
/** Each request's limits (per SDK attempt): connecting, and silence once connected (SQS and Lambda answer these requests in seconds). */
export const REQUEST_TIMEOUTS = { connectionTimeout: 10_000, socketTimeout: 30_000 };
const MAX_ERROR_CHARS = 300;

/** The parts of a Lambda asynchronous-invocation record that replay reads. */
export interface InvocationRecord {
  requestContext?: { requestId?: string; functionArn?: string; condition?: string; approximateInvokeCount?: number };
  requestPayload: unknown;
  responsePayload?: unknown;
}

interface Counts {
  replayed: number;
  failed: number;
  malformed: number;
}

export async function replayCommand(argv: string[], io: Output, clients: ReplayClients = {}): Promise<number> {
  const { values, positionals } = parse(argv, {
    'queue-url': { type: 'string' },
    function: { type: 'string' },
    max: { type: 'string' },
    'dry-run': { type: 'boolean' },
    'visibility-timeout': { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const queueUrl = values['queue-url'];
  if (queueUrl === undefined || queueUrl === '') throw new UsageError('--queue-url is required (the stack output DeadLetterQueueUrl)');
  if (queueUrl.startsWith('arn:')) throw new UsageError('--queue-url takes the queue URL (stack output DeadLetterQueueUrl), not its ARN');
  if (!/^https?:\/\/[^/\s]+\/\d{12}\/[^/\s]+$/.test(queueUrl)) {
    throw new UsageError(`--queue-url takes the queue URL, https://sqs.<region>.amazonaws.com/<account>/<queue> (stack output DeadLetterQueueUrl), not "${queueUrl}"`);
  }
  if (values.function === '') throw new UsageError('--function needs a function name or ARN');
  const max = positiveInteger(values.max, '--max');
  const visibilityTimeout = positiveInteger(values['visibility-timeout'], '--visibility-timeout');
  if (visibilityTimeout !== undefined && visibilityTimeout > MAX_VISIBILITY_TIMEOUT) {
    throw new UsageError(`--visibility-timeout must be at most ${MAX_VISIBILITY_TIMEOUT} seconds (12 hours)`);
  }
  const dryRun = values['dry-run'] === true;

  // An endpoint that never answers must not hang the command (no SDK default bounds a request).
  const requestHandler = clients.requestTimeouts ?? REQUEST_TIMEOUTS;
  const sqs = clients.sqs ?? new SQSClient({ requestHandler });
  // A client per region: a function ARN is invoked in its own region, whatever the default.
  const lambdas = new Map<string, LambdaClient>();
  const lambdaClient = (target: string): LambdaClient => {
    if (clients.lambda !== undefined) return clients.lambda;
    const region = /^arn:[^:]+:lambda:([^:]+):/.exec(target)?.[1] ?? '';
    let client = lambdas.get(region);
    if (client === undefined) lambdas.set(region, (client = new LambdaClient(region === '' ? { requestHandler } : { requestHandler, region })));
    return client;
  };
  const queueAccount = /\/(\d{12})\//.exec(queueUrl)![1]!;

  const counts: Counts = { replayed: 0, failed: 0, malformed: 0 };
  /** Messages handled in this run: one that comes back (its visibility timeout ran out) is not handled twice. */
  const seen = new Set<string>();
  /** --dry-run: the receipt handles to make visible again at the end. */
  const held = new Map<string, string>();
  let handled = 0;
  let receiveFailed = false;
  let queueEmpty = false;
  /** The run stopped at a batch of messages already handled, which had become visible again. */
  let cameBack = false;

  while (max === undefined || handled < max) {
    let messages: Message[];
    try {
      const response = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(RECEIVE_BATCH, max === undefined ? RECEIVE_BATCH : max - handled),
          WaitTimeSeconds: WAIT_TIME_SECONDS,
          ...(visibilityTimeout === undefined ? {} : { VisibilityTimeout: visibilityTimeout }),
        }),
      );
      messages = response.Messages ?? [];
    } catch (err) {
      io.err(`eqlambda: cannot receive from ${queueUrl}: ${errorText(err)}`);
      receiveFailed = true;
      break;
    }
    if (messages.length === 0) {
      queueEmpty = true;
      break;
    }
    let fresh = 0;
    for (const message of messages) {
      const id = message.MessageId ?? '(no MessageId)';
      if (dryRun && message.ReceiptHandle !== undefined) held.set(id, message.ReceiptHandle);
      if (seen.has(id) || (max !== undefined && handled >= max)) continue;
      seen.add(id);
      fresh++;
      handled++;
      await handleMessage(message, id);
    }
    // Only messages already handled in this run came back: the rest of the queue is likely
    // those, but a batch of them can hide others (said at the end).
    if (fresh === 0) {
      queueEmpty = true;
      cameBack = true;
      break;
    }
  }

  async function handleMessage(message: Message, id: string): Promise<void> {
    const record = parseInvocationRecord(message.Body);
    if (typeof record === 'string') {
      counts.malformed++;
      io.err(`malformed ${id}: ${record}; left in the queue`);
      return;
    }
    const target = values.function ?? recordFunction(record);
    if (target === undefined) {
      counts.malformed++;
      io.err(`malformed ${id}: requestContext.functionArn is missing or not a function ARN (pass --function); left in the queue`);
      return;
    }
    // The stack's function and its dead-letter queue share an account: a message naming a
    // function elsewhere (anyone who can send to the queue can write one) is not invoked
    // with the operator's credentials unless --function says so.
    const account = values.function === undefined ? target.split(':')[4] : undefined;
    if (account !== undefined && account !== queueAccount) {
      counts.malformed++;
      io.err(`malformed ${id}: requestContext.functionArn names a function in account ${account}, not the queue's ${queueAccount} (pass --function to replay it there); left in the queue`);
      return;
    }
    const what = describeRecord(record);
    if (dryRun) {
      counts.replayed++;
      io.err(`would replay ${id} to ${target}: ${what}`);
      return;
    }
    try {
      const response = await lambdaClient(target).send(
        new InvokeCommand({
          FunctionName: target,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(record.requestPayload)),
        }),
      );
      if (response?.StatusCode !== undefined && response.StatusCode !== 202) throw new Error(`Lambda answered status ${response.StatusCode}, not 202`);
    } catch (err) {
      counts.failed++;
      io.err(`failed ${id}: invoke ${target}: ${errorText(err)}; left in the queue, it reappears after the visibility timeout`);
      return;
    }
    try {
      if (message.ReceiptHandle === undefined) throw new Error('the message has no receipt handle');
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    } catch (err) {
      counts.failed++;
      io.err(`failed ${id}: replayed to ${target}, but could not delete the message: ${errorText(err)}; it stays in the queue and would be replayed again`);
      return;
    }
    counts.replayed++;
    io.err(`replayed ${id} to ${target}: ${what}`);
  }

  if (dryRun) await release(sqs, queueUrl, held, io);

  const notReplayed = counts.failed + counts.malformed;
  if (dryRun) {
    io.err(`replay (dry run): would replay ${counts.replayed}, malformed ${counts.malformed}; nothing was invoked or deleted`);
  } else {
    io.err(`replay: replayed ${counts.replayed}, failed ${counts.failed}, malformed ${counts.malformed}${notReplayed > 0 ? ' (those not replayed are still in the queue)' : ''}`);
  }
  if (!queueEmpty && !receiveFailed && max !== undefined && handled >= max) io.err(`replay: stopped after --max ${max} message(s); the queue may hold more`);
  if (cameBack) {
    io.err('replay: stopped when only messages already seen in this run came back (their visibility timeout ran out); the queue may hold more: run again, or give a longer --visibility-timeout');
  }
  return receiveFailed || notReplayed > 0 ? 1 : 0;
}

/** The record in an SQS message body, or why it is not one. */
export function parseInvocationRecord(body: string | undefined): InvocationRecord | string {
  if (body === undefined || body.trim() === '') return 'empty body';
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'body is not JSON';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'body is not a JSON object';
  const record = value as Partial<InvocationRecord>;
  if (record.requestPayload === undefined || record.requestPayload === null) return 'no requestPayload: not a Lambda invocation record';
  if (record.requestContext !== undefined && (record.requestContext === null || typeof record.requestContext !== 'object')) {
    return 'requestContext is not an object';
  }
  return record as InvocationRecord;
}

/**
 * The function to re-drive, from the record's functionArn. The version or alias qualifier
 * is dropped: the record names what failed (usually `$LATEST`; a numbered version is
 * immutable and would fail the same way), while the replay should reach the function's
 * current code, where the fix was deployed. The stack's S3 notification targets the
 * unqualified function too. Pass --function NAME:QUALIFIER to aim at a version or alias.
 */
export function unqualifiedFunctionArn(arn: string): string | undefined {
  const m = /^(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+)(?::(?:\$LATEST|[A-Za-z0-9_-]+))?$/.exec(arn);
  return m?.[1];
}

function recordFunction(record: InvocationRecord): string | undefined {
  const arn = record.requestContext?.functionArn;
  return typeof arn === 'string' ? unqualifiedFunctionArn(arn) : undefined;
}

/** "RetriesExhausted after 3 attempt(s); error: Error: ...; objects: s3://b/k" */
export function describeRecord(record: InvocationRecord): string {
  const context = record.requestContext ?? {};
  const parts: string[] = [];
  const attempts = typeof context.approximateInvokeCount === 'number' ? ` after ${context.approximateInvokeCount} attempt(s)` : '';
  parts.push(`${typeof context.condition === 'string' ? context.condition : 'unknown condition'}${attempts}`);
  const error = originalError(record.responsePayload);
  if (error !== undefined) parts.push(`error: ${error}`);
  parts.push(describePayload(record.requestPayload));
  return parts.join('; ');
}

function originalError(payload: unknown): string | undefined {
  if (payload === null || typeof payload !== 'object') return typeof payload === 'string' && payload !== '' ? oneLine(payload) : undefined;
  const { errorType, errorMessage } = payload as { errorType?: unknown; errorMessage?: unknown };
  const message = typeof errorMessage === 'string' ? errorMessage : undefined;
  const type = typeof errorType === 'string' ? errorType : undefined;
  if (message === undefined) return type;
  return oneLine(type === undefined || message.startsWith(type) ? message : `${type}: ${message}`);
}

function describePayload(payload: unknown): string {
  if (isS3TestEvent(payload)) return 'the S3 test event (nothing to scan)';
  if (isBatchEvent(payload)) return `an S3 Batch Operations task list (${payload.tasks.length} task(s))`;
  const records = (payload as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records)) return 'not an S3 event notification';
  const { tasks, skipped } = tasksFromS3Event(payload as S3Event);
  const objects = tasks.map((t) => `s3://${t.bucket}/${t.key}${t.versionId === undefined ? '' : ` (version ${t.versionId})`}`);
  let text = tasks.length === 0 ? 'no objects to scan' : `objects: ${objects.join(', ')}`;
  if (skipped.length > 0) text += `; ${skipped.length} record(s) the detector skips (${[...new Set(skipped.map((s) => s.reason))].join(', ')})`;
  return text;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_ERROR_CHARS ? `${flat.slice(0, MAX_ERROR_CHARS)}…` : flat;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return oneLine(err.name !== '' && err.name !== 'Error' && !err.message.startsWith(err.name) ? `${err.name}: ${err.message}` : err.message);
}

/** --dry-run: make the listed messages visible again, so a replay can follow at once. */
async function release(sqs: SQSClient, queueUrl: string, held: Map<string, string>, io: Output): Promise<void> {
  const handles = [...held.values()];
  let failed = 0;
  for (let i = 0; i < handles.length; i += RECEIVE_BATCH) {
    const batch = handles.slice(i, i + RECEIVE_BATCH);
    try {
      const response = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((ReceiptHandle, n) => ({ Id: `m${i + n}`, ReceiptHandle, VisibilityTimeout: 0 })),
        }),
      );
      failed += response?.Failed?.length ?? 0;
    } catch {
      failed += batch.length;
    }
  }
  if (failed > 0) io.err(`replay (dry run): ${failed} message(s) could not be made visible again; they reappear after the visibility timeout`);
}
