/**
 * What a raw event line must contain for a predicate to be able to match: a formula
 * over literal substrings, derived while compiling. The scanner uses it to skip
 * JSON.parse on lines that cannot match. It must only ever be a *necessary*
 * condition: `always` whenever we cannot be sure.
 */

export type Needs =
  | { kind: 'always' }
  | { kind: 'literal'; text: string; caseInsensitive: boolean }
  | { kind: 'all'; parts: Needs[] }
  | { kind: 'any'; parts: Needs[] };

export const ALWAYS: Needs = { kind: 'always' };

/** Digits, signs, dots and exponents: a JSON number can spell these other ways (1e2 vs 100). */
const NUMBER_LIKE = /^[-+0-9.eE]*$/;
/** JSON.parse reads a number too large for a double (1e999) as Infinity, whose text is this. */
const INFINITY_TEXT = '-infinity';
/** What an invalid UTF-8 byte reads as: it is not in the raw line. */
const REPLACEMENT_CHARACTER = '\ufffd';

/**
 * A field value equal to `value` appears in the JSON line as its escaped form
 * (JSON.stringify without the quotes). Other spellings (`\u0073`, `\/`) are caught by
 * the scanner, which parses any line containing such escapes.
 */
export function literalNeed(value: string, caseInsensitive: boolean): Needs {
  if (value.length === 0 || NUMBER_LIKE.test(value) || INFINITY_TEXT.includes(value.toLowerCase()) || value.includes(REPLACEMENT_CHARACTER)) return ALWAYS;
  return { kind: 'literal', text: JSON.stringify(value).slice(1, -1), caseInsensitive };
}

export function allOf(parts: Needs[]): Needs {
  const kept = parts.filter((p) => p.kind !== 'always');
  if (kept.length === 0) return ALWAYS;
  return kept.length === 1 ? kept[0]! : { kind: 'all', parts: kept };
}

export function anyOf(parts: Needs[]): Needs {
  if (parts.length === 0 || parts.some((p) => p.kind === 'always')) return ALWAYS;
  return parts.length === 1 ? parts[0]! : { kind: 'any', parts };
}
