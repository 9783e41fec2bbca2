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
      for (const f of fields) {
        const values = f.values(event);
        const list = values.length === 0 ? [null] : values;
        lists.push(list);
        combinations *= list.length;
      }
      if (combinations === 1) {
        for (let i = 0; i < lists.length; i++) env[i] = lists[i]![0]!;
        return run(event);
      }
      const cursor = new Array<number>(lists.length).fill(0);
      let sawNull = false;
      for (let n = 0; n < Math.min(combinations, MAX_VALUE_COMBINATIONS); n++) {
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
      return sawNull ? null : false;
    };
  }
}
