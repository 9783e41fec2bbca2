/**
 * Checks that an SNS message built for a detection record is well formed for every
 * subscriber protocol, and returns the record it carries.
 */
import type { PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import { expect } from 'vitest';
import type { Alert, DetectionRecord, Overflow } from '../../lambda/alerts/document.js';
import { FieldPath } from '../../lambda/engine/fields.js';
import { chatLookalikes, cleanSubject, oneLine, wellFormed } from '../../lambda/publish/format.js';
import { snsPayloadBytes, subjectProblem, type WireEntry } from './fake-sns.js';

const firstHost = (doc: object): unknown => FieldPath.of('host.name').values(doc)[0];
// eslint-disable-next-line no-control-regex -- looking for control characters is the point
const UNPRINTABLE_IN_TEXT = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

export const SNS_LIMIT = 256 * 1024;

/** A PublishBatch entry as the SDK was asked to send it, in the fake's wire shape. */
export function fromSdkEntry(e: PublishBatchRequestEntry): WireEntry {
  const out: WireEntry = { id: e.Id ?? '', message: e.Message ?? '', attributes: {} };
  if (e.Subject !== undefined) out.subject = e.Subject;
  if (e.MessageStructure !== undefined) out.messageStructure = e.MessageStructure;
  for (const [name, v] of Object.entries(e.MessageAttributes ?? {})) {
    out.attributes[name] = v.StringValue === undefined ? { dataType: v.DataType ?? '' } : { dataType: v.DataType ?? '', stringValue: v.StringValue };
  }
  return out;
}

export interface Protocols {
  default: string;
  email: string;
  https: string;
}

export interface ChatbotNotification {
  version: string;
  source: string;
  id?: string;
  content: { textType: string; title: string; description: string; nextSteps?: string[]; keywords?: string[] };
  metadata: { threadId: string; summary: string; eventType: string; additionalContext: Record<string, string> };
}

export function protocols(entry: WireEntry): Protocols {
  return JSON.parse(entry.message) as Protocols;
}

/** The detection record an entry carries (its `default` body). */
export function recordOf(entry: WireEntry): DetectionRecord {
  return JSON.parse(protocols(entry).default) as DetectionRecord;
}

export function alertsOf(entries: WireEntry[]): Alert[] {
  return entries.map(recordOf).filter((r): r is Alert => r.kind === 'alert');
}

export function overflowsOf(entries: WireEntry[]): Overflow[] {
  return entries.map(recordOf).filter((r): r is Overflow => r.kind === 'overflow');
}

/** Asserts every protocol body, the subject, the attributes and the size; returns the record. */
export function expectWellFormed(entry: WireEntry): DetectionRecord {
  expect(entry.messageStructure).toBe('json');
  expect(snsPayloadBytes(entry)).toBeLessThan(SNS_LIMIT);
  expect(entry.subject).toBeDefined();
  expect(subjectProblem(entry.subject!)).toBeUndefined();

  const body = JSON.parse(entry.message) as Record<string, unknown>;
  // One copy of the alert JSON, as default: SNS sends it to sqs, lambda, email-json and the rest.
  expect(Object.keys(body).sort()).toEqual(['default', 'email', 'https']);
  for (const key of ['default', 'email', 'https']) expect(typeof body[key], `protocol ${key}`).toBe('string');
  const p = body as unknown as Protocols;
  const record = JSON.parse(p.default) as DetectionRecord;
  expect(['alert', 'overflow']).toContain(record.kind);
  expect(record.rule.name).toEqual(expect.any(String));

  // Attributes for filter policies.
  expect(entry.attributes.severity).toEqual({ dataType: 'String', stringValue: record.rule.severity });
  expect(entry.attributes.risk_score).toEqual({ dataType: 'Number', stringValue: String(record.rule.risk_score) });
  expect(entry.attributes.rule_id).toEqual({ dataType: 'String', stringValue: record.rule.id });
  if (record.kind === 'alert') {
    const host = (record.document as { host?: { name?: unknown } }).host?.name;
    if (typeof host === 'string' && host !== '') {
      // The first 1024 UTF-16 units, a split or lone surrogate as U+FFFD, characters SNS refuses as spaces.
      // eslint-disable-next-line no-control-regex -- control characters are what is replaced
      const expected = (host.slice(0, 1024) as unknown as { toWellFormed(): string }).toWellFormed().replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, ' ');
      if (expected.trim() === '') expect(entry.attributes.host).toBeUndefined();
      else expect(entry.attributes.host).toEqual({ dataType: 'String', stringValue: expected });
    }
  }

  // https: an AWS Chatbot custom notification.
  const chat = JSON.parse(p.https) as ChatbotNotification;
  expect(chat.version).toBe('1.0');
  expect(chat.source).toBe('custom');
  expect(chat.content.textType).toBe('client-markdown');
  expect(chat.content.title).toEqual(expect.any(String));
  expect(chat.content.title.length).toBeGreaterThan(0);
  expect(chat.content.description).toEqual(expect.any(String));
  expect(chat.content.description.length).toBeGreaterThan(0);
  expect(chat.metadata.threadId).toEqual(expect.any(String));
  // The chat title: severity and rule, then the host as one closed code span, its markdown made
  // inert (chatLookalikes), on one line (no control character or bidirectional override), well-formed.
  const summary = chat.metadata.summary as string;
  expect(summary.startsWith(oneLine(`[${record.rule.severity}] ${record.rule.name}`))).toBe(true);
  expect(summary).not.toMatch(UNPRINTABLE_IN_TEXT);
  expect(summary).toBe(wellFormed(summary));
  expect(chat.content.title.endsWith(summary)).toBe(true);
  const host = record.kind === 'alert' ? firstHost(record.document) : undefined;
  if (host !== undefined) {
    const span = /^ on `([^`]*)`$/.exec(summary.slice(oneLine(`[${record.rule.severity}] ${record.rule.name}`).length));
    expect(span, summary).not.toBeNull();
    const shown = wellFormed(chatLookalikes(oneLine(String(host))));
    expect(span![1]!.length).toBeLessThanOrEqual(64);
    expect(shown.startsWith(span![1]!.replace(/…$/, '').replace(/\uFFFD$/, ''))).toBe(true);
  }
  // The subject: printable ASCII (the body carries every value in full).
  expect(entry.subject).toMatch(/^[\x20-\x7e]{1,99}$/);
  if (record.kind === 'overflow' || host === undefined) expect(entry.subject).toBe(cleanSubject(summary));
  expect(chat.metadata.eventType).toBe(record.kind === 'alert' ? 'eqlambda.alert' : 'eqlambda.overflow');
  expect(chat.metadata.additionalContext).toBeTypeOf('object');
  for (const v of Object.values(chat.metadata.additionalContext)) expect(v).toEqual(expect.any(String));
  expect(chat.metadata.additionalContext.rule_id).toBe(record.rule.id);

  // email: readable text, one labelled field per line.
  const email = p.email;
  expect(email).not.toMatch(/^\s*[{[]/); // not JSON
  expect(email).toContain(`Rule       ${record.rule.name} (${record.rule.id}`);
  expect(email).toContain(`Severity   ${record.rule.severity} (risk score ${record.rule.risk_score})`);
  expect(email).toMatch(/^Source {5}\S/m);
  if (record.kind === 'alert') {
    expect(chat.id).toBe(record.id);
    expect(chat.metadata.additionalContext.alert_id).toBe(record.id);
    // Text for people carries event strings well-formed (a lone surrogate shown as U+FFFD).
    // …on one line: line breaks in event values are shown as escapes (oneLine).
    // The reason, clipped at 4 × 512 characters (it repeats event values).
    expect(email).toContain(`Reason     ${oneLine(clipped(record.reason, 4 * 512))}`);
    expect(email).toContain(`Alert id   ${record.id}`);
    expect(email).toMatch(/^MITRE {6}\S/m);
    const doc = record.document as { host?: { name?: string }; user?: { name?: string }; process?: { executable?: string; name?: string } };
    // Event values in the readable texts are clipped at 512 characters (they are attacker-controlled).
    if (doc.host?.name !== undefined) expect(email).toContain(`Host       ${oneLine(clipped(String(doc.host.name)))}`);
    if (doc.user?.name !== undefined) expect(email).toContain(`User       ${oneLine(doc.user.name)}`);
    const proc = doc.process?.executable ?? doc.process?.name;
    if (proc !== undefined) expect(email).toContain(`Process    ${oneLine(proc)}`);
    expect(email).toContain(`Source     s3://${'bucket' in record.source ? `${record.source.bucket}/${record.source.key}` : ''}`);
    expect(email).toContain(`line ${record.source.line}`);
  } else {
    expect(email).toContain(`${record.count} further matches`);
  }
  return record;
}

/** Every alert id is unique and the ids are exactly the expected ones. */
export function expectDeliveredOnce(entries: WireEntry[]): Alert[] {
  const alerts = alertsOf(entries);
  const ids = alerts.map((a) => a.id);
  expect(new Set(ids).size, `duplicate alert ids in ${ids.join(', ')}`).toBe(ids.length);
  return alerts;
}

/** An alert without its processing time (which differs between runs). */
export function timeless(record: DetectionRecord): Omit<DetectionRecord, '@timestamp'> {
  const copy = { ...record } as Record<string, unknown>;
  delete copy['@timestamp'];
  return copy as Omit<DetectionRecord, '@timestamp'>;
}

/** How the email and chat texts show an event value: at most 512 characters, then an ellipsis; well-formed. */
export function clipped(value: string, max = 512): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return (cut as unknown as { toWellFormed(): string }).toWellFormed();
}
