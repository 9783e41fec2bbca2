/**
 * A small local SNS endpoint speaking the Query protocol the AWS SDK uses for SNS
 * (POST / with an application/x-www-form-urlencoded body, XML responses). It handles
 * Publish and PublishBatch, records every request and every delivered entry, checks the
 * limits real SNS enforces (10 entries, distinct ids, 256 KiB per batch, subject rules,
 * MessageStructure=json bodies) and can inject failures: HTTP errors, throttling, and
 * entries reported in <Failed>.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const SNS_MAX_BATCH_ENTRIES = 10;
export const SNS_MAX_PAYLOAD_BYTES = 256 * 1024;

export interface WireAttribute {
  dataType: string;
  stringValue?: string;
  binaryValue?: string;
}

export interface WireEntry {
  /** PublishBatch entry id ('' for Publish). */
  id: string;
  message: string;
  subject?: string;
  messageStructure?: string;
  attributes: Record<string, WireAttribute>;
}

export interface WireRequest {
  action: string;
  topicArn?: string;
  /** HTTP status the fake answered with. */
  status: number;
  /** The raw form body's size in bytes. */
  bodyBytes: number;
  entries: WireEntry[];
  /** Ids reported in <Failed> (PublishBatch). */
  failedIds: string[];
}

export interface EntryFailureRule {
  /** How many attempts of each matching message fail (Infinity: always). */
  times: number;
  match?: (entry: WireEntry) => boolean;
  code?: string;
  senderFault?: boolean;
}

/** The size SNS counts for a message: body plus every attribute's name, type and value. */
export function snsPayloadBytes(entry: WireEntry): number {
  let n = Buffer.byteLength(entry.message);
  for (const [name, v] of Object.entries(entry.attributes)) {
    n += Buffer.byteLength(name) + Buffer.byteLength(v.dataType) + Buffer.byteLength(v.stringValue ?? v.binaryValue ?? '');
  }
  return n;
}

/** SNS subject rules: non-empty, < 100 characters, no line breaks or control characters, no leading space. */
export function subjectProblem(subject: string): string | undefined {
  if (subject.length === 0) return 'empty subject';
  // The strictest reading of "less than 100 characters": UTF-16 units, as Java counts.
  if (subject.length >= 100) return `subject has ${subject.length} UTF-16 units (must be < 100)`;
  // eslint-disable-next-line no-control-regex -- looking for control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(subject)) return 'subject contains control characters';
  if (/^\s/.test(subject)) return 'subject starts with whitespace';
  return undefined;
}

const NS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function errorXml(type: 'Sender' | 'Receiver', code: string, message: string, requestId: string): string {
  return `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${xml(code)}</Code><Message>${xml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

function parseEntry(form: URLSearchParams, prefix: string, id: string): WireEntry {
  const entry: WireEntry = { id, message: form.get(`${prefix}Message`) ?? '', attributes: {} };
  const subject = form.get(`${prefix}Subject`);
  if (subject !== null) entry.subject = subject;
  const structure = form.get(`${prefix}MessageStructure`);
  if (structure !== null) entry.messageStructure = structure;
  for (let m = 1; form.has(`${prefix}MessageAttributes.entry.${m}.Name`); m++) {
    const a = `${prefix}MessageAttributes.entry.${m}.`;
    const attr: WireAttribute = { dataType: form.get(`${a}Value.DataType`) ?? '' };
    const sv = form.get(`${a}Value.StringValue`);
    if (sv !== null) attr.stringValue = sv;
    const bv = form.get(`${a}Value.BinaryValue`);
    if (bv !== null) attr.binaryValue = bv;
    entry.attributes[form.get(`${a}Name`)!] = attr;
  }
  return entry;
}

/** Per-entry checks real SNS makes; a problem fails the entry (SenderFault) or the Publish. */
function entryProblem(entry: WireEntry): string | undefined {
  if (entry.message === '') return 'empty message';
  if (entry.subject !== undefined) {
    const p = subjectProblem(entry.subject);
    if (p !== undefined) return p;
  }
  if (entry.messageStructure !== undefined) {
    if (entry.messageStructure !== 'json') return `unknown MessageStructure ${entry.messageStructure}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(entry.message);
    } catch {
      return 'MessageStructure json but the message is not JSON';
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || typeof (parsed as { default?: unknown }).default !== 'string') {
      return 'MessageStructure json needs a JSON object with a string "default"';
    }
  }
  for (const [name, v] of Object.entries(entry.attributes)) {
    if (!/^[A-Za-z0-9_.-]{1,256}$/.test(name) || name.startsWith('.') || name.endsWith('.') || name.includes('..') || /^(aws|amazon)\./i.test(name)) return `invalid attribute name ${name}`;
    if (!/^(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?$/.test(v.dataType)) return `invalid attribute type ${v.dataType}`;
    const value = v.stringValue ?? v.binaryValue ?? '';
    if (value === '') return `empty attribute ${name}`;
    if (v.stringValue !== undefined && /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u.test(value)) return `attribute ${name} holds characters outside XML's range`;
    if (v.dataType.startsWith('Number') && (!/^-?\d+(\.\d{1,5})?$/.test(value) || Math.abs(Number(value)) > 1e9)) return `invalid Number attribute ${name}=${value}`;
  }
  if (snsPayloadBytes(entry) > SNS_MAX_PAYLOAD_BYTES) return `message is ${snsPayloadBytes(entry)} bytes (limit ${SNS_MAX_PAYLOAD_BYTES})`;
  return undefined;
}

export class FakeSns {
  /** Every request received, in order (failed ones included). */
  readonly requests: WireRequest[] = [];
  /** Every entry SNS accepted, in order. */
  readonly delivered: WireEntry[] = [];
  /** Limit and format violations seen on the wire (a correct client causes none). */
  readonly violations: string[] = [];
  private server: Server | undefined;
  private httpFailures: { status: number; code: string; type: 'Sender' | 'Receiver' }[] = [];
  private entryRules: (EntryFailureRule & { seen: Map<string, number> })[] = [];
  private requestCount = 0;
  private messageCount = 0;

  /** Starts listening on 127.0.0.1 on a random port; returns the endpoint URL. */
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(errorXml('Receiver', 'InternalFailure', String(err), 'fake'));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this.endpoint;
  }

  get endpoint(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (address === null || address === undefined) throw new Error('fake SNS is not running');
    return `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Forgets recorded traffic and pending failures. */
  reset(): void {
    this.requests.length = 0;
    this.delivered.length = 0;
    this.violations.length = 0;
    this.httpFailures = [];
    this.entryRules = [];
  }

  /** The next `n` requests get an HTTP error (default 500 InternalError). */
  failRequests(n: number, status = 500, code = 'InternalError'): void {
    for (let i = 0; i < n; i++) this.httpFailures.push({ status, code, type: status >= 500 ? 'Receiver' : 'Sender' });
  }

  /** The next `n` requests are throttled the way SNS does it: 400, <Code>Throttling</Code>. */
  throttle(n: number): void {
    this.failRequests(n, 400, 'Throttling');
  }

  /** PublishBatch entries matching the rule are reported in <Failed> for their first `times` attempts. */
  failEntries(rule: EntryFailureRule): void {
    this.entryRules.push({ ...rule, seen: new Map() });
  }

  /** Requests that reached the PublishBatch/Publish logic and succeeded at the HTTP level. */
  get answered(): WireRequest[] {
    return this.requests.filter((r) => r.status === 200);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const form = new URLSearchParams(raw.toString('utf8'));
    const action = form.get('Action') ?? '';
    const requestId = `req-${++this.requestCount}`;
    const record: WireRequest = { action, status: 200, bodyBytes: raw.length, entries: [], failedIds: [] };
    const topicArn = form.get('TopicArn');
    if (topicArn !== null) record.topicArn = topicArn;
    this.requests.push(record);

    const send = (status: number, body: string): void => {
      record.status = status;
      res.statusCode = status;
      res.setHeader('content-type', 'text/xml');
      res.setHeader('x-amzn-requestid', requestId);
      res.end(body);
    };
    const senderError = (code: string, message: string): void => {
      this.violations.push(`${action}: ${code}: ${message}`);
      send(400, errorXml('Sender', code, message, requestId));
    };

    if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return senderError('InvalidAction', `expected a form POST, got ${req.method} ${String(req.headers['content-type'])}`);
    }
    if (form.get('Version') !== '2010-03-31') return senderError('InvalidParameterValue', `unexpected Version ${form.get('Version')}`);

    if (action === 'PublishBatch') {
      for (let n = 1; form.has(`PublishBatchRequestEntries.member.${n}.Id`); n++) {
        const prefix = `PublishBatchRequestEntries.member.${n}.`;
        record.entries.push(parseEntry(form, prefix, form.get(`${prefix}Id`)!));
      }
    } else if (action === 'Publish') {
      record.entries.push(parseEntry(form, '', ''));
    } else {
      return senderError('InvalidAction', `unsupported action ${action}`);
    }

    const failure = this.httpFailures.shift();
    if (failure !== undefined) return send(failure.status, errorXml(failure.type, failure.code, failure.code === 'Throttling' ? 'Rate exceeded' : 'injected failure', requestId));
    if (topicArn === null || !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(topicArn)) return senderError('InvalidParameter', `invalid TopicArn ${topicArn}`);

    if (action === 'Publish') {
      const entry = record.entries[0]!;
      const problem = entryProblem(entry);
      if (problem !== undefined) return senderError('InvalidParameter', problem);
      this.delivered.push(entry);
      return send(200, `<PublishResponse xmlns="${NS}"><PublishResult><MessageId>m-${++this.messageCount}</MessageId></PublishResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`);
    }

    const entries = record.entries;
    if (entries.length === 0) return senderError('EmptyBatchRequest', 'The batch request does not contain any entries.');
    if (entries.length > SNS_MAX_BATCH_ENTRIES) return senderError('TooManyEntriesInBatchRequest', `The batch request contains ${entries.length} entries.`);
    const ids = new Set<string>();
    for (const e of entries) {
      if (!/^[A-Za-z0-9_-]{1,80}$/.test(e.id)) return senderError('InvalidBatchEntryId', `invalid id ${e.id}`);
      if (ids.has(e.id)) return senderError('BatchEntryIdsNotDistinct', `duplicate id ${e.id}`);
      ids.add(e.id);
    }
    const total = entries.reduce((n, e) => n + snsPayloadBytes(e), 0);
    if (total > SNS_MAX_PAYLOAD_BYTES) return senderError('BatchRequestTooLong', `The batch payload is ${total} bytes (limit ${SNS_MAX_PAYLOAD_BYTES}).`);

    const ok: string[] = [];
    const failed: string[] = [];
    for (const e of entries) {
      const problem = entryProblem(e);
      if (problem !== undefined) {
        this.violations.push(`PublishBatch entry ${e.id}: ${problem}`);
        failed.push(`<member><Id>${xml(e.id)}</Id><Code>InvalidParameter</Code><Message>${xml(problem)}</Message><SenderFault>true</SenderFault></member>`);
        record.failedIds.push(e.id);
        continue;
      }
      const rule = this.entryRules.find((r) => (r.match === undefined || r.match(e)) && (r.seen.get(e.message) ?? 0) < r.times);
      if (rule !== undefined) {
        rule.seen.set(e.message, (rule.seen.get(e.message) ?? 0) + 1);
        failed.push(`<member><Id>${xml(e.id)}</Id><Code>${xml(rule.code ?? 'InternalError')}</Code><Message>injected entry failure</Message><SenderFault>${rule.senderFault === true}</SenderFault></member>`);
        record.failedIds.push(e.id);
        continue;
      }
      this.delivered.push(e);
      ok.push(`<member><Id>${xml(e.id)}</Id><MessageId>m-${++this.messageCount}</MessageId></member>`);
    }
    return send(
      200,
      `<PublishBatchResponse xmlns="${NS}"><PublishBatchResult><Successful>${ok.join('')}</Successful><Failed>${failed.join('')}</Failed></PublishBatchResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishBatchResponse>`,
    );
  }
}
