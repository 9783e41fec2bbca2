/**
 * The rule bundle shipped inside the Lambda asset: the rule specs, validated and
 * compiled at build time (synth fails on a broken rule), stored as JSON next to the
 * handler and compiled again into closures once per cold start.
 */
import { readFileSync } from 'node:fs';
import type { LoadOptions } from './load.js';
import { compileRuleSpec } from './load.js';
import type { Rule, RuleSpec } from './model.js';

export const RULE_BUNDLE_FORMAT = 'eqlambda-rules/1';

interface RuleBundle {
  format: string;
  rules: RuleSpec[];
}

export function toRuleBundle(rules: Rule[]): string {
  const specs: RuleSpec[] = rules.map(({ compiled: _compiled, ...spec }) => spec);
  return JSON.stringify({ format: RULE_BUNDLE_FORMAT, rules: specs } satisfies RuleBundle);
}

export function fromRuleBundle(json: string, options: LoadOptions = {}): Rule[] {
  const bundle = JSON.parse(json) as RuleBundle;
  if (bundle.format !== RULE_BUNDLE_FORMAT || !Array.isArray(bundle.rules)) {
    throw new Error(`not an eqlambda rule bundle (expected format ${RULE_BUNDLE_FORMAT})`);
  }
  return bundle.rules.map((spec) => compileRuleSpec(spec, options));
}

export function readRuleBundle(path: string | URL, options: LoadOptions = {}): Rule[] {
  return fromRuleBundle(readFileSync(path, 'utf8'), options);
}
