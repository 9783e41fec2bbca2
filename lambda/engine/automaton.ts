/**
 * Finite automata over Unicode code points, the way Lucene evaluates regexp and
 * wildcard queries: patterns become an NFA, the NFA is determinised once at
 * compile time (with a state cap, like Lucene's), and matching walks the DFA one
 * code point at a time. No backtracking: matching is linear in the value length
 * whatever the pattern or the (attacker-controlled) value.
 */

export const MAX_CODE_POINT = 0x10ffff;
/** Same order of magnitude as Lucene's default determinize work limit. */
export const DEFAULT_MAX_DFA_STATES = 10_000;

export class AutomatonTooComplexError extends Error {}

interface Edge {
  lo: number;
  hi: number;
  to: number;
}

/** A fragment of an NFA with one entry and one exit state (Thompson construction). */
export interface Fragment {
  start: number;
  end: number;
}

export class Nfa {
  readonly eps: number[][] = [];
  readonly edges: Edge[][] = [];

  state(): number {
    this.eps.push([]);
    this.edges.push([]);
    return this.eps.length - 1;
  }

  /** Matches one code point in [lo, hi]; with `foldAscii`, ASCII letters match either case. */
  range(lo: number, hi: number, foldAscii = false): Fragment {
    const start = this.state();
    const end = this.state();
    for (const [a, b] of foldAscii ? caseFoldRanges(lo, hi) : [[lo, hi] as const]) {
      this.edges[start]!.push({ lo: a, hi: b, to: end });
    }
    return { start, end };
  }

  /** Matches the empty string. */
  empty(): Fragment {
    const start = this.state();
    const end = this.state();
    this.eps[start]!.push(end);
    return { start, end };
  }

  /** Matches nothing at all. */
  nothing(): Fragment {
    return { start: this.state(), end: this.state() };
  }

  literal(text: string, foldAscii = false): Fragment {
    let frag = this.empty();
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      frag = this.concat(frag, this.range(cp, cp, foldAscii));
    }
    return frag;
  }

  concat(a: Fragment, b: Fragment): Fragment {
    this.eps[a.end]!.push(b.start);
    return { start: a.start, end: b.end };
  }

  union(parts: Fragment[]): Fragment {
    const start = this.state();
    const end = this.state();
    for (const p of parts) {
      this.eps[start]!.push(p.start);
      this.eps[p.end]!.push(end);
    }
    return { start, end };
  }

  star(a: Fragment): Fragment {
    const start = this.state();
    const end = this.state();
    this.eps[start]!.push(a.start, end);
    this.eps[a.end]!.push(a.start, end);
    return { start, end };
  }

  optional(a: Fragment): Fragment {
    return this.union([a, this.empty()]);
  }

  /** Copies a DFA into this NFA (a DFA is an NFA without epsilon moves). */
  embed(dfa: Dfa): Fragment {
    const base = this.eps.length;
    for (let s = 0; s < dfa.accept.length; s++) this.state();
    const end = this.state();
    for (let s = 0; s < dfa.accept.length; s++) {
      for (const e of dfa.edges[s]!) this.edges[base + s]!.push({ lo: e.lo, hi: e.hi, to: base + e.to });
      if (dfa.accept[s]) this.eps[base + s]!.push(end);
    }
    return { start: base, end };
  }
}

/** A deterministic automaton; state 0 is the start state. Edges are sorted and disjoint. */
export interface Dfa {
  accept: boolean[];
  edges: Edge[][];
}

/** Epsilon closures per NFA state, computed once and shared by all subsets. */
function closures(nfa: Nfa): Int32Array[] {
  const memo: (Int32Array | undefined)[] = new Array(nfa.eps.length);
  return nfa.eps.map((_, start) => {
    const cached = memo[start];
    if (cached !== undefined) return cached;
    const seen = new Set<number>([start]);
    const stack = [start];
    while (stack.length > 0) {
      const s = stack.pop()!;
      for (const t of nfa.eps[s]!) {
        if (!seen.has(t)) {
          seen.add(t);
          stack.push(t);
        }
      }
    }
    const out = Int32Array.from(seen).sort();
    memo[start] = out;
    return out;
  });
}

/** Splits overlapping edges into disjoint ranges, each with the set of targets it reaches. */
function splitRanges(edges: Edge[]): { lo: number; hi: number; targets: number[] }[] {
  const points: number[] = [];
  for (const e of edges) points.push(e.lo, e.hi + 1);
  points.sort((x, y) => x - y);
  const bounds = points.filter((p, i) => i === 0 || p !== points[i - 1]);
  const byLo = [...edges].sort((x, y) => x.lo - y.lo);
  const active: Edge[] = [];
  const out: { lo: number; hi: number; targets: number[] }[] = [];
  let next = 0;
  for (let i = 0; i + 1 < bounds.length; i++) {
    const lo = bounds[i]!;
    const hi = bounds[i + 1]! - 1;
    while (next < byLo.length && byLo[next]!.lo <= lo) active.push(byLo[next++]!);
    for (let k = active.length - 1; k >= 0; k--) if (active[k]!.hi < lo) active.splice(k, 1);
    if (active.length > 0) out.push({ lo, hi, targets: active.map((e) => e.to) });
  }
  return out;
}

/** The sorted epsilon closure of a set of NFA states, from the per-state closures. */
function closureOfSets(nfa: Nfa): (states: Iterable<number>) => number[] {
  const eclose = closures(nfa);
  return (states) => {
    const seen = new Set<number>();
    for (const s of states) for (const t of eclose[s]!) seen.add(t);
    return [...seen].sort((x, y) => x - y);
  };
}

/** Subset construction. Throws AutomatonTooComplexError past `maxStates`. */
export function determinize(nfa: Nfa, frag: Fragment, maxStates = DEFAULT_MAX_DFA_STATES): Dfa {
  const closure = closureOfSets(nfa);

  const dfa: Dfa = { accept: [], edges: [] };
  const ids = new Map<string, number>();
  const pending: number[][] = [];
  const intern = (set: number[]): number => {
    const key = set.join(',');
    let id = ids.get(key);
    if (id === undefined) {
      id = dfa.accept.length;
      if (id >= maxStates) throw new AutomatonTooComplexError(`pattern is too complex: more than ${maxStates} automaton states`);
      ids.set(key, id);
      dfa.accept.push(set.includes(frag.end));
      dfa.edges.push([]);
      pending.push(set);
    }
    return id;
  };

  intern(closure([frag.start]));
  for (let id = 0; id < pending.length; id++) {
    const edges: Edge[] = [];
    for (const s of pending[id]!) for (const e of nfa.edges[s]!) edges.push(e);
    if (edges.length === 0) continue;
    const out: Edge[] = [];
    for (const { lo, hi, targets } of splitRanges(edges)) {
      const to = intern(closure(targets));
      const last = out[out.length - 1];
      if (last !== undefined && last.to === to && last.hi + 1 === lo) last.hi = hi;
      else out.push({ lo, hi, to });
    }
    dfa.edges[id] = out;
  }
  return dfa;
}

/** The DFA accepting every code point string the given DFA rejects. */
export function complement(dfa: Dfa): Dfa {
  const sink = dfa.accept.length;
  const out: Dfa = { accept: [...dfa.accept.map((a) => !a), true], edges: [] };
  for (const edges of [...dfa.edges, []]) {
    const filled: Edge[] = [];
    let next = 0;
    for (const e of edges) {
      if (e.lo > next) filled.push({ lo: next, hi: e.lo - 1, to: sink });
      filled.push(e);
      next = e.hi + 1;
    }
    if (next <= MAX_CODE_POINT) filled.push({ lo: next, hi: MAX_CODE_POINT, to: sink });
    out.edges.push(filled);
  }
  return out;
}

/** Product construction: strings accepted by both. */
export function intersect(a: Dfa, b: Dfa, maxStates = DEFAULT_MAX_DFA_STATES): Dfa {
  const out: Dfa = { accept: [], edges: [] };
  const ids = new Map<string, number>();
  const pending: [number, number][] = [];
  const intern = (x: number, y: number): number => {
    const key = `${x},${y}`;
    let id = ids.get(key);
    if (id === undefined) {
      id = out.accept.length;
      if (id >= maxStates) throw new AutomatonTooComplexError(`pattern is too complex: more than ${maxStates} automaton states`);
      ids.set(key, id);
      out.accept.push(a.accept[x]! && b.accept[y]!);
      out.edges.push([]);
      pending.push([x, y]);
    }
    return id;
  };
  intern(0, 0);
  for (let id = 0; id < pending.length; id++) {
    const [x, y] = pending[id]!;
    const edges: Edge[] = [];
    for (const ea of a.edges[x]!) {
      for (const eb of b.edges[y]!) {
        const lo = Math.max(ea.lo, eb.lo);
        const hi = Math.min(ea.hi, eb.hi);
        if (lo <= hi) edges.push({ lo, hi, to: intern(ea.to, eb.to) });
      }
    }
    edges.sort((p, q) => p.lo - q.lo);
    out.edges[id] = edges;
  }
  return out;
}

/**
 * A compiled DFA for matching whole strings. ASCII transitions use a table per state
 * over character classes (characters no edge boundary separates behave alike, so a
 * pattern distinguishing 20 characters needs 20 columns, not 128); other code points
 * binary-search the state's sorted ranges.
 */
export class DfaMatcher {
  /** ASCII code → column. */
  private readonly classOf = new Uint8Array(128);
  private readonly columns: number;
  private readonly ascii: Int32Array;
  private readonly wide: Edge[][];
  private readonly accept: Uint8Array;

  constructor(dfa: Dfa) {
    const n = dfa.accept.length;
    // Columns: the intervals between the ASCII edge boundaries of all states.
    const cuts = new Uint8Array(129);
    for (const edges of dfa.edges) {
      for (const e of edges) {
        if (e.lo >= 128) continue;
        cuts[e.lo] = 1;
        cuts[Math.min(e.hi + 1, 128)] = 1;
      }
    }
    let column = -1;
    for (let c = 0; c < 128; c++) {
      if (c === 0 || cuts[c] === 1) column++;
      this.classOf[c] = column;
    }
    this.columns = column + 1;
    this.ascii = new Int32Array(n * this.columns).fill(-1);
    this.wide = [];
    this.accept = Uint8Array.from(dfa.accept, (a) => (a ? 1 : 0));
    for (let s = 0; s < n; s++) {
      const wide: Edge[] = [];
      for (const e of dfa.edges[s]!) {
        for (let c = e.lo; c <= Math.min(e.hi, 127); c++) this.ascii[s * this.columns + this.classOf[c]!] = e.to;
        if (e.hi >= 128) wide.push({ lo: Math.max(e.lo, 128), hi: e.hi, to: e.to });
      }
      this.wide.push(wide);
    }
  }

  matches(s: string): boolean {
    let state = 0;
    const ascii = this.ascii;
    const classOf = this.classOf;
    const columns = this.columns;
    const n = s.length;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 128) {
        state = ascii[state * columns + classOf[c]!]!;
      } else {
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d <= 0xdfff) {
            c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
            i++;
          }
        }
        state = this.step(state, c);
      }
      if (state < 0) return false;
    }
    return this.accept[state] === 1;
  }

  private step(state: number, c: number): number {
    const edges = this.wide[state]!;
    let lo = 0;
    let hi = edges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = edges[mid]!;
      if (c < e.lo) hi = mid - 1;
      else if (c > e.hi) lo = mid + 1;
      else return e.to;
    }
    return -1;
  }
}

/** [lo, hi] plus, for the ASCII letters inside it, the same letters in the other case. */
function caseFoldRanges(lo: number, hi: number): [number, number][] {
  const out: [number, number][] = [[lo, hi]];
  const upperLo = Math.max(lo, 65);
  const upperHi = Math.min(hi, 90);
  if (upperLo <= upperHi) out.push([upperLo + 32, upperHi + 32]);
  const lowerLo = Math.max(lo, 97);
  const lowerHi = Math.min(hi, 122);
  if (lowerLo <= lowerHi) out.push([lowerLo - 32, lowerHi - 32]);
  return out;
}

interface LazyState {
  set: number[];
  accept: boolean;
  /** Next state per ASCII code: -2 unknown, -1 dead. */
  ascii: Int32Array;
  wide: Map<number, number>;
}

/**
 * Determinizes on demand, for patterns whose full DFA would exceed the state cap.
 * Each step costs at most one subset computation (O(NFA size)), so matching stays
 * linear in the value length; the state cache is bounded and flushed when full.
 */
export class LazyDfaMatcher {
  private states: LazyState[] = [];
  private ids = new Map<string, number>();
  private readonly start: number[];
  private readonly closure: (states: Iterable<number>) => number[];

  constructor(
    private readonly nfa: Nfa,
    private readonly frag: Fragment,
    private readonly maxStates = DEFAULT_MAX_DFA_STATES,
  ) {
    this.closure = closureOfSets(nfa);
    this.start = this.closure([frag.start]);
  }

  matches(s: string): boolean {
    let state = this.intern(this.start);
    const n = s.length;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          i++;
        }
      }
      state = this.step(state, c);
      if (state < 0) return false;
    }
    return this.states[state]!.accept;
  }

  private step(id: number, c: number): number {
    const st = this.states[id]!;
    const cached = c < 128 ? st.ascii[c]! : (st.wide.get(c) ?? -2);
    if (cached !== -2) return cached;
    const targets: number[] = [];
    for (const s of st.set) for (const e of this.nfa.edges[s]!) if (e.lo <= c && c <= e.hi) targets.push(e.to);
    let next = -1;
    if (targets.length > 0) {
      const set = this.closure(targets);
      if (this.states.length >= this.maxStates) {
        // Flush the cache, keeping only the state we are in.
        this.states = [];
        this.ids = new Map();
        const from = this.intern(st.set);
        next = this.intern(set);
        this.record(this.states[from]!, c, next);
        return next;
      }
      next = this.intern(set);
    }
    this.record(st, c, next);
    return next;
  }

  private record(st: LazyState, c: number, next: number): void {
    if (c < 128) st.ascii[c] = next;
    else if (st.wide.size < 4096) st.wide.set(c, next);
  }

  private intern(set: number[]): number {
    const key = set.join(',');
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.states.length;
      this.states.push({ set, accept: set.includes(this.frag.end), ascii: new Int32Array(128).fill(-2), wide: new Map() });
      this.ids.set(key, id);
    }
    return id;
  }
}

/** The most DFA states built up front for one pattern; past that, determinize while matching. */
const EAGER_DFA_STATES = 300;

/**
 * Matches whole strings against the automaton `build` makes. Elasticsearch refuses a
 * pattern whose automaton would have more than 10,000 states (too_complex_to_determinize);
 * so does this, at compile time (AutomatonTooComplexError): determinizing such a pattern
 * while matching would keep flushing its state cache, and cost microseconds per character
 * of attacker-controlled text. The automaton checked is then dropped and built again on
 * first use: in a large rule set most patterns never run on a given stream (Windows
 * paths in Linux logs), and keeping them all would cost memory (Elastic's 823 rules:
 * 75 MB; the check costs about 0.2 s of their load). Past EAGER_DFA_STATES it
 * determinizes while matching. `build` may throw AutomatonTooComplexError itself (a
 * regex's intersections determinize while building): it does so here, at compile time.
 */
export function automatonMatcher(build: () => { nfa: Nfa; frag: Fragment }): (value: string) => boolean {
  const checked = build();
  determinize(checked.nfa, checked.frag, DEFAULT_MAX_DFA_STATES);
  let matcher: { matches(value: string): boolean } | undefined;
  return (value) => {
    if (matcher === undefined) {
      const { nfa, frag } = build();
      try {
        matcher = new DfaMatcher(determinize(nfa, frag, EAGER_DFA_STATES));
      } catch (err) {
        if (!(err instanceof AutomatonTooComplexError)) throw err;
        matcher = new LazyDfaMatcher(nfa, frag);
      }
    }
    return matcher.matches(value);
  };
}
