/** Detection rules as eqlambda uses them: Elastic's rule fields plus the compiled query. */
import type { CompiledQuery } from '../engine/index.js';

export interface ThreatEntry {
  id: string;
  name: string;
  reference: string;
}

export interface Threat {
  framework: string;
  tactic: ThreatEntry;
  technique?: (ThreatEntry & { subtechnique?: ThreatEntry[] })[];
}

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

/** Kibana's `severity_mapping` entry: alerts whose event holds `value` in `field` get `severity`. */
export interface SeverityMappingItem {
  field: string;
  operator: 'equals';
  value: string;
  severity: Severity;
}

/** Kibana's `risk_score_mapping` entry: alerts take their risk score from `field` (0 to 100). */
export interface RiskScoreMappingItem {
  field: string;
  operator: 'equals';
  value: string;
}

/** The rule fields alerts carry, and everything needed to compile the rule again. */
export interface RuleSpec {
  id: string;
  name: string;
  description: string;
  version: number;
  severity: string;
  risk_score: number;
  tags: string[];
  references: string[];
  threat: Threat[];
  /** Index patterns the rule applies to; null applies it to every event. */
  index: string[] | null;
  max_signals: number;
  query: string;
  /** Elastic's `event_category_override`: the field `<category> where` tests for this rule. */
  event_category_override?: string;
  /**
   * Elastic's `building_block_type` ("default"): the rule feeds other rules and Kibana hides
   * its alerts by default. Its alerts say so, and carry a `building_block` SNS attribute that
   * subscription filter policies can exclude.
   */
  building_block_type?: string;
  /** Kibana's per-alert overrides from the matching event (alerts/overrides.ts). */
  rule_name_override?: string;
  severity_mapping?: SeverityMappingItem[];
  risk_score_mapping?: RiskScoreMappingItem[];
  /** Where the rule came from, for messages. */
  path: string;
}

export interface Rule extends RuleSpec {
  compiled: CompiledQuery;
}

/** A problem in a rule file, positioned as `path:line:col`. */
export class RuleError extends Error {
  constructor(
    readonly path: string,
    readonly line: number,
    readonly col: number,
    readonly reason: string,
  ) {
    super(`${path}:${line}:${col}: ${reason}`);
    this.name = 'RuleError';
  }
}
