/**
 * Compiles an EQL syntax tree into closures over parsed JSON events.
 *
 * Elasticsearch evaluates a query in two ways, and so do we:
 *
 * - Query path: a field compared with constants (`==`, `:`, `in`, `like`, `regex`,
 *   ranges, startsWith/endsWith/stringContains/cidrMatch on a field) becomes a Lucene
 *   query. It holds if ANY value of a multi-valued field satisfies it; a missing field
 *   satisfies nothing; `not` is Lucene's must_not, so `not x == 1` matches events
 *   without x.
 * - Script path: everything else (functions of fields, arithmetic, field-to-field
 *   comparisons) runs as a null-safe script reading the field's first doc value:
 *   null in, null out, a null predicate does not match, and `not` of a script
 *   predicate is still a null-safe script (not null is null).
 *
 * `and`/`or` combine both kinds like a Lucene bool query, where a script clause
 * matches only when it is true.
 */
import type { Call, CompareOp, Expr, In, Literal, Match, Query } from './ast.js';
import { cidrContains, ipFieldValue, ipTermTest, isIpField, parseIp } from './cidr.js';
import { EqlError, SourceMap } from './errors.js';
import { FieldPath, type Event, type Scalar } from './fields.js';
import { ScriptScope } from './scope.js';
import { arithmetic, callFunction, negate, parseCidrList } from './functions.js';
import { ALWAYS, allOf, anyOf, literalNeed, type Needs } from './needs.js';
import { AutomatonTooComplexError, compileRegex, exactRegexText, RegexSyntaxError } from './regex.js';
import { asciiLower, compareCodePoints, javaIgnoreCaseKey, scalarNumber, scalarText } from './text.js';
import { Float, compareValues, makeNumber, textOf, type Value } from './values.js';
import {
  compileGlob,
  compileWildcard,
  hasWildcard,
  literalRuns,
  parseEqlWildcard,
  parseLuceneWildcard,
  STAR,
  type GlobToken,
  type StringMatcher,
} from './wildcard.js';

export type Predicate = (event: Event) => boolean;
type ScriptFn = (event: Event) => Value;

/** A compiled boolean: a Lucene-style predicate, or a three-valued script. */
type Condition =
  | { kind: 'query'; test: Predicate; needs: Needs }
  | { kind: 'script'; run: ScriptFn; needs: Needs };

const FLIPPED: Record<CompareOp, CompareOp> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
const BOOLEAN_FUNCTIONS = new Set(['startsWith', 'endsWith', 'stringContains', 'cidrMatch']);
const PUSHDOWN_STRING_FUNCTIONS = new Set(['startsWith', 'endsWith', 'stringContains']);

export interface CompiledCondition {
  test: Predicate;
  needs: Needs;
}

export function compileCondition(query: Query, categoryField: string, source: string): CompiledCondition {
  const compiler = new Compiler(new SourceMap(source));
  const where = compiler.predicate(query.where);
  if (query.category === null) return { test: asTest(where), needs: where.needs };
  const category = query.category;
  const categoryPath = FieldPath.of(categoryField);
  // A category field of ECS's ip fields (event_category_override) compares addresses, as == does.
  const inCategory = (isIpField(categoryField) ? ipTermTest([category]) : undefined) ?? ((v: Scalar): boolean => v === category);
  const whereTest = asTest(where);
  return {
    // The category first: one field lookup, and with many rules most of them fail here.
    test: (e) => categoryPath.some(e, inCategory) && whereTest(e),
    // The category goes last: on a tie the prefilter should prefer the rule's own literals.
    needs: allOf([where.needs, lineText(categoryPath, literalNeed(category, false))]),
  };
}

function asTest(c: Condition): Predicate {
  if (c.kind === 'query') return c.test;
  const run = c.run;
  return (e) => run(e) === true;
}

class Compiler {
  constructor(private readonly map: SourceMap) {}

  private fail(reason: string, at: number): never {
    throw new EqlError(reason, this.map.position(at));
  }

  // --- boolean conditions ------------------------------------------------------

  predicate(expr: Expr): Condition {
    const folded = this.fold(expr);
    if (folded.type === 'Literal') {
      if (folded.value !== null && typeof folded.value !== 'boolean') {
        this.fail(`expected a condition, found ${describeLiteral(folded)}`, folded.at);
      }
      const result = folded.value === true;
      return { kind: 'query', test: () => result, needs: ALWAYS };
    }
    switch (folded.type) {
      case 'And':
      case 'Or': {
        const compiled = folded.operands.map((o) => this.predicate(o));
        const parts = folded.type === 'And' ? evaluationOrder(folded.operands, compiled) : compiled;
        const tests = parts.map(asTest);
        const needs = folded.type === 'And' ? allOf(parts.map((p) => p.needs)) : anyOf(parts.map((p) => p.needs));
        const test: Predicate =
          folded.type === 'And'
            ? (e) => {
                for (const t of tests) if (!t(e)) return false;
                return true;
              }
            : (e) => {
                for (const t of tests) if (t(e)) return true;
                return false;
              };
        return { kind: 'query', test, needs };
      }
      case 'Not': {
        // Elasticsearch 8 never rewrites a negation (`not x < 5` is not `x >= 5`): `not` is a
        // must_not around the query, or a script's not around "some value holds", a null
        // (missing) result counting as false. Either way: the operand did not match.
        const operand = folded.expr;
        if (operand.type === 'Not') return this.predicate(operand.expr);
        const t = asTest(this.predicate(operand));
        return { kind: 'query', test: (e) => !t(e), needs: ALWAYS };
      }
      case 'Field':
        // A bare field as a condition means `field == true`.
        return this.fieldComparison(FieldPath.of(folded.name), '==', { type: 'Literal', value: true, isFloat: false, at: folded.at });
      case 'Compare':
        return this.comparison(folded.op, folded.left, folded.right, folded.at);
      case 'Match':
        this.checkString(folded.left, matchOperator(folded));
        if (folded.left.type === 'Field') return this.fieldMatch(FieldPath.of(folded.left.name), folded.op, folded.caseInsensitive, folded.patterns);
        return this.script(folded);
      case 'In': {
        const offender = folded.list.find((i) => !isConstant(i));
        if (offender !== undefined) this.refuseFieldComparison(offender, folded.caseInsensitive ? 'in~' : 'in');
        this.checkInTypes(folded);
        // Constants are folded before the query is planned (ConstantFolding): `in (concat("a", "b"))` is a terms query.
        const list = folded.list.map((i) => this.fold(i));
        if (folded.left.type === 'Field' && list.every((i) => i.type === 'Literal')) {
          return this.fieldIn(FieldPath.of(folded.left.name), list as Literal[], folded.caseInsensitive);
        }
        return this.script(folded);
      }
      case 'Call': {
        this.checkStringArgs(folded);
        if (!BOOLEAN_FUNCTIONS.has(folded.name)) {
          this.fail(`expected a condition, but \`${folded.name}\` returns a value: compare it, e.g. \`${folded.name}(...) == ...\``, folded.at);
        }
        const call = { ...folded, args: folded.args.map((a) => this.fold(a)) }; // as for `in`
        return this.pushdownCall(call) ?? this.script(folded);
      }
      case 'Arith':
      case 'Negate':
        return this.fail('expected a condition, found an arithmetic expression', folded.at);
    }
  }

  /** A script predicate: true when any combination of the fields' values makes it true. */
  private script(expr: Expr): Condition {
    const scope = new ScriptScope();
    const run = this.value(expr, scope);
    return { kind: 'script', run: scope.anyValue(run), needs: ALWAYS };
  }

  private comparison(op: CompareOp, leftExpr: Expr, rightExpr: Expr, at: number): Condition {
    let left = this.fold(leftExpr);
    let right = this.fold(rightExpr);
    let operator = op;
    // Literals go to the right, as Elasticsearch's optimizer does.
    if (left.type === 'Literal' && right.type !== 'Literal') {
      [left, right] = [right, left];
      operator = FLIPPED[operator];
    }
    if (right.type === 'Literal' && right.value === null) {
      if (operator !== '==' && operator !== '!=') this.fail(`cannot order against null: use == null or != null`, at);
      const wantMissing = operator === '==';
      if (left.type === 'Field') {
        const path = FieldPath.of(left.name);
        const present = (e: Event): boolean => path.some(e, () => true);
        return { kind: 'query', test: wantMissing ? (e) => !present(e) : present, needs: ALWAYS };
      }
      return this.script({ type: 'Compare', op: operator, left, right, at });
    }
    // `cond == true` is `cond`, `cond == false` is `not cond`.
    if (right.type === 'Literal' && typeof right.value === 'boolean' && isBooleanExpr(left)) {
      const positive = (operator === '==') === right.value;
      if (operator === '==' || operator === '!=') {
        return this.predicate(positive ? left : { type: 'Not', expr: left, at });
      }
    }
    if (right.type !== 'Literal') this.refuseFieldComparison(right, operator);
    if (left.type === 'Field') return this.fieldComparison(FieldPath.of(left.name), operator, right);
    return this.script({ type: 'Compare', op: operator, left, right, at });
  }

  /**
   * Elasticsearch compares a field (or a function of fields) only with a constant: it refuses
   * `a == b`, `length(a) > length(b)` and `a in (b, "x")` when it plans the query, so no rule
   * that runs there has them, and accepting them here would let a rule pass `rules check` that
   * Kibana refuses.
   */
  private refuseFieldComparison(offender: Expr, operator: string): never {
    const what = offender.type === 'Field' ? `\`${offender.name}\`` : offender.type === 'Call' ? `\`${offender.name}(...)\`` : 'an expression of fields';
    return this.fail(`comparisons against fields are not supported (Elasticsearch refuses them too): ${what} in \`${operator}\` is not a constant`, offender.at);
  }

  private fieldComparison(path: FieldPath, op: CompareOp, literal: Literal): Condition {
    const lit = literal.value as Scalar;
    if (op === '==' || op === '!=') {
      const text = scalarText(lit);
      const sameIp = typeof lit === 'string' && isIpField(path.name) ? ipTermTest([lit]) : undefined;
      const equals = sameIp ?? ((v: Scalar): boolean => (typeof v === 'string' ? v === text : scalarText(v) === text));
      const test: Predicate = (e) => path.some(e, equals);
      // An address can be spelled without the literal's text (`::ffff:a9fe:a9fe`): no need then.
      if (op === '==') return { kind: 'query', test, needs: typeof lit === 'string' && sameIp === undefined ? lineText(path, literalNeed(lit, false)) : ALWAYS };
      return { kind: 'query', test: (e) => !test(e), needs: ALWAYS };
    }
    const holds = orderingTest(op);
    let pred: (v: Scalar) => boolean;
    if (typeof lit === 'number') {
      pred = (v) => {
        const n = scalarNumber(v);
        return n !== undefined && holds(n < lit ? -1 : n > lit ? 1 : 0);
      };
    } else {
      const text = scalarText(lit);
      pred = (v) => holds(compareCodePoints(scalarText(v), text));
    }
    return { kind: 'query', test: (e) => path.some(e, pred), needs: ALWAYS };
  }

  private fieldMatch(path: FieldPath, op: ':' | 'like' | 'regex', caseInsensitive: boolean, given: Literal[]): Condition {
    // An ip field's values are in normal form: so is an address written without wildcards.
    const patterns = op === 'regex' ? given : given.map((p) => (typeof p.value === 'string' && !hasWildcard(p.value) ? asIpFieldValue(path, p) : p));
    const needs = lineText(path, anyOf(patterns.map((p) => patternNeeds(op, caseInsensitive, p))));
    if (caseInsensitive && op !== 'regex') {
      // Fold each value once (per event, with the field cache) and match folded patterns.
      const matcher = this.stringMatcher(op, false, patterns.map(foldedPattern));
      const unfolded = (v: Scalar): boolean => matcher(asciiLower(scalarText(v)));
      return { kind: 'query', test: (e) => path.someFolded(e, matcher, unfolded), needs };
    }
    const matcher = this.stringMatcher(op, caseInsensitive, patterns);
    const pred = (v: Scalar): boolean => matcher(typeof v === 'string' ? v : scalarText(v));
    return { kind: 'query', test: (e) => path.some(e, pred), needs };
  }

  private fieldIn(path: FieldPath, list: Literal[], caseInsensitive: boolean): Condition {
    const norm = caseInsensitive ? asciiLower : (s: string): string => s;
    // Like Elasticsearch's terms query, a null in the list matches nothing (not a missing field).
    const values = list.filter((item) => item.value !== null).map((item) => asIpFieldValue(path, item));
    if (!caseInsensitive && isIpField(path.name) && values.length > 0 && values.every((i) => typeof i.value === 'string')) {
      const sameIp = ipTermTest(values.map((i) => i.value as string));
      if (sameIp) return { kind: 'query', test: (e) => path.some(e, sameIp), needs: ALWAYS };
    }
    const wanted = new Set(values.map((item) => norm(scalarText(item.value as Scalar))));
    const isWanted = (text: string): boolean => wanted.has(text);
    const isWantedValue = (v: Scalar): boolean => wanted.has(caseInsensitive ? asciiLower(scalarText(v)) : scalarText(v));
    const anyWanted: Predicate = caseInsensitive ? (e) => path.someFolded(e, isWanted, isWantedValue) : (e) => path.some(e, isWantedValue);
    const needs = lineText(path, anyOf(values.map((i) => (typeof i.value === 'string' ? literalNeed(i.value, caseInsensitive) : ALWAYS))));
    return { kind: 'query', test: anyWanted, needs };
  }

  /** startsWith/endsWith/stringContains/cidrMatch(field, constants) as a query; undefined if not pushable. */
  private pushdownCall(call: Expr & { type: 'Call' }): Condition | undefined {
    const [first, ...rest] = call.args;
    if (first?.type !== 'Field' || !rest.every((a) => a.type === 'Literal' && typeof a.value === 'string')) return undefined;
    const path = FieldPath.of(first.name);
    const constants = rest.map((a) => (a as Literal).value as string);
    if (call.name === 'cidrMatch') {
      const cidrs = parseCidrList(constants);
      if (typeof cidrs === 'string') this.fail(`cidrMatch: invalid CIDR block ${JSON.stringify(cidrs)}`, call.at);
      const pred = (v: Scalar): boolean => {
        const ip = typeof v === 'string' ? parseIp(v) : undefined;
        return ip !== undefined && cidrs.some((c) => cidrContains(c, ip));
      };
      return { kind: 'query', test: (e) => path.some(e, pred), needs: ALWAYS };
    }
    if (!PUSHDOWN_STRING_FUNCTIONS.has(call.name)) return undefined;
    // startsWith is a prefix query (literal); endsWith and stringContains become Lucene
    // wildcard queries built from the unescaped constant, so `*`, `?` and `\` act as
    // wildcard syntax there, as they do in Elasticsearch.
    const constant = constants[0]!;
    const tokens: GlobToken[] =
      call.name === 'startsWith'
        ? [constant, STAR]
        : call.name === 'endsWith'
          ? [STAR, ...parseLuceneWildcard(constant)]
          : [STAR, ...parseLuceneWildcard(constant), STAR];
    const matcher = this.patternAt(rest[0] as Literal, () => compileGlob(tokens, call.caseInsensitive));
    const pred = (v: Scalar): boolean => matcher(typeof v === 'string' ? v : scalarText(v));
    const needs = lineText(path, allOf(literalRuns(tokens).map((t) => literalNeed(t, call.caseInsensitive))));
    return { kind: 'query', test: (e) => path.some(e, pred), needs };
  }

  /** `foldExact` folds values and non-wildcard patterns when case-insensitive (ASCII on the query path). */
  private stringMatcher(op: ':' | 'like' | 'regex', caseInsensitive: boolean, patterns: Literal[], foldExact = asciiLower): StringMatcher {
    const exact = new Set<string>();
    const matchers: StringMatcher[] = [];
    // On the script path a case-insensitive regex that spells one string is InsensitiveEquals
    // there (ReplaceRegexMatch; several patterns are one regex joined by `|`): Unicode folding.
    const texts = op === 'regex' && caseInsensitive && foldExact === javaIgnoreCaseKey ? patterns.map((p) => (typeof p.value === 'string' ? exactRegexText(p.value) : undefined)) : [];
    const oneText = texts.length > 0 && texts.every((t) => t !== undefined && t === texts[0]) ? texts[0] : undefined;
    for (const p of patterns) {
      if (typeof p.value !== 'string') {
        exact.add(scalarText(p.value as Scalar)); // `field : 5` is `field == 5`
        continue;
      }
      if (op === 'regex') {
        const matcher = this.patternAt(p, () => compileRegex(p.value as string, caseInsensitive));
        if (oneText === undefined) matchers.push(matcher);
        else exact.add(foldExact(oneText));
      } else if (!hasWildcard(p.value)) {
        exact.add(caseInsensitive ? foldExact(p.value) : p.value);
      } else {
        matchers.push(this.patternAt(p, () => compileWildcard(p.value as string, caseInsensitive)));
      }
    }
    const norm = caseInsensitive ? foldExact : (s: string): string => s;
    // Most values differ in length from every exact pattern: reject those before folding.
    const lengths = new Set([...exact].map((e) => e.length));
    if (matchers.length === 0) return (v) => lengths.has(v.length) && exact.has(norm(v));
    if (exact.size === 0 && matchers.length === 1) return matchers[0]!;
    return (v) => {
      if (exact.size > 0 && exact.has(norm(v))) return true;
      for (const m of matchers) if (m(v)) return true;
      return false;
    };
  }

  /** A regex or wildcard pattern compiled, its syntax errors and too-complex automata reported at the pattern. */
  private patternAt(p: Literal, compile: () => StringMatcher): StringMatcher {
    try {
      return compile();
    } catch (err) {
      if (err instanceof RegexSyntaxError || err instanceof AutomatonTooComplexError) this.fail(err.message, p.at);
      throw err;
    }
  }

  // --- script values -------------------------------------------------------------

  value(expr: Expr, scope: ScriptScope): ScriptFn {
    return this.valueOf(this.fold(expr), scope);
  }

  private valueOf(folded: Expr, scope: ScriptScope): ScriptFn {
    switch (folded.type) {
      case 'Literal': {
        const v = literalValue(folded);
        return () => v;
      }
      case 'Field':
        return scope.bind(FieldPath.of(folded.name));
      case 'Negate': {
        this.checkNumeric([folded.expr]);
        const inner = this.value(folded.expr, scope);
        return (e) => negate(inner(e));
      }
      case 'Arith': {
        this.checkNumeric([folded.left, folded.right]);
        const l = this.value(folded.left, scope);
        const r = this.value(folded.right, scope);
        const op = folded.op;
        return (e) => arithmetic(op, l(e), r(e));
      }
      case 'Call': {
        this.checkStringArgs(folded);
        if (folded.name === 'cidrMatch') this.checkCidrArgs(folded.args);
        if (ARITHMETIC_FUNCTIONS.has(folded.name)) this.checkNumeric(folded.args);
        const args = folded.args.map((a) => this.value(a, scope));
        const { name, caseInsensitive } = folded;
        return (e) =>
          callFunction(
            name,
            args.map((a) => a(e)),
            caseInsensitive,
          );
      }
      case 'Not': {
        const inner = this.value(folded.expr, scope);
        return (e) => not3(inner(e));
      }
      case 'And':
      case 'Or': {
        const parts = folded.operands.map((o) => this.value(o, scope));
        const isAnd = folded.type === 'And';
        return (e) => {
          let sawNull = false;
          for (const p of parts) {
            const v = p(e);
            if (v === null) sawNull = true;
            else if (v === !isAnd) return !isAnd;
          }
          return sawNull ? null : isAnd;
        };
      }
      case 'Compare': {
        const l = this.value(folded.left, scope);
        if (folded.right.type === 'Literal' && folded.right.value === null) {
          return folded.op === '==' ? (e) => l(e) === null : (e) => l(e) !== null;
        }
        // A number against a string (or a boolean against either), where the query fixes both
        // types: Elasticsearch's compare() meets a ClassCastException and gives null.
        if (incomparable(staticKind(folded.left), staticKind(folded.right))) return () => null;
        const r = this.value(folded.right, scope);
        const holds = orderingTest(folded.op);
        return (e) => {
          const c = compareValues(l(e), r(e));
          return c === null ? null : holds(c);
        };
      }
      case 'Match': {
        this.checkString(folded.left, matchOperator(folded));
        const l = this.value(folded.left, scope);
        // Scripts compare case-insensitively the Java way (Unicode-aware), queries fold ASCII only.
        const matcher = this.stringMatcher(folded.op, folded.caseInsensitive, folded.patterns, javaIgnoreCaseKey);
        return (e) => {
          const t = textOf(l(e));
          return t === null ? null : matcher(t);
        };
      }
      case 'In': {
        this.checkInTypes(folded);
        const l = this.value(folded.left, scope);
        const items = folded.list.map((i) => this.value(i, scope));
        const ci = folded.caseInsensitive;
        return (e) => {
          const v = l(e);
          if (v === null) return null;
          let sawNull = false;
          for (const item of items) {
            const w = item(e);
            if (w === null) sawNull = true;
            else if (ci ? equalsIgnoreCase(v, w) : compareValues(v, w) === 0) return true;
          }
          return sawNull ? null : false;
        };
      }
    }
  }

  /**
   * Elasticsearch refuses an `in` whose list values do not fit the value tested (In.resolveType:
   * a number and a string are not compatible), whatever the field's mapping: so a list that
   * mixes them, or that does not fit a function's result.
   */
  private checkInTypes(expr: In): void {
    if (expr.caseInsensitive) {
      // in~ is a case-insensitive string comparison per item there (InsensitiveEquals), strings on both sides.
      for (const e of [expr.left, ...expr.list]) this.checkString(e, 'in~');
      return;
    }
    const kinds = [expr.left, ...expr.list].map(staticKind);
    const first = kinds.findIndex((k) => k !== undefined);
    const clash = kinds.findIndex((k) => k !== undefined && k !== kinds[first]);
    if (clash < 0) return;
    const at = clash === 0 ? expr.left : expr.list[clash - 1]!;
    const other = first === 0 ? `the ${kinds[0]} it tests` : `the ${kinds[first]} before it`;
    this.fail(`\`in\` compares like with like (Elasticsearch refuses this too): a ${kinds[clash]} here, against ${other}`, at.at);
  }

  /** Elasticsearch refuses `:`, like, regex and in~ on a value the query makes a number or a boolean (`length(x) : "1"`, `x in~ ("a", 1)`). */
  private checkString(operand: Expr, op: string): void {
    const kind = staticKind(operand);
    if (kind === 'number' || kind === 'boolean') this.fail(`\`${op}\` compares strings (Elasticsearch refuses this too): a ${kind} here`, operand.at);
  }

  /** The arguments string functions take as strings, which Elasticsearch checks when it plans the query (`length(x : "a")`). */
  private checkStringArgs(call: Call): void {
    const positions = STRING_ARGUMENTS[call.name];
    if (positions === undefined) return;
    call.args.forEach((a, i) => {
      const kind = staticKind(a);
      if (positions.includes(i) && (kind === 'number' || kind === 'boolean')) this.fail(`\`${call.name}\` takes a string here (Elasticsearch refuses this too), not a ${kind}`, a.at);
    });
  }

  /** Elasticsearch refuses arithmetic on a value the query makes a string or a boolean (`-(x in (1))`, `"a" + 1`). */
  private checkNumeric(operands: Expr[]): void {
    for (const o of operands) {
      const kind = staticKind(o);
      if (kind === 'string' || kind === 'boolean') this.fail(`arithmetic needs numbers (Elasticsearch refuses this too): a ${kind} here`, o.at);
    }
  }

  private checkCidrArgs(args: Expr[]): void {
    for (const a of args.slice(1)) {
      if (a.type === 'Literal' && typeof a.value === 'string' && typeof parseCidrList([a.value]) === 'string') {
        this.fail(`cidrMatch: invalid CIDR block ${JSON.stringify(a.value)}`, a.at);
      }
    }
  }

  // --- constant folding -------------------------------------------------------------

  /** Evaluates field-free subexpressions once, at compile time. */
  private fold(expr: Expr): Expr {
    if (expr.type === 'Literal' || expr.type === 'Field' || !isConstant(expr)) return expr;
    const v = this.valueOf(expr, new ScriptScope())({});
    if (v instanceof Float) return { type: 'Literal', value: v.value, isFloat: true, at: expr.at };
    return { type: 'Literal', value: v, isFloat: false, at: expr.at };
  }
}

const isNullLiteral = (expr: Expr): boolean => expr.type === 'Literal' && expr.value === null;
const isNullList = (list: Expr[]): boolean => list.length > 0 && list.every(isNullLiteral);

function isConstant(expr: Expr): boolean {
  switch (expr.type) {
    case 'Literal':
      return true;
    case 'Field':
      return false;
    case 'Not':
    case 'Negate':
      return isConstant(expr.expr);
    case 'And':
    case 'Or':
      return expr.operands.every(isConstant);
    case 'Compare':
    case 'Arith':
      return isConstant(expr.left) && isConstant(expr.right);
    case 'Match':
      return isConstant(expr.left);
    case 'In':
      // In.foldable(): a list of nulls alone is null whatever the value, as In dedups its
      // list to one null (`x not in (null)` matches nothing).
      return (isConstant(expr.left) && expr.list.every(isConstant)) || isNullList(expr.list);
    case 'Call':
      return expr.args.every(isConstant);
  }
}

type Kind = 'number' | 'string' | 'boolean';

/** What a script expression gives where the query alone says (a field's type is its mapping's: unknown here). */
function staticKind(expr: Expr): Kind | undefined {
  switch (expr.type) {
    case 'Literal':
      return expr.value === null ? undefined : (typeof expr.value as Kind);
    case 'Field':
      return undefined;
    case 'Arith':
    case 'Negate':
      return 'number';
    case 'Call':
      return FUNCTION_KINDS[expr.name];
    default:
      return 'boolean';
  }
}

const FUNCTION_KINDS: Record<string, Kind> = {
  add: 'number',
  subtract: 'number',
  multiply: 'number',
  divide: 'number',
  modulo: 'number',
  length: 'number',
  indexOf: 'number',
  number: 'number',
  string: 'string',
  concat: 'string',
  substring: 'string',
  between: 'string',
  startsWith: 'boolean',
  endsWith: 'boolean',
  stringContains: 'boolean',
  cidrMatch: 'boolean',
};

const ARITHMETIC_FUNCTIONS = new Set(['add', 'subtract', 'multiply', 'divide', 'modulo']);

/** The arguments (by position) each string function requires to be strings. */
const STRING_ARGUMENTS: Record<string, number[]> = {
  length: [0],
  startsWith: [0, 1],
  endsWith: [0, 1],
  stringContains: [0, 1],
  indexOf: [0, 1],
  substring: [0],
  between: [0, 1, 2],
  number: [0],
};

/** A match's operator as written: `:`, `like`, `like~`, `regex`, `regex~`. */
const matchOperator = (m: Match): string => m.op + (m.caseInsensitive && m.op !== ':' ? '~' : '');

/** Kinds Elasticsearch's compare() cannot order against each other (numbers of any kind compare). */
const incomparable = (a: Kind | undefined, b: Kind | undefined): boolean => a !== undefined && b !== undefined && a !== b;

function isBooleanExpr(expr: Expr): boolean {
  switch (expr.type) {
    case 'Not':
    case 'And':
    case 'Or':
    case 'Compare':
    case 'Match':
    case 'In':
      return true;
    case 'Call':
      return BOOLEAN_FUNCTIONS.has(expr.name);
    default:
      return false;
  }
}

function literalValue(lit: Literal): Value {
  if (typeof lit.value === 'number') return makeNumber(lit.value, lit.isFloat);
  return lit.value;
}

function not3(v: Value): Value {
  return typeof v === 'boolean' ? !v : null;
}

function equalsIgnoreCase(a: Value, b: Value): boolean {
  const x = textOf(a);
  const y = textOf(b);
  return x !== null && y !== null && x.length === y.length && javaIgnoreCaseKey(x) === javaIgnoreCaseKey(y);
}

function orderingTest(op: CompareOp): (c: number) => boolean {
  switch (op) {
    case '==':
      return (c) => c === 0;
    case '!=':
      return (c) => c !== 0;
    case '<':
      return (c) => c < 0;
    case '<=':
      return (c) => c <= 0;
    case '>':
      return (c) => c > 0;
    case '>=':
      return (c) => c >= 0;
  }
}

/** A literal compared with an ip field's values as text: an address in its normal form, as they are (cidr.ts). */
function asIpFieldValue(path: FieldPath, literal: Literal): Literal {
  if (!isIpField(path.name) || typeof literal.value !== 'string') return literal;
  const normal = ipFieldValue(literal.value);
  return normal === undefined || normal === literal.value ? literal : { ...literal, value: normal };
}

/**
 * The text a condition on `path` needs in the line, where the field's values are the line's
 * text. An `ip` field's are not: its values are addresses in normal form (`10.0.0.5` read
 * from `::ffff:a00:5`), so the line need not hold the text a pattern or a literal matches.
 */
function lineText(path: FieldPath, needs: Needs): Needs {
  return isIpField(path.name) ? ALWAYS : needs;
}

function patternNeeds(op: ':' | 'like' | 'regex', caseInsensitive: boolean, p: Literal): Needs {
  if (op === 'regex' || typeof p.value !== 'string') return ALWAYS;
  if (!hasWildcard(p.value)) return literalNeed(p.value, caseInsensitive);
  // A segment cut out of the value is only safe as a needle where JSON escaping cannot
  // change it at the cut: escaping is per character, so each segment's escaped form
  // appears inside the escaped value.
  return allOf(literalRuns(parseEqlWildcard(p.value)).map((s) => literalNeed(s, caseInsensitive)));
}

/**
 * Conditions have no side effects, so an `and` may test its parts in any order: cheap
 * ones (field equality, sets) before costly ones (wildcards, regexes, functions scanning
 * long strings), and within each the most selective first, the one requiring the longest
 * literal (negations, needing none, go last).
 */
function evaluationOrder(operands: Expr[], parts: Condition[]): Condition[] {
  const costs = operands.map(evaluationCost);
  const costly = costs.map((cost) => cost > CHEAP_COST);
  // Cheap conditions first, the rarest first among them; costly ones after, the cheapest first
  // (a list of 30 wildcard patterns should not run before a 2-pattern one that fails as often).
  return parts
    .map((_, i) => i)
    .sort(
      (a, b) =>
        Number(costly[a]) - Number(costly[b]) ||
        (costly[a] ? costs[a]! - costs[b]! : 0) ||
        selectivity(parts[b]!.needs) - selectivity(parts[a]!.needs),
    )
    .map((i) => parts[i]!);
}

/** Conditions up to this cost (a field lookup and a comparison or set test) count as cheap. */
const CHEAP_COST = 3;

/** A rough cost of evaluating an expression: field lookups, comparisons, and pattern or function work. */
function evaluationCost(expr: Expr): number {
  switch (expr.type) {
    case 'Literal':
      return 0;
    case 'Field':
      return 1;
    case 'Not':
    case 'Negate':
      return evaluationCost(expr.expr);
    case 'And':
    case 'Or':
      return expr.operands.reduce((sum, o) => sum + evaluationCost(o), 0);
    case 'Compare':
    case 'Arith':
      return evaluationCost(expr.left) + evaluationCost(expr.right) + 1;
    case 'In':
      return evaluationCost(expr.left) + expr.list.reduce((sum, o) => sum + evaluationCost(o), 0) + 1;
    case 'Match': {
      // Plain strings are one (case-folded) set test; each wildcard pattern is a pass over the
      // value, each regex an automaton run.
      const patternCost = (p: Literal): number =>
        typeof p.value !== 'string' || (expr.op !== 'regex' && !hasWildcard(p.value)) ? 0 : expr.op === 'regex' ? 6 : 2;
      return evaluationCost(expr.left) + 1 + expr.patterns.reduce((sum, p) => sum + patternCost(p), 0);
    }
    case 'Call':
      return expr.args.reduce((sum, a) => sum + evaluationCost(a), 0) + 6;
  }
}

/** How rare a condition's required text is: the longest literal it surely needs. */
function selectivity(needs: Needs): number {
  switch (needs.kind) {
    case 'always':
      return 0;
    case 'literal':
      return needs.text.length;
    case 'all':
      return Math.max(...needs.parts.map(selectivity));
    case 'any':
      return Math.min(...needs.parts.map(selectivity));
  }
}

/** A `:`/`like~` pattern with ASCII letters lower-cased, to match values folded the same way. */
function foldedPattern(p: Literal): Literal {
  return typeof p.value === 'string' ? { ...p, value: asciiLower(p.value) } : p;
}

function describeLiteral(lit: Literal): string {
  return typeof lit.value === 'string' ? `string ${JSON.stringify(lit.value)}` : `${String(lit.value)}`;
}
