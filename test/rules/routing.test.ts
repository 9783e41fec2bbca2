/**
 * Routing: the index an event is read from (data_stream, else agent, else a default,
 * else unrouted) and which rules' index patterns select it.
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../lambda/engine/index.js';
import { parseRule } from '../../lambda/rules/load.js';
import type { Rule } from '../../lambda/rules/model.js';
import { compileIndexPatterns, eventIndex, RuleRouter } from '../../lambda/rules/routing.js';
import { fixture, variant } from './helpers.js';

const DATA_STREAM = { type: 'logs', dataset: 'endpoint.events.process', namespace: 'default' };
const AGENT = { type: 'auditbeat', version: '8.11.1', id: '8921fb55-4463-4944-8dea-074038035111' };

/** A minimal EQL rule with the given index patterns (null: no `index` key). */
function ruleWithIndex(id: string, index: string[] | null): Rule {
  const lines = ['[rule]', `rule_id = "${id}"`, `name = "${id}"`, 'risk_score = 21', 'severity = "low"', 'type = "eql"'];
  if (index !== null) lines.push(`index = ${JSON.stringify(index)}`);
  lines.push('query = "any where true"');
  return parseRule(lines.join('\n'), `${id}.toml`);
}

describe('eventIndex', () => {
  const cases: { name: string; event: Event; defaultIndex?: string; expected: string | undefined }[] = [
    { name: 'complete data_stream', event: { data_stream: DATA_STREAM }, expected: 'logs-endpoint.events.process-default' },
    { name: 'complete data_stream beats agent', event: { data_stream: DATA_STREAM, agent: AGENT }, expected: 'logs-endpoint.events.process-default' },
    { name: 'data_stream beats the default index', event: { data_stream: DATA_STREAM }, defaultIndex: 'auditbeat-default', expected: 'logs-endpoint.events.process-default' },
    {
      name: 'data_stream without namespace falls back to agent',
      event: { data_stream: { type: 'logs', dataset: 'endpoint.events.process' }, agent: AGENT },
      expected: 'auditbeat-8.11.1',
    },
    {
      name: 'data_stream without type falls back to agent',
      event: { data_stream: { dataset: 'endpoint.events.process', namespace: 'default' }, agent: AGENT },
      expected: 'auditbeat-8.11.1',
    },
    {
      name: 'data_stream with an empty namespace falls back to agent',
      event: { data_stream: { ...DATA_STREAM, namespace: '' }, agent: AGENT },
      expected: 'auditbeat-8.11.1',
    },
    { name: 'agent type and version', event: { agent: AGENT }, expected: 'auditbeat-8.11.1' },
    { name: 'agent beats the default index', event: { agent: AGENT }, defaultIndex: 'logs-x-default', expected: 'auditbeat-8.11.1' },
    { name: 'agent without version: default index', event: { agent: { type: 'auditbeat' } }, defaultIndex: 'auditbeat-default', expected: 'auditbeat-default' },
    { name: 'agent without type: unrouted', event: { agent: { version: '8.11.1' } }, expected: undefined },
    { name: 'incomplete data_stream and no agent: default index', event: { data_stream: { type: 'logs' } }, defaultIndex: 'logs-generic-default', expected: 'logs-generic-default' },
    { name: 'no routing fields, no default: unrouted', event: { '@timestamp': '2024-05-14T09:12:41Z', message: 'x' }, expected: undefined },
    { name: 'no routing fields, default index', event: {}, defaultIndex: 'endgame-default', expected: 'endgame-default' },
    { name: 'null data_stream fields are missing', event: { data_stream: { type: null, dataset: null, namespace: null }, agent: AGENT }, expected: 'auditbeat-8.11.1' },
    {
      name: 'dotted keys',
      event: { 'data_stream.type': 'logs', 'data_stream.dataset': 'sentinel_one_cloud_funnel.event', 'data_stream.namespace': 'prod' },
      expected: 'logs-sentinel_one_cloud_funnel.event-prod',
    },
    { name: 'mixed nesting', event: { 'agent.type': 'endgame', agent: { version: '3.63.0' } }, expected: 'endgame-3.63.0' },
    {
      name: 'fields-API form (every value an array): the first value',
      event: { agent: { type: ['endgame'], version: ['3.63.0'] } },
      expected: 'endgame-3.63.0',
    },
    { name: 'a numeric agent.version is written as text', event: { agent: { type: 'auditbeat', version: 8 } }, expected: 'auditbeat-8' },
  ];
  it.each(cases)('$name → $expected', ({ event, defaultIndex, expected }) => {
    expect(eventIndex(event, defaultIndex)).toBe(expected);
  });

  it('the real shapes', () => {
    expect(eventIndex(fixture('defend-linux-process-exec-openssl'))).toBe('logs-endpoint.events.process-default');
    expect(eventIndex(fixture('defend-linux-file-rename-sshd'))).toBe('logs-endpoint.events.file-default');
    expect(eventIndex(fixture('auditbeat-fim-updated-sshd'))).toBe('auditbeat-8.11.1');
    expect(eventIndex(fixture('sentinel-one-linux-file-modification-ssh'))).toBe('logs-sentinel_one_cloud_funnel.event-default');
    expect(eventIndex(fixture('endgame-linux-exec-openssl'))).toBe('endgame-3.63.0');
    const bare = variant(fixture('defend-linux-process-exec-openssl'), { agent: undefined, data_stream: undefined });
    expect(eventIndex(bare)).toBeUndefined();
    expect(eventIndex(bare, 'logs-endpoint.events.process-default')).toBe('logs-endpoint.events.process-default');
  });
});

describe('index patterns', () => {
  it('have * as their only wildcard, as Elasticsearch (Regex.simpleMatch): ? and \\ are characters, and no pattern is too complex', () => {
    expect(compileIndexPatterns(['logs-?'])('logs-a')).toBe(false);
    expect(compileIndexPatterns(['logs-?'])('logs-?')).toBe(true);
    expect(compileIndexPatterns(['logs-\\*'])('logs-\\x')).toBe(true);
    // Would be over 10,000 automaton states as an EQL wildcard; as an index pattern it is plain.
    const hostile = compileIndexPatterns([`logs-*a${'?'.repeat(20)}*`]);
    expect(hostile('logs-endpoint.events.process-default')).toBe(false);
  });

  const cases: { patterns: string[]; index: string; expected: boolean }[] = [
    { patterns: ['auditbeat-*'], index: 'auditbeat-8.11.1', expected: true },
    { patterns: ['auditbeat-*'], index: 'auditbeat-', expected: true },
    { patterns: ['auditbeat-*'], index: 'Auditbeat-8.11.1', expected: false }, // case-sensitive
    { patterns: ['auditbeat-*'], index: 'x-auditbeat-8.11.1', expected: false }, // anchored at the start
    { patterns: ['auditbeat-*'], index: 'auditbeat', expected: false },
    { patterns: ['logs-endpoint.events.*'], index: 'logs-endpoint.events.process-default', expected: true },
    { patterns: ['logs-endpoint.events.*'], index: 'logs-endpoint.alerts-default', expected: false },
    { patterns: ['logs-endpoint.events.*'], index: 'logs-endpoint_events_process-default', expected: false }, // '.' is literal
    { patterns: ['logs-endpoint.events.file-*'], index: 'logs-endpoint.events.process-default', expected: false },
    { patterns: ['logs-*-default'], index: 'logs-endpoint.events.file-default', expected: true },
    { patterns: ['logs-*-default'], index: 'logs-endpoint.events.file-prod', expected: false },
    { patterns: ['endgame-3.63.0'], index: 'endgame-3.63.0', expected: true }, // no wildcard: exact
    { patterns: ['endgame-3.63.0'], index: 'endgame-3.63.01', expected: false },
    { patterns: ['*'], index: 'anything-at-all', expected: true },
    { patterns: ['logs-*', '-logs-endpoint.alerts-*'], index: 'logs-endpoint.events.process-default', expected: true },
    { patterns: ['logs-*', '-logs-endpoint.alerts-*'], index: 'logs-endpoint.alerts-default', expected: false },
    // In order, as Elasticsearch's resolver reads them: `-` excludes only after a wildcard, and
    // removes what came before it; before any wildcard it names an index, which cannot exist.
    { patterns: ['-logs-endpoint.alerts-*', 'logs-*'], index: 'logs-endpoint.alerts-default', expected: true },
    { patterns: ['logs-endpoint.events.*', '-logs-endpoint.events.process-*', 'logs-endpoint.events.process-*'], index: 'logs-endpoint.events.process-default', expected: true },
    { patterns: ['logs-endpoint.events.*', '-logs-endpoint.events.process-*'], index: 'logs-endpoint.events.process-default', expected: false },
    { patterns: ['logs-endpoint.events.*', '-logs-endpoint.events.process-*'], index: 'logs-endpoint.events.file-default', expected: true },
    { patterns: ['logs-x', '-logs-x'], index: 'logs-x', expected: true }, // no wildcard before: not an exclusion
    { patterns: ['logs-x', 'l*', '-logs-x'], index: 'logs-x', expected: false },
    { patterns: ['-logs-endpoint.alerts-*'], index: 'logs-endpoint.events.process-default', expected: false }, // exclusions alone select nothing
    { patterns: ['auditbeat-*', 'endgame-*'], index: 'endgame-3.63.0', expected: true },
    { patterns: [], index: 'auditbeat-8.11.1', expected: false },
    // Cross-cluster patterns: the cluster is where the index lives, not part of its name.
    { patterns: ['remote:logs-endpoint.events.*'], index: 'logs-endpoint.events.process-default', expected: true },
    { patterns: ['*:logs-endpoint.events.*', 'logs-endpoint.events.*'], index: 'logs-endpoint.events.process-default', expected: true },
    { patterns: ['logs-*', '-remote:logs-endpoint.events.network-*'], index: 'logs-endpoint.events.network-default', expected: false },
    { patterns: ['logs-*', 'remote:-logs-endpoint.events.network-*'], index: 'logs-endpoint.events.network-default', expected: false },
    // An entry may hold several patterns, comma-separated, as an index expression does.
    { patterns: ['auditbeat-*, logs-endpoint.events.*'], index: 'logs-endpoint.events.file-default', expected: true },
    { patterns: ['logs-*,-logs-endpoint.events.network-*'], index: 'logs-endpoint.events.network-default', expected: false },
    // Selectors: ::data (and ::*) select the data stream itself; ::failures holds ingest failures, not events.
    { patterns: ['logs-endpoint.events.*::data'], index: 'logs-endpoint.events.process-default', expected: true },
    { patterns: ['remote:logs-endpoint.events.*::*'], index: 'logs-endpoint.events.process-default', expected: true },
    { patterns: ['logs-endpoint.events.*::failures'], index: 'logs-endpoint.events.process-default', expected: false },
    // Excluding a whole remote cluster leaves the local patterns as they are.
    { patterns: ['logs-*', '-cluster_three:*'], index: 'logs-endpoint.events.process-default', expected: true },
    // Date math stands for any date; its braces may hold ':' and ','.
    { patterns: ['<auditbeat-{now/d}>'], index: 'auditbeat-8.11.1', expected: true },
    { patterns: ['<auditbeat-{now/d{yyyy.MM.dd|+12:00}}>,<filebeat-{now/M{yyyy,MM}}>'], index: 'filebeat-8.11.1', expected: true },
    { patterns: ['_all'], index: 'winlogbeat-8.11.1', expected: true },
    // Outside date math a brace is a character of an index name, and a comma still splits.
    { patterns: ['app{legacy,logs-*'], index: 'logs-system.auth-default', expected: true },
  ];
  it.each(cases)('$patterns on $index → $expected', ({ patterns, index, expected }) => {
    expect(compileIndexPatterns(patterns)(index)).toBe(expected);
  });
});

describe('RuleRouter', () => {
  const beats = ruleWithIndex('beats', ['auditbeat-*', 'filebeat-*']);
  const endpoint = ruleWithIndex('endpoint', ['logs-endpoint.events.*', '-logs-endpoint.events.network-*']);
  const everywhere = ruleWithIndex('everywhere', null);
  const rules = [beats, endpoint, everywhere];
  const ids = (list: Rule[]): string[] => list.map((r) => r.id);

  it('selects the rules whose patterns match, in rule order; a rule without index applies everywhere', () => {
    const router = new RuleRouter(rules);
    expect(ids(router.rulesFor('auditbeat-8.11.1'))).toEqual(['beats', 'everywhere']);
    expect(ids(router.rulesFor('logs-endpoint.events.file-default'))).toEqual(['endpoint', 'everywhere']);
    expect(ids(router.rulesFor('logs-endpoint.events.network-default'))).toEqual(['everywhere']);
    expect(ids(router.rulesFor('logs-sentinel_one_cloud_funnel.event-default'))).toEqual(['everywhere']);
  });

  it('an unrouted event (index undefined) is checked by every rule', () => {
    const router = new RuleRouter(rules);
    expect(ids(router.rulesFor(undefined))).toEqual(['beats', 'endpoint', 'everywhere']);
    expect(ids(new RuleRouter([beats, endpoint]).rulesFor(undefined))).toEqual(['beats', 'endpoint']);
  });

  it('an index no rule reads gets no rules', () => {
    expect(new RuleRouter([beats, endpoint]).rulesFor('winlogbeat-8.11.1')).toEqual([]);
  });

  it('caches: the same index returns the same answer (the same array)', () => {
    const router = new RuleRouter(rules);
    const first = router.rulesFor('filebeat-8.11.1');
    const second = router.rulesFor('filebeat-8.11.1');
    expect(second).toBe(first);
    expect(ids(second)).toEqual(['beats', 'everywhere']);
    const other = router.rulesFor('logs-endpoint.events.process-default');
    expect(other).not.toBe(first);
    expect(router.rulesFor('filebeat-8.11.1')).toBe(first);
  });

  it('hands out one shared array per distinct rule set, so caches keyed on it stay few (every namespace, every long name)', () => {
    const router = new RuleRouter(rules);
    const first = router.rulesFor('logs-endpoint.events.process-default');
    for (let i = 0; i < 3000; i++) expect(router.rulesFor(`logs-endpoint.events.process-ns${i}`)).toBe(first);
    // Over-long index names are routed, not cached.
    const long = `logs-endpoint.events.file-${'x'.repeat(100_000)}`;
    expect(router.rulesFor(long)).toBe(first);
    expect(router.rulesFor(`filebeat-${'y'.repeat(100_000)}`)).toBe(router.rulesFor('auditbeat-8.11.1'));
    expect(router.rulesFor('logs-endpoint.events.network-default')).not.toBe(first);
  });

  it('answers stay right after the cache fills up and is cleared', () => {
    const router = new RuleRouter(rules);
    const fresh = new RuleRouter(rules);
    for (let i = 0; i < 10_050; i++) {
      const index = i % 2 === 0 ? `auditbeat-8.${i}.0` : `logs-endpoint.events.process-ns${i}`;
      expect(ids(router.rulesFor(index))).toEqual(i % 2 === 0 ? ['beats', 'everywhere'] : ['endpoint', 'everywhere']);
    }
    for (const index of ['auditbeat-8.0.0', 'logs-endpoint.events.network-default', 'endgame-3.63.0']) {
      expect(ids(router.rulesFor(index))).toEqual(ids(fresh.rulesFor(index)));
    }
  });

  it('works from routed events end to end', () => {
    const router = new RuleRouter(rules);
    expect(ids(router.rulesFor(eventIndex(fixture('auditbeat-fim-updated-sshd'))))).toEqual(['beats', 'everywhere']);
    expect(ids(router.rulesFor(eventIndex(fixture('defend-linux-process-exec-openssl'))))).toEqual(['endpoint', 'everywhere']);
    expect(ids(router.rulesFor(eventIndex({}, 'filebeat-default')))).toEqual(['beats', 'everywhere']);
    expect(ids(router.rulesFor(eventIndex({})))).toEqual(['beats', 'endpoint', 'everywhere']);
  });
});
