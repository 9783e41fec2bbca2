/**
 * Field lookup on parsed JSON events, the way Elasticsearch sees a document:
 * `{"process":{"name":"a"}}`, `{"process.name":"a"}` and `{"process":{"parent.name":"b"}}`
 * all hold the same dotted fields; arrays (of values or of objects) flatten into a
 * multi-valued field; null and empty arrays are "missing".
 *
 * Only own properties are read, so no query can reach `__proto__`, `constructor` or
 * anything else on a prototype.
 */
export type Scalar = string | number | boolean;
export type Event = Record<string, unknown>;

const hasOwn = Object.prototype.hasOwnProperty;

export class FieldPath {
  readonly name: string;
  private readonly segments: string[];
  /** keys[i][j]: the dotted key made of segments i..j, precomputed so lookups never allocate. */
  private readonly keys: string[][];

  constructor(name: string) {
    this.name = name;
    this.segments = name.split('.');
    this.keys = this.segments.map((_, i) => {
      const row: string[] = [];
      let key = '';
      for (let j = i; j < this.segments.length; j++) {
        key = j === i ? this.segments[j]! : `${key}.${this.segments[j]!}`;
        row.push(key);
      }
      return row;
    });
  }

  /** True when some value of the field satisfies `pred`. */
  some(event: unknown, pred: (v: Scalar) => boolean): boolean {
    return this.someFrom(event, 0, pred);
  }

  /** Every value of the field, arrays flattened; empty when the field is missing. */
  values(event: unknown): Scalar[] {
    const out: Scalar[] = [];
    this.someFrom(event, 0, (v) => {
      out.push(v);
      return false;
    });
    return out;
  }

  private someFrom(start: unknown, startIndex: number, pred: (v: Scalar) => boolean): boolean {
    let node = start;
    let index = startIndex;
    const last = this.segments.length;
    // Walk down iteratively; branch (recurse) only for arrays and for keys present in
    // both nested and dotted spellings.
    for (;;) {
      if (Array.isArray(node)) {
        for (const item of node) if (this.someFrom(item, index, pred)) return true;
        return false;
      }
      if (index === last) {
        const t = typeof node;
        return (t === 'string' || t === 'number' || t === 'boolean') && pred(node as Scalar);
      }
      if (node === null || typeof node !== 'object') return false;
      const row = this.keys[index]!;
      let next: unknown;
      let nextIndex = -1;
      for (let k = 0; k < row.length; k++) {
        const key = row[k]!;
        // A plain load first (cheap), then confirm the key is the object's own: a
        // prototype member (constructor, __proto__, toString...) is never a field.
        const value = (node as Event)[key];
        if (value === undefined || !hasOwn.call(node, key)) continue;
        if (nextIndex < 0) {
          next = value;
          nextIndex = index + k + 1;
        } else if (this.someFrom(value, index + k + 1, pred)) {
          return true;
        }
      }
      if (nextIndex < 0) return false;
      node = next;
      index = nextIndex;
    }
  }
}
