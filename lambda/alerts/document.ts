/**
 * Alert and overflow records: what the pipeline emits, the CLI prints and the Lambda
 * publishes. Ids are deterministic (sha-256 of rule id, source identity and line), so
 * a rescanned object or a redelivered S3 event gives the same ids and subscribers can
 * drop duplicates.
 */
import { createHash } from 'node:crypto';
import type { Event } from '../engine/index.js';
import type { Rule, RuleSpec } from '../rules/model.js';
import { hasOverrides, overriddenFields } from './overrides.js';
import { buildReason } from './reason.js';

/** Where the bytes came from. */
export type SourceRef =
  /** `hashEvents`: the input has no version to pin its bytes (standard input), so ids also hash the event. */
  | { kind: 'file'; file: string; identity: string; hashEvents?: boolean }
  | { kind: 's3'; bucket: string; key: string; versionId?: string; etag?: string };

/** Where an object lives, as alerts report it. */
export type Location = { file: string } | { bucket: string; key: string; version_id?: string; etag?: string };

export type AlertSource = Location & { line: number };

/** The rule fields an alert carries. */
export type AlertRule = Pick<RuleSpec, 'id' | 'name' | 'version' | 'severity' | 'risk_score' | 'tags' | 'references' | 'threat' | 'building_block_type'>;

export interface Alert {
  kind: 'alert';
  id: string;
  '@timestamp': string;
  rule: AlertRule;
  reason: string;
  source: AlertSource;
  document: Event;
  /** Set when the document was trimmed to fit a message size limit. */
  truncated?: true;
}

export interface Overflow {
  kind: 'overflow';
  /**
   * Hex SHA-256 of the rule, the object, the first suppressed line and the count: a retried
   * object repeats it, while a scan stopped early (a partial count) does not pass for the whole.
   */
  id: string;
  rule: AlertRule;
  source: Location & { first_suppressed_line: number };
  /** Matches suppressed after the rule's max_signals alerts for this object. */
  count: number;
}

export type DetectionRecord = Alert | Overflow;

/** The stable identity of an object: same object (and version) → same alert ids. */
export function sourceIdentity(source: SourceRef): string {
  if (source.kind === 'file') return source.identity;
  return `s3://${source.bucket}/${source.key}?versionId=${source.versionId ?? ''}&etag=${source.etag ?? ''}`;
}

export function alertId(ruleId: string, identity: string, line: number, event?: string): string {
  const hash = createHash('sha256').update(`${ruleId}\n${identity}\n${line}`);
  if (event !== undefined) hash.update(`\n${event}`);
  return hash.digest('hex');
}

export function alertRule(rule: Rule): AlertRule {
  return {
    id: rule.id,
    name: rule.name,
    version: rule.version,
    severity: rule.severity,
    risk_score: rule.risk_score,
    tags: rule.tags,
    references: rule.references,
    threat: rule.threat,
    ...(rule.building_block_type === undefined ? {} : { building_block_type: rule.building_block_type }),
  };
}

function sourceFields(source: SourceRef): Location {
  if (source.kind === 'file') return { file: source.file };
  const out: { bucket: string; key: string; version_id?: string; etag?: string } = { bucket: source.bucket, key: source.key };
  if (source.versionId !== undefined) out.version_id = source.versionId;
  if (source.etag !== undefined) out.etag = source.etag;
  return out;
}

export function buildAlert(rule: Rule, ruleView: AlertRule, source: SourceRef, identity: string, line: number, event: Event, now: Date): Alert {
  const document = withinDepth(event, MAX_DOCUMENT_DEPTH);
  // Kibana's rule_name_override, severity_mapping and risk_score_mapping, from this event.
  const view = hasOverrides(rule) ? { ...ruleView, ...overriddenFields(rule, event) } : ruleView;
  return {
    kind: 'alert',
    id: alertId(rule.id, identity, line, source.kind === 'file' && source.hashEvents === true ? JSON.stringify(document) : undefined),
    '@timestamp': now.toISOString(),
    rule: view,
    reason: buildReason(event, view.severity, view.name),
    source: { line, ...sourceFields(source) },
    document,
    ...(document !== event ? { truncated: true as const } : {}),
  };
}

/**
 * Alert documents are serialised (JSON.stringify, trimming for SNS) by code that
 * recurses; a document nested deeper than this (JSON allows any depth, and an attacker
 * may pad a matching event so) is kept with its deeper parts replaced by TOO_DEEP.
 */
export const MAX_DOCUMENT_DEPTH = 64;
export const TOO_DEEP = '[nested too deep]';

/** `event` itself when no object or array in it is nested deeper than `max`; else a trimmed copy. Iterative. */
export function withinDepth(event: Event, max: number): Event {
  // First a walk to see whether any container is too deep (the usual answer is no: no copy).
  const stack: [unknown, number][] = [[event, 0]];
  let tooDeep = false;
  while (stack.length > 0 && !tooDeep) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= max) tooDeep = true;
    else for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  if (!tooDeep) return event;
  // Keys are defined (not assigned: a "__proto__" key from JSON is data) in their order,
  // then filled from a stack.
  const define = (target: object, key: string, value: unknown): void => {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  };
  const copy: Event = {};
  const pending: [unknown, object, string, number][] = [];
  for (const [k, v] of Object.entries(event)) {
    define(copy, k, null);
    pending.push([v, copy, k, 1]);
  }
  while (pending.length > 0) {
    const [node, parent, key, depth] = pending.pop()!;
    let value: unknown = node;
    if (node !== null && typeof node === 'object') {
      if (depth >= max) value = TOO_DEEP;
      else {
        const container: object = Array.isArray(node) ? new Array<unknown>(node.length) : {};
        for (const [k, v] of Object.entries(node)) {
          if (!Array.isArray(node)) define(container, k, null);
          pending.push([v, container, k, depth + 1]);
        }
        value = container;
      }
    }
    if (Array.isArray(parent)) parent[Number(key)] = value;
    else define(parent, key, value);
  }
  return copy;
}

/** `firstSuppressedEvent`: that match's event as JSON, for sources whose ids hash events (standard input). */
export function buildOverflow(ruleView: AlertRule, source: SourceRef, firstSuppressedLine: number, count: number, firstSuppressedEvent?: string): Overflow {
  // Kept apart from the alert ids: an overflow is not the alert of its first suppressed line.
  const id = alertId(ruleView.id, sourceIdentity(source), firstSuppressedLine, `overflow ${count}${firstSuppressedEvent === undefined ? '' : `\n${firstSuppressedEvent}`}`);
  return { kind: 'overflow', id, rule: ruleView, source: { ...sourceFields(source), first_suppressed_line: firstSuppressedLine }, count };
}
