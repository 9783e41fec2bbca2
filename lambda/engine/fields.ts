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

  private someFrom(node: unknown, index: number, pred: (v: Scalar) => boolean): boolean {
    if (Array.isArray(node)) {
      for (const item of node) if (this.someFrom(item, index, pred)) return true;
      return false;
    }
    if (index === this.segments.length) {
      if (node === null || typeof node === 'object' || node === undefined) return false;
      const t = typeof node;
      if (t !== 'string' && t !== 'number' && t !== 'boolean') return false;
      return pred(node as Scalar);
    }
    if (node === null || typeof node !== 'object') return false;
    const row = this.keys[index]!;
    for (let k = 0; k < row.length; k++) {
      const key = row[k]!;
      if (hasOwn.call(node, key) && this.someFrom((node as Event)[key], index + k + 1, pred)) return true;
    }
    return false;
  }
}
