/**
 * Values in Elasticsearch's script path (function results, arithmetic, field-to-field
 * comparisons). Scripts are null-safe: null in gives null out. Numbers keep the
 * long/double distinction Elasticsearch makes (`x / 2` truncates, `x / 2.0` does not),
 * so a double that happens to be integral is boxed as a Float.
 */
/** The range of Java's long, which Elasticsearch's integers have. */
export const LONG_MIN = -(2n ** 63n);
export const LONG_MAX = 2n ** 63n - 1n;

/** Whether a JavaScript number is within a long's range (2^63 itself is LONG_MAX + 1 as a double). */
export const fitsLong = (n: number): boolean => n < 2 ** 63 && n >= -(2 ** 63);

export class Float {
  constructor(readonly value: number) {}
}

export type Value = string | number | boolean | null | Float;

export function numberOf(v: Value): number | undefined {
  if (typeof v === 'number') return v;
  if (v instanceof Float) return v.value;
  return undefined;
}

export function isDouble(v: Value): boolean {
  return v instanceof Float || (typeof v === 'number' && !Number.isInteger(v));
}

/** A number result: integral doubles stay boxed so later arithmetic stays floating point. */
export function makeNumber(n: number, double: boolean): number | Float {
  return double && Number.isInteger(n) ? new Float(n) : n;
}

/** Java's Double.toString, which Elasticsearch uses to print doubles. */
export function javaDoubleText(d: number): string {
  if (Number.isNaN(d)) return 'NaN';
  if (!Number.isFinite(d)) return d > 0 ? 'Infinity' : '-Infinity';
  if (d === 0) return Object.is(d, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(d);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(d);
    return s.includes('.') ? s : `${s}.0`;
  }
  // The shortest digits that read back as d, but never fewer than two: where one digit would
  // do, the closest two-digit decimal (5e-324 is 4.9E-324; 1e20 is 1.0E20).
  const shortest = d.toExponential();
  const [mantissa, exponent] = (shortest.includes('.') ? shortest : d.toExponential(1)).split('e') as [string, string];
  return `${mantissa}E${Number(exponent)}`;
}

/** A value as text, the way Elasticsearch's string()/concat() render it. */
export function textOf(v: Value): string | null {
  if (v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Float) return javaDoubleText(v.value);
  // An integer past a long's range (1e21) can only be a double's value.
  return Number.isInteger(v) && fitsLong(v) ? String(v) : javaDoubleText(v);
}

/**
 * Three-valued ordering for script comparisons, as Elasticsearch's `Comparisons.compare`:
 * numbers numerically (`Double.compare` when either is a double: -0.0 below 0.0, NaN above
 * everything and equal to itself), strings by UTF-16 unit (Java's `String.compareTo`),
 * booleans false before true. Returns null when either side is null. A number against a
 * string compares by text: a field's value may be a JSON number where the index maps the
 * field as keyword (and the reverse); where the query alone fixes both types, the compiler
 * makes the comparison null instead, as Elasticsearch's ClassCastException does.
 */
export function compareValues(a: Value, b: Value): number | null {
  if (a === null || b === null) return null;
  const x = numberOf(a);
  const y = numberOf(b);
  if (x !== undefined && y !== undefined) return isDouble(a) || isDouble(b) ? javaDoubleCompare(x, y) : x < y ? -1 : x > y ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const s = textOf(a)!;
  const t = textOf(b)!;
  return s < t ? -1 : s > t ? 1 : 0; // JavaScript compares strings by UTF-16 unit, as Java does
}

/** Java's Double.compare: a total order with -0.0 < 0.0 and NaN greatest (equal to itself). */
export function javaDoubleCompare(x: number, y: number): number {
  if (x < y) return -1;
  if (x > y) return 1;
  if (x === y) return Object.is(x, y) ? 0 : Object.is(x, -0) ? -1 : 1;
  // At least one NaN.
  return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
}
