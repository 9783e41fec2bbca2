/**
 * The prefilter decides, from a line's raw bytes, whether it could match any rule, so
 * most lines are never JSON.parse'd. It is derived from the compiled rules' `needs`
 * (literals a matching line must contain) and must never change results:
 *
 * - Each rule contributes an "anchor" set of needles, one of which any matching line
 *   must contain. The anchors and the JSON escapes are searched together, in one pass
 *   over the raw bytes of each chunk (scan/needle-search.ts). A line with an anchor is
 *   then checked against each rule's full literal formula.
 * - A line holding a JSON escape that could spell a needle another way (`\u0073`, `\/`)
 *   is always a candidate. Escapes that cannot (`\u00e9` when every literal is ASCII,
 *   or the `\\u` of a Windows path) do not count.
 * - If some rule requires no literal at all, the prefilter is off: every line is parsed.
 */
import type { Needs } from '../engine/index.js';
import type { Rule } from '../rules/model.js';
import { createNeedleFinder, DENSE, searchedBytes, type Needle as SearchNeedle, type NeedleFinder } from './needle-search.js';
import { FOLD_MASK } from './fold.js';

interface Needle {
  /** The needle as a latin1 string of its UTF-8 bytes (lower-cased if case-insensitive). */
  text: string;
  caseInsensitive: boolean;
}

const latin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

function toNeedle(n: Needs & { kind: 'literal' }): Needle {
  const text = latin1(n.text);
  return { text: n.caseInsensitive ? text.toLowerCase() : text, caseInsensitive: n.caseInsensitive };
}

/**
 * Characters common in JSON logs. Native substring search is fastest when a needle
 * starts with a character that occurs rarely, so needles are cut to start at their
 * rarest character.
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
function reduceNeedles(needles: Needle[]): Needle[] {
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
function anchorsOf(needs: Needs): Needle[] | undefined {
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

function* literalsOf(f: Formula): Generator<Needle> {
  if (f.kind === 'needle') yield f.needle;
  else if (f.kind !== 'always') for (const p of f.parts) yield* literalsOf(p);
}

/**
 * Above this many rules an anchored line is parsed without checking the rules' full
 * literal formulas: each check scans the line once per literal, and over hundreds of
 * rules that costs more than JSON.parse (rule dispatch then narrows what runs).
 */
const MAX_FORMULAS_CHECKED = 64;

/**
 * Screen calls in a buffer before it is judged: if by then they passed over fewer lines
 * than there were calls, the rest of the buffer is searched line by line.
 */
const SCREEN_TRIAL_CALLS = 16;

/**
 * A prefilter that lets nearly every line through only costs time. It decides per
 * window of SAMPLE_LINES lines; when at least PASS_RATE_TO_REST of them went through,
 * the next REST_LINES lines go through unsearched, then it samples again.
 */
const SAMPLE_LINES = 4096;
const PASS_RATE_TO_REST = 0.9;
const REST_LINES = 64 * SAMPLE_LINES;
/**
 * A prefilter that turns lines down at great cost rests too: past this many needle hits
 * per line of a window (each a search call and a check, against a JSON.parse per line
 * when resting), as in lines dense with escaped backslashes before a `u` (`\\u`), which
 * are never escapes that matter but are found one by one.
 */
const HITS_PER_LINE_TO_REST = 64;
/**
 * Needle hits searched in one line at most (or one per 64 bytes of a longer line) before
 * the line is let through to be parsed, when searching for LINE_BUDGET_NEEDLES needles or fewer;
 * proportionally fewer (down to HITS_PER_LINE_TO_REST) for more needles, as each search
 * step compares every needle. Searching a line dense with hits can cost far more than
 * parsing it, most with hundreds of rules, and in lines too long, or objects too short,
 * for a window to end and the prefilter to rest.
 */
const LINE_HITS_BUDGET = 1024;
/** `hit` before the buffer is searched (-1: no hit left; DENSE: the search gave up at denseAt). */
const NOT_SEARCHED = -3;
const LINE_BUDGET_NEEDLES = 4;

export interface PrefilterOptions {
  /** false searches with native indexOf instead of the SIMD loop (as where WebAssembly is unavailable). */
  wasm?: boolean;
  /** Lines per sampling window (default SAMPLE_LINES). */
  sampleLines?: number;
  /** Lines let through unsearched after a window that let nearly all through (default REST_LINES). */
  restLines?: number;
}

const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const UNICODE_ESCAPE = Buffer.from('\\u', 'latin1');
const SLASH_ESCAPE = Buffer.from('\\/', 'latin1');

/**
 * Which JSON escapes could spell part of a literal. `\uXXXX` can spell any character,
 * `\/` spells "/"; an escape matters if what it spells occurs in some literal.
 */
class EscapePolicy {
  /** For code points below 0x80: does the character (in either case) occur in a literal? */
  private readonly ascii = new Uint8Array(128);
  private readonly nonAscii: boolean;
  /** A literal holding a backslash holds an escape itself (`\"`, `\n`, `\ud800`): then every \u escape matters. */
  private readonly anyUnicode: boolean;
  readonly slash: boolean;

  constructor(literals: Needle[]) {
    let nonAscii = false;
    let backslash = false;
    for (const { text } of literals) {
      for (const ch of text) {
        const code = ch.charCodeAt(0);
        if (code >= 0x80) nonAscii = true;
        else {
          this.ascii[code] = 1;
          this.ascii[ch.toLowerCase().charCodeAt(0)] = 1;
          this.ascii[ch.toUpperCase().charCodeAt(0)] = 1;
        }
        if (code === BACKSLASH) backslash = true;
      }
    }
    this.nonAscii = nonAscii;
    this.anyUnicode = backslash;
    this.slash = this.ascii[SLASH] === 1;
  }

  /** `buf[at]` is a backslash followed by `u` or `/`: is it an escape that could spell a literal? */
  matters(buf: Buffer, at: number): boolean {
    // An even run of backslashes before it means this one is itself escaped (`C:\\users`).
    let run = 0;
    for (let i = at - 1; i >= 0 && buf[i] === BACKSLASH; i--) run++;
    if (run % 2 === 1) return false;
    if (buf[at + 1] === SLASH) return true;
    if (this.anyUnicode) return true;
    const code = hex4(buf, at + 2);
    if (code < 0) return true; // malformed: let JSON.parse classify the line
    return code >= 0x80 ? this.nonAscii : this.ascii[code] === 1;
  }
}

function hex4(buf: Buffer, at: number): number {
  if (at + 4 > buf.length) return -1;
  let code = 0;
  for (let i = at; i < at + 4; i++) {
    const c = buf[i]!;
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (digit < 0) return -1;
    code = code * 16 + digit;
  }
  return code;
}

export class Prefilter {
  readonly enabled: boolean;
  /** Why the prefilter is off, when it is. */
  readonly disabledBecause?: string;
  private readonly anchorNeedles: Needle[];
  /** The anchors that can start at a backslash, as searched (case-insensitive ones folded): where an escape hit is also an anchor. */
  private readonly backslashAnchors: { bytes: Uint8Array; caseInsensitive: boolean }[];
  private readonly formulas: Formula[] = [];
  private readonly escapes: EscapePolicy;
  /** Finds escapes (needles below escapeCount) and anchors in one pass. */
  private readonly finder: NeedleFinder;
  private readonly escapeCount: number;

  // Search state for the buffer loaded into the finder: whether its lines are screened,
  // and, where they are not, the next hit at or after the last line asked about (or
  // NOT_SEARCHED, -1: none left, DENSE), which spares a search per line.
  private buf: Buffer | undefined;
  private screening = false;
  private hit = NOT_SEARCHED;
  /** Screen calls in this buffer, and the lines they passed over. */
  private screenStops = 0;
  private screenPassed = 0;

  // Lines asked about and let through in the current window; while `resting`, lines
  // are let through unsearched until `restLeft` more have gone.
  private asked = 0;
  private letThrough = 0;
  private hits = 0;
  private resting = false;
  private restLeft = 0;
  private readonly sampleLines: number;
  private readonly restLines: number;

  constructor(rules: Rule[], enabled = true, options: PrefilterOptions = {}) {
    this.sampleLines = options.sampleLines ?? SAMPLE_LINES;
    this.restLines = options.restLines ?? REST_LINES;
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
    this.escapes = new EscapePolicy(this.formulas.flatMap((f) => [...literalsOf(f)]));
    // Escapes first: where an escape and an anchor start at the same byte, the escape is reported.
    const searched: SearchNeedle[] = [{ bytes: UNICODE_ESCAPE, caseInsensitive: false }];
    if (this.escapes.slash) searched.push({ bytes: SLASH_ESCAPE, caseInsensitive: false });
    this.escapeCount = searched.length;
    this.anchorNeedles = reduceNeedles(anchors);
    for (const n of this.anchorNeedles) searched.push({ bytes: Buffer.from(n.text, 'latin1'), caseInsensitive: n.caseInsensitive });
    this.backslashAnchors = searched
      .slice(this.escapeCount)
      .map((n) => ({ bytes: searchedBytes(n), caseInsensitive: n.caseInsensitive }))
      .filter(({ bytes, caseInsensitive }) => bytes[0] === (caseInsensitive ? BACKSLASH & FOLD_MASK : BACKSLASH));
    // Budgeted: a stretch dense with candidates that hold no needle is parsed, not searched on.
    this.finder = createNeedleFinder(searched, { ...options, leading: this.escapeCount, dense: true });
    this.lineBudgetScale = Math.min(1, LINE_BUDGET_NEEDLES / searched.length);
  }

  /** The anchor needles searched per chunk, for reports and tests (`~` marks case-insensitive). */
  get anchors(): string[] {
    return this.anchorNeedles.map((n) => (n.caseInsensitive ? `~${n.text}` : n.text));
  }

  /** How the needles are searched: 'wasm' (SIMD) or 'indexOf' (where WebAssembly is unavailable). */
  get engine(): 'wasm' | 'indexOf' {
    return this.finder.engine;
  }

  /**
   * A new chunk is coming: forget the search state. Called before each chunk, as a source
   * may hand over the same Buffer again, or refill it with other bytes.
   */
  newChunk(): void {
    this.buf = undefined;
  }

  /** Forgets the search state (call at the start of each scan: a Buffer may be seen again). */
  reset(): void {
    this.buf = undefined;
    this.asked = 0;
    this.letThrough = 0;
    this.hits = 0;
    this.resting = false;
  }

  /**
   * False while the prefilter lets lines through unsearched: it had been letting
   * (nearly) every line through, as with hundreds of rules, where some rule's anchor is
   * in every line and searching only costs time. It samples again now and then.
   */
  get searching(): boolean {
    return this.enabled && !this.resting;
  }

  /** Counts a decision; after each window, rests if nearly every line went through. */
  private decided(candidate: boolean): boolean {
    this.asked++;
    if (candidate) this.letThrough++;
    if (this.asked === this.sampleLines) this.closeWindow();
    return candidate;
  }

  private closeWindow(): void {
    const throughAll = this.letThrough >= this.sampleLines * PASS_RATE_TO_REST;
    const costly = this.hits > this.sampleLines * HITS_PER_LINE_TO_REST;
    if (this.restLines > 0 && (throughAll || costly)) {
      this.resting = true;
      this.restLeft = this.restLines;
    }
    this.asked = 0;
    this.letThrough = 0;
    this.hits = 0;
  }

  /** Lines the last screen() passed over. */
  passedOver = 0;
  /** LINE_HITS_BUDGET's share for this many needles (escapes and anchors): 1 up to LINE_BUDGET_NEEDLES. */
  private readonly lineBudgetScale: number;
  /** Hits the line being searched may still have before it is let through (LINE_HITS_BUDGET). */
  private lineHitsLeft = 0;

  /**
   * From `from`, the start of a line of `buf`, passes over the lines isCandidate would
   * turn down without a doubt: lines that start with `{`, are at most `maxLineBytes`
   * long, and where neither an anchor nor an escape starts (found in one pass over the
   * bytes, in WebAssembly). Returns the start of the first line that needs isCandidate,
   * or `buf.length`; `passedOver` says how many lines were passed over, and they count as
   * turned down. It stops where the sampling window ends, so windows close as they would
   * line by line. Returns -1, to be asked no more about this buffer, where the prefilter
   * is off or resting, WebAssembly is unavailable, or screening does not pay in this buffer.
   */
  screen(buf: Buffer, from: number, maxLineBytes: number): number {
    this.passedOver = 0;
    if (!this.enabled || this.resting) return -1;
    this.use(buf);
    if (!this.screening) return -1;
    const at = this.finder.screen!(from, this.sampleLines - this.asked, maxLineBytes);
    const lines = this.finder.passedOver!;
    this.passedOver = lines;
    this.asked += lines;
    if (this.asked === this.sampleLines) this.closeWindow();
    // Where most screen calls stop at once (every line holds an escape, or starts with a
    // blank), each costs a call and a pass that visiting line by line does not: stop
    // screening this buffer, and search it as before.
    this.screenStops++;
    this.screenPassed += lines;
    if (this.screenStops >= SCREEN_TRIAL_CALLS && this.screenPassed < this.screenStops) {
      this.screening = false; // for good in this buffer: `hit` has not been used yet
    }
    return at;
  }

  /** Could the line [start, end) of `buf` match a rule? */
  isCandidate(buf: Buffer, lineStart: number, lineEnd: number): boolean {
    if (!this.enabled) return true;
    if (this.resting) {
      if (--this.restLeft === 0) this.resting = false;
      return true;
    }
    return this.decided(this.search(buf, lineStart, lineEnd));
  }

  private use(buf: Buffer): void {
    if (buf !== this.buf) {
      this.buf = buf;
      this.finder.load(buf);
      this.screening = this.finder.screen !== undefined;
      this.hit = NOT_SEARCHED;
      this.screenStops = 0;
      this.screenPassed = 0;
    }
  }

  /**
   * The next needle at or after `from` in the line ending at `lineEnd`, or -1. Where the
   * buffer is screened, the search stops at the line's end (the screen has searched past
   * it already); elsewhere it runs on to the next hit, kept for the lines after.
   */
  private nextHit(from: number, lineEnd: number): number {
    if (this.screening) return this.finder.next(from, lineEnd);
    if (this.hit === DENSE) {
      // The search gave up at denseAt, having found no hit before it: that line is dense
      // (to be parsed), and past it the search starts again.
      const at = this.finder.denseAt!;
      if (at >= lineEnd) return -1;
      if (at >= from) return DENSE;
      this.hit = NOT_SEARCHED;
    }
    if (this.hit !== -1 && this.hit < from) this.hit = this.finder.next(from);
    if (this.hit === DENSE) return this.finder.denseAt! < lineEnd ? DENSE : -1;
    return this.hit < lineEnd ? this.hit : -1;
  }

  private search(buf: Buffer, lineStart: number, lineEnd: number): boolean {
    this.use(buf);
    this.finder.startLine?.(lineStart); // one budget of failed candidates for the whole line
    const budget = Math.max(LINE_HITS_BUDGET, (lineEnd - lineStart) >> 6) * this.lineBudgetScale;
    this.lineHitsLeft = Math.max(HITS_PER_LINE_TO_REST, Math.floor(budget));
    // Needles that start in the line. (An anchor running past its end still triggers the
    // formula check, which then fails on the line alone; an escape cannot run past it.)
    for (let hit = this.nextHit(lineStart, lineEnd); hit !== -1; hit = this.nextHit(hit + 1, lineEnd)) {
      if (hit === DENSE) return this.dense();
      this.hits++;
      if (--this.lineHitsLeft < 0) return true; // cheaper to parse it
      const escape = this.finder.needle < this.escapeCount;
      if (escape && this.escapes.matters(buf, hit)) return true;
      // Where an escape and an anchor start at the same byte only the escape is reported.
      if (!escape || this.anchorStartsAt(buf, hit, lineEnd)) {
        // With many rules, checking every formula costs more than parsing the line.
        if (this.formulas.length > MAX_FORMULAS_CHECKED) return true;
        // Check each rule's full formula within the line only. (As strings: one Buffer.includes
        // per literal costs twice as much as making the two strings.)
        const line = buf.toString('latin1', lineStart, lineEnd);
        const lowerLine = line.toLowerCase();
        if (this.formulas.some((f) => holds(f, line, lowerLine))) return true;
        // Still a candidate if a later escape in the line could spell a literal: only
        // escapes matter now, so the rest of the line is searched for them alone (a line
        // crowded with anchors would otherwise cost a search per anchor).
        return this.escapeAfter(buf, hit + 1, lineEnd);
      }
    }
    return false;
  }

  /**
   * Does an escape that could spell a literal start in [from, lineEnd) of `buf`? Searched
   * for among the escape needles alone (the leading ones), so the anchors crowding a line
   * cost nothing, nor do the backslashes of Windows paths (`\\W`): the SIMD loop compares
   * a backslash and the byte after it at once.
   */
  private escapeAfter(buf: Buffer, from: number, lineEnd: number): boolean {
    for (let at = this.finder.nextLeading(from, lineEnd); at !== -1; at = this.finder.nextLeading(at + 1, lineEnd)) {
      if (at === DENSE) return this.dense();
      this.hits++; // as the search would have counted it
      if (--this.lineHitsLeft < 0) return true;
      if (this.escapes.matters(buf, at)) return true;
    }
    return false;
  }

  /**
   * A line where the search gave up (DENSE) goes through to be parsed, and counts as costly
   * as a line of HITS_PER_LINE_TO_REST hits, so that a window of such lines rests.
   */
  private dense(): true {
    this.hits += HITS_PER_LINE_TO_REST;
    return true;
  }

  private anchorStartsAt(buf: Buffer, at: number, lineEnd: number): boolean {
    return this.backslashAnchors.some(({ bytes, caseInsensitive }) => {
      if (at + bytes.length > lineEnd) return false;
      for (let i = 0; i < bytes.length; i++) {
        const b = buf[at + i]!;
        if ((caseInsensitive ? b & FOLD_MASK : b) !== bytes[i]) return false;
      }
      return true;
    });
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
