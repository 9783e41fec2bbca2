/**
 * Both shipped rules end to end over the bundled examples/: the exact alert set (rule,
 * file, line), nothing else, Elastic's reason sentences, the alert document shape, and
 * deterministic ids.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Alert, DetectionRecord } from '../../lambda/alerts/document.js';
import { PreparedRules } from '../../lambda/scan/pipeline.js';
import { openFileSource } from '../../lambda/sources/file.js';
import { EXAMPLES_DIR, fileRef, OPENSSL_RULE_ID, scanAll, shippedRules, SSH_RULE_ID, type Scanned } from './helpers.js';

const rules = shippedRules();
const prepared = new PreparedRules(rules);

const FILES = ['auditbeat-fim.ndjson.gz', 'defend-linux-2026-11-20.ndjson.gz', 'endgame-linux.ndjson', 'sentinelone-cloud-funnel.ndjson.gz'];

const OPENSSL_NAME = 'Openssl Client or Server Activity';
const SSH_NAME = 'Potential OpenSSH Backdoor Logging Activity';

/** Every true positive in examples/ (see scripts/generate-examples.mjs), with Elastic's reason sentence. */
const EXPECTED = [
  {
    file: 'auditbeat-fim.ndjson.gz',
    line: 418,
    rule: SSH_RULE_ID,
    reason: `file event with process sshd, file .ssh_keys.h, on build-07 created low alert ${SSH_NAME}.`,
  },
  {
    file: 'defend-linux-2026-11-20.ndjson.gz',
    line: 1235,
    rule: OPENSSL_RULE_ID,
    reason: `process event with process openssl, parent process run.sh, by www-data on jump-02 created low alert ${OPENSSL_NAME}.`,
  },
  {
    file: 'defend-linux-2026-11-20.ndjson.gz',
    line: 3457,
    rule: SSH_RULE_ID,
    reason: `file event with process sshd, file libkeyutils.so.1.9, by root on web-01 created low alert ${SSH_NAME}.`,
  },
  {
    file: 'defend-linux-2026-11-20.ndjson.gz',
    line: 5001,
    rule: OPENSSL_RULE_ID,
    reason: `process event with process openssl, parent process bash, by deploy on bastion created low alert ${OPENSSL_NAME}.`,
  },
  {
    file: 'endgame-linux.ndjson',
    line: 124,
    rule: OPENSSL_RULE_ID,
    reason: `process event with process openssl, parent process sh, by root on mail-01 created low alert ${OPENSSL_NAME}.`,
  },
  {
    file: 'sentinelone-cloud-funnel.ndjson.gz',
    line: 251,
    rule: SSH_RULE_ID,
    reason: `file event with process sshd, file .sshd_log.gz, on web-01 created low alert ${SSH_NAME}.`,
  },
];

/** The decompressed lines of an example file. */
function exampleLines(file: string): string[] {
  const bytes = readFileSync(join(EXAMPLES_DIR, file));
  return (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8').split('\n');
}

async function scanExamples(): Promise<Map<string, Scanned>> {
  const out = new Map<string, Scanned>();
  for (const file of FILES) {
    const path = join(EXAMPLES_DIR, file);
    out.set(file, await scanAll(await openFileSource(path), { rules, prepared }, fileRef(file, `file:${resolve(path)}`)));
  }
  return out;
}

const alertsOf = (scans: Map<string, Scanned>): Alert[] => [...scans.values()].flatMap((s) => s.records.filter((r): r is Alert => r.kind === 'alert'));

let first: Map<string, Scanned>;
let second: Map<string, Scanned>;
beforeAll(async () => {
  first = await scanExamples();
  second = await scanExamples();
});

describe('scan: the bundled examples with both shipped rules', () => {
  it('finds exactly the six true positives (rule, file, line) and no other record', () => {
    const all: DetectionRecord[] = [...first.values()].flatMap((s) => s.records);
    expect(all.every((r) => r.kind === 'alert')).toBe(true);
    const found = alertsOf(first).map((a) => ({ file: 'file' in a.source ? a.source.file : '?', line: a.source.line, rule: a.rule.id }));
    expect(found).toEqual(EXPECTED.map(({ file, line, rule }) => ({ file, line, rule })));
  });

  it('scans every file completely and without errors', () => {
    const expectedLines: Record<string, number> = {};
    for (const file of FILES) expectedLines[file] = exampleLines(file).filter((l) => l !== '').length;
    for (const [file, { result }] of first) {
      expect(result.error, file).toBeUndefined();
      expect(result.stoppedAtLine, file).toBeUndefined();
      expect(result.stats.lines, file).toBe(expectedLines[file]);
      expect(result.stats.skipped.total, file).toBe(0);
      // Every line is either parsed or proven by the prefilter not to match.
      expect(result.stats.events + result.stats.prefiltered, file).toBe(result.stats.lines);
      expect(result.stats.decode.compressed, file).toBe(file.endsWith('.gz'));
    }
    expect(first.get('defend-linux-2026-11-20.ndjson.gz')!.result.stats.lines).toBe(6003);
  });

  it('counts alerts per rule in the stats', () => {
    const defend = first.get('defend-linux-2026-11-20.ndjson.gz')!.result.stats.perRule;
    expect(defend.get(OPENSSL_RULE_ID)).toMatchObject({ alerts: 2, suppressed: 0 });
    expect(defend.get(SSH_RULE_ID)).toMatchObject({ alerts: 1, suppressed: 0 });
    expect(first.get('endgame-linux.ndjson')!.result.stats.perRule.get(SSH_RULE_ID)).toBeUndefined();
  });

  it('gives each alert Elastic’s reason sentence', () => {
    expect(alertsOf(first).map((a) => a.reason)).toEqual(EXPECTED.map((e) => e.reason));
  });

  it('builds alert documents of the documented shape', () => {
    const byId = new Map(rules.map((r) => [r.id, r]));
    for (const alert of alertsOf(first)) {
      expect(Object.keys(alert).sort()).toEqual(['@timestamp', 'document', 'id', 'kind', 'reason', 'rule', 'source']);
      expect(alert.kind).toBe('alert');
      expect(alert.id).toMatch(/^[0-9a-f]{64}$/);
      expect(alert['@timestamp']).toBe('2026-11-21T00:00:00.000Z');
      expect(new Date(alert['@timestamp']).toISOString()).toBe(alert['@timestamp']);

      const rule = byId.get(alert.rule.id)!;
      expect(alert.rule).toEqual({
        id: rule.id,
        name: rule.name,
        version: rule.version,
        severity: rule.severity,
        risk_score: rule.risk_score,
        tags: rule.tags,
        references: rule.references,
        threat: rule.threat,
      });

      const file = 'file' in alert.source ? alert.source.file : '';
      expect(alert.source).toEqual({ line: alert.source.line, file });
      // The document is the event on that line, as parsed.
      expect(alert.document).toEqual(JSON.parse(exampleLines(file)[alert.source.line - 1]!));
    }
  });

  it('carries the rules’ metadata: names, versions, severity, risk score and MITRE threat', () => {
    const [ssh, openssl] = [alertsOf(first)[0]!.rule, alertsOf(first)[1]!.rule];
    expect(openssl).toMatchObject({ id: OPENSSL_RULE_ID, name: OPENSSL_NAME, version: 2, severity: 'low', risk_score: 21 });
    expect(openssl.references).toEqual(['https://gtfobins.github.io/gtfobins/openssl/']);
    expect(openssl.tags).toContain('Tactic: Execution');
    expect(openssl.threat.map((t) => t.tactic.id)).toEqual(['TA0002', 'TA0011']);
    expect(openssl.threat[0]!.technique![0]!.subtechnique![0]!.id).toBe('T1059.004');
    expect(ssh).toMatchObject({ id: SSH_RULE_ID, name: SSH_NAME, version: 211, severity: 'low', risk_score: 21 });
    expect(ssh.threat.map((t) => t.technique?.map((x) => x.id))).toEqual([['T1556'], ['T1554']]);
  });

  it('gives deterministic ids: sha-256 of rule id, source identity and line, equal across runs', () => {
    const ids = alertsOf(first).map((a) => a.id);
    expect(alertsOf(second).map((a) => a.id)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const alert of alertsOf(first)) {
      const file = 'file' in alert.source ? alert.source.file : '';
      const identity = `file:${resolve(join(EXAMPLES_DIR, file))}`;
      const expected = createHash('sha256').update(`${alert.rule.id}\n${identity}\n${alert.source.line}`).digest('hex');
      expect(alert.id).toBe(expected);
    }
  });

  it('gives identical records on a second run (with a fixed clock)', () => {
    for (const file of FILES) expect(second.get(file)!.records).toEqual(first.get(file)!.records);
  });
});
