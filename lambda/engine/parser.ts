/**
 * A small recursive-descent parser for single-event EQL, following Elasticsearch's
 * EqlBase grammar. Precedence, loosest first: or, and, not, comparison/predicate,
 * + -, * / %, unary minus, primary.
 */
import type { ArithOp, CompareOp, Expr, Literal, Query } from './ast.js';
import { EqlError, SourceMap } from './errors.js';
import { fieldTooDeep } from './fields.js';
import { lookupFunction } from './functions.js';
import { tokenize, type Token } from './lexer.js';
import { javaDoubleText, LONG_MAX } from './values.js';

const RESERVED = new Set(['and', 'or', 'not', 'in', 'like', 'regex', 'where', 'null', 'true', 'false']);
const MULTI_EVENT = new Set(['sequence', 'sample', 'join']);
const COMPARE_OPS = new Set(['==', '!=', '<', '<=', '>', '>=']);
/** Nesting allowed (parentheses, not, calls, operator chains), as Elasticsearch's parser allows 200. */
export const MAX_NESTING = 200;

export function parseQuery(text: string): Query {
  return new Parser(text).parseQuery();
}

/** Parses a bare condition (no `category where`), e.g. for tests and ad-hoc filters. */
export function parseExpression(text: string): Expr {
  return new Parser(text).parseStandaloneExpression();
}

class Parser {
  private readonly tokens: Token[];
  private readonly map: SourceMap;
  private pos = 0;
  /** Current nesting: the parser and compiler recurse per level, so it is bounded. */
  private depth = 0;

  constructor(text: string) {
    this.map = new SourceMap(text);
    // Name multi-event queries before the lexer trips over their syntax (e.g. maxspan=1m).
    const lead = /^(?:\s|\/\/[^\n]*\n?|\/\*[\s\S]*?\*\/)*(sequence|sample|join)\b/.exec(text);
    if (lead !== null) {
      const at = lead[0].length - lead[1]!.length;
      throw new EqlError(`${lead[1]} queries are not supported: eqlambda matches single events (\`<category> where <condition>\`)`, this.map.position(at));
    }
    this.tokens = tokenize(text, this.map);
  }

  parseQuery(): Query {
    const first = this.peek();
    if (first.type === 'eof') this.fail('empty query: expected `<category> where <condition>`', first);
    if (first.type === 'ident' && MULTI_EVENT.has(first.value)) {
      this.fail(`${first.value} queries are not supported: eqlambda matches single events (\`<category> where <condition>\`)`, first);
    }
    let category: string | null;
    if (first.type === 'ident' && first.value === 'any' && !first.tilde) {
      category = null;
    } else if ((first.type === 'ident' && !RESERVED.has(first.value) && !first.tilde) || first.type === 'string') {
      category = first.value;
    } else {
      return this.fail(`expected an event category (e.g. \`process\`) or \`any\`, found ${describe(first)}`, first);
    }
    this.pos++;
    this.expectKeyword('where');
    const where = this.parseOr();
    this.expectEnd();
    return { category, where, at: first.start };
  }

  parseStandaloneExpression(): Expr {
    const expr = this.parseOr();
    this.expectEnd();
    return expr;
  }

  private expectEnd(): void {
    const t = this.peek();
    if (t.type === 'eof') return;
    if (t.type === 'op' && t.value === '|') {
      this.fail('pipes (`| head`, `| tail`, `| filter`, ...) are not supported: eqlambda matches single events', t);
    }
    if (t.type === 'ident' && (t.value === 'by' || t.value === 'with' || t.value === 'until' || t.value === 'maxspan')) {
      this.fail(`\`${t.value}\` belongs to sequence/sample queries, which are not supported`, t);
    }
    this.fail(`unexpected ${describe(t)} after the end of the condition`, t);
  }

  // --- boolean layer -------------------------------------------------------

  private enter(at: Token): void {
    if (++this.depth > MAX_NESTING) {
      this.fail(`query nested too deeply: more than ${MAX_NESTING} levels of parentheses, not, function calls or operators`, at);
    }
  }

  private parseOr(): Expr {
    const start = this.peek().start;
    const operands = [this.parseAnd()];
    while (this.acceptKeyword('or')) operands.push(this.parseAnd());
    return operands.length === 1 ? operands[0]! : { type: 'Or', operands, at: start };
  }

  private parseAnd(): Expr {
    const start = this.peek().start;
    const operands = [this.parseNot()];
    while (this.acceptKeyword('and')) operands.push(this.parseNot());
    return operands.length === 1 ? operands[0]! : { type: 'And', operands, at: start };
  }

  private parseNot(): Expr {
    const t = this.peek();
    if (this.acceptKeyword('not')) {
      this.enter(t);
      const expr = this.parseNot();
      this.depth--;
      return { type: 'Not', expr, at: t.start };
    }
    return this.parsePredicate();
  }

  // --- comparisons and predicates ------------------------------------------

  /**
   * A comparison of two operator expressions. `:`, `like`, `regex` and `in` are not parsed
   * here: as in Elasticsearch's grammar (`primaryExpression predicate?`), they bind to the
   * primary expression just before them, tighter than arithmetic and comparisons
   * (parsePrimaryPredicate), so `x : "a" == true` compares a predicate and `-x in (1)`
   * negates one.
   */
  private parsePredicate(): Expr {
    const left = this.parseAdditive();
    const t = this.peek();
    if (t.type === 'op' && t.value === '=') this.fail('use == to compare values, not =', t);
    if (t.type !== 'op' || !COMPARE_OPS.has(t.value)) return left;
    this.pos++;
    const right = this.parseAdditive();
    const next = this.peek();
    if (next.type === 'op' && COMPARE_OPS.has(next.value)) this.fail(`comparisons cannot be chained: use \`and\` between them`, next);
    return { type: 'Compare', op: t.value as CompareOp, left, right, at: t.start };
  }

  /** A primary expression and the predicate that may follow it (`:`, `like`, `regex`, `in`, `not in`). */
  private parsePrimaryPredicate(): Expr {
    const left = this.parsePrimary();
    const t = this.peek();
    if (t.type === 'op' && t.value === ':') {
      this.pos++;
      return { type: 'Match', op: ':', caseInsensitive: true, left, patterns: this.parsePatterns(':'), at: t.start };
    }
    if (t.type === 'ident' && (t.value === 'like' || t.value === 'regex')) {
      this.pos++;
      const op = t.value;
      return { type: 'Match', op, caseInsensitive: t.tilde === true, left, patterns: this.parsePatterns(op + (t.tilde ? '~' : '')), at: t.start };
    }
    if (t.type === 'ident' && t.value === 'in') {
      this.pos++;
      return { type: 'In', left, list: this.parseList('in'), caseInsensitive: t.tilde === true, at: t.start };
    }
    if (t.type === 'ident' && t.value === 'not' && !t.tilde && this.peek(1).type === 'ident' && this.peek(1).value === 'in') {
      const inToken = this.peek(1);
      this.pos += 2;
      const inExpr: Expr = { type: 'In', left, list: this.parseList('in'), caseInsensitive: inToken.tilde === true, at: inToken.start };
      return { type: 'Not', expr: inExpr, at: t.start };
    }
    return left;
  }

  /**
   * The constant pattern(s) on the right of `:`, `like` or `regex`: one constant or a
   * parenthesised list of them. Constants as in Elasticsearch's grammar: a string, a number
   * without a sign, true or false.
   */
  private parsePatterns(op: string): Literal[] {
    if (!this.peekOp('(')) return [this.parsePattern(op)];
    this.pos++;
    const patterns: Literal[] = [];
    if (this.peekOp(')')) this.fail(`empty list after \`${op}\``, this.peek());
    for (;;) {
      patterns.push(this.parsePattern(op));
      if (this.acceptOp(',')) continue;
      this.expectOp(')', "',' or ')' in the list");
      return patterns;
    }
  }

  private parsePattern(op: string): Literal {
    const t = this.peek();
    // Elasticsearch makes a like pattern of any constant's text (toLikePattern(fold().toString())):
    // a number's as Java prints the long or double it is (read from the digits, which a
    // JavaScript number may not hold exactly).
    if (op.startsWith('like') && t.type === 'number') {
      this.pos++;
      return { type: 'Literal', value: javaNumberText(t.value, t.isFloat === true), isFloat: false, at: t.start };
    }
    const e = this.parsePrimary();
    if (e.type === 'Literal' && e.value !== null) {
      if (op.startsWith('like') && typeof e.value === 'boolean') return { ...e, value: String(e.value) };
      // Elasticsearch's `:` takes strings on both sides (InsensitiveBinaryComparison), and suggests ==.
      if (typeof e.value !== 'string') this.failAt(`\`${op}\` needs string patterns${op === ':' ? ' (use == for numbers and booleans)' : ''}`, e.at);
      return e;
    }
    return this.failAt(`the right side of \`${op}\` must be a constant string or a list of them`, e.at);
  }

  private parseList(what: string): Expr[] {
    this.expectOp('(', `a parenthesised list after \`${what}\``);
    const items: Expr[] = [];
    if (this.peekOp(')')) this.fail(`empty list after \`${what}\``, this.peek());
    for (;;) {
      items.push(this.parseAdditive());
      if (this.acceptOp(',')) continue;
      this.expectOp(')', "',' or ')' in the list");
      return items;
    }
  }

  // --- arithmetic ------------------------------------------------------------

  private parseAdditive(): Expr {
    let left = this.parseMultiplicative();
    const outer = this.depth;
    for (;;) {
      const t = this.peek();
      if (t.type !== 'op' || (t.value !== '+' && t.value !== '-')) {
        this.depth = outer;
        return left;
      }
      this.enter(t); // each operator nests the chain so far one level deeper
      this.pos++;
      left = { type: 'Arith', op: t.value as ArithOp, left, right: this.parseMultiplicative(), at: t.start };
    }
  }

  private parseMultiplicative(): Expr {
    let left = this.parseUnary();
    const outer = this.depth;
    for (;;) {
      const t = this.peek();
      if (t.type !== 'op' || (t.value !== '*' && t.value !== '/' && t.value !== '%')) {
        this.depth = outer;
        return left;
      }
      this.enter(t);
      this.pos++;
      left = { type: 'Arith', op: t.value as ArithOp, left, right: this.parseUnary(), at: t.start };
    }
  }

  private parseUnary(): Expr {
    const t = this.peek();
    if (t.type === 'op' && (t.value === '-' || t.value === '+')) {
      this.pos++;
      this.enter(t);
      const operand = this.parseUnary();
      this.depth--;
      if (t.value === '+') return operand;
      if (operand.type === 'Literal' && typeof operand.value === 'number') {
        return { ...operand, value: -operand.value, at: t.start };
      }
      return { type: 'Negate', expr: operand, at: t.start };
    }
    return this.parsePrimaryPredicate();
  }

  private parsePrimary(): Expr {
    const t = this.peek();
    switch (t.type) {
      case 'string':
        this.pos++;
        return { type: 'Literal', value: t.value, isFloat: false, at: t.start };
      case 'number': {
        this.pos++;
        const value = Number(t.value);
        if (!Number.isFinite(value)) this.fail(`number out of range: ${t.value}`, t);
        // Past a long's range Elasticsearch reads an integer as a double.
        return { type: 'Literal', value, isFloat: t.isFloat === true || BigInt(t.value) > LONG_MAX, at: t.start };
      }
      case 'quoted_ident':
        this.pos++;
        return this.finishField(t.value, false, t);
      case 'op':
        if (t.value === '(') {
          this.pos++;
          this.enter(t);
          const inner = this.parseOr();
          this.expectOp(')', "')'");
          this.depth--;
          return inner;
        }
        if (t.value === '?') {
          this.pos++;
          const name = this.peek();
          if ((name.type === 'ident' && !RESERVED.has(name.value)) || name.type === 'quoted_ident') {
            this.pos++;
            return this.finishField(name.value, true, t);
          }
          return this.fail(`expected a field name after '?', found ${describe(name)}`, name);
        }
        return this.fail(`unexpected ${describe(t)}`, t);
      case 'ident':
        return this.parseIdentifier(t);
      case 'eof':
        return this.fail('unexpected end of query: the condition is incomplete', t);
    }
  }

  private parseIdentifier(t: Token): Expr {
    if (t.value === 'null' || t.value === 'true' || t.value === 'false') {
      this.pos++;
      const value = t.value === 'null' ? null : t.value === 'true';
      return { type: 'Literal', value, isFloat: false, at: t.start };
    }
    const next = this.peek(1);
    if (next.type === 'op' && next.value === '(') {
      return this.parseCall(t);
    }
    if (t.tilde) this.fail(`unexpected '~' after \`${t.value}\``, t);
    if (RESERVED.has(t.value)) this.fail(`unexpected keyword \`${t.value}\``, t);
    if (MULTI_EVENT.has(t.value) && next.type === 'op' && next.value === '[') {
      this.fail(`${t.value} queries are not supported: eqlambda matches single events`, t);
    }
    this.pos++;
    return this.finishField(t.value, false, t);
  }

  private finishField(name: string, optional: boolean, at: Token): Expr {
    const next = this.peek();
    if (next.type === 'op' && next.value === '[') this.fail('array indexing (`field[0]`) is not supported', next);
    if (name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
      this.fail(`invalid field name \`${name}\``, at);
    }
    const tooDeep = fieldTooDeep(name);
    if (tooDeep !== undefined) this.fail(tooDeep, at);
    return { type: 'Field', name, optional, at: at.start };
  }

  private parseCall(nameToken: Token): Expr {
    const spec = lookupFunction(nameToken.value);
    if (spec === undefined) this.fail(`unknown function \`${nameToken.value}\``, nameToken);
    if (nameToken.tilde && !spec.caseInsensitiveVariant) {
      this.fail(`function \`${spec.name}\` has no case-insensitive (~) form`, nameToken);
    }
    this.pos += 2; // name and '('
    this.enter(nameToken);
    const args: Expr[] = [];
    if (!this.acceptOp(')')) {
      for (;;) {
        args.push(this.parseOr());
        if (this.acceptOp(',')) continue;
        this.expectOp(')', "',' or ')' in the function arguments");
        break;
      }
    }
    this.depth--;
    if (args.length < spec.minArgs || args.length > spec.maxArgs) {
      const expected =
        spec.minArgs === spec.maxArgs
          ? `${spec.minArgs}`
          : spec.maxArgs === Infinity
            ? `at least ${spec.minArgs}`
            : `${spec.minArgs} to ${spec.maxArgs}`;
      this.fail(`function \`${spec.name}\` takes ${expected} argument(s), got ${args.length}`, nameToken);
    }
    return { type: 'Call', name: spec.name, caseInsensitive: nameToken.tilde === true, args, at: nameToken.start };
  }

  // --- token helpers ---------------------------------------------------------

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.pos + ahead, this.tokens.length - 1)]!;
  }

  private peekOp(op: string): boolean {
    const t = this.peek();
    return t.type === 'op' && t.value === op;
  }

  private acceptOp(op: string): boolean {
    if (!this.peekOp(op)) return false;
    this.pos++;
    return true;
  }

  private expectOp(op: string, what: string): void {
    if (!this.acceptOp(op)) this.fail(`expected ${what}, found ${describe(this.peek())}`, this.peek());
  }

  private acceptKeyword(word: string): boolean {
    const t = this.peek();
    if (t.type !== 'ident' || t.value !== word || t.tilde) return false;
    this.pos++;
    return true;
  }

  private expectKeyword(word: string): void {
    if (!this.acceptKeyword(word)) this.fail(`expected \`${word}\`, found ${describe(this.peek())}`, this.peek());
  }

  private fail(reason: string, at: Token): never {
    throw new EqlError(reason, this.map.position(at.start));
  }

  private failAt(reason: string, offset: number): never {
    throw new EqlError(reason, this.map.position(offset));
  }
}

function describe(t: Token): string {
  switch (t.type) {
    case 'eof':
      return 'end of query';
    case 'string':
      return `string ${JSON.stringify(t.value)}`;
    case 'number':
      return `number ${t.value}`;
    case 'quoted_ident':
      return `field \`${t.value}\``;
    case 'op':
      return `'${t.value}'`;
    case 'ident':
      return `\`${t.value}${t.tilde ? '~' : ''}\``;
  }
}

/** A number token's text as Java prints its value: a long's digits, else (a fraction, or past a long) a double's. */
function javaNumberText(digits: string, isFloat: boolean): string {
  if (!isFloat && BigInt(digits) <= LONG_MAX) return BigInt(digits).toString();
  return javaDoubleText(Number(digits));
}
