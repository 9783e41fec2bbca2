/**
 * String helpers shared by the matchers. Case-insensitivity in Elasticsearch's
 * term/wildcard/regexp queries folds ASCII letters only, so we never use the
 * Unicode-aware `toLowerCase()` on values (it would make e.g. the Kelvin sign
 * match `k`).
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
