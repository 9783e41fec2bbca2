/**
 * The prefilter decides, from a line's raw bytes, whether it could match any rule, so
 * most lines are never JSON.parse'd. It is derived from the compiled rules' `needs`
 * (literals a matching line must contain) and must never change results:
 *
 * - Each rule contributes an "anchor" set of needles, one of which any matching line
 *   must contain. Anchors are searched once per chunk (String.indexOf over a latin1
 *   view of the bytes, lower-cased for case-insensitive needles), then a hit line is
 *   checked against each rule's full literal formula.
 * - A line holding a JSON escape that could spell a needle another way (`\u0073`,
 *   `\/`) is always a candidate.
 * - If some rule requires no literal at all, the prefilter is off: every line is parsed.
 */
import type { Needs } from '../engine/index.js';
import type { Rule } from '../rules/model.js';

interface Needle {
  /** The needle as a latin1 string of its UTF-8 bytes (lower-cased if case-insensitive). */
  text: string;
  caseInsensitive: boolean;
}

/** A compiled search: String.indexOf for exact needles, a sticky-free /gi regex for case-insensitive ones. */
interface Searcher {
  find(text: string, from: number): number;
}

function searcherFor(n: Needle): Searcher {
  if (!n.caseInsensitive) return { find: (text, from) => text.indexOf(n.text, from) };
  // The 'i' flag without 'u' folds ASCII letters (and a few latin1 ones, which only adds candidates).
  const re = new RegExp(n.text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'gi');
  return {
    find(text, from) {
      re.lastIndex = from;
      const m = re.exec(text);
      return m === null ? -1 : m.index;
    },
  };
}

/** JSON escapes that can hide a needle: \uXXXX can spell any character, \/ spells "/". */
const ESCAPES: Needle[] = [
  { text: '\\u', caseInsensitive: false },
  { text: '\\/', caseInsensitive: false },
];

const latin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

/** Size of the latin1 views searched at once. */
const WINDOW_BYTES = 64 * 1024;

function toNeedle(n: Needs & { kind: 'literal' }): Needle {
  const text = latin1(n.text);
  return { text: n.caseInsensitive ? text.toLowerCase() : text, caseInsensitive: n.caseInsensitive };
}

/**
 * Characters common in JSON logs. V8's indexOf is fastest when a needle starts with a
 * character that occurs rarely, so needles are cut to start at their rarest character.
 */
const COMMON = ' "etaoinsrlcdumh/.:,_-0123456789{}[]';
const rarity = (ch: string): number => {
  const i = COMMON.indexOf(ch);
  return i < 0 ? COMMON.length : COMMON.length - 1 - i;
};
/** Needles are never shortened below this (shorter ones hit too often). */
const MIN_NEEDLE = 4;

/** Longest common substring of two strings. */
function longestCommon(a: string, b: string): string {
  let best = '';
  for (let i = 0; i < a.length; i++) {
    for (let j = i + best.length + 1; j <= a.length; j++) {
      if (!b.includes(a.slice(i, j))) break;
      best = a.slice(i, j);
    }
  }
  return best;
}

/**
 * Fewer, rarer needles: every needle is one pass over the data, so needles sharing a
 * substring of MIN_NEEDLE characters or more are replaced by that substring (a line
 * containing any of them contains it), and each needle is cut to start at its rarest
 * character. Both keep the prefilter a necessary condition.
 */
export function reduceNeedles(needles: Needle[]): Needle[] {
  return mergeNeedles(needles).map(cutToRareStart);
}

function mergeNeedles(needles: Needle[]): Needle[] {
  const groups: Needle[] = [];
  for (const n of [...needles].sort((a, b) => b.text.length - a.text.length)) {
    const group = groups.find((g) => g.caseInsensitive === n.caseInsensitive && longestCommon(g.text, n.text).length >= MIN_NEEDLE);
    if (group !== undefined) group.text = longestCommon(group.text, n.text);
    else if (!groups.some((g) => g.caseInsensitive === n.caseInsensitive && n.text.includes(g.text))) groups.push({ ...n });
  }
  // Drop needles that contain another needle of the same kind: the shorter one already covers them.
  return groups.filter((g) => !groups.some((h) => h !== g && h.caseInsensitive === g.caseInsensitive && g.text.includes(h.text) && g.text !== h.text));
}

function cutToRareStart(n: Needle): Needle {
  if (n.text.length <= MIN_NEEDLE) return n;
  let best = 0;
  for (let i = 1; i + MIN_NEEDLE <= n.text.length; i++) if (rarity(n.text[i]!) > rarity(n.text[best]!)) best = i;
  return { ...n, text: n.text.slice(best) };
}

/** A set of needles of which every line satisfying `needs` contains at least one; undefined if none can be named. */
export function anchorsOf(needs: Needs): Needle[] | undefined {
  switch (needs.kind) {
    case 'always':
      return undefined;
    case 'literal':
      return [toNeedle(needs)];
    case 'any': {
      const out: Needle[] = [];
      for (const part of needs.parts) {
        const a = anchorsOf(part);
        if (a === undefined) return undefined;
        out.push(...a);
      }
      return out;
    }
    case 'all': {
      let best: Needle[] | undefined;
      for (const part of needs.parts) {
        const a = anchorsOf(part);
        if (a !== undefined && (best === undefined || score(a) > score(best))) best = a;
      }
      return best;
    }
  }
}

/** Longer needles are rarer; a set is as selective as its shortest member, and each needle costs a pass. */
function score(set: Needle[]): number {
  const reduced = mergeNeedles(set);
  return Math.min(...reduced.map((n) => n.text.length)) - 3 * (reduced.length - 1);
}

type Formula = { kind: 'always' } | { kind: 'needle'; needle: Needle } | { kind: 'all' | 'any'; parts: Formula[] };

function formulaOf(needs: Needs): Formula {
  if (needs.kind === 'always') return needs;
  if (needs.kind === 'literal') return { kind: 'needle', needle: toNeedle(needs) };
  return { kind: needs.kind, parts: needs.parts.map(formulaOf) };
}

export class Prefilter {
  readonly enabled: boolean;
  /** Why the prefilter is off, when it is. */
  readonly disabledBecause?: string;
  private readonly needles: Needle[] = [];
  private readonly searchers: Searcher[] = [];
  private readonly formulas: Formula[] = [];

  // Search state for the current window of the current buffer: a latin1 view of
  // [winStart, winEnd) and the next hit of each needle (relative to winStart).
  // Windows of ~64 KiB keep the string work cheap (large strings are much slower to
  // build and lower-case); a window always starts at a line start and holds the whole line.
  private buf: Buffer | undefined;
  private winStart = 0;
  private winEnd = 0;
  private text = '';
  private readonly nextHit: Int32Array;

  constructor(rules: Rule[], enabled = true) {
    let why: string | undefined = enabled ? undefined : 'turned off';
    const anchors: Needle[] = [];
    for (const rule of rules) {
      const set = anchorsOf(rule.compiled.needs);
      if (set === undefined) {
        why ??= `rule "${rule.name}" requires no literal text`;
        continue;
      }
      anchors.push(...set);
      this.formulas.push(formulaOf(rule.compiled.needs));
    }
    if (rules.length === 0) why ??= 'no rules';
    this.enabled = why === undefined;
    if (why !== undefined) this.disabledBecause = why;
    this.needles = [...ESCAPES, ...reduceNeedles(anchors)];
    this.searchers = this.needles.map(searcherFor);
    this.nextHit = new Int32Array(this.needles.length);
  }

  /** The needles searched per chunk (escapes first), for reports and tests. */
  get anchors(): string[] {
    return this.needles.slice(ESCAPES.length).map((n) => (n.caseInsensitive ? `~${n.text}` : n.text));
  }

  /** Forgets the search state (call at the start of each scan: a Buffer may be seen again). */
  reset(): void {
    this.buf = undefined;
  }

  /** Could the line [start, end) of `buf` match a rule? Lines of one buffer must come in order. */
  isCandidate(buf: Buffer, lineStart: number, lineEnd: number): boolean {
    if (!this.enabled) return true;
    if (buf !== this.buf || lineStart < this.winStart || lineEnd > this.winEnd) this.load(buf, lineStart, lineEnd);
    const start = lineStart - this.winStart;
    const end = lineEnd - this.winStart;
    let anchorHit = false;
    const hits = this.nextHit;
    for (let k = 0; k < this.needles.length; k++) {
      let h = hits[k]!;
      if (h === -1) continue; // no more occurrences in this window
      if (h < start) {
        h = this.search(k, start);
        hits[k] = h;
        if (h === -1) continue;
      }
      if (h < end) {
        if (k < ESCAPES.length) return true;
        anchorHit = true;
        break;
      }
    }
    if (!anchorHit) return false;
    // Check each rule's full formula within the line only.
    const line = this.text.slice(start, end);
    const lowerLine = line.toLowerCase();
    return this.formulas.some((f) => holds(f, line, lowerLine));
  }

  private load(buf: Buffer, lineStart: number, lineEnd: number): void {
    this.buf = buf;
    this.winStart = lineStart;
    this.winEnd = Math.min(buf.length, Math.max(lineEnd, lineStart + WINDOW_BYTES));
    this.text = buf.toString('latin1', this.winStart, this.winEnd);
    this.nextHit.fill(-2); // unknown: search on first use
  }

  private search(k: number, from: number): number {
    return this.searchers[k]!.find(this.text, from);
  }
}

function holds(f: Formula, line: string, lowerLine: string): boolean {
  switch (f.kind) {
    case 'always':
      return true;
    case 'needle':
      return (f.needle.caseInsensitive ? lowerLine : line).includes(f.needle.text);
    case 'all':
      return f.parts.every((p) => holds(p, line, lowerLine));
    case 'any':
      return f.parts.some((p) => holds(p, line, lowerLine));
  }
}
