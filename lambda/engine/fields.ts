/**
 * Field lookup on parsed JSON events, the way Elasticsearch sees a document:
 * `{"process":{"name":"a"}}`, `{"process.name":"a"}` and `{"process":{"parent.name":"b"}}`
 * all hold the same dotted fields; arrays (of values or of objects) flatten into a
 * multi-valued field; null and empty arrays are "missing".
 *
 * Only own properties are read, so no query can reach `__proto__`, `constructor` or
 * anything else on a prototype.
 */
import { ipFieldValue, isIpField } from './cidr.js';
import { asciiLower, scalarText } from './text.js';

export type Scalar = string | number | boolean;
export type Event = Record<string, unknown>;

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * One event's field values, shared by all the rules evaluated on it: rules read the
 * same fields over and over (event.category, host.os.type, process.name ...). Inside
 * withFieldCache(event, ...) each interned field (FieldPath.of) is walked once per
 * event and its values reused; outside it every lookup walks the event afresh, so a
 * caller that changes an event between evaluations never sees stale values.
 */
let cachedEvent: unknown;
let cacheGeneration = 0;

export function withFieldCache<T>(event: Event, evaluate: () => T): T {
  const outer = cachedEvent;
  cachedEvent = event;
  cacheGeneration++;
  try {
    return evaluate();
  } finally {
    cachedEvent = outer;
    cacheGeneration++;
  }
}

/** Interned paths, by name. Bounded: past this, FieldPath.of returns a fresh path (cached on its own, not shared). */
const MAX_INTERNED = 10_000;
const interned = new Map<string, FieldPath>();

/**
 * Dotted segments a field name may have. ECS names have a handful; Elasticsearch's own
 * limit on object depth in a mapping is 20.
 */
export const MAX_FIELD_SEGMENTS = 64;
/** Why `name` is too deep a field name, or undefined if it is not. */
export const fieldTooDeep = (name: string): string | undefined =>
  name.split('.').length > MAX_FIELD_SEGMENTS ? `field name \`${shown(name)}\` has more than ${MAX_FIELD_SEGMENTS} dotted parts` : undefined;

/** A field name as an error shows it: its first 80 characters. */
const shown = (name: string): string => `${name.slice(0, 80)}${name.length > 80 ? '…' : ''}`;

/**
 * Why `name` cannot name a field, or undefined: an empty dotted part (`a..b`, `.a`, `a.`), as
 * the query parser refuses in a field name, or too many parts.
 */
export const fieldNameProblem = (name: string): string | undefined =>
  name.split('.').some((part) => part === '') ? `invalid field name \`${shown(name)}\`: a dotted part is empty` : fieldTooDeep(name);

export class FieldPath {
  readonly name: string;
  private readonly segments: string[];
  /** keys[i][j]: the dotted key made of segments i..j, precomputed so lookups never allocate. */
  private readonly keys: string[][];
  /** An ECS `ip` field: its values are addresses in normal form, and other values are missing (cidr.ts). */
  private readonly ip: boolean;
  /** The cached event's values, valid while `generation` is the cache's. */
  private generation = -1;
  private cached: Scalar[] = [];
  /** The cached values as text, ASCII-folded (computed on first use per event). */
  private foldedGeneration = -1;
  private folded: string[] = [];

  /** The shared path for `name`: every rule reading a field uses one object, so they share its cache. */
  static of(name: string): FieldPath {
    let path = interned.get(name);
    if (path === undefined) {
      path = new FieldPath(name);
      if (interned.size < MAX_INTERNED) interned.set(name, path);
    }
    return path;
  }

  constructor(name: string) {
    this.name = name;
    // keys holds every run of segments: quadratic in their number.
    const tooDeep = fieldTooDeep(name);
    if (tooDeep !== undefined) throw new Error(tooDeep);
    this.ip = isIpField(name);
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
    if (event !== cachedEvent) return this.someFrom(event, 0, pred);
    const values = this.cachedValues(event);
    for (let i = 0; i < values.length; i++) if (pred(values[i]!)) return true;
    return false;
  }

  /**
   * True when some value, as text with ASCII letters lower-cased, satisfies `pred`: the
   * case-insensitive comparisons, which inside a field cache fold each value once per
   * event instead of once per rule.
   */
  someFolded(event: unknown, pred: (folded: string) => boolean, unfolded: (v: Scalar) => boolean): boolean {
    // Outside a cache each value is folded as it is met: `unfolded` is `pred` after
    // folding, built once by the caller so no closure is made per call.
    if (event !== cachedEvent) return this.someFrom(event, 0, unfolded);
    if (this.foldedGeneration !== cacheGeneration) {
      this.folded = this.cachedValues(event).map((v) => asciiLower(scalarText(v)));
      this.foldedGeneration = cacheGeneration;
    }
    const folded = this.folded;
    for (let i = 0; i < folded.length; i++) if (pred(folded[i]!)) return true;
    return false;
  }

  /** Every value of the field, arrays flattened; empty when the field is missing. */
  values(event: unknown): readonly Scalar[] {
    return event === cachedEvent ? this.cachedValues(event) : this.collect(event);
  }

  private cachedValues(event: unknown): Scalar[] {
    if (this.generation !== cacheGeneration) {
      this.cached = this.collect(event);
      this.generation = cacheGeneration;
    }
    return this.cached;
  }

  private collect(event: unknown): Scalar[] {
    const out: Scalar[] = [];
    this.someFrom(event, 0, (v) => {
      out.push(v);
      return false;
    });
    return out;
  }

  private someFrom(start: unknown, startIndex: number, pred: (v: Scalar) => boolean): boolean {
    const last = this.segments.length;
    // Depth first without recursion, so a document nested deeper than the call stack
    // (attacker-controlled) can never stop a lookup. Arrays, and keys present in both
    // nested and dotted spellings, leave the branches not yet taken on `stack` as
    // [node, index] pairs, pushed so that they pop in the order they are visited.
    let stack: unknown[] | undefined;
    let node = start;
    let index = startIndex;
    for (;;) {
      let next: unknown;
      let nextIndex = -1;
      if (Array.isArray(node)) {
        if (node.length > 0) {
          stack ??= [];
          for (let i = node.length - 1; i >= 1; i--) stack.push(node[i], index);
          next = node[0];
          nextIndex = index;
        }
      } else if (index === last) {
        const t = typeof node;
        if (t === 'string' || t === 'number' || t === 'boolean') {
          const value = this.ip ? ipFieldValue(node) : (node as Scalar);
          if (value !== undefined && pred(value)) return true;
        }
      } else if (node !== null && typeof node === 'object') {
        const row = this.keys[index]!;
        let others: [unknown, number][] | undefined;
        for (let k = 0; k < row.length; k++) {
          const key = row[k]!;
          // A plain load first (cheap), then confirm the key is the object's own: a
          // prototype member (constructor, __proto__, toString...) is never a field.
          const value = (node as Event)[key];
          if (value === undefined || !hasOwn.call(node, key)) continue;
          if (nextIndex < 0) {
            next = value;
            nextIndex = index + k + 1;
          } else {
            (others ??= []).push([value, index + k + 1]);
          }
        }
        if (others !== undefined) {
          // The other spellings are visited before the first one found.
          stack ??= [];
          stack.push(next, nextIndex);
          for (let o = others.length - 1; o >= 1; o--) stack.push(others[o]![0], others[o]![1]);
          [next, nextIndex] = others[0]!;
        }
      }
      if (nextIndex < 0) {
        // This branch is done: the next one waiting, if any.
        if (stack === undefined || stack.length === 0) return false;
        nextIndex = stack.pop() as number;
        next = stack.pop();
      }
      node = next;
      index = nextIndex;
    }
  }
}
