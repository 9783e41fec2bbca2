/**
 * String helpers shared by the matchers. Case-insensitivity in Elasticsearch's
 * term/wildcard/regexp queries folds ASCII letters only, so the query path never uses
 * the Unicode-aware `toLowerCase()` on values (it would make e.g. the Kelvin sign
 * match `k`). Its script path (conditions on function results) is Java code and
 * folds Unicode: see javaIgnoreCaseKey.
 */

/** Lower-cases A-Z only. Returns the same string when there is nothing to fold. */
export function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return asciiLowerFrom(s, i);
  }
  return s;
}

function asciiLowerFrom(s: string, first: number): string {
  let out = s.slice(0, first);
  let runStart = first;
  for (let i = first; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) {
      out += s.slice(runStart, i) + String.fromCharCode(c + 32);
      runStart = i + 1;
    }
  }
  return out + s.slice(runStart);
}

const foldedUnits = new Map<number, string>();

/** Java's Character.toLowerCase(Character.toUpperCase(c)) for one UTF-16 unit (one unit in, one out). */
function javaFoldUnit(c: number): string {
  let f = foldedUnits.get(c);
  if (f === undefined) {
    const ch = String.fromCharCode(c);
    const upper = ch.toUpperCase();
    const u = upper.length === 1 ? upper : ch; // Java's char mapping never expands (ß stays ß)
    const lower = u.toLowerCase();
    f = lower.length === 1 ? lower : u;
    foldedUnits.set(c, f);
  }
  return f;
}

/**
 * A key under which strings equal by Java's String.equalsIgnoreCase/compareToIgnoreCase
 * are equal: Elasticsearch's script path (`:` and `in~` on a function result) compares
 * that way, Unicode-aware, unlike its ASCII-only query path. Keeps the length.
 */
export function javaIgnoreCaseKey(s: string): string {
  let out = '';
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128) {
      if (c >= 65 && c <= 90) {
        out += s.slice(runStart, i) + String.fromCharCode(c + 32);
        runStart = i + 1;
      }
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const low = s.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        // A surrogate pair folds as its code point (compareToIgnoreCase since JDK 16: 𐐀 is 𐐨).
        const pair = s.slice(i, i + 2);
        const f = javaFoldPair(pair);
        if (f !== pair) {
          out += s.slice(runStart, i) + f;
          runStart = i + 2;
        }
        i++;
        continue;
      }
    }
    const f = javaFoldUnit(c);
    if (f.charCodeAt(0) !== c) {
      out += s.slice(runStart, i) + f;
      runStart = i + 1;
    }
  }
  return runStart === 0 ? s : out + s.slice(runStart);
}

/**
 * javaFoldUnit for a code point above U+FFFF (a surrogate pair in, a pair out). Only the few
 * hundred that fold are remembered: a million distinct emoji must not grow a cache.
 */
function javaFoldPair(pair: string): string {
  let f = foldedPairs.get(pair);
  if (f === undefined) {
    const upper = pair.toUpperCase();
    const u = upper.length === 2 ? upper : pair;
    const lower = u.toLowerCase();
    f = lower.length === 2 ? lower : u;
    if (f !== pair) foldedPairs.set(pair, f);
  }
  return f;
}

const foldedPairs = new Map<string, string>();

/** True when `s` contains a UTF-16 surrogate (a code point above U+FFFF). */
function hasSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

/**
 * Orders strings by code point, as Lucene orders keyword terms (UTF-8 byte order).
 * JavaScript's `<` orders by UTF-16 unit, which differs only around surrogates.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  if (!hasSurrogate(a) && !hasSurrogate(b)) return a < b ? -1 : 1;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/** A scalar JSON value as a keyword field would index it. */
export function scalarText(v: string | number | boolean): string {
  return typeof v === 'string' ? v : String(v);
}

/** JSON number grammar: what a `long`/`double` field would accept from a string value. */
const NUMERIC_TEXT = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** A scalar as a number, when it is one or is a string spelling one; otherwise undefined. */
export function scalarNumber(v: string | number | boolean): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.length < 64 && NUMERIC_TEXT.test(v)) return Number(v);
  return undefined;
}
