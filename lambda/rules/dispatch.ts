/**
 * Narrows the rules routed to an index to those an event can satisfy, before any rule
 * runs. Most Elastic rules require plain equalities at their top level:
 * `process where host.os.type == "windows" and event.type == "start" and …`. Such a
 * rule cannot match an event lacking those values. The fields most rules constrain
 * (and the event category) are read once per event, and the surviving rule list is
 * cached per combination of values. With Elastic's 823 rules a Linux process event
 * meets a few dozen of them instead of all.
 *
 * Only constraints the compiled test surely enforces are used: `field == literal`,
 * `field in (literals)`, and `:`/`like` against plain strings (query path: some value
 * of the field must equal one of them, compared as the engine does, strings as they are
 * and other scalars by their text, ASCII-folded for the case-insensitive forms), the
 * category, and what `and` and `or` of those imply (an `or` whose every branch
 * constrains a field constrains it to the union of their keys). Everything else stays
 * with the compiled test.
 */
import type { Expr, Literal } from '../engine/ast.js';
import { FieldPath } from '../engine/fields.js';
import type { Event, Scalar } from '../engine/index.js';
import { asciiLower } from '../engine/text.js';
import { hasWildcard } from '../engine/wildcard.js';
import type { Rule } from './model.js';

/** A rule can only match if the event has, at `field`, one of `keys` (ASCII-lower-cased when `caseInsensitive`). */
interface Constraint {
  field: string;
  caseInsensitive: boolean;
  keys: Set<string>;
}

/** How the engine compares a field value with a literal's text (scalarText), and with `:` (ASCII case folded). */
const keyOf = (v: Scalar): string => (typeof v === 'string' ? v : String(v));
const foldedKeyOf = (v: Scalar): string => asciiLower(keyOf(v));

/** At most this many (field, case) pairs are read per event to choose rules. */
const MAX_FIELDS = 6;
/** Dispatch pays off from about this many rules (with 2 it costs a fifth of a no-prefilter scan). */
const MIN_RULES = 16;
/** Combinations of values remembered per routed rule list (they are attacker-chosen: bounded). */
const MAX_SIGNATURES = 1024;

function literalKey(e: Expr | Literal, caseInsensitive = false): string | undefined {
  if (e.type !== 'Literal') return undefined;
  if (typeof e.value === 'number' || typeof e.value === 'boolean') return keyOf(e.value);
  if (typeof e.value === 'string') return caseInsensitive ? asciiLower(e.value) : e.value;
  return undefined;
}

function allKeys(list: (Expr | Literal)[], caseInsensitive: boolean): Set<string> | undefined {
  const keys = list.map((e) => literalKey(e, caseInsensitive));
  return list.length > 0 && keys.every((k) => k !== undefined) ? new Set(keys as string[]) : undefined;
}

/** The constraint a top-level conjunct surely enforces, if it is one of the plain kinds. */
function constraintOf(c: Expr): Constraint | undefined {
  if (c.type === 'Compare' && c.op === '==' && c.left.type === 'Field' && (c.right.type !== 'Literal' || typeof c.right.value !== 'boolean')) {
    const keys = allKeys([c.right], false);
    return keys && { field: c.left.name, caseInsensitive: false, keys };
  }
  if (c.type === 'In' && c.left.type === 'Field') {
    const keys = allKeys(c.list, c.caseInsensitive);
    return keys && { field: c.left.name, caseInsensitive: c.caseInsensitive, keys };
  }
  // `:` and `like` against plain strings are equality (ASCII case folded for `:` and `like~`).
  if (c.type === 'Match' && c.op !== 'regex' && c.left.type === 'Field' && c.patterns.every((p) => typeof p.value !== 'string' || !hasWildcard(p.value))) {
    const keys = allKeys(c.patterns, c.caseInsensitive);
    return keys && { field: c.left.name, caseInsensitive: c.caseInsensitive, keys };
  }
  return undefined;
}

/** The constraints a rule's query surely enforces. */
export function constraintsOf(rule: Rule): Constraint[] {
  const { query, categoryField } = rule.compiled;
  const out: Constraint[] = [];
  if (query.category !== null) out.push({ field: categoryField, caseInsensitive: false, keys: new Set([query.category]) });
  out.push(...impliedBy(query.where));
  return out;
}

/**
 * The constraints a condition implies: a plain one's own; all of an `and`'s parts'; and
 * for an `or`, a constraint on each field every branch constrains, with the union of
 * the branches' keys (whichever branch holds, the field has one of its keys). A field
 * constrained exactly in one branch and case-folded in another is constrained folded.
 */
function impliedBy(c: Expr): Constraint[] {
  if (c.type === 'And') return c.operands.flatMap(impliedBy);
  if (c.type !== 'Or') {
    const plain = constraintOf(c);
    return plain === undefined ? [] : [plain];
  }
  const branches = c.operands.map(impliedBy);
  const out: Constraint[] = [];
  for (const field of new Set(branches[0]!.map((k) => k.field))) {
    if (!branches.every((b) => b.some((k) => k.field === field))) continue;
    const exact = branches.every((b) => b.some((k) => k.field === field && !k.caseInsensitive));
    const keys = new Set<string>();
    for (const b of branches) {
      // Each of a branch's constraints on the field holds, but on a multi-valued field each
      // may hold through a different value (`args == "a" and args == "b"`): not their
      // intersection, but any one of them, the smallest (folded where it must be).
      const sets = b.filter((k) => k.field === field && (!exact || !k.caseInsensitive)).map((k) => (exact || k.caseInsensitive ? k.keys : foldedKeys(k.keys)));
      for (const key of sets.reduce((a, x) => (x.size < a.size ? x : a))) keys.add(key);
    }
    out.push({ field, caseInsensitive: !exact, keys });
  }
  return out;
}

/** Exact keys as the folded keys they imply (a value equal to "Sshd" folds to "sshd"). */
function foldedKeys(keys: Set<string>): Set<string> {
  return new Set([...keys].map(asciiLower));
}

const dimensionOf = (c: { field: string; caseInsensitive: boolean }): string => `${c.caseInsensitive ? '~' : '='}${c.field}`;

export class RuleDispatch {
  /** The fields read per event, most constrained first (`=field` as written, `~field` ASCII case folded). */
  readonly fields: string[];
  private readonly readers: ((e: Event) => string[])[];
  /**
   * Per rule, per dispatch field: key sets the field's values must each meet (some value
   * in every set; undefined: no constraint on that field).
   */
  private readonly needs = new Map<Rule, (Set<string>[] | undefined)[]>();
  private readonly cache = new WeakMap<Rule[], Map<string, Rule[]>>();

  constructor(rules: Rule[], options: { minRules?: number } = {}) {
    // With a handful of rules, evaluating them all is cheaper than reading the fields.
    const perRule = rules.length >= (options.minRules ?? MIN_RULES) ? rules.map((r) => [r, constraintsOf(r)] as const) : [];
    const counts = new Map<string, number>();
    for (const [, constraints] of perRule) for (const d of new Set(constraints.map(dimensionOf))) counts.set(d, (counts.get(d) ?? 0) + 1);
    this.fields = [...counts]
      .filter(([, n]) => n * 10 >= rules.length)
      .sort((a, b) => b[1] - a[1])
      .slice(0, MAX_FIELDS)
      .map(([d]) => d);
    this.readers = this.fields.map((d) => {
      const path = FieldPath.of(d.slice(1));
      const key = d.startsWith('~') ? foldedKeyOf : keyOf;
      return (e: Event) => [...new Set(path.values(e).map(key))].sort();
    });
    for (const [rule, constraints] of perRule) {
      this.needs.set(
        rule,
        this.fields.map((d) => {
          // Several constraints on one field must each hold, possibly through different
          // values of a multi-valued field: each set must be met, not their intersection.
          const sets = constraints.filter((c) => dimensionOf(c) === d).map((c) => c.keys);
          return sets.length === 0 ? undefined : sets;
        }),
      );
    }
  }

  /** The rules of `routed` that `event` could satisfy, in their order. */
  rulesFor(routed: Rule[], event: Event): Rule[] {
    if (this.fields.length === 0) return routed;
    const values = this.readers.map((read) => read(event));
    // JSON: unambiguous whatever the values hold (a joined key would let "x\u0000z" pass for ["x", "z"]).
    const signature = JSON.stringify(values);
    let bySignature = this.cache.get(routed);
    if (bySignature === undefined) {
      bySignature = new Map();
      this.cache.set(routed, bySignature);
    }
    let rules = bySignature.get(signature);
    if (rules === undefined) {
      rules = routed.filter((r) => {
        const needs = this.needs.get(r);
        return needs === undefined || needs.every((sets, i) => sets === undefined || sets.every((keys) => values[i]!.some((v) => keys.has(v))));
      });
      if (bySignature.size >= MAX_SIGNATURES) bySignature.clear();
      bySignature.set(signature, rules);
    }
    return rules;
  }
}
