/**
 * Lucene regular expressions (org.apache.lucene.util.automaton.RegExp, all syntax
 * flags on, as Elasticsearch's regexp query uses by default), compiled to a DFA.
 *
 *   union   a|b           intersection a&b      complement ~a
 *   repeat  a? a* a+ a{n} a{n,} a{n,m}
 *   classes [abc] [^a-z] \d \D \s \S \w \W      any char  .
 *   strings "literal"     empty language  #      any string @
 *   numeric intervals <1-100>                    grouping ( )
 *
 * The pattern must match the whole value (there are no ^ / $ anchors: they are
 * ordinary characters). `.*?` is `(.*)?`: the same language as `.*`.
 */
import {
  automatonMatcher,
  AutomatonTooComplexError,
  complement,
  determinize,
  intersect,
  MAX_CODE_POINT,
  Nfa,
  type Fragment,
} from './automaton.js';

export class RegexSyntaxError extends Error {}

type Ranges = [number, number][];

const DIGIT: Ranges = [[48, 57]];
// Lucene's \s is [ \t\n\r] (RegExp.expandPredefined), not Java's or JavaScript's wider class.
const SPACE: Ranges = [[9, 10], [13, 13], [32, 32]];
const WORD: Ranges = [[48, 57], [65, 90], [95, 95], [97, 122]];

type Node =
  | { k: 'ranges'; ranges: Ranges }
  | { k: 'literal'; text: string }
  | { k: 'empty' }
  | { k: 'nothing' }
  | { k: 'concat'; parts: Node[] }
  | { k: 'union'; parts: Node[] }
  | { k: 'intersect'; a: Node; b: Node }
  | { k: 'complement'; a: Node }
  | { k: 'repeat'; a: Node; min: number; max: number }
  | { k: 'interval'; lo: bigint; hi: bigint; width: number };

const ANY: Node = { k: 'ranges', ranges: [[0, MAX_CODE_POINT]] };

/** Nesting of groups, complements, intersections and repetitions: the parser and builder recurse per level. */
const MAX_REGEX_NESTING = 200;
/**
 * Automaton states a pattern may need, estimated before building (repetition copies its
 * operand: `(a{1000}){1000}` needs a million). Like Lucene's determinize work limit (10,000),
 * it keeps a rule from costing gigabytes and seconds per event.
 */
export const MAX_REGEX_STATES = 10_000;

export function compileRegex(pattern: string, caseInsensitive: boolean): (value: string) => boolean {
  const tree = new RegexParser(pattern, caseInsensitive).parse();
  // automatonMatcher determinizes it once now, under Lucene's limit: a pattern too complex
  // (a large bounded repeat, (.{0,1000}b){2}; an intersection) is refused at compile time.
  return automatonMatcher(() => {
    const nfa = new Nfa();
    return { nfa, frag: build(nfa, tree, caseInsensitive) };
  });
}

/**
 * The one string `pattern` matches, if it matches exactly one and that is not empty (Lucene's
 * exactMatch, which Elasticsearch's optimizer turns into an equality: ReplaceRegexMatch), else
 * undefined. Read from the syntax tree: literals, single characters, fixed repeats and
 * alternatives of one same string.
 */
export function exactRegexText(pattern: string): string | undefined {
  let tree: Node;
  try {
    tree = new RegexParser(pattern, false).parse();
  } catch {
    return undefined;
  }
  const text = exactText(tree);
  return text === '' ? undefined : text;
}

function exactText(node: Node): string | undefined {
  switch (node.k) {
    case 'literal':
      return node.text;
    case 'empty':
      return '';
    case 'ranges': {
      const [only, ...more] = node.ranges;
      return only !== undefined && more.length === 0 && only[0] === only[1] ? String.fromCodePoint(only[0]) : undefined;
    }
    case 'concat': {
      let out = '';
      for (const part of node.parts) {
        const t = exactText(part);
        if (t === undefined) return undefined;
        out += t;
      }
      return out;
    }
    case 'union': {
      const texts = node.parts.map(exactText);
      return texts.every((t) => t !== undefined && t === texts[0]) ? texts[0] : undefined;
    }
    case 'repeat': {
      if (node.min !== node.max) return undefined;
      const t = exactText(node.a);
      return t === undefined ? undefined : t.repeat(node.min);
    }
    default:
      return undefined;
  }
}

/** Builds NFA states for a regex tree; repetition builds fresh copies of its operand. */
function build(nfa: Nfa, node: Node, fold: boolean): Fragment {
  switch (node.k) {
    case 'ranges': {
      if (node.ranges.length === 0) return nfa.nothing();
      const frags = node.ranges.map(([lo, hi]) => nfa.range(lo, hi));
      return frags.length === 1 ? frags[0]! : nfa.union(frags);
    }
    case 'literal':
      return nfa.literal(node.text, fold);
    case 'empty':
      return nfa.empty();
    case 'nothing':
      return nfa.nothing();
    case 'concat':
      return node.parts.map((p) => build(nfa, p, fold)).reduce((a, b) => nfa.concat(a, b));
    case 'union':
      return nfa.union(node.parts.map((p) => build(nfa, p, fold)));
    case 'intersect':
      return nfa.embed(intersect(toDfa(node.a, fold), toDfa(node.b, fold)));
    case 'complement':
      return nfa.embed(complement(toDfa(node.a, fold)));
    case 'repeat': {
      let frag = nfa.empty();
      for (let i = 0; i < node.min; i++) frag = nfa.concat(frag, build(nfa, node.a, fold));
      if (node.max === Infinity) return nfa.concat(frag, nfa.star(build(nfa, node.a, fold)));
      // x{0,3} as (x(x(x)?)?)?: nested, so each state's epsilon closure stays small.
      let tail = nfa.empty();
      for (let i = node.min; i < node.max; i++) tail = nfa.optional(nfa.concat(build(nfa, node.a, fold), tail));
      return nfa.concat(frag, tail);
    }
    case 'interval':
      return decimalInterval(nfa, node.lo, node.hi, node.width);
  }
}

/** About how many NFA states build() makes for a tree (capped, so huge products stay finite). */
function estimatedStates(node: Node): number {
  const CAP = 1e10;
  switch (node.k) {
    case 'ranges':
      return node.ranges.length + 1;
    case 'literal':
      return node.text.length + 1;
    case 'empty':
    case 'nothing':
      return 1;
    case 'concat':
    case 'union':
      return Math.min(CAP, node.parts.reduce((n, p) => n + estimatedStates(p), 1));
    case 'intersect':
      return Math.min(CAP, estimatedStates(node.a) + estimatedStates(node.b));
    case 'complement':
      return estimatedStates(node.a);
    case 'repeat': {
      const copies = node.max === Infinity ? node.min + 1 : Math.max(node.max, 1);
      return Math.min(CAP, estimatedStates(node.a) * copies + 1);
    }
    case 'interval':
      return Math.max(node.width, String(node.hi).length) * 20;
  }
}

function toDfa(node: Node, fold: boolean) {
  const nfa = new Nfa();
  return determinize(nfa, build(nfa, node, fold));
}

class RegexParser {
  private readonly cps: number[];
  private pos = 0;

  constructor(
    private readonly pattern: string,
    private readonly fold: boolean,
  ) {
    this.cps = Array.from(pattern, (ch) => ch.codePointAt(0)!);
  }

  parse(): Node {
    if (this.cps.length === 0) return { k: 'empty' };
    const node = this.parseUnion();
    if (this.pos < this.cps.length) this.fail(`unexpected '${this.char()}'`);
    const states = estimatedStates(node);
    if (states > MAX_REGEX_STATES) {
      this.pos = 0;
      this.fail(`too complex: it would need about ${states > 1e9 ? 'more than 10^9' : states} automaton states (the limit is ${MAX_REGEX_STATES})`);
    }
    return node;
  }

  private depth = 0;

  private enter(): void {
    if (++this.depth > MAX_REGEX_NESTING) this.fail(`nested too deeply (more than ${MAX_REGEX_NESTING} levels)`);
  }

  private nest<T>(parse: () => T): T {
    this.enter();
    const node = parse();
    this.depth--;
    return node;
  }

  private parseUnion(): Node {
    const parts = [this.parseIntersection()];
    while (this.match('|')) parts.push(this.parseIntersection());
    return parts.length === 1 ? parts[0]! : { k: 'union', parts };
  }

  private parseIntersection(): Node {
    const a = this.parseConcat();
    if (!this.match('&')) return a;
    return this.nest(() => ({ k: 'intersect', a, b: this.parseIntersection() }));
  }

  private parseConcat(): Node {
    const parts = [this.parseRepeat()];
    while (this.more() && !this.peek(')|&')) parts.push(this.parseRepeat());
    return parts.length === 1 ? parts[0]! : { k: 'concat', parts };
  }

  private parseRepeat(): Node {
    let node = this.parseComplement();
    const outer = this.depth;
    while (this.peek('?*+{')) {
      this.enter(); // each repetition nests the node so far one level deeper
      if (this.match('?')) node = { k: 'repeat', a: node, min: 0, max: 1 };
      else if (this.match('*')) node = { k: 'repeat', a: node, min: 0, max: Infinity };
      else if (this.match('+')) node = { k: 'repeat', a: node, min: 1, max: Infinity };
      else {
        this.pos++; // '{'
        const min = this.parseInt();
        let max = min;
        if (this.match(',')) max = this.peek('}') ? Infinity : this.parseInt();
        if (!this.match('}')) this.fail("expected '}'");
        if (max < min) this.fail(`invalid repetition {${min},${max}}`);
        if (min > 1000 || (max !== Infinity && max > 1000)) this.fail('repetition count too large');
        node = { k: 'repeat', a: node, min, max };
      }
    }
    this.depth = outer;
    return node;
  }

  private parseComplement(): Node {
    if (this.match('~')) return this.nest(() => ({ k: 'complement', a: this.parseComplement() }));
    return this.parseCharClass();
  }

  private parseCharClass(): Node {
    if (!this.match('[')) return this.parseSimple();
    const negate = this.match('^');
    let ranges: Ranges = [];
    do {
      ranges.push(...this.parseClassItem());
    } while (this.more() && !this.peek(']'));
    if (!this.match(']')) this.fail("expected ']'");
    // ASCII_CASE_INSENSITIVE folds single characters, not ranges: [a-z] stays lower case.
    if (this.fold) ranges = ranges.flatMap(([lo, hi]) => (lo === hi ? foldRange(lo, hi) : [[lo, hi] as [number, number]]));
    ranges = normalize(ranges);
    return { k: 'ranges', ranges: negate ? invert(ranges) : ranges };
  }

  private parseClassItem(): Ranges {
    const predefined = this.matchPredefinedClass();
    if (predefined !== undefined) return predefined;
    const lo = this.parseCharExp();
    if (this.match('-')) {
      const hi = this.parseCharExp();
      if (hi < lo) this.fail('invalid character class range');
      return [[lo, hi]];
    }
    return [[lo, lo]];
  }

  private parseSimple(): Node {
    if (this.match('.')) return ANY;
    if (this.match('#')) return { k: 'nothing' };
    if (this.match('@')) return { k: 'repeat', a: ANY, min: 0, max: Infinity };
    if (this.match('"')) {
      const start = this.pos;
      while (this.more() && !this.peek('"')) this.pos++;
      if (!this.match('"')) this.fail("expected '\"'");
      return { k: 'literal', text: String.fromCodePoint(...this.cps.slice(start, this.pos - 1)) };
    }
    if (this.match('(')) {
      if (this.match(')')) return { k: 'empty' };
      const inner = this.nest(() => this.parseUnion());
      if (!this.match(')')) this.fail("expected ')'");
      return inner;
    }
    if (this.match('<')) return this.parseInterval();
    const predefined = this.matchPredefinedClass();
    if (predefined !== undefined) return { k: 'ranges', ranges: predefined };
    const c = this.parseCharExp();
    return { k: 'literal', text: String.fromCodePoint(c) };
  }

  /** `<min-max>`: decimal integers in the interval (fixed width when both ends have the same length). */
  private parseInterval(): Node {
    const start = this.pos;
    while (this.more() && !this.peek('>')) this.pos++;
    if (!this.match('>')) this.fail("expected '>'");
    const body = String.fromCodePoint(...this.cps.slice(start, this.pos - 1));
    const m = /^([0-9]+)-([0-9]+)$/.exec(body);
    if (m === null) return this.fail(`unknown named automaton <${body}>`);
    const a = m[1]!;
    const b = m[2]!;
    let lo = BigInt(a);
    let hi = BigInt(b);
    if (lo > hi) [lo, hi] = [hi, lo];
    return { k: 'interval', lo, hi, width: a.length === b.length ? a.length : 0 };
  }

  private matchPredefinedClass(): Ranges | undefined {
    if (this.cps[this.pos] !== 92) return undefined;
    const c = this.cps[this.pos + 1];
    if (c === undefined) return undefined;
    const lower = c | 32;
    const ranges = lower === 100 ? DIGIT : lower === 115 ? SPACE : lower === 119 ? WORD : undefined;
    if (ranges === undefined || (c !== lower && c !== lower - 32)) return undefined;
    this.pos += 2;
    return c === lower ? ranges : invert(ranges);
  }

  private parseCharExp(): number {
    if (!this.more()) this.fail('unexpected end of pattern');
    if (this.match('\\')) {
      if (!this.more()) this.fail('unexpected end of pattern after \\');
      const c = this.cps[this.pos]!;
      // Lucene reserves backslash-letter for character classes (\d \s \w and negations).
      if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) this.fail(`unknown escape \\${String.fromCodePoint(c)}`);
    }
    return this.cps[this.pos++]!;
  }

  private parseInt(): number {
    const start = this.pos;
    while (this.more() && this.cps[this.pos]! >= 48 && this.cps[this.pos]! <= 57) this.pos++;
    if (start === this.pos) this.fail('integer expected');
    return Number(String.fromCodePoint(...this.cps.slice(start, this.pos)));
  }

  private more(): boolean {
    return this.pos < this.cps.length;
  }

  private char(): string {
    return String.fromCodePoint(this.cps[this.pos]!);
  }

  private peek(chars: string): boolean {
    return this.more() && chars.includes(this.char());
  }

  private match(ch: string): boolean {
    if (this.more() && this.cps[this.pos] === ch.codePointAt(0)) {
      this.pos++;
      return true;
    }
    return false;
  }

  private fail(reason: string): never {
    throw new RegexSyntaxError(`invalid regular expression ${JSON.stringify(this.pattern)}: ${reason} at position ${this.pos}`);
  }
}

export { AutomatonTooComplexError };

function foldRange(lo: number, hi: number): Ranges {
  const out: Ranges = [[lo, hi]];
  const ul = Math.max(lo, 65);
  const uh = Math.min(hi, 90);
  if (ul <= uh) out.push([ul + 32, uh + 32]);
  const ll = Math.max(lo, 97);
  const lh = Math.min(hi, 122);
  if (ll <= lh) out.push([ll - 32, lh - 32]);
  return out;
}

function normalize(ranges: Ranges): Ranges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function invert(ranges: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of normalize(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

/**
 * Decimal strings whose value lies in [lo, hi]. With `width` > 0, strings are exactly
 * `width` digits (zero padded); otherwise any number of leading zeros is accepted.
 * Built as the classic union of digit-range patterns covering the interval.
 */
function decimalInterval(nfa: Nfa, lo: bigint, hi: bigint, width: number): Fragment {
  const digits = (d1: number, d2: number): Fragment => nfa.range(48 + d1, 48 + d2);
  const anyDigits = (count: number): Fragment => {
    let f = nfa.empty();
    for (let i = 0; i < count; i++) f = nfa.concat(f, digits(0, 9));
    return f;
  };
  // Numbers with exactly n digits (no leading zeros, except the number 0 itself), in [a, b].
  const sameLength = (a: string, b: string): Fragment => {
    if (a.length === 1) return digits(Number(a), Number(b));
    if (a[0] === b[0]) return nfa.concat(digits(Number(a[0]), Number(a[0])), sameLength(a.slice(1), b.slice(1)));
    const rest = a.length - 1;
    const parts: Fragment[] = [];
    const allZero = /^0*$/.test(a.slice(1));
    const allNine = /^9*$/.test(b.slice(1));
    const firstA = Number(a[0]);
    const firstB = Number(b[0]);
    let midLo = firstA + 1;
    let midHi = firstB - 1;
    if (allZero) midLo = firstA;
    else parts.push(nfa.concat(digits(firstA, firstA), sameLength(a.slice(1), '9'.repeat(rest))));
    if (allNine) midHi = firstB;
    else parts.push(nfa.concat(digits(firstB, firstB), sameLength('0'.repeat(rest), b.slice(1))));
    if (midLo <= midHi) parts.push(nfa.concat(digits(midLo, midHi), anyDigits(rest)));
    return nfa.union(parts);
  };
  const parts: Fragment[] = [];
  const a = lo.toString();
  const b = hi.toString();
  for (let len = a.length; len <= b.length; len++) {
    const from = len === a.length ? a : '1' + '0'.repeat(len - 1);
    const to = len === b.length ? b : '9'.repeat(len);
    let frag = sameLength(from, to);
    if (width > 0) {
      if (len > width) continue;
      frag = nfa.concat(nfa.literal('0'.repeat(width - len)), frag);
    }
    parts.push(frag);
  }
  let body = parts.length === 1 ? parts[0]! : nfa.union(parts);
  if (width === 0) body = nfa.concat(nfa.star(digits(0, 0)), body);
  return body;
}
