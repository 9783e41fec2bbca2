/**
 * Kibana's per-alert overrides: rule_name_override, severity_mapping and risk_score_mapping
 * read from the matching event, as Kibana's detection engine reads them
 * (rule_types/utils/mappings/build_*_from_mapping.ts), and carried by the alert and its reason.
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../lambda/alerts/document.js';
import { overriddenFields, sourceValue } from '../../lambda/alerts/overrides.js';
import { fromRuleBundle, toRuleBundle } from '../../lambda/rules/bundle.js';
import type { Rule } from '../../lambda/rules/model.js';
import { parseRule } from '../../lambda/rules/load.js';
import { ndjson, scanAll } from '../scan/helpers.js';

const OVERRIDES = [
  'rule_name_override = "message"',
  '[[rule.severity_mapping]]',
  'field = "event.severity"',
  'operator = "equals"',
  'severity = "high"',
  'value = "73"',
  '[[rule.severity_mapping]]',
  'field = "event.severity"',
  'operator = "equals"',
  'severity = "critical"',
  'value = "99"',
  '[[rule.severity_mapping]]',
  'field = "host.os.type"',
  'operator = "equals"',
  'severity = "medium"',
  'value = "linux"',
  '[[rule.risk_score_mapping]]',
  'field = "event.risk_score"',
  'operator = "equals"',
  'value = ""',
].join('\n');

/** A rule with all three overrides (the tables after [rule]'s own keys). */
function overridingRule(): Rule {
  return ruleWith('id-override', OVERRIDES);
}

function ruleWith(id: string, extra: string, query = 'process where process.name == "evil"'): Rule {
  const lines = ['[rule]', `rule_id = "${id}"`, `name = "${id}"`, 'risk_score = 21', 'severity = "low"', 'type = "eql"', `query = '''${query}'''`, extra];
  return parseRule(lines.join('\n'), `${id}.toml`);
}

describe('reading the event as Kibana does (lodash get on the source document)', () => {
  it('takes a whole dotted key first, then nested objects and array indexes, own properties only', () => {
    expect(sourceValue({ 'event.severity': 4, event: { severity: 9 } }, 'event.severity')).toBe(4);
    expect(sourceValue({ event: { severity: 9 } }, 'event.severity')).toBe(9);
    expect(sourceValue({ a: [{ b: 1 }, { b: 2 }] }, 'a.1.b')).toBe(2);
    expect(sourceValue({ a: [{ b: 1 }] }, 'a.b')).toBeUndefined();
    expect(sourceValue({}, 'constructor')).toBeUndefined();
    expect(sourceValue({ a: {} }, 'a.__proto__')).toBeUndefined();
    expect(sourceValue({ a: {} }, 'a.toString')).toBeUndefined();
  });
});

describe('overridden name, severity and risk score', () => {
  const rule = { ...overridingRule(), name: 'Base' };
  const fields = (event: Record<string, unknown>) => overriddenFields(rule, event);

  it('keeps the rule own values when the event has nothing to override them with', () => {
    expect(fields({})).toEqual({ name: 'Base', severity: 'low', risk_score: 21 });
  });

  it('names the alert from a string field only', () => {
    expect(fields({ message: 'Named by the event' }).name).toBe('Named by the event');
    expect(fields({ message: ['a', 'b'] }).name).toBe('Base');
    expect(fields({ message: 7 }).name).toBe('Base');
  });

  it('takes the highest severity whose value the event holds; event.severity compares whole numbers only', () => {
    expect(fields({ event: { severity: 73 } }).severity).toBe('high');
    expect(fields({ event: { severity: [99, 73] } }).severity).toBe('critical');
    expect(fields({ event: { severity: 73 }, host: { os: { type: 'linux' } } }).severity).toBe('high');
    expect(fields({ host: { os: { type: ['windows', 'linux'] } } }).severity).toBe('medium');
    // A string in event.severity (a long in ECS) is not read; 73.5 is not a whole number.
    expect(fields({ event: { severity: '73' } }).severity).toBe('low');
    expect(fields({ event: { severity: 73.5 } }).severity).toBe('low');
    // Other fields compare as text, numbers included; case matters.
    expect(fields({ host: { os: { type: 'Linux' } } }).severity).toBe('low');
  });

  it('takes the largest risk score from 0 to 100 in the mapped field, numbers or numeric strings', () => {
    expect(fields({ event: { risk_score: 88 } }).risk_score).toBe(88);
    expect(fields({ event: { risk_score: ['47', 63.5, 101, -1, 'x'] } }).risk_score).toBe(63.5);
    expect(fields({ event: { risk_score: [101, true] } }).risk_score).toBe(21);
  });
});

describe('alerts of a rule with overrides', () => {
  const event = (changes: Record<string, unknown>) => ({
    '@timestamp': '2026-11-21T00:00:00Z',
    event: { category: ['process'], severity: 99, risk_score: 91 },
    process: { name: 'evil' },
    host: { name: 'web-01' },
    ...changes,
  });

  it('carry the overridden name, severity and risk score, in the rule fields and the reason', async () => {
    const rule = overridingRule();
    const { records } = await scanAll(ndjson([event({ message: 'Overridden name' }), event({ event: { category: ['process'] } })]), { rules: [rule] });
    const [first, second] = records as Alert[];
    expect(first!.rule).toMatchObject({ id: 'id-override', name: 'Overridden name', severity: 'critical', risk_score: 91 });
    expect(first!.reason).toBe('process event with process evil, on web-01 created critical alert Overridden name.');
    expect(second!.rule).toMatchObject({ name: 'id-override', severity: 'low', risk_score: 21 });
    expect(second!.reason).toBe('process event with process evil, on web-01 created low alert id-override.');
  });

  it('survive the rule bundle the Lambda is deployed with', async () => {
    const [rule] = fromRuleBundle(toRuleBundle([overridingRule()]));
    expect(rule).toMatchObject({ rule_name_override: 'message', risk_score_mapping: [{ field: 'event.risk_score', operator: 'equals', value: '' }] });
    expect(rule!.severity_mapping).toHaveLength(3);
    const { records } = await scanAll(ndjson([event({ message: 'From the bundle' })]), { rules: [rule!] });
    expect((records[0] as Alert).rule).toMatchObject({ name: 'From the bundle', severity: 'critical', risk_score: 91 });
  });
});

describe('loading overrides', () => {
  const load = (extra: string) => () => ruleWith('id-bad', extra);

  it('refuses entries Kibana would refuse, at their key', () => {
    expect(load('rule_name_override = ""')).toThrow('rule.rule_name_override must name a field');
    expect(load('[[rule.severity_mapping]]\nfield = "a"\noperator = "equals"\nvalue = "x"\nseverity = "urgent"')).toThrow('rule.severity_mapping: severity must be low, medium, high or critical');
    expect(load('[[rule.severity_mapping]]\nfield = "a"\noperator = "is"\nvalue = "x"\nseverity = "low"')).toThrow('rule.severity_mapping: operator must be "equals"');
    expect(load('[[rule.risk_score_mapping]]\nfield = "a"\noperator = "equals"\nvalue = 3')).toThrow('rule.risk_score_mapping: value must be a string');
    expect(load('[[rule.risk_score_mapping]]\noperator = "equals"\nvalue = ""')).toThrow('rule.risk_score_mapping field must name a field');
    expect(load('severity_mapping = "x"')).toThrow('rule.severity_mapping must be a list of tables ([[rule.severity_mapping]])');
  });

  it('points a bad entry at its own [[rule.<mapping>]] table', () => {
    const entry = (severity: string, operator = 'equals'): string => `[[rule.severity_mapping]]\nfield = "a"\noperator = "${operator}"\nvalue = "x"\nseverity = "${severity}"`;
    // The rule's seven lines, then two entries of five lines: the second starts on line 13.
    expect(load([entry('low'), entry('extreme')].join('\n'))).toThrow('id-bad.toml:13:1: rule.severity_mapping: severity must be low, medium, high or critical');
    expect(load([entry('low'), entry('low'), entry('low', 'is')].join('\n'))).toThrow('id-bad.toml:18:1: rule.severity_mapping: operator must be "equals"');
    const score = '[[rule.risk_score_mapping]]\nfield = "a"\noperator = "equals"\nvalue = ""';
    expect(load([score, '[[rule.risk_score_mapping]]\nfield = ""\noperator = "equals"\nvalue = ""'].join('\n'))).toThrow('id-bad.toml:12:1: rule.risk_score_mapping field must name a field');
  });

  it('reads empty mappings as none', () => {
    const rule = ruleWith('id-empty', 'severity_mapping = []\nrisk_score_mapping = []');
    expect(rule.severity_mapping).toBeUndefined();
    expect(rule.risk_score_mapping).toBeUndefined();
  });
});
