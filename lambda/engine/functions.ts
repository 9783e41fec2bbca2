/**
 * EQL's function library with Elasticsearch's semantics (the script path: null in,
 * null out). Names are case-insensitive; `~` variants lower-case as Java's toLowerCase(Locale.ROOT).
 * When the first argument is a field and the rest are constants, startsWith,
 * endsWith, stringContains and cidrMatch are instead compiled as query predicates
 * (see compile.ts), as Elasticsearch pushes them down to Lucene.
 */
import { cidrContains, parseCidr, parseIp, type Cidr } from './cidr.js';
import { scalarNumber } from './text.js';
import { fitsLong, Float, isDouble, LONG_MAX, LONG_MIN, makeNumber, numberOf, textOf, type Value } from './values.js';

export interface FunctionSpec {
  name: string;
  minArgs: number;
  maxArgs: number;
  caseInsensitiveVariant: boolean;
}

const SPECS: FunctionSpec[] = [
  { name: 'add', minArgs: 2, maxArgs: 2, caseInsensitiveVariant: false },
  { name: 'between', minArgs: 3, maxArgs: 4, caseInsensitiveVariant: true },
  { name: 'cidrMatch', minArgs: 2, maxArgs: Infinity, caseInsensitiveVariant: false },
  { name: 'concat', minArgs: 1, maxArgs: Infinity, caseInsensitiveVariant: false },
  { name: 'divide', minArgs: 2, maxArgs: 2, caseInsensitiveVariant: false },
  { name: 'endsWith', minArgs: 2, maxArgs: 2, caseInsensitiveVariant: true },
  { name: 'indexOf', minArgs: 2, maxArgs: 3, caseInsensitiveVariant: true },
  { name: 'length', minArgs: 1, maxArgs: 1, caseInsensitiveVariant: false },
  { name: 'modulo', minArgs: 2, maxArgs: 2, caseInsensitiveVariant: false },
  { name: 'multiply', minArgs: 2, maxArgs: 2, caseInsensitiveVariant: false },
  { name: 'number', minArgs: 1, maxArgs: 2, caseInsensitiveVariant: false },
  { name: 'startsWith', minArgs: 2, maxArgs: 2, caseInsensitiveVariant: true },
  { name: 'string', minArgs: 1, maxArgs: 1, caseInsensitiveVariant: false },
  { name: 'stringContains', minArgs: 2, maxArgs: 2, caseInsensitiveVariant: true },
  { name: 'substring', minArgs: 2, maxArgs: 3, caseInsensitiveVariant: false },
  { name: 'subtract', minArgs: 2, maxArgs: 2, caseInsensitiveVariant: false },
];

const BY_LOWER_NAME = new Map(SPECS.map((s) => [s.name.toLowerCase(), s]));

export function lookupFunction(name: string): FunctionSpec | undefined {
  return BY_LOWER_NAME.get(name.toLowerCase());
}

export type ArithOp = '+' | '-' | '*' | '/' | '%';

/**
 * Long arithmetic when both sides are longs (truncating division), double otherwise, as ql's
 * Arithmetics. A long result has no negative zero (`-4 % 2` is 0, which compares equal to
 * 0.0), and one past a long's range is null, where Java's Math.*Exact throws.
 */
export function arithmetic(op: ArithOp, a: Value, b: Value): Value {
  const l = numericValue(a);
  const r = numericValue(b);
  if (l === null || r === null) return null;
  const x = numberOf(l)!;
  const y = numberOf(r)!;
  const double = isDouble(l) || isDouble(r);
  if (!double && (op === '/' || op === '%') && y === 0) return null; // ArithmeticException
  return double ? makeNumber(operate(op, x, y), true) : long(op === '/' ? Math.trunc(x / y) : operate(op, x, y));
}

function operate(op: ArithOp, x: number, y: number): number {
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      return x / y;
    case '%':
      return x % y;
  }
}

export function negate(a: Value): Value {
  const v = numericValue(a);
  if (v === null) return null;
  return isDouble(v) ? makeNumber(-numberOf(v)!, true) : long(-numberOf(v)!);
}

/** A long result: +0 for -0, null past the range (LONG_MAX + 1 is 2^63 as a double). */
function long(n: number): number | null {
  return !fitsLong(n) ? null : n === 0 ? 0 : n;
}

/**
 * A number from a value that a numeric mapping would hold: a field that arithmetic takes is
 * numeric there, and its index coerced a string like "4" to 4 (the query path reads such
 * strings as numbers too: scalarNumber). Anything else is null.
 */
function numericValue(v: Value): number | Float | null {
  if (v instanceof Float) return v;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? scalarNumber(v) : undefined;
  if (n === undefined) return null;
  return fitsLong(n) ? n : new Float(n); // 1e21 cannot be a long: a double field holds it
}

type Impl = (args: Value[], caseInsensitive: boolean) => Value;

// Elasticsearch's ~ function processors lower-case with toLowerCase(Locale.ROOT): Unicode-aware.
const fold = (s: string, ci: boolean): string => (ci ? s.toLowerCase() : s);

/** Text arguments: keyword values that arrive as JSON numbers/booleans are read as their text. */
function texts(args: Value[], count: number): string[] | null {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = textOf(args[i] ?? null);
    if (t === null) return null;
    out.push(t);
  }
  return out;
}

/** An int argument as Java's Number.intValue() makes it: a long keeps its low 32 bits, a double saturates. */
function integerArg(v: Value | undefined): number | null | undefined {
  if (v === undefined) return undefined;
  const n = numericValue(v);
  if (n === null) return null;
  if (isDouble(n)) {
    const d = numberOf(n)!;
    return Number.isNaN(d) ? 0 : Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(d)));
  }
  const whole = n as number;
  return Number.isSafeInteger(whole) ? whole | 0 : Number(BigInt.asIntN(32, BigInt(whole)));
}

/** Python-style slice, as EQL's substring: negative offsets count from the end. */
export function substringSlice(s: string, start: number, end?: number): string {
  const len = s.length;
  let from = start < 0 ? Math.max(len + start, 0) : Math.min(start, len);
  const to = end === undefined ? len : end < 0 ? Math.max(len + end, 0) : Math.min(end, len);
  if (from > to) from = to;
  return s.slice(from, to);
}

/** Elasticsearch's BetweenUtils.between; null where its substring() would throw (a greedy `right` only before `left` ends). */
export function between(source: string, left: string, right: string, greedy: boolean, ci: boolean): string | null {
  if (source === '' || left === '' || right === '') return source;
  const hay = fold(source, ci);
  const l = fold(left, ci);
  const r = fold(right, ci);
  const start = hay.indexOf(l);
  if (start < 0) return '';
  const from = start + l.length;
  const end = greedy ? hay.lastIndexOf(r) : hay.indexOf(r, from);
  if (end < 0) return '';
  if (end < from) return null;
  return source.slice(from, end);
}

/**
 * number(text, base) as Elasticsearch's ToNumberFunctionProcessor: in base 10 Java's
 * Long.valueOf, else Double.valueOf (a double); in other bases Long.parseLong, after a "0x"
 * prefix in base 16. Null where Java throws (Elasticsearch fails the search there).
 */
export function parseNumber(text: string, base: number): number | Float | null {
  if (!Number.isInteger(base)) return null;
  const s = base === 16 && text.startsWith('0x') ? text.slice(2) : text;
  if (base !== 10) return javaParseLong(s, base);
  const long = javaParseLong(s, 10);
  if (long !== null) return long;
  const double = javaParseDouble(s);
  return double === null ? null : makeNumber(double, true);
}

/** Java's Long.parseLong: an optional sign, then digits of the radix (Character.digit), within a long's range; no blanks. */
function javaParseLong(s: string, radix: number): number | null {
  if (radix < 2 || radix > 36 || s === '') return null;
  const signed = s[0] === '-' || s[0] === '+';
  if (signed && s.length === 1) return null;
  let value = 0n;
  const big = BigInt(radix);
  for (let i = signed ? 1 : 0; i < s.length; i++) {
    const d = javaDigit(s, i);
    if (d < 0 || d >= radix) return null;
    value = value * big + BigInt(d);
    if (value > LONG_MAX + 1n) return null;
  }
  if (s[0] === '-') value = -value;
  return value < LONG_MIN || value > LONG_MAX ? null : Number(value);
}

const DECIMAL_DIGIT = /\p{Nd}/u;

/**
 * Java's Character.digit(char, 36) for the UTF-16 unit at `i` (-1 if none): ASCII and fullwidth
 * Latin letters count from 10, and any BMP decimal digit (`٣`, `３`) counts its value. Unicode's
 * decimal digits come in runs of ten code points from zero, so a digit's value is the number of
 * digits just below it.
 */
function javaDigit(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const letter = c | 0x20; // ASCII case folded
  if (letter >= 0x61 && letter <= 0x7a) return letter - 0x61 + 10;
  if (c < 0x80) return -1;
  if (c >= 0xff21 && c <= 0xff3a) return c - 0xff21 + 10; // fullwidth A-Z
  if (c >= 0xff41 && c <= 0xff5a) return c - 0xff41 + 10; // fullwidth a-z
  if (!DECIMAL_DIGIT.test(s[i]!)) return -1; // a lone surrogate tests false, as Character.digit(char) of one is -1
  let value = 0;
  while (value < 9 && DECIMAL_DIGIT.test(String.fromCharCode(c - value - 1))) value++;
  return value;
}

/**
 * Java's Double.valueOf: trimmed; NaN and Infinity; decimal (ASCII digits) or hexadecimal
 * (`0x1.8p1`, the binary exponent required); a trailing f or d allowed after a number.
 */
function javaParseDouble(text: string): number | null {
  let from = 0;
  let to = text.length;
  while (from < to && text.charCodeAt(from) <= 0x20) from++; // String.trim
  while (to > from && text.charCodeAt(to - 1) <= 0x20) to--;
  const s = text.slice(from, to);
  const special = /^([+-]?)(NaN|Infinity)$/.exec(s);
  if (special !== null) return special[2] === 'NaN' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  const hex = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?)([0-9]+)[fFdD]?$/.exec(s);
  if (hex !== null) {
    const [, sign, whole, fraction = '', expSign, expDigits] = hex;
    if (whole === '' && fraction === '') return null;
    const value = hexFloat(whole! + fraction, Number(expSign + expDigits!) - 4 * fraction.length);
    return sign === '-' ? -value : value;
  }
  // One way to split any text (no `[0-9]+[0-9]*`): linear time on a long run of digits.
  if (!/^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?$/.test(s)) return null;
  return Number(/[fFdD]$/.test(s) ? s.slice(0, -1) : s);
}

/**
 * The double nearest hexDigits × 2^exponent, ties to even (as Java rounds hexadecimal text),
 * subnormals included. An exponent of many digits is a huge number here, ±Infinity in
 * Number(): the result is then 0 or Infinity, as Java's.
 */
function hexFloat(hexDigits: string, exponent: number): number {
  const digits = hexDigits.replace(/^0+/, '');
  if (digits === '') return 0;
  let mantissa = BigInt(`0x${digits}`);
  const bits = 4 * digits.length - Math.clz32(parseInt(digits[0]!, 16)) + 28;
  const lead = bits - 1 + exponent; // the exponent of the leading bit
  if (lead > 1023) return Infinity;
  if (lead < -1075) return 0; // below half the least subnormal
  const keep = Math.min(bits, lead >= -1022 ? 53 : 53 - (-1022 - lead)); // may be 0: rounds to 0 or the least subnormal
  let scale = exponent;
  if (keep < bits) {
    const shift = BigInt(bits - keep);
    const kept = mantissa >> shift;
    const rest = mantissa - (kept << shift);
    const half = 1n << (shift - 1n);
    mantissa = rest > half || (rest === half && (kept & 1n) === 1n) ? kept + 1n : kept;
    scale += bits - keep;
  }
  // Exact steps (the mantissa fits in the result's precision now): Math.pow(2, e) alone is 0 below 2^-1074.
  let value = Number(mantissa);
  while (scale !== 0 && value !== 0 && Number.isFinite(value)) {
    const step = Math.max(-1000, Math.min(1000, scale));
    value *= 2 ** step;
    scale -= step;
  }
  return value;
}

const IMPLS: Record<string, Impl> = {
  add: ([a, b]) => arithmetic('+', a!, b!),
  subtract: ([a, b]) => arithmetic('-', a!, b!),
  multiply: ([a, b]) => arithmetic('*', a!, b!),
  divide: ([a, b]) => arithmetic('/', a!, b!),
  modulo: ([a, b]) => arithmetic('%', a!, b!),

  length: (args) => {
    const t = texts(args, 1);
    return t === null ? null : t[0]!.length;
  },
  string: (args) => textOf(args[0]!),
  concat: (args) => {
    let out = '';
    for (const a of args) {
      const t = textOf(a);
      if (t === null) return null;
      out += t;
    }
    return out;
  },
  startsWith: (args, ci) => {
    const t = texts(args, 2);
    return t === null ? null : fold(t[0]!, ci).startsWith(fold(t[1]!, ci));
  },
  endsWith: (args, ci) => {
    const t = texts(args, 2);
    return t === null ? null : fold(t[0]!, ci).endsWith(fold(t[1]!, ci));
  },
  stringContains: (args, ci) => {
    const t = texts(args, 2);
    // Elasticsearch: an empty string or substring never "contains".
    if (t === null) return null;
    return t[0] !== '' && t[1] !== '' && fold(t[0]!, ci).includes(fold(t[1]!, ci));
  },
  indexOf: (args, ci) => {
    const t = texts(args, 2);
    if (t === null) return null;
    const start = integerArg(args[2]);
    const from = start === undefined || start === null ? 0 : Math.max(start, 0);
    const i = fold(t[0]!, ci).indexOf(fold(t[1]!, ci), from);
    return i < 0 ? null : i;
  },
  substring: (args) => {
    const t = texts(args, 1);
    if (t === null) return null;
    // As Elasticsearch's SubstringFunctionProcessor: a null start gives the string whole, a
    // null end means its end (Elastic's DLL rules slice by length(dll.name), which may be missing).
    if (args[1] === null) return t[0]!;
    const start = integerArg(args[1]);
    if (start === null || start === undefined) return null; // not a number: Elasticsearch fails the query
    const end = args[2] === null ? undefined : integerArg(args[2]);
    return end === null ? null : substringSlice(t[0]!, start, end);
  },
  between: (args, ci) => {
    const t = texts(args, 3);
    if (t === null) return null;
    const greedy = args[3] ?? false;
    if (greedy === null) return null;
    return between(t[0]!, t[1]!, t[2]!, greedy === true, ci);
  },
  number: (args) => {
    const t = texts(args, 1);
    if (t === null) return null;
    // Without a base, a lowercase "0x" prefix means hexadecimal (Elasticsearch's rule).
    // A base must be an integer there (`16.0` is an error: null here).
    const base = args[1] === undefined || args[1] === null ? (t[0]!.startsWith('0x') ? 16 : 10) : args[1] instanceof Float ? undefined : numberOf(args[1]);
    if (base === undefined) return null;
    return parseNumber(t[0]!, base);
  },
  cidrMatch: (args) => {
    const ip = textOf(args[0]!);
    if (ip === null) return null;
    const bytes = parseIp(ip);
    if (bytes === undefined) return false;
    for (const c of args.slice(1)) {
      const text = textOf(c);
      const cidr = text === null ? undefined : parseCidr(text);
      if (cidr !== undefined && cidrContains(cidr, bytes)) return true;
    }
    return false;
  },
};

export function callFunction(name: string, args: Value[], caseInsensitive: boolean): Value {
  return IMPLS[name]!(args, caseInsensitive);
}

/** Pre-parses constant CIDR arguments, failing early on malformed ones. */
export function parseCidrList(values: string[]): Cidr[] | string {
  const out: Cidr[] = [];
  for (const v of values) {
    const c = parseCidr(v);
    if (c === undefined) return v;
    out.push(c);
  }
  return out;
}
