/** The fake SNS endpoint itself, driven by the real SNSClient (its wire format and errors). */
import { PublishBatchCommand, PublishCommand, SNSClient, SNSServiceException } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeSns } from '../support/fake-sns.js';
import { DUMMY_CREDENTIALS, TOPIC } from '../support/harness.js';

const sns = new FakeSns();
let client: SNSClient;

beforeAll(async () => {
  const endpoint = await sns.start();
  client = new SNSClient({ endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
});

afterAll(async () => {
  client.destroy();
  await sns.stop();
});

beforeEach(() => sns.reset());

const entry = (id: string, message = JSON.stringify({ default: `m ${id}` })) => ({
  Id: id,
  Message: message,
  Subject: `subject ${id} + & = é`,
  MessageStructure: 'json',
  MessageAttributes: { severity: { DataType: 'String', StringValue: 'high' }, risk_score: { DataType: 'Number', StringValue: '73' } },
});

async function snsError(promise: Promise<unknown>): Promise<SNSServiceException> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(SNSServiceException);
    return err as SNSServiceException;
  }
  throw new Error('the request succeeded');
}

describe('fake SNS', () => {
  it('parses PublishBatch entries with subjects and attributes, and answers in the SDK shape', async () => {
    const out = await client.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [entry('a'), entry('b')] }));
    expect(out.Successful?.map((s) => s.Id)).toEqual(['a', 'b']);
    expect(out.Failed ?? []).toEqual([]);
    expect(sns.delivered).toEqual([
      { id: 'a', message: '{"default":"m a"}', subject: 'subject a + & = é', messageStructure: 'json', attributes: { severity: { dataType: 'String', stringValue: 'high' }, risk_score: { dataType: 'Number', stringValue: '73' } } },
      expect.objectContaining({ id: 'b', subject: 'subject b + & = é' }),
    ]);
    expect(sns.requests[0]).toMatchObject({ action: 'PublishBatch', topicArn: TOPIC, status: 200 });
  });

  it('handles Publish', async () => {
    const out = await client.send(new PublishCommand({ TopicArn: TOPIC, Message: 'hello world', Subject: 'hi', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } }));
    expect(out.MessageId).toMatch(/^m-\d+$/);
    expect(sns.delivered).toEqual([{ id: '', message: 'hello world', subject: 'hi', attributes: { k: { dataType: 'String', stringValue: 'v' } } }]);
  });

  it('reports injected entry failures in <Failed>, the first time only', async () => {
    sns.failEntries({ times: 1, match: (e) => e.id === 'b' });
    const first = await client.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [entry('a'), entry('b')] }));
    expect(first.Failed).toEqual([{ Id: 'b', Code: 'InternalError', Message: 'injected entry failure', SenderFault: false }]);
    const second = await client.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [entry('b')] }));
    expect(second.Successful?.map((s) => s.Id)).toEqual(['b']);
  });

  it('injects HTTP errors and throttling the SDK understands', async () => {
    sns.failRequests(1, 500);
    expect((await snsError(client.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [entry('a')] })))).$metadata.httpStatusCode).toBe(500);
    sns.throttle(1);
    const throttled = await snsError(client.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [entry('a')] })));
    expect(throttled.name).toBe('Throttling');
    expect(throttled.$metadata.httpStatusCode).toBe(400);
    expect(sns.delivered).toEqual([]);
  });

  it('enforces the SNS batch limits', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => entry(`e${i}`));
    expect((await snsError(client.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: eleven })))).name).toBe('TooManyEntriesInBatchRequestException');
    expect((await snsError(client.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [entry('x'), entry('x')] })))).name).toBe('BatchEntryIdsNotDistinctException');
    const big = (id: string) => entry(id, JSON.stringify({ default: 'x'.repeat(100_000) }));
    expect((await snsError(client.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [big('a'), big('b'), big('c')] })))).name).toBe('BatchRequestTooLongException');
    const bad = await client.send(
      new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [{ ...entry('a'), Subject: 'line\nbreak' }, { ...entry('b'), Message: 'not json' }, { ...entry('c'), Subject: 's'.repeat(100) }] }),
    );
    expect(bad.Failed?.map((f) => [f.Id, f.Code, f.SenderFault])).toEqual([
      ['a', 'InvalidParameter', true],
      ['b', 'InvalidParameter', true],
      ['c', 'InvalidParameter', true],
    ]);
    expect(sns.violations).toHaveLength(6);
  });
});
