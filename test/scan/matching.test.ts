/**
 * What the pipeline emits for matching events: literals written with JSON escapes still
 * match with the prefilter on, routing by data_stream / agent / defaultIndex, overflow
 * records after max_signals, and deterministic alert ids for files and S3 objects.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Alert, DetectionRecord, Overflow, SourceRef } from '../../lambda/alerts/document.js';
import { parseRule } from '../../lambda/rules/load.js';
import { PreparedRules } from '../../lambda/scan/pipeline.js';
import { OPENSSL_RULE_FILE } from '../rules/helpers.js';
import {
  alertLines,
  BENIGN,
  chunked,
  fileRef,
  fixtureEvent,
  gzip,
  ndjson,
  OPENSSL_RULE_ID,
  OPENSSL_TP,
  scanAll,
  shippedRules,
  SSH_RULE_ID,
  SSH_TP,
  variant,
} from './helpers.js';
import type { Event } from '../../lambda/engine/index.js';

const rules = shippedRules();
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const alerts = (records: DetectionRecord[]): Alert[] => records.filter((r): r is Alert => r.kind === 'alert');

/** The ids of the rules alerting on a one-event input. */
async function alertingRules(event: Event, defaultIndex?: string): Promise<string[]> {
  const { records } = await scanAll(ndjson([event]), defaultIndex === undefined ? { rules } : { rules, defaultIndex });
  return alertLines(records).map(([rule]) => rule);
}

describe('scan: literals written with JSON escapes', () => {
  // Hand-written lines: every occurrence of the needles the prefilter searches ("openssl",
  // "bin/ssh") is spelled with an escape, so only the escape check can let them through.
  const OPENSSL_ESCAPED =
    '{"@timestamp":"2026-11-20T06:00:00.000Z","agent":{"type":"endpoint","version":"8.13.2"},' +
    '"data_stream":{"type":"logs","dataset":"endpoint.events.process","namespace":"default"},' +
    '"host":{"name":"web-01","os":{"type":"linux"}},"event":{"category":["process"],"type":["start"],"action":"exec"},' +
    '"process":{"name":"open\\u0073sl","executable":"\\/usr\\/bin\\/open\\u0073sl",' +
    '"args":["open\\u0073sl","s_client","-connect","203.0.113.7:443"],"parent":{"name":"bash","executable":"\\/usr\\/bin\\/bash"}}}';
  const SSH_ESCAPED =
    '{"@timestamp":"2026-11-20T06:00:01.000Z","agent":{"type":"endpoint","version":"8.13.2"},' +
    '"data_stream":{"type":"logs","dataset":"endpoint.events.file","namespace":"default"},' +
    '"host":{"name":"web-01","os":{"type":"linux"}},"event":{"category":["file"],"type":["change"],"action":"rename"},' +
    '"process":{"name":"sshd","executable":"\\/usr\\/sbin\\/sshd"},' +
    '"file":{"path":"\\/var\\/log\\/.sshd_auth.log","name":".sshd_auth.log"}}';

  it('the hand-written lines hold the needles only in escaped form', () => {
    const prepared = new PreparedRules(rules);
    expect(prepared.prefilter.enabled).toBe(true);
    for (const anchor of prepared.prefilter.anchors) {
      const needle = anchor.replace(/^~/, '');
      expect(OPENSSL_ESCAPED.toLowerCase()).not.toContain(needle);
      expect(SSH_ESCAPED.toLowerCase()).not.toContain(needle);
    }
    expect(JSON.parse(OPENSSL_ESCAPED).process.name).toBe('openssl');
    expect(JSON.parse(SSH_ESCAPED).process.executable).toBe('/usr/sbin/sshd');
  });

  it('alert with the prefilter on, as with it off', async () => {
    const text = ndjson([BENIGN(1), OPENSSL_ESCAPED, BENIGN(2), SSH_ESCAPED]);
    const on = await scanAll(text, { rules });
    expect(alertLines(on.records)).toEqual([
      [OPENSSL_RULE_ID, 2],
      [SSH_RULE_ID, 4],
    ]);
    // The prefilter was active: the benign lines were never parsed.
    expect(on.result.stats.prefiltered).toBe(2);
    expect(on.result.stats.events).toBe(2);
    expect(alerts(on.records)[0]!.document).toEqual(JSON.parse(OPENSSL_ESCAPED));
    const off = await scanAll(text, { rules, prefilter: false });
    expect(off.records).toEqual(on.records);
    expect(off.result.stats.prefiltered).toBe(0);
  });

  it('match case-insensitively where the rule does (":"), escaped or not, but not where it does not ("==")', async () => {
    const upperPath = SSH_ESCAPED.replace('\\/usr\\/sbin\\/sshd', '\\/USR\\/SBIN\\/SSHD');
    const upperUnescaped = SSH_ESCAPED.replace('\\/usr\\/sbin\\/sshd', '/USR/SBIN/SSH\\u0044');
    const upperName = OPENSSL_ESCAPED.replace('"name":"open\\u0073sl"', '"name":"OPEN\\u0053SL"');
    for (const prefilter of [true, false]) {
      const { records } = await scanAll(ndjson([upperPath, upperUnescaped, upperName]), { rules, prefilter });
      expect(alertLines(records)).toEqual([
        [SSH_RULE_ID, 1],
        [SSH_RULE_ID, 2],
      ]);
    }
  });
});

describe('scan: routing by index', () => {
  it('routes by data_stream: <type>-<dataset>-<namespace>', async () => {
    expect(await alertingRules(OPENSSL_TP())).toEqual([OPENSSL_RULE_ID]); // logs-endpoint.events.process-default
    expect(await alertingRules(SSH_TP())).toEqual([SSH_RULE_ID]); // logs-endpoint.events.file-default
    // Same events in data streams the rules do not cover.
    expect(await alertingRules(variant(OPENSSL_TP(), { 'data_stream.dataset': 'fim.event' }))).toEqual([]);
    expect(await alertingRules(variant(SSH_TP(), { 'data_stream.dataset': 'endpoint.events.process' }))).toEqual([]);
    expect(await alertingRules(variant(SSH_TP(), { 'data_stream.namespace': 'prod' }))).toEqual([SSH_RULE_ID]);
  });

  it('routes by <agent.type>-<agent.version> when there is no complete data_stream', async () => {
    const endgame = fixtureEvent('endgame-linux-exec-openssl');
    expect(await alertingRules(endgame)).toEqual([OPENSSL_RULE_ID]); // endgame-3.63.0
    expect(await alertingRules(variant(endgame, { 'agent.type': 'auditbeat' }))).toEqual([]);
    const auditbeat = fixtureEvent('auditbeat-fim-updated-sshd');
    expect(await alertingRules(auditbeat)).toEqual([SSH_RULE_ID]); // auditbeat-8.11.1
    expect(await alertingRules(variant(auditbeat, { 'agent.type': 'filebeat' }))).toEqual([]);
    // A Defend event without data_stream goes to the stream its event.dataset names
    // (Defend never writes endpoint-<version> indices); without event.dataset it is unrouted.
    expect(await alertingRules(variant(OPENSSL_TP(), { data_stream: undefined }))).toEqual([OPENSSL_RULE_ID]);
    expect(await alertingRules(variant(OPENSSL_TP(), { data_stream: undefined, 'event.dataset': 'endpoint.alerts' }))).toEqual([]);
    expect(await alertingRules(variant(OPENSSL_TP(), { data_stream: undefined, 'event.dataset': undefined }))).toEqual([OPENSSL_RULE_ID]);
    expect(await alertingRules(variant(OPENSSL_TP(), { data_stream: undefined, 'event.dataset': undefined }), 'auditbeat-default')).toEqual([]);
    // An incomplete data_stream falls back to the agent fields.
    expect(await alertingRules(variant(endgame, { data_stream: { type: 'logs', dataset: 'x' } }))).toEqual([OPENSSL_RULE_ID]);
  });

  it('applies every rule to unrouted events unless defaultIndex names their index', async () => {
    const unrouted = variant(OPENSSL_TP(), { agent: undefined, data_stream: undefined });
    const unroutedSsh = variant(SSH_TP(), { agent: undefined, data_stream: undefined });
    expect(await alertingRules(unrouted)).toEqual([OPENSSL_RULE_ID]);
    expect(await alertingRules(unroutedSsh)).toEqual([SSH_RULE_ID]);
    expect(await alertingRules(unrouted, 'auditbeat-default')).toEqual([]);
    expect(await alertingRules(unroutedSsh, 'auditbeat-default')).toEqual([SSH_RULE_ID]);
    expect(await alertingRules(unrouted, 'logs-endpoint.events.process-default')).toEqual([OPENSSL_RULE_ID]);
    expect(await alertingRules(unroutedSsh, 'logs-endpoint.events.process-default')).toEqual([]);
  });

  it('never lets defaultIndex override an event’s own index', async () => {
    expect(await alertingRules(OPENSSL_TP(), 'auditbeat-default')).toEqual([OPENSSL_RULE_ID]);
    expect(await alertingRules(fixtureEvent('auditbeat-fim-updated-sshd'), 'logs-endpoint.events.process-default')).toEqual([SSH_RULE_ID]);
  });

  it('routes each line of a mixed input on its own', async () => {
    const lines = [OPENSSL_TP(), variant(OPENSSL_TP(), { data_stream: undefined }), fixtureEvent('endgame-linux-exec-openssl'), variant(OPENSSL_TP(), { agent: undefined, data_stream: undefined })];
    const { records } = await scanAll(ndjson(lines), { rules, defaultIndex: 'endgame-default' });
    expect(alertLines(records)).toEqual([
      [OPENSSL_RULE_ID, 1],
      [OPENSSL_RULE_ID, 2],
      [OPENSSL_RULE_ID, 3],
      [OPENSSL_RULE_ID, 4],
    ]);
  });
});

describe('scan: overflow after max_signals', () => {
  const openssl = rules.find((r) => r.id === OPENSSL_RULE_ID)!;
  /** Five openssl true positives (lines 2, 4, 6, 8, 10) and one ssh one (line 11). */
  const text = ndjson([BENIGN(1), OPENSSL_TP(), BENIGN(2), OPENSSL_TP(), BENIGN(3), OPENSSL_TP(), BENIGN(4), OPENSSL_TP(), BENIGN(5), OPENSSL_TP(), SSH_TP()]);

  it('emits maxAlertsPerRule alerts, then one overflow record with the count, at the end', async () => {
    const { result, records, batches } = await scanAll(text, { rules, maxAlertsPerRule: 2 });
    expect(alertLines(records)).toEqual([
      [OPENSSL_RULE_ID, 2],
      [OPENSSL_RULE_ID, 4],
      [SSH_RULE_ID, 11],
    ]);
    const overflow = records.at(-1) as Overflow;
    expect(overflow).toEqual({
      kind: 'overflow',
      id: expect.stringMatching(/^[0-9a-f]{64}$/),
      rule: alerts(records)[0]!.rule,
      source: { file: 'test.ndjson', first_suppressed_line: 6 },
      count: 3,
    });
    // Its id is stable (a retried object repeats it, so subscribers can drop the copy) and no alert's.
    const again = (await scanAll(text, { rules, maxAlertsPerRule: 2 })).records.at(-1) as Overflow;
    expect(again.id).toBe(overflow.id);
    expect(alerts(records).map((a) => a.id)).not.toContain(overflow.id);
    const elsewhere = (await scanAll(text, { rules, maxAlertsPerRule: 2 }, fileRef('other.ndjson'))).records.at(-1) as Overflow;
    expect(elsewhere.id).not.toBe(overflow.id);
    // A different count (a scan stopped early) is a different record.
    const upToFirst = text.split('\n').slice(0, overflow.source.first_suppressed_line).join('\n') + '\n';
    const fewer = (await scanAll(upToFirst, { rules, maxAlertsPerRule: 2 })).records.at(-1) as Overflow;
    expect(fewer.kind).toBe('overflow');
    expect(fewer.source.first_suppressed_line).toBe(overflow.source.first_suppressed_line);
    expect(fewer.count).toBeLessThan(overflow.count);
    expect(fewer.id).not.toBe(overflow.id);
    // Standard input has nothing to pin its bytes: the id also hashes the first suppressed event.
    const stdin: SourceRef = { kind: 'file', file: '-', identity: 'stdin', hashEvents: true };
    const one = (await scanAll(text, { rules, maxAlertsPerRule: 2 }, stdin)).records.at(-1) as Overflow;
    const lines = text.split('\n');
    const at = one.source.first_suppressed_line - 1;
    lines[at] = lines[at]!.replace(/^\{/, '{"labels":{"run":2},');
    const other = (await scanAll(lines.join('\n'), { rules, maxAlertsPerRule: 2 }, stdin)).records.at(-1) as Overflow;
    expect(other.count).toBe(one.count);
    expect(other.id).not.toBe(one.id);
    expect(overflow.rule.id).toBe(OPENSSL_RULE_ID);
    expect(records.filter((r) => r.kind === 'overflow')).toHaveLength(1);
    expect(batches.at(-1)!.at(-1)).toBe(overflow);
    expect(result.stats.perRule.get(OPENSSL_RULE_ID)).toMatchObject({ alerts: 2, suppressed: 3 });
    expect(result.stats.perRule.get(SSH_RULE_ID)).toMatchObject({ alerts: 1, suppressed: 0 });
  });

  it('emits the overflow record after the last chunk, whichever chunk the suppressed matches were in', async () => {
    const { records, batches } = await scanAll(chunked(text + ndjson(Array.from({ length: 50 }, (_, i) => BENIGN(i))), 2000), { rules, maxAlertsPerRule: 2 });
    expect(batches.length).toBeGreaterThan(1);
    expect(records.map((r) => r.kind)).toEqual(['alert', 'alert', 'alert', 'overflow']);
    expect(batches.at(-1)).toEqual([records.at(-1)]);
  });

  it('emits no overflow record when a rule reaches its limit exactly', async () => {
    const { records } = await scanAll(ndjson([OPENSSL_TP(), OPENSSL_TP()]), { rules, maxAlertsPerRule: 2 });
    expect(records.map((r) => r.kind)).toEqual(['alert', 'alert']);
  });

  it('uses the rule’s max_signals by default, and maxAlertsPerRule overrides it', async () => {
    const toml = readFileSync(OPENSSL_RULE_FILE, 'utf8').replace('risk_score = 21', 'risk_score = 21\nmax_signals = 2');
    const limited = parseRule(toml, 'limited.toml');
    expect(limited.max_signals).toBe(2);
    expect(openssl.max_signals).toBe(100);
    const byDefault = await scanAll(text, { rules: [limited] });
    expect(byDefault.records.map((r) => r.kind)).toEqual(['alert', 'alert', 'overflow']);
    expect((byDefault.records[2] as Overflow).count).toBe(3);
    const overridden = await scanAll(text, { rules: [limited], maxAlertsPerRule: 4 });
    expect(overridden.records.map((r) => r.kind)).toEqual(['alert', 'alert', 'alert', 'alert', 'overflow']);
    expect((overridden.records[4] as Overflow).source).toEqual({ file: 'test.ndjson', first_suppressed_line: 10 });
    expect((overridden.records[4] as Overflow).count).toBe(1);
  });

  it('counts per object: each scan starts again', async () => {
    const prepared = new PreparedRules(rules);
    for (let i = 0; i < 2; i++) {
      const { records } = await scanAll(text, { rules, prepared, maxAlertsPerRule: 2 });
      expect(records.map((r) => r.kind)).toEqual(['alert', 'alert', 'alert', 'overflow']);
    }
  });

  it('names the S3 object (with version and etag) in the overflow record', async () => {
    const ref: SourceRef = { kind: 's3', bucket: 'logs', key: 'a/b.ndjson.gz', versionId: 'v7', etag: '"abc"' };
    const { records } = await scanAll(gzip(text), { rules, maxAlertsPerRule: 1 }, ref);
    expect(records.at(-1)).toMatchObject({
      kind: 'overflow',
      source: { bucket: 'logs', key: 'a/b.ndjson.gz', version_id: 'v7', etag: '"abc"', first_suppressed_line: 4 },
      count: 4,
    });
  });
});

describe('scan: deterministic alert ids', () => {
  const text = ndjson([BENIGN(1), OPENSSL_TP(), SSH_TP()]);
  const idsFor = async (ref: SourceRef, input: string | Buffer = text): Promise<string[]> => alerts((await scanAll(input, { rules }, ref)).records).map((a) => a.id);

  it('are sha-256 of rule id, source identity and line', async () => {
    const ids = await idsFor(fileRef('a.ndjson', 'file:/data/a.ndjson'));
    expect(ids).toEqual([sha256(`${OPENSSL_RULE_ID}\nfile:/data/a.ndjson\n2`), sha256(`${SSH_RULE_ID}\nfile:/data/a.ndjson\n3`)]);
  });

  it('are the same for the same object, however it is read', async () => {
    const ref = fileRef('a.ndjson', 'file:/data/a.ndjson');
    const ids = await idsFor(ref);
    expect(await idsFor(ref)).toEqual(ids);
    expect(await idsFor(ref, gzip(text))).toEqual(ids);
    expect(alerts((await scanAll(chunked(text, 5), { rules, prefilter: false }, ref)).records).map((a) => a.id)).toEqual(ids);
    // The displayed name does not matter; the identity does.
    expect(await idsFor(fileRef('other-label', 'file:/data/a.ndjson'))).toEqual(ids);
  });

  it('differ for a different file path (identity), rule or line', async () => {
    const a = await idsFor(fileRef('a.ndjson', 'file:/data/a.ndjson'));
    const b = await idsFor(fileRef('a.ndjson', 'file:/other/a.ndjson'));
    expect(b.some((id) => a.includes(id))).toBe(false);
    expect(new Set(a).size).toBe(2);
    const shifted = await idsFor(fileRef('a.ndjson', 'file:/data/a.ndjson'), ndjson([BENIGN(0)]) + text);
    expect(shifted.some((id) => a.includes(id))).toBe(false);
  });

  it('include the S3 version id and etag in the identity', async () => {
    const base = { kind: 's3', bucket: 'logs', key: 'k.ndjson' } as const;
    const plain = await idsFor(base);
    expect(plain[0]).toBe(sha256(`${OPENSSL_RULE_ID}\ns3://logs/k.ndjson?versionId=&etag=\n2`));
    const v1 = await idsFor({ ...base, versionId: 'v1' });
    const v2 = await idsFor({ ...base, versionId: 'v2' });
    const e1 = await idsFor({ ...base, etag: '"e1"' });
    const v1e1 = await idsFor({ ...base, versionId: 'v1', etag: '"e1"' });
    expect(v1e1[0]).toBe(sha256(`${OPENSSL_RULE_ID}\ns3://logs/k.ndjson?versionId=v1&etag="e1"\n2`));
    const all = [plain, v1, v2, e1, v1e1].map((ids) => ids[0]);
    expect(new Set(all).size).toBe(5);
    expect(await idsFor({ ...base, versionId: 'v1' })).toEqual(v1);
    expect(await idsFor({ ...base, bucket: 'other' })).not.toEqual(plain);
    // The same object under a file ref is a different identity.
    expect(await idsFor(fileRef('k.ndjson', 'file:/k.ndjson'))).not.toEqual(plain);
  });

  it('report the S3 location in the alert source (only the fields known)', async () => {
    const { records } = await scanAll(text, { rules }, { kind: 's3', bucket: 'logs', key: 'k.ndjson', versionId: 'v1' });
    expect(alerts(records)[0]!.source).toEqual({ line: 2, bucket: 'logs', key: 'k.ndjson', version_id: 'v1' });
    const withEtag = await scanAll(text, { rules }, { kind: 's3', bucket: 'logs', key: 'k.ndjson', etag: '"e"' });
    expect(alerts(withEtag.records)[1]!.source).toEqual({ line: 3, bucket: 'logs', key: 'k.ndjson', etag: '"e"' });
  });
});

describe('scan: a rule search cut short on hostile values', () => {
  it('counts the line as too_costly, and still alerts on the others', async () => {
    // As in Elastic's rule for bucket policies granting an external account: a script over a
    // long field and another that an event can make a huge array of distinct values.
    const rule = parseRule(
      ['[rule]', 'rule_id = "policy"', 'name = "policy"', 'risk_score = 21', 'severity = "low"', 'type = "eql"', `query = '''any where stringContains(request, account)'''`].join('\n'),
      'policy.toml',
    );
    const request = `${'x'.repeat(600_000)}123456789012`;
    const hostile = { request, account: [...Array.from({ length: 40_000 }, (_, i) => `a${i}`), '123456789012'] };
    const plain = { request, account: '123456789012' };
    const { result, records } = await scanAll(ndjson([plain, hostile, plain]), { rules: [rule] });
    expect(alertLines(records)).toEqual([
      ['policy', 1],
      ['policy', 3],
    ]);
    expect(result.stats.skipped.counts.too_long).toBe(0); // parsed and evaluated
    expect(result.stats.skipped.counts.too_costly).toBe(1);
    expect(result.stats.skipped.firstLines.too_costly).toEqual([2]);
  });
});
