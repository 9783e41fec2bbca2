/** SnsPublisher on its own (SDK mocked): what it keeps of the records it could not deliver. */
import { SNSClient } from '@aws-sdk/client-sns';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { beforeEach, describe, expect, it } from 'vitest';
import { alertRule, buildAlert, type Alert } from '../../lambda/alerts/document.js';
import { SnsPublisher } from '../../lambda/publish/sns.js';
import { shippedRules } from '../support/logs.js';
import { MockSns } from '../support/mock-aws.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:eqlambda-alerts';
const sns = new MockSns();
beforeEach(() => sns.reset());

// V8's gc, to see whether the publisher still holds the documents of failed records.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function alerts(n: number): Alert[] {
  const rule = shippedRules()[0]!;
  const source = { kind: 's3' as const, bucket: 'logs', key: 'edr/big.ndjson' };
  return Array.from({ length: n }, (_, i) =>
    buildAlert(rule, alertRule(rule), source, 's3://logs/edr/big.ndjson', i + 1, { process: { name: 'openssl', command_line: `openssl ${'x'.repeat(20_000)} ${i}` } }, new Date('2026-11-24T00:00:00Z')),
  );
}

describe('records SNS would not take', () => {
  it('are reported by identity, their documents let go (an SNS refusing every request must not hold the whole object in memory)', async () => {
    sns.respond(() => {
      throw Object.assign(new Error('not authorized to publish'), { name: 'AuthorizationError', $fault: 'client', $metadata: { httpStatusCode: 403 } });
    });
    const publisher = new SnsPublisher(new SNSClient({ region: 'us-east-1' }), TOPIC, { baseDelayMs: 1 });
    const documents: WeakRef<object>[] = [];
    const ids: string[] = [];
    await (async () => {
      const records = alerts(30);
      for (const r of records) {
        documents.push(new WeakRef(r.document));
        ids.push(r.id);
      }
      await publisher.publish(records);
    })();
    const report = await publisher.flush();
    expect(report.published).toBe(0);
    expect(report.failed.map((f) => f.record.id)).toEqual(ids);
    expect(report.failed[0]).toEqual({ record: { kind: 'alert', id: ids[0], ruleId: shippedRules()[0]!.id }, code: 'AuthorizationError', message: 'not authorized to publish' });
    await new Promise((resolve) => setImmediate(resolve)); // WeakRef targets live to the end of the job that made them
    gc();
    expect(documents.filter((d) => d.deref() !== undefined)).toHaveLength(0);
    expect(report.failed).toHaveLength(30); // the report is still alive
  });
});

describe('the time budget', () => {
  it('holds while a batch of thousands is built: timers run between messages, and the rest is reported, not built', async () => {
    // As the handler sets it: a timer aborts the signal. Building thousands of messages never
    // waits on a timer, so without a pause the deadline could not fire until all were built.
    const outOfTime = new AbortController();
    const deadline = setTimeout(() => outOfTime.abort(), 100);
    const publisher = new SnsPublisher(new SNSClient({ region: 'us-east-1' }), TOPIC, { baseDelayMs: 1, signal: outOfTime.signal });
    const records = alerts(3000);
    const started = performance.now();
    try {
      await publisher.publish(records);
    } finally {
      clearTimeout(deadline);
    }
    const took = performance.now() - started;
    const report = await publisher.flush();
    expect(took).toBeLessThan(1000);
    expect(report.published + report.failed.length).toBe(3000);
    expect(report.failed.length).toBeGreaterThan(1000);
    expect(report.failed.find((f) => f.record.id === records.at(-1)!.id)).toEqual({ record: { kind: 'alert', id: records.at(-1)!.id, ruleId: shippedRules()[0]!.id }, code: 'OutOfTime', message: 'the time budget ran out before this message was sent' });
    expect(new Set(report.failed.map((f) => f.record.id)).size).toBe(report.failed.length);
    expect(sns.delivered).toHaveLength(report.published);
  });
});
