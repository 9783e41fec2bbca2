/**
 * SNS messages for detection records. One message serves every subscriber through
 * MessageStructure "json": the alert JSON as default (sqs, lambda, email-json...), a readable
 * text for email, and an AWS Chatbot custom notification for https (Slack/Teams).
 * A message never exceeds SNS's 256 KiB: an oversized document is trimmed and the
 * alert marked `"truncated": true`; the alert's own fields are always kept whole.
 */
import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import type { Alert, DetectionRecord, Location } from '../alerts/document.js';
import { cut, cutPoint, wellFormed } from '../alerts/text.js';
import { FieldPath } from '../engine/fields.js';

/** SNS's limit for one message, body and attributes together. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Room kept for the subject, attributes and request encoding. */
const MESSAGE_BUDGET = MAX_MESSAGE_BYTES - 4 * 1024;

export interface SnsMessage {
  Message: string;
  Subject: string;
  MessageStructure: 'json';
  MessageAttributes: Record<string, MessageAttributeValue>;
}

const HOST = FieldPath.of('host.name');
const USER = FieldPath.of('user.name');
const PROCESS = FieldPath.of('process.executable');
const PROCESS_NAME = FieldPath.of('process.name');
const COMMAND_LINE = FieldPath.of('process.command_line');
const FILE = FieldPath.of('file.path');

/** Event values repeated in subjects, texts and chat fields are clipped: they are attacker-controlled. */
const MAX_FIELD_CHARS = 512;

export { wellFormed };

const clip = (s: string, max = MAX_FIELD_CHARS): string => wellFormed(s.length > max ? `${s.slice(0, max)}…` : s);

/** Characters SNS refuses in attribute values and subjects: those outside XML's character range. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

/**
 * Event values printed on one line of a text (email, chat): line breaks, other control
 * characters and bidirectional overrides shown as escapes, so a value can neither forge
 * lines such as `Severity …` nor reorder what is displayed.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
export const oneLine = (s: string): string => s.replace(UNPRINTABLE, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? ' ' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));

/**
 * Event values in chat markdown (Slack, Teams through AWS Chatbot) are always shown in code
 * spans, where neither client styles text or turns a bare URL into a link. Besides, angle
 * brackets (Slack's links and mentions, `<!channel>`, `<https://…|click>`, parsed even in
 * code spans), square brackets (Teams' links), backticks (the end of a code span) and @ are
 * replaced by look-alikes, so a value can link nowhere, notify no one and not break out.
 */
const CHAT_LOOKALIKES: Record<string, string> = { '<': '‹', '>': '›', '[': '［', ']': '］', '`': 'ˋ', '@': '＠' };
/** Markdown's active characters replaced by look-alikes (control characters are left to the caller). */
export const chatLookalikes = (s: string): string => s.replace(/[<>[\]`@]/g, (c) => CHAT_LOOKALIKES[c]!);
const chatCode = (s: string): string => chatLookalikes(oneLine(s));
/** A value as a code span of its own. */
const chatSpan = (s: string): string => `\`${chatCode(s)}\``;

const first = (path: FieldPath, doc: object): string | undefined => {
  const v = path.values(doc)[0];
  return v === undefined ? undefined : clip(String(v));
};

export function sourceText(source: Location & { line?: number }): string {
  const where = 'file' in source ? source.file : `s3://${source.bucket}/${source.key}${source.version_id ? ` (version ${source.version_id})` : ''}`;
  return source.line === undefined ? where : `${where}, line ${source.line}`;
}

/** `text` in printable ASCII on one line, trimmed, at most `max` characters: accents dropped (é → e), other characters `?`. */
export function printableAscii(text: string, max: number): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[\s\p{Cc}]+/gu, ' ')
    .replace(/[^\x20-\x7e]+/gu, '?')
    .replace(/ {2,}/g, ' ')
    .trim()
    .slice(0, max)
    .trimEnd();
}

/**
 * Printable ASCII, under 100 characters, never empty. SNS's documentation asks for UTF-8
 * without control characters, but its validation elsewhere refuses non-ASCII subjects, and a
 * refused subject would lose the alert: the message body carries every value in full.
 */
export function cleanSubject(text: string): string {
  // Event values in it are clipped already; the cap bounds the normalization's work.
  const ascii = printableAscii(text.slice(0, 4 * MAX_FIELD_CHARS), 4 * MAX_FIELD_CHARS);
  const subject = ascii.length > 99 ? `${ascii.slice(0, 96).trimEnd()}...` : ascii;
  return subject === '' ? 'eqlambda alert' : subject;
}

/**
 * The alert's one-line heading: severity, rule and host (`host` formats the host's value,
 * `name` the rule's: a rule_name_override takes it from the event, so it is a value too).
 */
function heading(record: DetectionRecord, host: (value: string) => string, name: (value: string) => string = (v) => v): string {
  if (record.kind === 'overflow') return `[${record.rule.severity}] ${name(record.rule.name)}: ${record.count} more matches suppressed`;
  const value = first(HOST, record.document);
  return `[${record.rule.severity}] ${name(record.rule.name)}${value === undefined ? '' : ` on ${host(value)}`}`;
}

export function subjectFor(record: DetectionRecord): string {
  return cleanSubject(heading(record, (v) => v));
}


/** Longest host shown in a chat title; the title is the heading, with the host as a code span. */
const CHAT_TITLE_HOST_CHARS = 64;

/** The chat title (Unicode kept): control characters and bidirectional overrides escaped, the host a closed code span. */
export function chatTitle(record: DetectionRecord): string {
  return oneLine(heading(record, (host) => `\`${cut(chatCode(host), CHAT_TITLE_HOST_CHARS)}\``, chatCode));
}

function techniques(record: DetectionRecord): string[] {
  const out: string[] = [];
  for (const t of record.rule.threat) {
    for (const tech of t.technique ?? []) {
      out.push(`${t.tactic.name} (${t.tactic.id}) / ${tech.name} (${tech.id})`);
      for (const sub of tech.subtechnique ?? []) out.push(`${t.tactic.name} (${t.tactic.id}) / ${tech.name} / ${sub.name} (${sub.id})`);
    }
    if ((t.technique ?? []).length === 0) out.push(`${t.tactic.name} (${t.tactic.id})`);
  }
  return out;
}

export function emailText(record: DetectionRecord): string {
  const lines: string[] = [];
  const add = (label: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') lines.push(`${label.padEnd(10)} ${oneLine(value)}`);
  };
  if (record.kind === 'overflow') {
    add('Rule', `${record.rule.name} (${record.rule.id})`);
    add('Severity', `${record.rule.severity} (risk score ${record.rule.risk_score})`);
    add('Source', sourceText(record.source));
    lines.push('', `${record.count} further matches of this rule in this object were suppressed after its alert limit.`);
    return lines.join('\n');
  }
  const doc = record.document;
  add('Rule', `${record.rule.name} (${record.rule.id}, version ${record.rule.version})`);
  add('Severity', `${record.rule.severity} (risk score ${record.rule.risk_score})`);
  add('Host', first(HOST, doc));
  add('User', first(USER, doc));
  add('Process', first(PROCESS, doc) ?? first(PROCESS_NAME, doc));
  add('Command', first(COMMAND_LINE, doc));
  add('File', first(FILE, doc));
  add('Reason', clip(record.reason, 4 * MAX_FIELD_CHARS));
  add('Source', sourceText(record.source));
  const mitre = techniques(record);
  mitre.forEach((t, i) => add(i === 0 ? 'MITRE' : '', t));
  add('Alert id', record.id);
  if (record.truncated) lines.push('', 'The event document was trimmed to fit the message size limit.');
  return lines.join('\n');
}

/** AWS Chatbot custom notification (renders in Slack and Microsoft Teams). */
export function chatbotNotification(record: DetectionRecord): object {
  const title = chatTitle(record);
  if (record.kind === 'overflow') {
    return {
      version: '1.0',
      source: 'custom',
      content: {
        textType: 'client-markdown',
        title: `:warning: ${title}`,
        description: `${record.count} further matches of *${chatCode(record.rule.name)}* in ${chatSpan(sourceText(record.source))} were suppressed after the rule's alert limit.`,
        keywords: [record.rule.severity, 'overflow'],
      },
      metadata: {
        threadId: record.rule.id,
        summary: title,
        eventType: 'eqlambda.overflow',
        additionalContext: { rule: chatCode(record.rule.name), rule_id: record.rule.id, count: String(record.count) },
      },
    };
  }
  const doc = record.document;
  const host = first(HOST, doc) ?? 'unknown host';
  const hostText = chatCode(host);
  const details = [
    ['Host', host],
    ['User', first(USER, doc)],
    ['Process', first(PROCESS, doc) ?? first(PROCESS_NAME, doc)],
    ['Command', first(COMMAND_LINE, doc)],
    ['File', first(FILE, doc)],
    ['Source', sourceText(record.source)],
  ]
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `*${k}:* ${chatSpan(cut(String(v), 300))}`);
  return {
    version: '1.0',
    source: 'custom',
    id: record.id,
    content: {
      textType: 'client-markdown',
      title: `:rotating_light: ${title}`,
      description: `${chatSpan(clip(record.reason, 4 * MAX_FIELD_CHARS))}\n${details.join('\n')}`,
      nextSteps: [
        `Review the ${chatCode(record.rule.name)} triage guide and the process tree on ${chatSpan(host)}`,
        `Search for alert id ${record.id} to find duplicates of this alert`,
      ],
      keywords: [record.rule.severity, ...techniques(record).map((t) => t.replace(/.*\(([^)]+)\)$/, '$1'))].slice(0, 10),
    },
    metadata: {
      threadId: `${record.rule.id}:${host}`,
      summary: title,
      eventType: 'eqlambda.alert',
      additionalContext: { alert_id: record.id, rule: chatCode(record.rule.name), rule_id: record.rule.id, host: hostText, severity: record.rule.severity },
    },
  };
}

function attributes(record: DetectionRecord): Record<string, MessageAttributeValue> {
  const attrs: Record<string, MessageAttributeValue> = {
    severity: { DataType: 'String', StringValue: record.rule.severity },
    risk_score: { DataType: 'Number', StringValue: String(record.rule.risk_score) },
    rule_id: { DataType: 'String', StringValue: record.rule.id },
  };
  // Lets a subscription skip building-block alerts, as Kibana hides them: {"building_block": [{"exists": false}]}.
  if (record.rule.building_block_type !== undefined) attrs.building_block = { DataType: 'String', StringValue: record.rule.building_block_type || 'default' };
  const raw = record.kind === 'alert' ? HOST.values(record.document)[0] : undefined;
  const host = raw === undefined ? '' : String(raw);
  const value = wellFormed(host.slice(0, 1024)).replace(NOT_XML, ' ');
  if (value.trim() !== '') attrs.host = { DataType: 'String', StringValue: value };
  return attrs;
}

function body(record: DetectionRecord): string {
  const json = JSON.stringify(record);
  // SNS sends `default` to every protocol without a key of its own (sqs, lambda, email-json,
  // http, sms...): one copy of the alert JSON, so a document is trimmed only when it must be.
  return JSON.stringify({
    default: json,
    email: emailText(record),
    https: JSON.stringify(chatbotNotification(record)),
  });
}

/** Builds the SNS message, trimming the event document (and, if need be, the reason) until it fits. */
export function toSnsMessage(record: DetectionRecord): SnsMessage {
  // A document whose JSON alone is over the budget is trimmed without first building the whole
  // message to learn it does not fit (the message holds that JSON, and a character is at least a byte).
  const oversized = record.kind === 'alert' && documentChars(record.document) > MESSAGE_BUDGET;
  let message = oversized ? '' : body(record);
  if (record.kind === 'alert' && (oversized || Buffer.byteLength(message) > MESSAGE_BUDGET)) {
    // The reason repeats event values (host, user, file...): clip it too when it is huge.
    const reason = record.reason.length > 4 * MAX_FIELD_CHARS ? clip(record.reason, 4 * MAX_FIELD_CHARS) : record.reason;
    message = body(trimAlert({ ...record, reason, ...(reason !== record.reason ? { truncated: true as const } : {}) }));
  }
  return { Message: message, Subject: subjectFor(record), MessageStructure: 'json', MessageAttributes: attributes(record) };
}

/**
 * The largest trimming of the document (longest strings, arrays and objects cut first) whose
 * message fits: a binary search over the cut, each step building a trimmed copy, so the cost
 * is a few passes over what is kept, however wide or long the document.
 */
export function trimAlert(alert: Alert): Alert {
  // Each object's keys listed once for all the trimmings (listing a 60,000-key object takes ms).
  const keys = new WeakMap<object, ObjectKeys>();
  const trimmed = (max: number): Alert => ({ ...alert, document: trimValue(alert.document, max, keys) as Alert['document'], truncated: true });
  const fits = (a: Alert): boolean => Buffer.byteLength(body(a)) <= MESSAGE_BUDGET;
  // A line alerting for many rules shares its document: the search starts from the cut that
  // fit the last of its alerts (their rules' names and threats differ by a few KB, so the cut
  // moves by little), and finds what a search from scratch would.
  const [cut, best] = searchCut(trimmed, fits, cutFits.get(alert.document));
  cutFits.set(alert.document, cut);
  return best;
}

/** Per document, the cut of its last trimmed alert. */
const cutFits = new WeakMap<object, number>();

/**
 * The largest cut whose trimmed alert fits, and that alert (cut -1: none fits, and the document
 * is removed). Fitting is monotone in the cut (a smaller cut never gives a larger document, see
 * trimValue): gallop from `hint` (or from 1) away from it until the answer is bracketed, then
 * search between, so the copies built stay few near a good hint and grow geometrically without one.
 */
function searchCut(trimmed: (max: number) => Alert, fits: (a: Alert) => boolean, hint?: number): [number, Alert] {
  // Even the smallest cut does not fit: no search can help.
  const removed = (smallest: Alert): [number, Alert] => [-1, { ...smallest, document: { note: 'document removed: too large for an SNS message' } }];
  let lo: number; // the largest cut known to fit
  let loAlert: Alert;
  let hi = MAX_CUT + 1; // the smallest cut known not to fit (MAX_CUT + 1: none known)
  if (hint !== undefined && hint >= 0) {
    const start = Math.min(hint, MAX_CUT);
    const first = trimmed(start);
    if (fits(first)) [lo, loAlert] = [start, first];
    else {
      hi = start;
      for (let step = 1; ; step *= 2) {
        const max = Math.max(start - step, 0);
        const candidate = trimmed(max);
        if (fits(candidate)) {
          [lo, loAlert] = [max, candidate];
          break;
        }
        if (max === 0) return removed(candidate);
        hi = max;
      }
    }
  } else {
    const smallest = trimmed(0);
    if (!fits(smallest)) return removed(smallest);
    [lo, loAlert] = [0, smallest];
  }
  // Upward from lo until a cut does not fit (or MAX_CUT fits), then halve the gap.
  for (let step = 1; hi > MAX_CUT && lo < MAX_CUT; step *= 2) {
    const max = Math.min(lo + step, MAX_CUT);
    const candidate = trimmed(max);
    if (fits(candidate)) [lo, loAlert] = [max, candidate];
    else hi = max;
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const candidate = trimmed(mid);
    if (fits(candidate)) [lo, loAlert] = [mid, candidate];
    else hi = mid;
  }
  return [lo, loAlert];
}

/** The length of a document's JSON, measured once for the alerts of its line (they share it). */
function documentChars(document: object): number {
  let chars = documentJsonChars.get(document);
  if (chars === undefined) documentJsonChars.set(document, (chars = JSON.stringify(document).length));
  return chars;
}

const documentJsonChars = new WeakMap<object, number>();

/** The longest string, array or object kept whole by a trimming (a larger document is cut). */
const MAX_CUT = 64 * 1024;

/** Objects keep at least this many keys, however hard the cut (the ECS fields that say what happened come first in practice). */
const MIN_KEPT_KEYS = 32;

const TRUNCATED = '…[truncated]';
/** In UTF-8, as the message is measured. */
const TRUNCATED_BYTES = Buffer.byteLength(TRUNCATED);
const TRUNCATED_KEYS = '…[truncated keys]';
/** What the `"…[truncated keys]":N,` entry may cost, escaped again in the message body, with room to spare. */
const TRUNCATED_KEYS_COST = 48;

/** An object's own keys, and per position the least bytes the pairs before it take (`"key":0,`: key + 5). */
interface ObjectKeys {
  names: string[];
  leastBytesBefore: number[];
}

function keysOf(value: object, cache: WeakMap<object, ObjectKeys>): ObjectKeys {
  let keys = cache.get(value);
  if (keys === undefined) {
    const names = Object.keys(value);
    const leastBytesBefore = [0];
    for (const name of names) leastBytesBefore.push(leastBytesBefore.at(-1)! + name.length + 5);
    cache.set(value, (keys = { names, leastBytesBefore }));
  }
  return keys;
}

/**
 * Cuts strings to `max` characters, arrays to `max` items and objects to `max` keys (at least
 * MIN_KEPT_KEYS), recursively. Each cut is made only when it surely shortens the document (a
 * string by more than its marker's bytes, an object by more than its marker entry's), so a
 * smaller `max` never gives a larger document and trimAlert may start from the smallest.
 */
function trimValue(value: unknown, max: number, cache: WeakMap<object, ObjectKeys>): unknown {
  if (typeof value === 'string') return value.length > max + TRUNCATED_BYTES ? `${value.slice(0, cutPoint(value, max))}${TRUNCATED}` : value;
  if (Array.isArray(value)) return value.slice(0, Math.max(max, 1)).map((v) => trimValue(v, max, cache));
  if (value !== null && typeof value === 'object') {
    const { names, leastBytesBefore } = keysOf(value, cache);
    let keep = Math.min(names.length, Math.max(max, MIN_KEPT_KEYS));
    if (leastBytesBefore[names.length]! - leastBytesBefore[keep]! <= TRUNCATED_KEYS_COST) keep = names.length;
    // No prototype: a "__proto__" key from the JSON stays a key.
    const out = Object.create(null) as Record<string, unknown>;
    for (let i = 0; i < keep; i++) out[names[i]!] = trimValue((value as Record<string, unknown>)[names[i]!], max, cache);
    if (keep < names.length) out[TRUNCATED_KEYS] = names.length - keep;
    return out;
  }
  return value;
}
