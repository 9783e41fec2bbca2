import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ChangeMessageVisibilityBatchCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../lambda/cli/main.js';
import { parseInvocationRecord, replayCommand, unqualifiedFunctionArn } from '../../lambda/cli/replay.js';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/Eqlambda-DeadLetterQueue';
const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:Eqlambda-Detector';

const sqsMock = mockClient(SQSClient);
const lambdaMock = mockClient(LambdaClient);

beforeEach(() => {
  sqsMock.reset();
  lambdaMock.reset();
  sqsMock.on(DeleteMessageCommand).resolves({});
  sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
  lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
});

function s3Event(keys: string[], bucket = 'logs') {
  return {
    Records: keys.map((key) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'eu-west-1',
      eventTime: '2025-05-01T10:00:00.000Z',
      eventName: 'ObjectCreated:Put',
      s3: { s3SchemaVersion: '1.0', bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` }, object: { key, size: 1234, eTag: 'abc' } },
    })),
  };
}

/** An on-failure destination record, shaped like the Lambda developer guide's example. */
function invocationRecord(payload: unknown, overrides: { functionArn?: string | null; condition?: string; error?: string | null } = {}) {
  const requestContext: Record<string, unknown> = {
    requestId: 'e4b46cbf-b738-4d22-8880-a18cdf61200e',
    condition: overrides.condition ?? 'RetriesExhausted',
    approximateInvokeCount: 3,
  };
  if (overrides.functionArn !== null) requestContext.functionArn = overrides.functionArn ?? `${FUNCTION_ARN}:$LATEST`;
  const record: Record<string, unknown> = {
    version: '1.0',
    timestamp: '2025-05-01T10:05:00.000Z',
    requestContext,
    requestPayload: payload,
  };
  if (overrides.error !== null) {
    record.responseContext = { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' };
    record.responsePayload = { errorType: 'Error', errorMessage: overrides.error ?? 'scan of s3://logs/a.ndjson.gz timed out', trace: [] };
  }
  return JSON.stringify(record);
}

function message(n: number, body: string): Message {
  return { MessageId: `msg-${n}`, ReceiptHandle: `rh-${n}`, Body: body };
}

function goodMessages(from: number, count: number): Message[] {
  return Array.from({ length: count }, (_, i) => message(from + i, invocationRecord(s3Event([`edr/${from + i}.ndjson.gz`]))));
}

/** ReceiveMessage answers these batches in turn, then an empty queue. */
function queue(...batches: Message[][]): void {
  let stub = sqsMock.on(ReceiveMessageCommand);
  for (const batch of batches) stub = stub.resolvesOnce({ Messages: batch });
  stub.resolves({});
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

function clients() {
  return { sqs: new SQSClient({}), lambda: new LambdaClient({}) };
}

const invokes = () => lambdaMock.commandCalls(InvokeCommand).map((c) => c.args[0].input);
const deletedHandles = () => sqsMock.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle);
const payloadOf = (input: { Payload?: unknown }): unknown => {
  expect(input.Payload).toBeInstanceOf(Uint8Array);
  return JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array));
};

describe('eqlambda replay', () => {
  it('re-drives each record’s original event asynchronously and deletes it only after the invoke', async () => {
    const events = [s3Event(['edr/a.ndjson.gz']), s3Event(['edr/b.ndjson.gz', 'edr/c+d%2B.ndjson.gz'])];
    queue([message(1, invocationRecord(events[0])), message(2, invocationRecord(events[1]))]);
    const order: string[] = [];
    lambdaMock.on(InvokeCommand).callsFake((input: { Payload: Uint8Array }) => {
      order.push(`invoke ${(payloadOf(input) as { Records: { s3: { object: { key: string } } }[] }).Records[0]?.s3.object.key}`);
      return { StatusCode: 202 };
    });
    sqsMock.on(DeleteMessageCommand).callsFake((input: { ReceiptHandle: string }) => {
      order.push(`delete ${input.ReceiptHandle}`);
      return {};
    });
    const { io, err, out } = capture();

    expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(0);

    expect(order).toEqual(['invoke edr/a.ndjson.gz', 'delete rh-1', 'invoke edr/b.ndjson.gz', 'delete rh-2']);
    const calls = invokes();
    expect(calls).toHaveLength(2);
    for (const [i, call] of calls.entries()) {
      expect(call.FunctionName).toBe(FUNCTION_ARN); // $LATEST qualifier dropped
      expect(call.InvocationType).toBe('Event');
      expect(payloadOf(call)).toEqual(events[i]);
    }
    expect(sqsMock.commandCalls(DeleteMessageCommand).every((c) => c.args[0].input.QueueUrl === QUEUE_URL)).toBe(true);
    const receive = sqsMock.commandCalls(ReceiveMessageCommand)[0]?.args[0].input;
    expect(receive).toMatchObject({ QueueUrl: QUEUE_URL, MaxNumberOfMessages: 10 });
    expect(receive?.WaitTimeSeconds).toBeGreaterThan(0);
    expect(receive?.WaitTimeSeconds).toBeLessThanOrEqual(5);
    expect(receive?.VisibilityTimeout).toBeUndefined();
    expect(err[0]).toBe(
      `replayed msg-1 to ${FUNCTION_ARN}: RetriesExhausted after 3 attempt(s); error: Error: scan of s3://logs/a.ndjson.gz timed out; objects: s3://logs/edr/a.ndjson.gz`,
    );
    expect(err[1]).toContain('objects: s3://logs/edr/b.ndjson.gz, s3://logs/edr/c d+.ndjson.gz');
    expect(err.at(-1)).toBe('replay: replayed 2, failed 0, malformed 0');
    expect(out).toEqual([]);
  });

  it('leaves a message whose invoke failed in the queue and exits 1', async () => {
    queue(goodMessages(1, 3));
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' });
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 }).resolvesOnce({ StatusCode: 202 }).rejectsOnce(throttled);
    const { io, err } = capture();

    expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(1);

    expect(invokes()).toHaveLength(3);
    expect(deletedHandles()).toEqual(['rh-1', 'rh-3']);
    expect(err).toContain(
      `failed msg-2: invoke ${FUNCTION_ARN}: TooManyRequestsException: Rate exceeded; left in the queue, it reappears after the visibility timeout`,
    );
    expect(err.at(-1)).toBe('replay: replayed 2, failed 1, malformed 0 (those not replayed are still in the queue)');
  });

  it('counts a message as failed when Lambda does not accept the event', async () => {
    queue(goodMessages(1, 1));
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 500 });
    const { io, err } = capture();
    expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(1);
    expect(deletedHandles()).toEqual([]);
    expect(err.at(-1)).toBe('replay: replayed 0, failed 1, malformed 0 (those not replayed are still in the queue)');
  });

  it('counts a message as failed when it was invoked but could not be deleted', async () => {
    queue(goodMessages(1, 1));
    sqsMock.on(DeleteMessageCommand).rejects(Object.assign(new Error('The receipt handle has expired'), { name: 'ReceiptHandleIsInvalid' }));
    const { io, err } = capture();
    expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(1);
    expect(invokes()).toHaveLength(1);
    expect(err[0]).toMatch(/^failed msg-1: replayed to .*, but could not delete the message: ReceiptHandleIsInvalid: The receipt handle has expired/);
    expect(err.at(-1)).toBe('replay: replayed 0, failed 1, malformed 0 (those not replayed are still in the queue)');
  });

  it('reports malformed bodies by MessageId and never deletes them', async () => {
    queue([
      message(1, 'not json {'),
      message(2, JSON.stringify({ Records: [] })),
      message(3, '[1,2]'),
      message(4, ''),
      message(5, invocationRecord(s3Event(['edr/ok.ndjson.gz']))),
      message(6, JSON.stringify({ requestContext: 'x', requestPayload: {} })),
    ]);
    const { io, err } = capture();

    expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(1);

    expect(invokes()).toHaveLength(1);
    expect(deletedHandles()).toEqual(['rh-5']);
    expect(err).toContain('malformed msg-1: body is not JSON; left in the queue');
    expect(err).toContain('malformed msg-2: no requestPayload: not a Lambda invocation record; left in the queue');
    expect(err).toContain('malformed msg-3: body is not a JSON object; left in the queue');
    expect(err).toContain('malformed msg-4: empty body; left in the queue');
    expect(err).toContain('malformed msg-6: requestContext is not an object; left in the queue');
    expect(err.at(-1)).toBe('replay: replayed 1, failed 0, malformed 5 (those not replayed are still in the queue)');
  });

  it('stops at --max messages', async () => {
    queue(goodMessages(1, 3), goodMessages(4, 10));
    const { io, err } = capture();

    expect(await replayCommand(['--queue-url', QUEUE_URL, '--max', '3'], io, clients())).toBe(0);

    const receives = sqsMock.commandCalls(ReceiveMessageCommand);
    expect(receives).toHaveLength(1);
    expect(receives[0]?.args[0].input.MaxNumberOfMessages).toBe(3);
    expect(invokes()).toHaveLength(3);
    expect(err).toContain('replay: stopped after --max 3 message(s); the queue may hold more');
  });

  it('asks for no more than the messages --max still allows', async () => {
    queue(goodMessages(1, 10), goodMessages(11, 2));
    const { io } = capture();
    expect(await replayCommand(['--queue-url', QUEUE_URL, '--max', '12', '--visibility-timeout', '120'], io, clients())).toBe(0);
    const receives = sqsMock.commandCalls(ReceiveMessageCommand).map((c) => c.args[0].input);
    expect(receives.map((r) => r.MaxNumberOfMessages)).toEqual([10, 2]);
    expect(receives.every((r) => r.VisibilityTimeout === 120)).toBe(true);
    expect(deletedHandles()).toHaveLength(12);
  });

  it('keeps receiving until the queue is empty', async () => {
    queue(goodMessages(1, 10), goodMessages(11, 10), goodMessages(21, 4));
    const { io, err } = capture();

    expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(0);

    expect(sqsMock.commandCalls(ReceiveMessageCommand)).toHaveLength(4); // the 4th came back empty
    expect(invokes()).toHaveLength(24);
    expect(deletedHandles()).toEqual(Array.from({ length: 24 }, (_, i) => `rh-${i + 1}`));
    expect(err.at(-1)).toBe('replay: replayed 24, failed 0, malformed 0');
  });

  it('handles a message only once when it comes back within the same run', async () => {
    const [first] = goodMessages(1, 1);
    queue([first!], [{ ...first!, ReceiptHandle: 'rh-1-again' }]);
    lambdaMock.on(InvokeCommand).rejects(new Error('boom'));
    const { io, err } = capture();

    expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(1);

    expect(invokes()).toHaveLength(1);
    expect(sqsMock.commandCalls(ReceiveMessageCommand)).toHaveLength(2); // stops: nothing new came back
    expect(err.at(-2)).toBe('replay: replayed 0, failed 1, malformed 0 (those not replayed are still in the queue)');
    // ...but a batch of messages seen already can hide others: it says so.
    expect(err.at(-1)).toBe(
      'replay: stopped when only messages already seen in this run came back (their visibility timeout ran out); the queue may hold more: run again, or give a longer --visibility-timeout',
    );
  });

  it('--dry-run lists objects, condition and error, and invokes and deletes nothing', async () => {
    queue([
      message(1, invocationRecord(s3Event(['edr/2025/host+1.ndjson.gz', 'edr/2025/host2.ndjson.gz']), { error: 'Task timed out after 300.00 seconds' })),
      message(2, invocationRecord(s3Event(['edr/late.ndjson.gz']), { condition: 'EventAgeExceeded', error: null })),
      message(3, 'garbage'),
    ]);
    const { io, err, out } = capture();

    expect(await replayCommand(['--queue-url', QUEUE_URL, '--dry-run'], io, clients())).toBe(1); // one malformed

    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(err[0]).toBe(
      `would replay msg-1 to ${FUNCTION_ARN}: RetriesExhausted after 3 attempt(s); error: Error: Task timed out after 300.00 seconds; ` +
        'objects: s3://logs/edr/2025/host 1.ndjson.gz, s3://logs/edr/2025/host2.ndjson.gz',
    );
    expect(err[1]).toBe(`would replay msg-2 to ${FUNCTION_ARN}: EventAgeExceeded after 3 attempt(s); objects: s3://logs/edr/late.ndjson.gz`);
    expect(err[2]).toBe('malformed msg-3: body is not JSON; left in the queue');
    expect(err.at(-1)).toBe('replay (dry run): would replay 2, malformed 1; nothing was invoked or deleted');
    expect(out).toEqual([]);
    // The listed messages are made visible again, so a real replay can follow right away.
    const released = sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    expect(released.map((e) => [e.ReceiptHandle, e.VisibilityTimeout])).toEqual([
      ['rh-1', 0],
      ['rh-2', 0],
      ['rh-3', 0],
    ]);
  });

  it('--dry-run exits 0 when every message is replayable', async () => {
    queue(goodMessages(1, 2));
    const { io } = capture();
    expect(await replayCommand(['--queue-url', QUEUE_URL, '--dry-run'], io, clients())).toBe(0);
    expect(lambdaMock.calls()).toHaveLength(0);
  });

  it('describes payloads that are not S3 object notifications', async () => {
    queue([
      message(1, invocationRecord({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'logs' })),
      message(2, invocationRecord({ Records: [{ eventName: 'ObjectRemoved:Delete', s3: { bucket: { name: 'logs' }, object: { key: 'x' } } }] })),
      message(3, invocationRecord({ hello: 'world' })),
    ]);
    const { io, err } = capture();
    expect(await replayCommand(['--queue-url', QUEUE_URL, '--dry-run'], io, clients())).toBe(0);
    expect(err[0]).toMatch(/the S3 test event \(nothing to scan\)$/);
    expect(err[1]).toMatch(/no objects to scan; 1 record\(s\) the detector skips \(event ObjectRemoved:Delete is not ObjectCreated\)$/);
    expect(err[2]).toMatch(/not an S3 event notification$/);
  });

  describe('target function', () => {
    it('is the record’s function without its version or alias qualifier', async () => {
      queue([
        message(1, invocationRecord(s3Event(['a']), { functionArn: `${FUNCTION_ARN}:7` })),
        message(2, invocationRecord(s3Event(['b']), { functionArn: `${FUNCTION_ARN}:live` })),
        message(3, invocationRecord(s3Event(['c']), { functionArn: FUNCTION_ARN })),
        message(4, invocationRecord(s3Event(['d']), { functionArn: 'arn:aws-cn:lambda:cn-north-1:123456789012:function:other:$LATEST' })),
      ]);
      const { io } = capture();
      expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(0);
      expect(invokes().map((i) => i.FunctionName)).toEqual([FUNCTION_ARN, FUNCTION_ARN, FUNCTION_ARN, 'arn:aws-cn:lambda:cn-north-1:123456789012:function:other']);
    });

    it('is --function when given, for every record', async () => {
      queue([
        message(1, invocationRecord(s3Event(['a']))),
        message(2, invocationRecord(s3Event(['b']), { functionArn: null })),
      ]);
      const { io, err } = capture();
      expect(await replayCommand(['--queue-url', QUEUE_URL, '--function', 'Eqlambda-Detector:live'], io, clients())).toBe(0);
      expect(invokes().map((i) => i.FunctionName)).toEqual(['Eqlambda-Detector:live', 'Eqlambda-Detector:live']);
      expect(err[0]).toMatch(/^replayed msg-1 to Eqlambda-Detector:live: /);
    });

    it('is never a function of another account than the queue’s (anyone who can send to the queue could name one)', async () => {
      const foreign = 'arn:aws:lambda:eu-west-1:999999999999:function:evil';
      queue([message(1, invocationRecord(s3Event(['a']), { functionArn: foreign })), message(2, invocationRecord(s3Event(['b'])))]);
      const { io, err } = capture();
      expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(1);
      expect(invokes().map((i) => i.FunctionName)).toEqual([FUNCTION_ARN]);
      expect(deletedHandles()).toEqual(['rh-2']);
      expect(err[0]).toBe("malformed msg-1: requestContext.functionArn names a function in account 999999999999, not the queue's 123456789012 (pass --function to replay it there); left in the queue");
    });

    it('is a function of another account when --function names it', async () => {
      const foreign = 'arn:aws:lambda:eu-west-1:999999999999:function:evil';
      queue([message(1, invocationRecord(s3Event(['c']), { functionArn: foreign }))]);
      expect(await replayCommand(['--queue-url', QUEUE_URL, '--function', foreign], capture().io, clients())).toBe(0);
      expect(invokes().map((i) => i.FunctionName)).toEqual([foreign]);
    });

    it('is invoked in its own region, whatever the default region', async () => {
      const prior = process.env.AWS_REGION;
      process.env.AWS_REGION = 'us-east-1';
      try {
        queue([message(1, invocationRecord(s3Event(['a'])))]);
        expect(await main(['replay', '--queue-url', QUEUE_URL], capture().io)).toBe(0);
        const client = lambdaMock.commandCalls(InvokeCommand)[0]!.thisValue as LambdaClient;
        expect(await client.config.region()).toBe('eu-west-1');
      } finally {
        if (prior === undefined) delete process.env.AWS_REGION;
        else process.env.AWS_REGION = prior;
      }
    });

    it('is required when a record names no function', async () => {
      queue([
        message(1, invocationRecord(s3Event(['a']), { functionArn: null })),
        message(2, invocationRecord(s3Event(['b']), { functionArn: 'Eqlambda-Detector' })),
      ]);
      const { io, err } = capture();
      expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(1);
      expect(invokes()).toHaveLength(0);
      expect(deletedHandles()).toEqual([]);
      expect(err[0]).toBe('malformed msg-1: requestContext.functionArn is missing or not a function ARN (pass --function); left in the queue');
      expect(err.at(-1)).toBe('replay: replayed 0, failed 0, malformed 2 (those not replayed are still in the queue)');
    });
  });

  it('reports a queue that cannot be read and exits 1', async () => {
    sqsMock.on(ReceiveMessageCommand).rejects(Object.assign(new Error('The specified queue does not exist.'), { name: 'QueueDoesNotExist' }));
    const { io, err } = capture();
    expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(1);
    expect(err[0]).toBe(`eqlambda: cannot receive from ${QUEUE_URL}: QueueDoesNotExist: The specified queue does not exist.`);
    expect(err.at(-1)).toBe('replay: replayed 0, failed 0, malformed 0');
  });

  it('exits 0 on an empty queue', async () => {
    queue();
    const { io, err } = capture();
    expect(await replayCommand(['--queue-url', QUEUE_URL], io, clients())).toBe(0);
    expect(err).toEqual(['replay: replayed 0, failed 0, malformed 0']);
  });

  describe('usage errors exit 2 (through main)', () => {
    it.each([
      [[], '--queue-url is required'],
      [['--queue-url', ''], '--queue-url is required'],
      [['--queue-url', 'arn:aws:sqs:eu-west-1:123456789012:Eqlambda-DeadLetterQueue'], 'not its ARN'],
      [['--queue-url', 'Eqlambda-DeadLetterQueue'], '--queue-url takes the queue URL, https://sqs.<region>.amazonaws.com/<account>/<queue>'],
      [['--queue-url', 'https://sqs.eu-west-1.amazonaws.com/Eqlambda-DeadLetterQueue'], 'not "https://sqs.eu-west-1.amazonaws.com/Eqlambda-DeadLetterQueue"'],
      [['--queue-url', QUEUE_URL, '--max', '0'], '--max must be a positive whole number'],
      [['--queue-url', QUEUE_URL, '--max', 'ten'], '--max must be a positive whole number'],
      [['--queue-url', QUEUE_URL, '--max', '-1'], '--max'],
      [['--queue-url', QUEUE_URL, '--visibility-timeout', '43201'], 'at most 43200'],
      [['--queue-url', QUEUE_URL, '--function', ''], '--function needs'],
      [['--queue-url', QUEUE_URL, '--bogus'], 'bogus'],
      [['--queue-url', QUEUE_URL, 'extra'], 'unexpected argument "extra"'],
    ])('%j', async (args, message) => {
      const { io, err } = capture();
      expect(await main(['replay', ...args], io)).toBe(2);
      expect(err[0]).toContain(message);
      expect(err[1]).toMatch(/^usage: eqlambda replay/);
      expect(sqsMock.calls()).toHaveLength(0);
    });

    it('prints the usage for --help', async () => {
      const { io, out } = capture();
      expect(await main(['replay', '--help'], io)).toBe(0);
      expect(out[0]).toMatch(/^usage: eqlambda replay --queue-url URL/);
    });

    it('lists replay in the top-level help', async () => {
      const { io, out } = capture();
      expect(await main(['help'], io)).toBe(0);
      expect(out[0]).toMatch(/^ {2}replay +re-drive failed S3 events/m);
    });
  });

  it('runs through main with default clients (mocked per class)', async () => {
    queue(goodMessages(1, 1));
    const { io, err } = capture();
    expect(await main(['replay', '--queue-url', QUEUE_URL], io)).toBe(0);
    expect(invokes()).toHaveLength(1);
    expect(err.at(-1)).toBe('replay: replayed 1, failed 0, malformed 0');
  });
});

describe('invocation records', () => {
  it('parses the documented on-failure record', () => {
    const record = parseInvocationRecord(invocationRecord(s3Event(['k'])));
    expect(record).toMatchObject({ requestContext: { condition: 'RetriesExhausted', functionArn: `${FUNCTION_ARN}:$LATEST` }, requestPayload: s3Event(['k']) });
  });

  it('keeps unqualified ARNs, drops qualifiers, refuses non-ARNs', () => {
    expect(unqualifiedFunctionArn(`${FUNCTION_ARN}:$LATEST`)).toBe(FUNCTION_ARN);
    expect(unqualifiedFunctionArn(`${FUNCTION_ARN}:12`)).toBe(FUNCTION_ARN);
    expect(unqualifiedFunctionArn(FUNCTION_ARN)).toBe(FUNCTION_ARN);
    expect(unqualifiedFunctionArn('arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:prod')).toBe('arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f');
    expect(unqualifiedFunctionArn('Eqlambda-Detector')).toBeUndefined();
    expect(unqualifiedFunctionArn('arn:aws:sqs:eu-west-1:123456789012:q')).toBeUndefined();
  });
});
