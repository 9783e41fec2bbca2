import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alertRule, buildAlert, buildOverflow, sourceIdentity, type Alert, type SourceRef } from '../../lambda/alerts/document.js';
import type { Event } from '../../lambda/engine/index.js';
import { cleanSubject, MAX_MESSAGE_BYTES, toSnsMessage } from '../../lambda/publish/format.js';
import type { Rule } from '../../lambda/rules/model.js';
import { subjectProblem, type WireEntry } from '../support/fake-sns.js';
import { corpus, OPENSSL_RULE, shippedRules, SSH_RULE, type Doc } from '../support/logs.js';
import { queryRule } from '../rules/helpers.js';
import { expectWellFormed, fromSdkEntry, protocols, recordOf, type ChatbotNotification } from '../support/sns-messages.js';

const rules = shippedRules();
const rule = (name: string): Rule => rules.find((r) => r.name === name)!;
const REF: SourceRef = { kind: 's3', bucket: 'logs', key: 'edr/2026/11/20/host é.ndjson.gz', versionId: 'v1', etag: 'abc' };
const NOW = new Date('2026-11-20T07:00:00.000Z');

function alertFor(doc: Doc, ruleName = OPENSSL_RULE, line = 42): Alert {
  const r = rule(ruleName);
  return buildAlert(r, alertRule(r), REF, sourceIdentity(REF), line, doc as Event, NOW);
}

function entryFor(record: Parameters<typeof toSnsMessage>[0]): WireEntry {
  return fromSdkEntry({ Id: 'e0', ...toSnsMessage(record) });
}

describe('toSnsMessage', () => {
  const c = corpus(7);

  it('builds a well-formed message for every protocol from an alert', () => {
    const doc = c.openssl();
    const alert = alertFor(doc);
    const entry = entryFor(alert);
    const record = expectWellFormed(entry);
    expect(record).toEqual(JSON.parse(JSON.stringify(alert)));

    const p = protocols(entry);
    const chat = JSON.parse(p.https) as ChatbotNotification;
    expect(chat.content.title).toBe(`:rotating_light: [low] ${OPENSSL_RULE} on \`${String(doc.host!.name)}\``);
    expect(chat.content.description.startsWith(`\`${alert.reason}\``)).toBe(true);
    expect(chat.metadata.threadId).toBe(`${alert.rule.id}:${String(doc.host!.name)}`);
    expect(chat.metadata.additionalContext).toEqual({ alert_id: alert.id, rule: OPENSSL_RULE, rule_id: alert.rule.id, host: doc.host!.name, severity: 'low' });
    expect(entry.subject).toBe(`[low] ${OPENSSL_RULE} on ${String(doc.host!.name)}`);

    // The email is the readable summary: one field per line.
    const email = p.email.split('\n');
    expect(email[0]).toMatch(new RegExp(`^Rule {7}${OPENSSL_RULE} \\(${alert.rule.id}, version \\d+\\)$`));
    expect(email).toContain('Severity   low (risk score 21)');
    expect(email).toContain(`Host       ${String(doc.host!.name)}`);
    expect(email).toContain(`Process    /usr/bin/openssl`);
    expect(email).toContain(`Source     s3://logs/edr/2026/11/20/host é.ndjson.gz (version v1), line 42`);
    expect(email).toContain('MITRE      Execution (TA0002) / Command and Scripting Interpreter (T1059)');
    expect(email.at(-1)).toBe(`Alert id   ${alert.id}`);
  });

  it('marks the alerts of a building-block rule, in the alert and as an SNS attribute for filter policies', () => {
    const r = queryRule('bb-1', 'process where process.name == "openssl"', 'building_block_type = "default"');
    expect(r.building_block_type).toBe('default');
    const alert = buildAlert(r, alertRule(r), REF, sourceIdentity(REF), 3, c.openssl() as Event, NOW);
    expect(alert.rule.building_block_type).toBe('default');
    const entry = entryFor(alert);
    expect(recordOf(entry)).toEqual(JSON.parse(JSON.stringify(alert)));
    expect(entry.attributes.building_block).toEqual({ dataType: 'String', stringValue: 'default' });
    // Other rules' alerts carry neither.
    const plain = alertFor(c.openssl());
    expect('building_block_type' in plain.rule).toBe(false);
    expect(entryFor(plain).attributes.building_block).toBeUndefined();
  });

  it('builds a well-formed overflow message', () => {
    const r = rule(SSH_RULE);
    const overflow = buildOverflow(alertRule(r), REF, 17, 3);
    const entry = entryFor(overflow);
    expect(expectWellFormed(entry)).toEqual(overflow);
    expect(entry.subject).toBe(`[low] ${SSH_RULE}: 3 more matches suppressed`);
    expect(entry.attributes.host).toBeUndefined();
    const chat = JSON.parse(protocols(entry).https) as ChatbotNotification;
    expect(chat.metadata.additionalContext).toEqual({ rule: SSH_RULE, rule_id: r.id, count: '3' });
  });

  it('keeps the subject valid with a hostile host.name (line breaks, tabs, 1000 characters)', () => {
    const doc = c.openssl();
    doc.host = { ...(doc.host as object), name: `evil\nhost\r\n\twith\u0000\u0007\u0085\u2028breaks ${'x'.repeat(1000)}` };
    const entry = entryFor(alertFor(doc));
    expectWellFormed(entry);
    expect([...entry.subject!].length).toBeLessThanOrEqual(99);
    expect(entry.subject).toMatch(/^\[low\] Openssl Client or Server Activity on evil host\?? with\?? breaks x+\.\.\.$/);
    // the attribute keeps the host (bounded), the document keeps it whole
    expect(entry.attributes.host!.stringValue!.length).toBe(1024);
    expect((recordOf(entry) as Alert).document).toEqual(JSON.parse(JSON.stringify(doc)));
  });

  it('shows bidirectional overrides as escapes in the chat title and summary too, and never cuts a character in two in chat details', () => {
    const doc = c.openssl();
    doc.host = { ...(doc.host as object), name: 'web-01\u202Eexe.txt' };
    const entry = entryFor(alertFor(doc));
    const chat = JSON.parse(protocols(entry).https) as ChatbotNotification;
    for (const text of [chat.content.title, chat.metadata.summary]) {
      expect(text).not.toContain('\u202E');
      expect(text).toContain('`web-01\\u202eexe.txt`');
    }
    expect(entry.subject).toBe(`[low] ${OPENSSL_RULE} on web-01?exe.txt`);

    const emoji = c.openssl();
    emoji.host = { ...(emoji.host as object), name: `${'a'.repeat(299)}😀${'b'.repeat(80)}` };
    const chat2 = JSON.parse(protocols(entryFor(alertFor(emoji))).https) as ChatbotNotification;
    const text = JSON.stringify(chat2);
    expect(text).not.toMatch(/\\ud83d(?!\\ude00)/i); // no lone high surrogate left by a cut
    expect(chat2.content.description).toContain(`*Host:* \`${'a'.repeat(299)}…\``);
    expect(chat2.content.title).toMatch(/ on `a{63}…`$/);
  });

  it('keeps the subject valid for any host name', () => {
    const r = rule(OPENSSL_RULE);
    const doc = c.openssl();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (host) => {
        const d = { ...doc, host: { name: host } };
        const message = toSnsMessage(buildAlert(r, alertRule(r), REF, 'id', 1, d as Event, NOW));
        expect(subjectProblem(message.Subject)).toBeUndefined();
        expect(message.Subject.length).toBeLessThanOrEqual(99); // UTF-16 units, so code points too
        expect(JSON.parse(message.Message)).toHaveProperty('default');
      }),
      { numRuns: 150 },
    );
  });

  it('never returns an empty subject', () => {
    expect(cleanSubject('\n\t \u0000')).toBe('eqlambda alert');
    expect(cleanSubject('  ok  ')).toBe('ok');
    expect(cleanSubject('x'.repeat(200))).toBe(`${'x'.repeat(96)}...`);
  });

  it('is printable ASCII (SNS validation refuses other subjects; the body carries the text in full): accents dropped, other characters ?', () => {
    expect(cleanSubject('[high] Règle on büro-pc')).toBe('[high] Regle on buro-pc');
    expect(cleanSubject('on 日本 '.repeat(80))).toMatch(/^on \? on \?.*\.\.\.$/);
    expect(cleanSubject('🔥'.repeat(99))).toBe('?');
    expect(cleanSubject('web-01\u202Eexe.txt\u2028x')).toBe('web-01?exe.txt x');
    expect(cleanSubject('a\ud800b')).toBe('a?b');
    for (const s of [cleanSubject('é'.repeat(300)), cleanSubject('\u0301'.repeat(300) + 'x')]) expect(s).toMatch(/^[\x20-\x7e]{1,99}$/);
  });

  it('carries documents whole up to near the limit: one copy of the alert JSON, for every protocol without its own key', () => {
    for (const length of [70_000, 200_000]) {
      const doc = c.openssl();
      doc.process = { ...doc.process, command_line: `openssl s_client -connect 203.0.113.7:4443 ${'A'.repeat(length)}` };
      const alert = alertFor(doc);
      const record = expectWellFormed(entryFor(alert)) as Alert;
      expect(record.truncated, `${length}`).toBeUndefined();
      expect(record.document).toEqual(alert.document);
    }
  });

  it('trims an oversized document (1 MB command line) and keeps the alert fields whole', () => {
    const doc = c.openssl();
    doc.process = { ...doc.process, command_line: `openssl s_client -connect 203.0.113.7:4443 ${'A'.repeat(1_000_000)}` };
    const alert = alertFor(doc);
    const entry = entryFor(alert);
    expect(Buffer.byteLength(entry.message)).toBeLessThan(MAX_MESSAGE_BYTES);
    const record = expectWellFormed(entry) as Alert;
    expect(record.truncated).toBe(true);
    expect(record.id).toBe(alert.id);
    expect(record.rule).toEqual(alert.rule);
    expect(record.reason).toBe(alert.reason);
    expect(record.source).toEqual(alert.source);
    expect(record['@timestamp']).toBe(alert['@timestamp']);
    const trimmed = (record.document as { process: { command_line: string; name: string } }).process;
    expect(trimmed.command_line.length).toBeLessThan(200_000);
    expect(trimmed.command_line).toMatch(/^openssl s_client -connect 203\.0\.113\.7:4443 A+…\[truncated\]$/);
    expect(trimmed.name).toBe('openssl');
    expect(protocols(entry).email).toContain('The event document was trimmed to fit the message size limit.');
  });

  it('trims the alerts of a line that several rules matched alike: each as a search of its own would', () => {
    // The second alert starts from the first's cut (the document is shared); rules with longer
    // names leave less room, so the cut must be searched again there, and is.
    const doc = c.openssl();
    doc.process = { ...doc.process, command_line: `openssl ${'A'.repeat(600_000)}`, args: Array.from({ length: 5000 }, (_, i) => `arg-${i}-${'b'.repeat(40)}`) };
    const long = { ...rule(OPENSSL_RULE), name: `${OPENSSL_RULE} ${'N'.repeat(200)}`, description: 'd'.repeat(4000) };
    const alerts = [alertFor(doc), alertFor(doc, SSH_RULE), buildAlert(long, alertRule(long), REF, sourceIdentity(REF), 42, doc, NOW), alertFor(doc)];
    const shared = alerts.map((a) => toSnsMessage(a).Message);
    const fresh = alerts.map((a) => toSnsMessage({ ...a, document: structuredClone(a.document) }).Message);
    expect(shared).toEqual(fresh);
    for (const m of shared) expect(Buffer.byteLength(m)).toBeLessThan(MAX_MESSAGE_BYTES);
  });

  it('finds the same cut from a previous alert’s as from scratch, for any document and rule names (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100_000, max: 900_000 }),
        fc.integer({ min: 0, max: 8000 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 2, maxLength: 4 }),
        (commandLine, args, argLength, nameLengths) => {
          const doc = c.openssl();
          doc.process = { ...doc.process, command_line: 'c'.repeat(commandLine), args: Array.from({ length: args }, (_, i) => `${i}`.padEnd(argLength, 'a')) };
          const alerts = nameLengths.map((n) => {
            const r = { ...rule(OPENSSL_RULE), name: `${OPENSSL_RULE} ${'N'.repeat(n)}` };
            return buildAlert(r, alertRule(r), REF, sourceIdentity(REF), 42, doc, NOW);
          });
          const shared = alerts.map((a) => toSnsMessage(a).Message);
          const fresh = alerts.map((a) => toSnsMessage({ ...a, document: structuredClone(a.document) }).Message);
          expect(shared).toEqual(fresh);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('trims a document too wide to send (60,000 keys) by keeping its first keys, not by dropping it', () => {
    const doc = c.openssl() as Record<string, unknown>;
    const labels: Record<string, string> = JSON.parse('{"__proto__": "kept as a key"}');
    for (let i = 0; i < 60_000; i++) labels[`k${i}`] = 'v'.repeat(8);
    doc.labels = labels;
    const entry = entryFor(alertFor(doc));
    expect(Buffer.byteLength(entry.message)).toBeLessThan(MAX_MESSAGE_BYTES);
    const record = expectWellFormed(entry) as Alert;
    expect(record.truncated).toBe(true);
    const kept = (record.document as { labels: Record<string, unknown> }).labels;
    const names = Object.keys(kept);
    expect(names[0]).toBe('__proto__');
    expect(names[1]).toBe('k0');
    expect(names.length).toBeGreaterThan(1000); // as many as fit, not the 32 kept at the hardest cut
    expect(kept['…[truncated keys]']).toBe(60_001 - (names.length - 1));
    expect((record.document as { process: { name: string } }).process.name).toBe('openssl');
  });

  it('keeps a trimmed document when cutting its many short strings would only lengthen them', () => {
    // 3,072 one-letter values: cut to nothing, each would grow into the "…[truncated]" marker.
    const doc = c.openssl() as Record<string, unknown>;
    (doc.process as Record<string, unknown>).command_line = `openssl ${'A'.repeat(1_000_000)}`;
    const keysTo = (n: number, value: () => unknown): Record<string, unknown> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value()]));
    doc.labels = keysTo(32, () => keysTo(32, () => keysTo(3, () => 'v')));
    const entry = entryFor(alertFor(doc));
    expect(Buffer.byteLength(entry.message)).toBeLessThan(MAX_MESSAGE_BYTES);
    const record = expectWellFormed(entry) as Alert;
    expect(record.truncated).toBe(true);
    const kept = record.document as { process: { command_line: string }; labels: Record<string, Record<string, Record<string, string>>> };
    expect(kept.labels.k31!.k31).toEqual({ k0: 'v', k1: 'v', k2: 'v' });
    expect(kept.process.command_line.length).toBeGreaterThan(1_000);
    expect(kept.process.command_line).toMatch(/^openssl A+…\[truncated\]$/);
  });

  it('never lengthens what it cuts, so a document that can fit is trimmed, not removed', () => {
    const keptAfterTrim = (doc: Record<string, unknown>): Record<string, unknown> => {
      const entry = entryFor(alertFor(doc));
      expect(Buffer.byteLength(entry.message)).toBeLessThan(MAX_MESSAGE_BYTES);
      const record = expectWellFormed(entry) as Alert;
      expect(record.truncated).toBe(true);
      expect(record.document).not.toHaveProperty('note');
      return record.document as Record<string, unknown>;
    };
    const groups = (perGroup: number, leaf: () => unknown): Record<string, unknown> =>
      Object.fromEntries(Array.from({ length: 32 }, (_, g) => [`g${g}`, Object.fromEntries(Array.from({ length: perGroup }, (_, k) => [`k${k}`, leaf()]))]));
    // 3 × 32 × 24 strings of 13 characters: "cut" to the 14-byte marker, each would grow by a byte.
    const strings = c.openssl() as Record<string, unknown>;
    (strings.process as Record<string, unknown>).command_line = `openssl ${'A'.repeat(1_000_000)}`;
    strings.labels = { a: groups(24, () => 'abcdefghijklm'), b: groups(24, () => 'abcdefghijklm'), c: groups(24, () => 'abcdefghijklm') };
    expect(((keptAfterTrim(strings).labels as Record<string, Record<string, Record<string, string>>>).a!.g0!).k0).toBe('abcdefghijklm');
    // 3 × 32 objects of 33 keys: dropping one key for a "…[truncated keys]" entry would lengthen each.
    const objects = c.openssl() as Record<string, unknown>;
    (objects.process as Record<string, unknown>).command_line = `openssl ${'A'.repeat(1_000_000)}`;
    objects.labels = { a: groups(33, () => 0), b: groups(33, () => 0), c: groups(33, () => 0), ['K'.repeat(28_000)]: 1 }; // a key is never cut
    expect(Object.keys((keptAfterTrim(objects).labels as Record<string, Record<string, object>>).a!.g0!)).toHaveLength(33);
  });

  it('never cuts a surrogate pair in half (a lone half is not text, and would make a smaller cut larger)', () => {
    const doc = c.openssl() as Record<string, unknown>;
    doc.labels = Object.fromEntries(Array.from({ length: 31 }, (_, g) => [`g${g}`, Object.fromEntries(Array.from({ length: 32 }, (_, k) => [`k${k}`, '😀'.repeat(200)]))]));
    // Sized so that one emoji per string fits, but half of one (escaped as 7 bytes) would not.
    doc[`x${'y'.repeat(28_500)}`] = 1;
    const entry = entryFor(alertFor(doc));
    expect(Buffer.byteLength(entry.message)).toBeLessThan(MAX_MESSAGE_BYTES);
    expect(entry.message).not.toMatch(/\\u[dD][89abAB]/); // no escaped lone high surrogate
    const record = expectWellFormed(entry) as Alert;
    const value = ((record.document as { labels: Record<string, Record<string, string>> }).labels.g0!).k0!;
    expect(value).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/); // no lone surrogate
    // The largest cut that fits keeps a few whole emoji, not just the marker.
    expect(value).toMatch(/^(😀)+…\[truncated\]$/);
  });

  it('does not mark a document that fits as truncated', () => {
    const record = recordOf(entryFor(alertFor(c.openssl()))) as Alert;
    expect(record.truncated).toBeUndefined();
  });

  // Regression test for a fixed bug (lambda/publish/format.ts). It was: only the document is trimmed, but the fields the
  // reason is built from (host.name, user.name, process.name, process.parent.name,
  // file.name) are repeated whole in `reason` (x4 bodies), the email (Host + Reason),
  // and the Chatbot description/threadId/nextSteps/additionalContext. A 50 KB host.name
  // gives a ~500 KB message, which SNS rejects, so the alert (and its batch) is never
  // delivered and the invocation fails on every retry.
  it('keeps the message under 256 KiB when a reason field (host.name) is huge', () => {
    const doc = c.openssl();
    doc.host = { ...(doc.host as object), name: `host-${'h'.repeat(50_000)}` };
    const entry = entryFor(alertFor(doc));
    expect(Buffer.byteLength(entry.message)).toBeLessThan(MAX_MESSAGE_BYTES);
  });
});

describe('event values cannot inject into the readable texts', () => {
  const c = corpus(8);
  const hostile = (): Doc => {
    const doc = c.openssl();
    doc.host = { ...(doc.host as object), name: 'web-01 <!channel> @here [Click](https://evil.example)' };
    (doc.process as Record<string, unknown>).command_line = 'openssl s_client` *URGENT:* <https://evil.example|Open runbook> ``\nSeverity   informational (risk score 0)\r\nReason     scheduled';
    return doc;
  };

  it('email and chat: bidirectional overrides in values are shown as escapes, not applied', () => {
    const doc = c.openssl();
    (doc.process as Record<string, unknown>).executable = '/tmp/a\u202eexe.txt';
    const entry = entryFor(alertFor(doc));
    expect(protocols(entry).email).toContain('Process    /tmp/a\\u202eexe.txt');
    expect(protocols(entry).https).not.toContain('\u202e');
  });

  it('email: a value stays on its own line (no forged Severity or Reason line)', () => {
    const email = protocols(entryFor(alertFor(hostile()))).email;
    expect(email.split('\n').filter((l) => l.startsWith('Severity'))).toEqual(['Severity   low (risk score 21)']);
    expect(email.split('\n').filter((l) => l.startsWith('Reason'))).toHaveLength(1);
    expect(email).toContain('Command    openssl s_client` *URGENT:* <https://evil.example|Open runbook> ``\\nSeverity   informational (risk score 0)\\r\\nReason     scheduled');
  });

  it('chat: no mention, link or code-span break-out from a value, in the title, the description or the next steps', () => {
    const chat = JSON.parse(protocols(entryFor(alertFor(hostile()))).https) as ChatbotNotification;
    const texts = [chat.content.title, chat.content.description, ...(chat.content as { nextSteps: string[] }).nextSteps, chat.metadata.summary];
    for (const text of texts) {
      expect(text).not.toMatch(/<!|<https?:|\]\(|@here/);
    }
    // Each detail is one code span: a backtick in the value cannot end it.
    const command = chat.content.description.split('\n').find((l) => l.startsWith('*Command:*'))!;
    expect(command.match(/`/g)).toHaveLength(2);
    expect(chat.content.description.split('\n').some((l) => l.startsWith('Severity'))).toBe(false);
    expect(chat.content.title).toBe(':rotating_light: [low] Openssl Client or Server Activity on `web-01 ‹!channel› ＠here ［Click］(https://evil.example)`');
    // Values sit in code spans, where no client styles text or links a bare URL.
    expect(chat.content.description.split('\n')[0]).toMatch(/^`process event with process openssl, .* on web-01 ‹!channel› ＠here ［Click］\(https:\/\/evil\.example\) created low alert Openssl Client or Server Activity\.`$/);
    expect((chat.content as { nextSteps: string[] }).nextSteps[0]).toMatch(/ on `web-01 ‹!channel›.*`$/);
  });
});

describe('an alert named from the event (rule_name_override)', () => {
  const named = queryRule('id-named', 'process where process.name == "evil"', 'rule_name_override = "message"');
  const alertNamed = (message: string): Alert =>
    buildAlert(named, alertRule(named), REF, sourceIdentity(REF), 7, { event: { category: 'process' }, process: { name: 'evil' }, host: { name: 'web-01' }, message } as Event, NOW);

  it('keeps a long name from pushing the message past the SNS limit: cut to 256 characters, the document whole', () => {
    const alert = alertNamed('x'.repeat(100_000));
    expect(alert.rule.name).toBe(`${'x'.repeat(255)}…`);
    const entry = entryFor(alert);
    expect(Buffer.byteLength(entry.message)).toBeLessThan(MAX_MESSAGE_BYTES);
    expect((recordOf(entry) as Alert).document.message).toHaveLength(100_000);
    // Not half a surrogate pair at the cut, and lone surrogates replaced.
    expect(alertNamed(`${'x'.repeat(254)}😀${'y'.repeat(10)}`).rule.name).toBe(`${'x'.repeat(254)}…`);
    expect(alertNamed('a\ud800b').rule.name).toBe('a\ufffdb');
  });

  it('shows the name in chat as it shows event values: no mention, link or line break gets through', () => {
    const alert = alertNamed('Hi <!channel> <https://evil.example|click here> [x](https://evil.example) `\nSeverity: critical');
    const chat = JSON.parse(protocols(entryFor(alert)).https) as ChatbotNotification & { content: { nextSteps: string[] }; metadata: { additionalContext: Record<string, string> } };
    for (const text of [chat.content.title, chat.content.nextSteps[0]!, chat.metadata.additionalContext.rule!, chat.metadata.summary]) {
      expect(text).not.toMatch(/[<>\n]|\]\(/); // no Slack mention or link, no Teams link, no line break
    }
    expect(chat.content.title).toContain('Hi ‹!channel› ‹https://evil.example|click here› ［x］(https://evil.example) ˋ\\nSeverity: critical');
    const email = protocols(entryFor(alert)).email;
    expect(email.split('\n').filter((l) => l.startsWith('Severity'))).toEqual(['Severity   low (risk score 21)']);
  });
});
