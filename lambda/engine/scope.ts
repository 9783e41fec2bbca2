/**
 * Multi-valued fields in script predicates. Elasticsearch rewrites a script so that
 * each field occurrence loops over the field's values and the predicate holds when
 * any combination makes it true; a missing field is tried once as null. A ScriptScope
 * collects the field occurrences of one script and runs it over their values.
 */
import type { Event, FieldPath, Scalar } from './fields.js';
import type { Value } from './values.js';

type ScriptFn = (event: Event) => Value;

/** Bounds the work for pathological arrays: beyond this many combinations we stop looking. */
export const MAX_VALUE_COMBINATIONS = 65_536;
/**
 * Bounds the work per script and event in characters of the values each combination passes
 * (its longest values, summed): a function over a long value (stringContains of a 600 KB
 * field) redoes that pass per combination, and hostile arrays of the other field would make
 * it quadratic in the line. About a second of the worst functions at most.
 */
export const MAX_SCRIPT_WORK = 4 * 1024 * 1024;

/** Searches stopped by those bounds since the process started (the scan counts its lines). */
export const scriptSearches = { cutShort: 0 };

export class ScriptScope {
  private readonly fields: FieldPath[] = [];
  private readonly env: (Scalar | null)[] = [];

  /** A field occurrence: reads the value the current combination assigns to it. */
  bind(path: FieldPath): ScriptFn {
    const index = this.fields.length;
    this.fields.push(path);
    this.env.push(null);
    const env = this.env;
    return () => env[index]!;
  }

  /** Runs `run` over every combination of values: true if any is true, else null if any is null, else false. */
  anyValue(run: ScriptFn): ScriptFn {
    const fields = this.fields;
    const env = this.env;
    if (fields.length === 0) return run;
    return (event) => {
      const lists: (readonly (Scalar | null)[])[] = [];
      let combinations = 1;
      let work = 1;
      for (const f of fields) {
        const values = f.values(event);
        // Repeated values give the same results: each distinct one is tried once.
        const list = values.length === 0 ? [null] : values.length === 1 ? values : distinct(values);
        lists.push(list);
        combinations *= list.length;
        work += longest(list);
      }
      if (combinations === 1) {
        for (let i = 0; i < lists.length; i++) env[i] = lists[i]![0]!;
        return run(event);
      }
      const runs = Math.min(combinations, MAX_VALUE_COMBINATIONS, Math.max(1, Math.floor(MAX_SCRIPT_WORK / work)));
      const cursor = new Array<number>(lists.length).fill(0);
      let sawNull = false;
      for (let n = 0; n < runs; n++) {
        for (let i = 0; i < lists.length; i++) env[i] = lists[i]![cursor[i]!]!;
        const v = run(event);
        if (v === true) return true;
        if (v === null) sawNull = true;
        for (let i = lists.length - 1; i >= 0; i--) {
          cursor[i]!++;
          if (cursor[i]! < lists[i]!.length) break;
          cursor[i] = 0;
        }
      }
      if (runs < combinations) scriptSearches.cutShort++;
      return sawNull ? null : false;
    };
  }
}

/** `values` without repeats, in order; -0 and 0 kept apart (a Set holds them as one). */
function distinct(values: readonly (Scalar | null)[]): (Scalar | null)[] {
  const seen = new Set<unknown>();
  const out: (Scalar | null)[] = [];
  for (const v of values) {
    const key = Object.is(v, -0) ? NEGATIVE_ZERO : v;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
  }
  return out;
}

const NEGATIVE_ZERO = Symbol('-0');

/** The length of the longest string among `values` (1 for anything else). */
function longest(values: readonly (Scalar | null)[]): number {
  let max = 1;
  for (const v of values) if (typeof v === 'string' && v.length > max) max = v.length;
  return max;
}
