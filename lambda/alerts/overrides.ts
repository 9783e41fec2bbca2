/**
 * Kibana's per-alert overrides of a rule's name, severity and risk score, read from the
 * matching event (`rule_name_override`, `severity_mapping`, `risk_score_mapping`). Follows
 * Kibana's detection engine (rule_types/utils/mappings/build_*_from_mapping.ts), which reads
 * the event's source document with lodash's `get`.
 */
import type { Event } from '../engine/index.js';
import type { RuleSpec, Severity } from '../rules/model.js';
import { cut } from './text.js';

export interface Overridden {
  name: string;
  severity: Severity;
  risk_score: number;
}

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** Kibana reads event.severity as ECS's long field: only whole numbers there, compared as numbers. */
const ECS_SEVERITY_FIELD = 'event.severity';

/**
 * A field of the source document as lodash's `get(path, source)` reads it: the whole path
 * when the document has it as one key, else the dotted parts, one object (or array index)
 * at a time. Own properties only, so `__proto__` or `constructor` name nothing.
 */
export function sourceValue(event: Event, path: string): unknown {
  if (Object.hasOwn(event, path)) return event[path];
  let node: unknown = event;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** The alert's name, severity and risk score for `event`: the rule's own where no override applies. */
export function overriddenFields(rule: Pick<RuleSpec, 'name' | 'severity' | 'risk_score' | 'rule_name_override' | 'severity_mapping' | 'risk_score_mapping'>, event: Event): Overridden {
  return {
    name: overriddenName(rule, event),
    severity: overriddenSeverity(rule, event),
    risk_score: overriddenRiskScore(rule, event),
  };
}

/**
 * Longest name an override gives an alert. Kibana keeps the whole value; here the name goes
 * into every message several times over, and a field such as `message` can be long enough to
 * push one past SNS's 256 KB (the document still carries the whole value).
 */
export const MAX_OVERRIDDEN_NAME_CHARS = 256;

/** The event's value of rule_name_override when it is a string (an array or number is not used), cut to MAX_OVERRIDDEN_NAME_CHARS. */
function overriddenName(rule: Pick<RuleSpec, 'name' | 'rule_name_override'>, event: Event): string {
  if (rule.rule_name_override === undefined) return rule.name;
  const value = sourceValue(event, rule.rule_name_override);
  return typeof value === 'string' ? cut(value, MAX_OVERRIDDEN_NAME_CHARS) : rule.name;
}

/** The highest severity among the mapping entries whose value the event's field holds. */
function overriddenSeverity(rule: Pick<RuleSpec, 'severity' | 'severity_mapping'>, event: Event): Severity {
  let best: Severity | undefined;
  for (const entry of rule.severity_mapping ?? []) {
    const ecsSeverity = entry.field === ECS_SEVERITY_FIELD;
    const raw = sourceValue(event, entry.field);
    const values = Array.isArray(raw) ? raw : [raw];
    const wanted = ecsSeverity ? Math.floor(Number(entry.value)) : entry.value;
    const held = values.some((v) => {
      if (typeof v === 'number' && Number.isSafeInteger(v)) return ecsSeverity ? v === wanted : String(v) === wanted;
      return !ecsSeverity && typeof v === 'string' && v === wanted;
    });
    if (held && (best === undefined || SEVERITY_RANK[entry.severity] >= SEVERITY_RANK[best])) best = entry.severity;
  }
  return best ?? (rule.severity as Severity);
}

/** The largest value from 0 to 100 (a number, or a string that reads as one) in the mapped field. */
function overriddenRiskScore(rule: Pick<RuleSpec, 'risk_score' | 'risk_score_mapping'>, event: Event): number {
  const entry = rule.risk_score_mapping?.[0]; // Kibana reads the first entry only
  if (entry === undefined) return rule.risk_score;
  const raw = sourceValue(event, entry.field);
  let best = -1;
  for (const v of Array.isArray(raw) ? raw : [raw]) {
    // Number('') is 0 in Kibana too: an empty string maps to 0.
    const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
    if (Number.isFinite(n) && n >= 0 && n <= 100 && n > best) best = n;
  }
  return best < 0 ? rule.risk_score : best;
}

/** Whether the rule overrides anything per alert (most rules do not: their alerts share one rule view). */
export const hasOverrides = (rule: Pick<RuleSpec, 'rule_name_override' | 'severity_mapping' | 'risk_score_mapping'>): boolean =>
  rule.rule_name_override !== undefined || (rule.severity_mapping?.length ?? 0) > 0 || (rule.risk_score_mapping?.length ?? 0) > 0;
