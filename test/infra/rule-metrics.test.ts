/**
 * The `rule` dimension of the per-rule AlertsPublished metric (the dashboard's "Alerts per rule"):
 * a value CloudWatch accepts (1 to 1024 ASCII characters, no control characters, not blank; at
 * most 255 so alarms can use it too), one series per rule, and the same value for a rule every time.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import fc from 'fast-check';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../lambda/handler/create.js';
import { MAX_RULE_DIMENSION_LENGTH, ruleDimensionValues } from '../../lambda/handler/metrics.js';
import { s3Event, lambdaContext } from '../support/aws-events.js';
import { example, EXAMPLES, OPENSSL_RULE, shippedRules, SSH_RULE } from '../support/logs.js';
import { MockS3, MockSns } from '../support/mock-aws.js';
import { RecordingLogger, RecordingMetrics } from '../support/observability.js';

/** What CloudWatch (PutMetricData, EMF) and alarms (at most 255 characters) accept as a dimension value. */
function expectValidDimensionValue(value: string): void {
  expect(value.length).toBeGreaterThanOrEqual(1);
  expect(value.length).toBeLessThanOrEqual(255);
  expect(value).toMatch(/^[\x20-\x7e]+$/); // printable ASCII: no control characters
  expect(value.trim()).not.toBe('');
  expect(value).toBe(value.trim());
}

const rule = (id: string, name: string) => ({ id, name });
const UUID_A = '0c3b1b6e-8a8f-4b5c-9d7e-1f2a3b4c5d6e';
const UUID_B = '7d9e2f10-1111-4c2d-8e3f-aabbccddeeff';

describe('ruleDimensionValues', () => {
  it('is the rule name itself when the name fits and no other rule shares it', () => {
    const values = ruleDimensionValues([rule(UUID_A, OPENSSL_RULE), rule(UUID_B, SSH_RULE)]);
    expect(values).toEqual(new Map([[UUID_A, OPENSSL_RULE], [UUID_B, SSH_RULE]]));
  });

  it('gives rules that share a name distinct values, told apart by a short rule id', () => {
    const values = ruleDimensionValues([rule(UUID_A, 'Suspicious Shell'), rule(UUID_B, 'Suspicious Shell'), rule('c', 'Other')]);
    expect(values.get(UUID_A)).toBe('Suspicious Shell [0c3b1b6e]');
    expect(values.get(UUID_B)).toBe('Suspicious Shell [7d9e2f10]');
    expect(values.get('c')).toBe('Other');
  });

  it('tells apart names that only differ past the length cap, or in characters CloudWatch refuses', () => {
    const long = 'A'.repeat(400);
    const values = ruleDimensionValues([rule(UUID_A, `${long} one`), rule(UUID_B, `${long} two`), rule('x1', 'Proc\u00e8s \u65e5\u672c'), rule('x2', 'Proc\u00e8s \u4e2d\u6587')]);
    expect(new Set(values.values()).size).toBe(4);
    for (const v of values.values()) expectValidDimensionValue(v);
    expect(values.get(UUID_A)).toBe(`${'A'.repeat(MAX_RULE_DIMENSION_LENGTH - ' [0c3b1b6e]'.length)} [0c3b1b6e]`);
  });

  it('falls back to longer ids when short ids collide, and to a hash when even sanitized ids do', () => {
    const values = ruleDimensionValues([
      rule('custom-rule-1', 'Same'),
      rule('custom-rule-2', 'Same'),
      rule('r\u00e9gle', 'Twin'),
      rule('r\u00e8gle', 'Twin'), // both ids become "regle" in ASCII
    ]);
    expect(values.get('custom-rule-1')).toBe('Same [custom-rule-1]');
    expect(values.get('custom-rule-2')).toBe('Same [custom-rule-2]');
    expect(values.get('r\u00e9gle')).toMatch(/^Twin \[[0-9a-f]{16}\]$/);
    expect(new Set(values.values()).size).toBe(4);
  });

  it('makes any name valid: over-long, accented, non-Latin, control characters, line breaks, blank', () => {
    const cases: [string, string][] = [
      ['x'.repeat(2000), 'x'.repeat(MAX_RULE_DIMENSION_LENGTH)],
      ['Cr\u00e9ation de t\u00e2che planifi\u00e9e', 'Creation de tache planifiee'],
      ['Line\nbreak\tand\u0000nul\u007f', 'Line break and nul'],
      ['  padded  ', 'padded'],
      ['\u30d7\u30ed\u30bb\u30b9 spawn \ud83d\ude00', '? spawn ?'],
    ];
    for (const [name, expected] of cases) {
      const value = ruleDimensionValues([rule(UUID_A, name)]).get(UUID_A)!;
      expect(value).toBe(expected);
      expectValidDimensionValue(value);
    }
    // Nothing left of the name: the rule id stands in.
    for (const name of [' ', '\n\t', '\u0001']) expect(ruleDimensionValues([rule(UUID_A, name)]).get(UUID_A)).toBe('rule [0c3b1b6e]');
  });

  it('is valid, unique and the same whatever the order of the rules (property)', () => {
    const name = fc.oneof(fc.string({ maxLength: 1200 }), fc.string({ unit: 'grapheme', maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('Same', 'Same ', ' same', ''));
    const ruleSet = fc.uniqueArray(fc.record({ id: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 40 })), name }), { selector: (r) => r.id, minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(ruleSet, (rules) => {
        const values = ruleDimensionValues(rules);
        expect([...values.keys()].sort()).toEqual(rules.map((r) => r.id).sort());
        for (const v of values.values()) expectValidDimensionValue(v);
        expect(new Set(values.values()).size).toBe(rules.length);
        expect(ruleDimensionValues([...rules].reverse())).toEqual(values);
        expect(ruleDimensionValues(rules)).toEqual(values);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the handler’s AlertsPublished metric', () => {
  const s3 = new MockS3();
  const sns = new MockSns();
  beforeEach(() => {
    s3.reset();
    sns.reset();
  });
  afterAll(() => {
    s3.restore();
    sns.restore();
  });

  async function alertsPublishedByRule(rules: ReturnType<typeof shippedRules>): Promise<Map<string, number>> {
    for (const e of EXAMPLES) s3.put(`edr/${e.file}`, example(e.file));
    const metrics = new RecordingMetrics();
    const handler = createHandler({
      rules,
      config: { topicArn: 'arn:aws:sns:us-east-1:123456789012:eqlambda-alerts', indexByPrefix: [], safetyMarginMs: 15_000, serviceName: 'eqlambda' },
      s3: new S3Client({ region: 'us-east-1' }),
      sns: new SNSClient({ region: 'us-east-1' }),
      logger: new RecordingLogger().asLogger(),
      metrics: metrics.asMetrics(),
    });
    await handler(s3Event(...EXAMPLES.map((e) => ({ key: `edr/${e.file}` }))), lambdaContext());
    const byRule = new Map<string, number>();
    for (const m of metrics.entries.filter((e) => e.name === 'AlertsPublished')) {
      const value = m.dimensions.rule!;
      expectValidDimensionValue(value);
      byRule.set(value, (byRule.get(value) ?? 0) + m.value);
    }
    return byRule;
  }

  it('counts two rules of the same name in two series, each the same on every object', async () => {
    const [first, second] = shippedRules();
    const twins = [
      { ...first!, name: 'Same Name' },
      { ...second!, name: 'Same Name' },
    ];
    const byRule = await alertsPublishedByRule(twins);
    expect([...byRule.keys()].sort()).toEqual([`Same Name [${first!.id.slice(0, 8)}]`, `Same Name [${second!.id.slice(0, 8)}]`].sort());
    expect([...byRule.values()].reduce((a, b) => a + b, 0)).toBe(6);
    expect([...byRule.values()].every((n) => n === 3)).toBe(true);
  });

  it('labels a uniquely named rule with its name, made valid when CloudWatch would refuse it', async () => {
    const [first, second] = shippedRules();
    const byRule = await alertsPublishedByRule([first!, { ...second!, name: `D\u00e9tection\n${'x'.repeat(300)}` }]);
    expect(byRule.get(first!.name)).toBe(3);
    expect(byRule.get(`Detection ${'x'.repeat(MAX_RULE_DIMENSION_LENGTH - 'Detection '.length)}`)).toBe(3);
  });
});
