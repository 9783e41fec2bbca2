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
import { isIpField } from '../engine/cidr.js';
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

/**
 * The constraint a top-level conjunct surely enforces, if it is one of the plain kinds. Not on
 * ECS ip fields: there an address is equal however it is spelled, and keys compare text.
 */
function constraintOf(c: Expr): Constraint | undefined {
  if ((c.type === 'Compare' || c.type === 'In' || c.type === 'Match') && c.left.type === 'Field' && isIpField(c.left.name)) return undefined;
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

/** A set of rules, by their position in the dispatch's rule list: bit i of word i >>> 5. */
type RuleBits = Uint32Array;

/** One dispatch field: the rules it does not constrain, and per key the rules a value with that key admits. */
interface Dimension {
  path: FieldPath;
  key: (v: Scalar) => string;
  free: RuleBits;
  byKey: Map<string, RuleBits>;
}

/**
 * Chooses rules with bit sets rather than a cache of answers: per dispatch field, the rules
 * admitted are those it does not constrain plus those a value of the event's admits, and an
 * event's rules are what every field admits. The cost is the same for every event, whatever
 * the number of distinct values: a cache keyed on the combination of values (an object
 * with thousands of process names) missed on most events and cost 220 µs per miss with
 * Elastic's 823 rules, and its size was attacker-chosen.
 */
export class RuleDispatch {
  /** The fields read per event, most constrained first (`=field` as written, `~field` ASCII case folded). */
  readonly fields: string[];
  private readonly dimensions: Dimension[];
  private readonly position = new Map<Rule, number>();
  /** Per routed list, each rule's position in the dispatch's list (-1: unknown here, always kept). */
  private readonly positions = new WeakMap<Rule[], Int32Array>();
  /** Scratch sets, reused by every call: the admitted rules so far, and one field's. */
  private readonly admitted: RuleBits;
  private readonly admittedByField: RuleBits;

  constructor(rules: Rule[], options: { minRules?: number } = {}) {
    // With a handful of rules, evaluating them all is cheaper than reading the fields.
    const perRule = rules.length >= (options.minRules ?? MIN_RULES) ? rules.map((r) => constraintsOf(r)) : [];
    const counts = new Map<string, number>();
    for (const constraints of perRule) for (const d of new Set(constraints.map(dimensionOf))) counts.set(d, (counts.get(d) ?? 0) + 1);
    this.fields = [...counts]
      .filter(([, n]) => n * 10 >= rules.length)
      .sort((a, b) => b[1] - a[1])
      .slice(0, MAX_FIELDS)
      .map(([d]) => d);
    const words = (rules.length + 31) >>> 5;
    this.admitted = new Uint32Array(words);
    this.admittedByField = new Uint32Array(words);
    rules.forEach((r, i) => {
      if (!this.position.has(r)) this.position.set(r, i);
    });
    this.dimensions = this.fields.map((d) => {
      const dimension: Dimension = { path: FieldPath.of(d.slice(1)), key: d.startsWith('~') ? foldedKeyOf : keyOf, free: new Uint32Array(words), byKey: new Map() };
      perRule.forEach((constraints, i) => {
        const sets = constraints.filter((c) => dimensionOf(c) === d).map((c) => c.keys);
        if (sets.length === 0) {
          dimension.free[i >>> 5]! |= 1 << (i & 31);
          return;
        }
        // Several constraints on one field must each hold, possibly through different values
        // of a multi-valued field. Requiring the smallest set's alone keeps every rule that
        // could match; the compiled test enforces the rest.
        const smallest = sets.reduce((a, x) => (x.size < a.size ? x : a));
        for (const key of smallest) {
          let bits = dimension.byKey.get(key);
          if (bits === undefined) dimension.byKey.set(key, (bits = new Uint32Array(words)));
          bits[i >>> 5]! |= 1 << (i & 31);
        }
      });
      return dimension;
    });
  }

  /** The rules of `routed` that `event` could satisfy, in their order. */
  rulesFor(routed: Rule[], event: Event): Rule[] {
    if (this.dimensions.length === 0) return routed;
    const admitted = this.admitted;
    const byField = this.admittedByField;
    admitted.fill(0xffffffff);
    for (const dimension of this.dimensions) {
      byField.set(dimension.free);
      for (const v of dimension.path.values(event)) {
        const bits = dimension.byKey.get(dimension.key(v));
        if (bits !== undefined) for (let w = 0; w < bits.length; w++) byField[w]! |= bits[w]!;
      }
      for (let w = 0; w < admitted.length; w++) admitted[w]! &= byField[w]!;
    }
    const positions = this.positionsIn(routed);
    const kept: Rule[] = [];
    for (let j = 0; j < routed.length; j++) {
      const i = positions[j]!;
      if (i < 0 || (admitted[i >>> 5]! & (1 << (i & 31))) !== 0) kept.push(routed[j]!);
    }
    return kept;
  }

  private positionsIn(routed: Rule[]): Int32Array {
    let positions = this.positions.get(routed);
    if (positions === undefined) {
      positions = Int32Array.from(routed, (r) => this.position.get(r) ?? -1);
      this.positions.set(routed, positions);
    }
    return positions;
  }
}
