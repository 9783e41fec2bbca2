/**
 * Finds the next occurrence of any of a set of needles in a buffer, in one pass: a
 * WebAssembly SIMD loop generated for the needles, after Wojciech Muła's "SIMD-friendly
 * algorithms for substring searching". For 64 positions at a time it compares each
 * needle's first and last byte at every position; the rare positions where both agree
 * are verified byte by byte. Case-insensitive needles compare with ASCII case folded
 * (bit 0x20 cleared), which also lets a few non-letters pair up (`/` with 0x0F): extra
 * candidates, never a missed one.
 *
 * One pass replaces one native indexOf pass per needle, each of which stops at every
 * occurrence of its needle's first byte (and `p`, `b`, `s` are everywhere in logs).
 *
 * The same loop, also stopping at newlines, screens lines: it passes over every line that
 * starts with `{` and holds no needle, so that the scan visits (in JavaScript) only the
 * lines that may matter. With lines of a few hundred bytes, visiting each one cost more
 * than the search itself.
 */
import { CaseFolder, FOLD_MASK as FOLD } from './fold.js';
import { instantiate, moduleBytes, op, PAGE_BYTES, splat, type, type WasmFunction, type WasmMemory } from './wasm.js';

export interface Needle {
  /** The needle's bytes as they appear in the data (case-insensitive needles in any case). */
  bytes: Uint8Array;
  caseInsensitive: boolean;
}

/** A needle's bytes as searched for: case-folded when it is case-insensitive. */
export const searchedBytes = (n: Needle): Uint8Array => (n.caseInsensitive ? n.bytes.map((b) => b & FOLD) : n.bytes);

/**
 * Memory layout: the index of the needle found at 0, the lines passed over by the screen
 * at 4; where lanes() stopped: the step at 8, its first block with lanes (times 4) at 12,
 * and the lanes of each block from there on from 16 (a 16-bit mask per block); needle
 * bytes from 32, the data from a page boundary after them.
 */
const RESULT_AT = 0;
const PASSED_OVER_AT = 4;
const STEP_AT = 8;
const FIRST_BLOCK_AT = 12;
const MASKS_AT = 16;
/** Where a budgeted search gave up on a stretch dense with candidates (see DENSE). */
const DENSE_AT = 32;
/** The failed candidates a find() call leaves counted, for the next call in the same line. */
const FAILED_AT = 36;
const NEEDLES_AT = 40;
/** 16-byte blocks compared per step of the loop. */
const BLOCKS = 4;
const STEP = 16 * BLOCKS;

const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const CARRIAGE_RETURN = 0x0d;

/**
 * A generated function's i32 values, numbered in order: its parameters (the first
 * `params` names), then its locals, as declared here and nowhere else.
 */
function i32Values<N extends string>(names: readonly N[], params: number): { at: Record<N, number>; params: number[]; locals: [number, number][] } {
  return {
    at: Object.fromEntries(names.map((name, i) => [name, i])) as Record<N, number>,
    params: names.slice(0, params).map(() => type.i32),
    locals: [[names.length - params, type.i32]],
  };
}

/** Where emitBlocks keeps its values (local indices). */
interface Locals {
  from: number; // the position to search from (advanced STEP at a time)
  acc: number; // first of BLOCKS v128 locals: the lanes of each block worth a look
  scratch: number; // first v128 scratch local
}

/** Where emitSteps keeps its values, besides those of emitBlocks. */
interface StepLocals extends Locals {
  to: number; // lanes at or past it are not looked at
  bits: number; // the lanes of the block at hand
  pos: number; // a lane
}

/**
 * Emits the code setting `acc + b` to the lanes of block b where some needle's first and
 * last bytes agree (and, with `newlines`, where a newline is), for the STEP bytes at
 * `from`. Returns how many scratch locals it used.
 */
function emitBlocks(body: number[], needles: Needle[], at: Locals, newlines: boolean): number {
  // Within a block, each distinct load, fold and comparison is computed once into a
  // scratch local (the escapes share their backslash, needles share offset 0).
  let scratch = 0;
  let cache = new Map<string, number>();
  const cached = (key: string, compute: () => number[]): number[] => {
    let local = cache.get(key);
    if (local === undefined) {
      local = at.scratch + scratch++;
      cache.set(key, local);
      body.push(...compute(), ...op.localSet(local));
    }
    return op.localGet(local);
  };
  const load = (offset: number): number[] => cached(`load ${offset}`, () => [...op.localGet(at.from), ...op.v128Load(offset)]);
  const folded = (offset: number): number[] => cached(`fold ${offset}`, () => [...load(offset), ...splat(FOLD), ...op.v128And]);
  const probe = (caseInsensitive: boolean, offset: number, byte: number): number[] =>
    cached(`eq ${caseInsensitive} ${offset} ${byte}`, () => [...(caseInsensitive ? folded(offset) : load(offset)), ...splat(byte), ...op.i8x16Eq]);

  let most = 0;
  for (let b = 0; b < BLOCKS; b++) {
    cache = new Map();
    scratch = 0;
    needles.forEach((n, k) => {
      const bytes = searchedBytes(n);
      const last = bytes.length - 1;
      body.push(...probe(n.caseInsensitive, 16 * b, bytes[0]!), ...probe(n.caseInsensitive, 16 * b + last, bytes[last]!), ...op.v128And);
      if (k > 0) body.push(...op.v128Or);
    });
    if (newlines) body.push(...probe(false, 16 * b, NEWLINE), ...op.v128Or);
    body.push(...op.localSet(at.acc + b));
    most = Math.max(most, scratch);
  }
  return most;
}

/**
 * Emits the check of every needle at `pos`, running `onMatch` (which must leave the
 * function) with `best` holding the lowest index of the needles that occur there. Needles
 * are grouped by first byte, and a `br_table` on the byte at `pos` jumps to the groups that
 * can start there (at most two: one case-sensitive, one not), so a candidate costs a jump
 * and a check of its own groups only: in a run of one byte that some needle both starts
 * and ends with (spaces, backslashes), every position is a candidate, and checking all the
 * needles at each cost a hundred times what parsing the line does with Elastic's 823 rules.
 */
function emitVerify(body: number[], needles: Needle[], offsets: number[], at: { pos: number; j: number; to: number; best: number }, onMatch: number[]): void {
  const groups: { caseInsensitive: boolean; first: number; members: number[] }[] = [];
  needles.forEach((n, k) => {
    const first = searchedBytes(n)[0]!;
    let group = groups.find((g) => g.caseInsensitive === n.caseInsensitive && g.first === first);
    if (group === undefined) groups.push((group = { caseInsensitive: n.caseInsensitive, first, members: [] }));
    group.members.push(k);
  });
  // Per byte value, the distinct sets of groups it may start ("targets").
  const targets: number[][] = [];
  const targetOf = new Map<string, number>();
  const byteTarget: number[] = [];
  for (let b = 0; b < 256; b++) {
    const holding = groups.flatMap((g, i) => ((g.caseInsensitive ? b & FOLD : b) === g.first ? [i] : []));
    const key = holding.join(',');
    let t = holding.length === 0 ? -1 : targetOf.get(key);
    if (t === undefined) {
      t = targets.length;
      targets.push(holding);
      targetOf.set(key, t);
    }
    byteTarget.push(t);
  }
  const count = targets.length;
  body.push(...op.i32Const(-1), ...op.localSet(at.best)); // as unsigned: above every index
  body.push(...op.block); // all done
  for (let t = 0; t < count; t++) body.push(...op.block); // one per target, the first target's innermost
  body.push(...op.block); // no group starts with the byte
  body.push(...op.localGet(at.pos), ...op.i32Load8U(0), ...op.brTable(byteTarget.map((t) => t + 1), 0));
  body.push(...op.end, ...op.br(count)); // no group: out
  for (let t = 0; t < count; t++) {
    body.push(...op.end); // target t's code follows its block
    for (const g of targets[t]!) emitGroup(body, needles, offsets, at, groups[g]!.members);
    body.push(...op.br(count - 1 - t)); // out
  }
  body.push(...op.end);
  body.push(...op.localGet(at.best), ...op.i32Const(-1), ...op.i32Ne, ...op.if, ...onMatch, ...op.end);
}

/** Checks a group's needles (one first byte, matched already) in order, keeping the lowest that occurs in `best`. */
function emitGroup(body: number[], needles: Needle[], offsets: number[], at: { pos: number; j: number; to: number; best: number }, members: number[]): void {
  body.push(...op.block); // the group: left at its first (lowest) needle that occurs
  for (const k of members) {
    const n = needles[k]!;
    const length = n.bytes.length;
    body.push(...op.block); // left on the first mismatch
    body.push(...op.localGet(at.pos), ...op.i32Const(length), ...op.i32Add, ...op.localGet(at.to), ...op.i32GtU, ...op.brIf(0));
    body.push(...op.i32Const(1), ...op.localSet(at.j)); // byte 0 is the group's
    body.push(...op.loop);
    body.push(...op.localGet(at.j), ...op.i32Const(length), ...op.i32GeU, ...op.if);
    body.push(...op.i32Const(k), ...op.localGet(at.best), ...op.i32LtU, ...op.if, ...op.i32Const(k), ...op.localSet(at.best), ...op.end);
    body.push(...op.br(3)); // if, loop, needle block: out of the group
    body.push(...op.end);
    body.push(...op.localGet(at.pos), ...op.localGet(at.j), ...op.i32Add, ...op.i32Load8U(0));
    if (n.caseInsensitive) body.push(...op.i32Const(FOLD), ...op.i32And);
    body.push(...op.localGet(at.j), ...op.i32Load8U(offsets[k]!), ...op.i32Ne, ...op.brIf(1));
    body.push(...op.localGet(at.j), ...op.i32Const(1), ...op.i32Add, ...op.localSet(at.j), ...op.br(0));
    body.push(...op.end, ...op.end); // loop, needle block
  }
  body.push(...op.end); // group block
}

/**
 * Emits the candidate budget of a search that may give up (DENSE): after a candidate that
 * held no needle, counts it (and stores the count at `countAt`, for the next call), and once
 * more than `minFailed` of them came at more than one per 2^DENSE_SHIFT bytes since `since`,
 * runs `onDense` (which must leave the function).
 */
function emitBudget(body: number[], at: { pos: number; failed: number; minFailed: number; since: number }, onDense: number[], countAt?: number): void {
  body.push(...op.localGet(at.failed), ...op.i32Const(1), ...op.i32Add, ...op.localSet(at.failed));
  if (countAt !== undefined) body.push(...op.i32Const(0), ...op.localGet(at.failed), ...op.i32Store(countAt));
  body.push(...op.localGet(at.failed), ...op.localGet(at.minFailed), ...op.i32GtU, ...op.if);
  body.push(...op.localGet(at.failed), ...op.i32Const(DENSE_SHIFT), ...op.i32Shl, ...op.localGet(at.pos), ...op.localGet(at.since), ...op.i32Sub, ...op.i32GtU);
  body.push(...op.if, ...onDense, ...op.end, ...op.end);
}

/** A budgeted search gives up where more than one candidate in 2^DENSE_SHIFT bytes held no needle. */
const DENSE_SHIFT = 4;

/**
 * Emits the step loop of lanes() and find(): for each STEP bytes from `from` until `to`,
 * the blocks' lanes (emitBlocks); in each block that has some, `inBlock(b)` runs with
 * `bits` holding them. The function returns -1 when `to` is reached. Returns how many
 * v128 scratch locals it used.
 */
function emitSteps(body: number[], needles: Needle[], at: StepLocals, newlines: boolean, inBlock: (b: number) => number[]): number {
  body.push(...op.loop); // for (;; from += STEP)
  body.push(...op.localGet(at.from), ...op.localGet(at.to), ...op.i32GeU, ...op.if, ...op.i32Const(-1), ...op.return, ...op.end);
  const scratch = emitBlocks(body, needles, at, newlines);
  body.push(...op.localGet(at.acc));
  for (let b = 1; b < BLOCKS; b++) body.push(...op.localGet(at.acc + b), ...op.v128Or);
  body.push(...op.v128AnyTrue, ...op.if);
  for (let b = 0; b < BLOCKS; b++) body.push(...op.localGet(at.acc + b), ...op.i8x16Bitmask, ...op.localTee(at.bits), ...op.if, ...inBlock(b), ...op.end);
  body.push(...op.end); // if any block has lanes
  body.push(...op.localGet(at.from), ...op.i32Const(STEP), ...op.i32Add, ...op.localSet(at.from), ...op.br(0));
  body.push(...op.end); // loop
  body.push(...op.i32Const(-1));
  return scratch;
}

/** Sets `pos` to the lowest lane in `bits` of block b; the function returns -1 if it is at or past `to`. */
const lanePosition = (at: StepLocals, b: number): number[] => [
  ...[...op.localGet(at.from), ...op.i32Const(16 * b), ...op.i32Add, ...op.localGet(at.bits), ...op.i32Ctz, ...op.i32Add, ...op.localTee(at.pos)],
  ...[...op.localGet(at.to), ...op.i32GeU, ...op.if, ...op.i32Const(-1), ...op.return, ...op.end],
];

/**
 * `lanes(from, to) -> position or -1`, the screen's hot loop: the first position ≥ `from`
 * and < `to` where a newline is, or some needle's first and last bytes agree. In a
 * function of its own: within screen(), with its line bookkeeping, V8 kept fewer of its
 * values in registers and a step took twice as long. It leaves the step's lanes for
 * emitLanes.
 */
function lanesFunction(needles: Needle[]): WasmFunction {
  const names = ['from', 'to', 'bits', 'pos'] as const;
  const { at: values, params, locals } = i32Values(names, 2);
  const at: StepLocals = { ...values, acc: names.length, scratch: names.length + BLOCKS };
  const body: number[] = [];
  const scratch = emitSteps(body, needles, at, true, (b) => {
    const lane = lanePosition(at, b);
    // The step's lanes from this block on, for the caller to walk without comparing the blocks again.
    lane.push(...op.i32Const(0), ...op.localGet(at.from), ...op.i32Store(STEP_AT));
    lane.push(...op.i32Const(0), ...op.i32Const(4 * b), ...op.i32Store(FIRST_BLOCK_AT));
    lane.push(...op.i32Const(0), ...op.localGet(at.bits), ...op.i32Store(MASKS_AT + 4 * b));
    for (let k = b + 1; k < BLOCKS; k++) lane.push(...op.i32Const(0), ...op.localGet(at.acc + k), ...op.i8x16Bitmask, ...op.i32Store(MASKS_AT + 4 * k));
    lane.push(...op.localGet(at.pos), ...op.return);
    return lane;
  });
  return { params, results: [type.i32], locals: [...locals, [BLOCKS + scratch, type.v128]], body };
}

/** The i32 values emitLanes uses: the caller's `from` (which it advances) and `to`, and its own locals. */
interface LaneLocals {
  from: number;
  to: number;
  step: number; // the step lanes() stopped in
  block: number; // its block being walked, times 4
  bits: number; // that block's lanes not yet walked
  pos: number; // the lane
}

/**
 * Emits the walk over every lane from `from` on, lowest first: `lanes` (a function
 * index) finds the next step with lanes and leaves their masks, so that a step with many
 * lanes is compared once. `onLane` runs for each lane with its position in `pos` (it may
 * leave the function). `atEnd` runs (and must leave) when no lane is left before `to`.
 * It advances the caller's `from` local past each step walked.
 */
function emitLanes(body: number[], lanes: number, at: LaneLocals, onLane: number[], atEnd: number[]): void {
  body.push(...op.loop); // each step with lanes
  body.push(...op.localGet(at.from), ...op.localGet(at.to), ...op.call(lanes), ...op.i32Const(-1), ...op.i32Eq, ...op.if, ...atEnd, ...op.end);
  body.push(...op.i32Const(0), ...op.i32Load(STEP_AT), ...op.localSet(at.step));
  body.push(...op.i32Const(0), ...op.i32Load(FIRST_BLOCK_AT), ...op.localSet(at.block));
  body.push(...op.loop); // each block of the step, from the first with lanes
  body.push(...op.localGet(at.block), ...op.i32Load(MASKS_AT), ...op.localTee(at.bits), ...op.if);
  body.push(...op.loop); // each lane of the block
  body.push(...op.localGet(at.step), ...op.localGet(at.block), ...op.i32Const(2), ...op.i32Shl, ...op.i32Add); // step + (block << 2): 16 × the block's index
  body.push(...op.localGet(at.bits), ...op.i32Ctz, ...op.i32Add, ...op.localTee(at.pos));
  body.push(...op.localGet(at.to), ...op.i32GeU, ...op.if, ...atEnd, ...op.end);
  body.push(...onLane);
  body.push(...op.localGet(at.bits), ...op.localGet(at.bits), ...op.i32Const(1), ...op.i32Sub, ...op.i32And, ...op.localTee(at.bits), ...op.brIf(0));
  body.push(...op.end); // lane loop
  body.push(...op.end); // if the block has lanes
  body.push(...op.localGet(at.block), ...op.i32Const(4), ...op.i32Add, ...op.localTee(at.block), ...op.i32Const(4 * BLOCKS), ...op.i32LtU, ...op.brIf(0));
  body.push(...op.end); // block loop
  body.push(...op.localGet(at.step), ...op.i32Const(STEP), ...op.i32Add, ...op.localSet(at.from), ...op.br(0));
  body.push(...op.end); // step loop
}

/** The module's functions, in order: a function's index (for `op.call`) is its place here. */
const FUNCTIONS = ['lineLanes', 'find', 'findLeading', 'screen'] as const;
const index = (name: (typeof FUNCTIONS)[number]): number => FUNCTIONS.indexOf(name);
const LINE_LANES = index('lineLanes');

/**
 * `find(from, end, limit, minFailed, since, failed) -> position, -1 or DENSE`: the first
 * position ≥ `from` and < `limit` where a needle starts (and ends by `end`, the data's end),
 * storing the needle's index at RESULT_AT; with a budget (emitBudget) counted from `failed`
 * candidates at `since`, it may give up first, storing where at DENSE_AT. One function with its candidates verified in place: it is called once per
 * hit, often a few bytes on, where a call to lanes() and a walk cost more.
 */
function findFunction(needles: Needle[], offsets: number[]): WasmFunction {
  // `since` and `failed` come in: the line's start, and the candidates earlier calls in it found without a needle.
  const names = ['from', 'end', 'limit', 'minFailed', 'since', 'failed', 'bits', 'pos', 'j', 'best'] as const;
  const { at, params, locals } = i32Values(names, 6);
  const steps: StepLocals = { from: at.from, to: at.limit, bits: at.bits, pos: at.pos, acc: names.length, scratch: names.length + BLOCKS };
  const found = [...op.i32Const(RESULT_AT), ...op.localGet(at.best), ...op.i32Store(0), ...op.localGet(at.pos), ...op.return];
  const dense = [...op.i32Const(DENSE_AT), ...op.localGet(at.pos), ...op.i32Store(0), ...op.i32Const(DENSE), ...op.return];
  const body: number[] = [...op.i32Const(0), ...op.localGet(at.failed), ...op.i32Store(FAILED_AT)];
  const scratch = emitSteps(body, needles, steps, false, (b) => {
    const lane: number[] = [...op.loop, ...lanePosition(steps, b)]; // each candidate lane, lowest first
    emitVerify(lane, needles, offsets, { pos: at.pos, j: at.j, to: at.end, best: at.best }, found);
    emitBudget(lane, { pos: at.pos, failed: at.failed, minFailed: at.minFailed, since: at.since }, dense, FAILED_AT);
    lane.push(...op.localGet(at.bits), ...op.localGet(at.bits), ...op.i32Const(1), ...op.i32Sub, ...op.i32And, ...op.localTee(at.bits), ...op.brIf(0));
    lane.push(...op.end); // candidate loop
    return lane;
  });
  return { params, results: [type.i32], locals: [...locals, [BLOCKS + scratch, type.v128]], body };
}

/**
 * `screen(from, to, maxLines, maxLineBytes, minFailed) -> position`: from `from`, a line
 * start, passes over plain lines (ones starting with `{` and ending with `}` and a newline
 * within the data, no longer than maxLineBytes, where no needle starts) and returns the start of the
 * first line that is not plain, or `to` when every line up to it was. It stops after
 * maxLines lines, at the start of the next, and at a line dense with candidates that hold
 * no needle (emitBudget). The number of lines passed goes to PASSED_OVER_AT.
 */
function screenFunction(needles: Needle[], offsets: number[]): WasmFunction {
  const values = i32Values(['from', 'to', 'maxLines', 'maxLineBytes', 'minFailed', 'step', 'block', 'bits', 'pos', 'j', 'lineStart', 'lines', 'best', 'failed'], 5);
  const { at } = values;
  const { maxLines: MAX_LINES, maxLineBytes: MAX_LINE_BYTES, lineStart: LINE_START, lines: LINES } = at;
  const stop = [...op.i32Const(PASSED_OVER_AT), ...op.localGet(LINES), ...op.i32Store(0), ...op.localGet(LINE_START), ...op.return];
  const notBrace = (local: number): number[] => [...op.localGet(local), ...op.i32Load8U(0), ...op.i32Const(OPEN_BRACE), ...op.i32Ne];
  const onLane: number[] = [];
  onLane.push(...op.localGet(at.pos), ...op.i32Load8U(0), ...op.i32Const(NEWLINE), ...op.i32Eq, ...op.if);
  // A newline ends a plain line, unless it is too long (its length may include a '\r').
  onLane.push(...op.localGet(at.pos), ...op.localGet(LINE_START), ...op.i32Sub, ...op.localGet(MAX_LINE_BYTES), ...op.i32GtU, ...op.if, ...stop, ...op.end);
  // Nor one that does not end in `}` (or `}\r`): cut short, it is left to the caller to count
  // as invalid JSON. (The line holds its `{` before the newline, so pos - 2 is within it.)
  const byteBefore = (back: number): number[] => [...op.localGet(at.pos), ...op.i32Const(back), ...op.i32Sub, ...op.i32Load8U(0)];
  onLane.push(...byteBefore(1), ...op.i32Const(CLOSE_BRACE), ...op.i32Ne, ...op.if);
  onLane.push(...byteBefore(1), ...op.i32Const(CARRIAGE_RETURN), ...op.i32Ne, ...op.if, ...stop, ...op.end);
  onLane.push(...byteBefore(2), ...op.i32Const(CLOSE_BRACE), ...op.i32Ne, ...op.if, ...stop, ...op.end);
  onLane.push(...op.end);
  onLane.push(...op.localGet(LINES), ...op.i32Const(1), ...op.i32Add, ...op.localSet(LINES));
  onLane.push(...op.localGet(at.pos), ...op.i32Const(1), ...op.i32Add, ...op.localSet(LINE_START));
  onLane.push(...op.i32Const(0), ...op.localSet(at.failed)); // the candidate budget is per line
  onLane.push(...op.localGet(LINES), ...op.localGet(MAX_LINES), ...op.i32GeU, ...op.if, ...stop, ...op.end);
  onLane.push(...op.localGet(LINE_START), ...op.localGet(at.to), ...op.i32GeU, ...op.if, ...stop, ...op.end);
  onLane.push(...notBrace(LINE_START), ...op.if, ...stop, ...op.end);
  onLane.push(...op.else);
  emitVerify(onLane, needles, offsets, at, stop);
  // A line dense with candidates that hold no needle stops the screen too: it is left to the
  // caller's budgeted search, which gives up on it (DENSE) so that it is parsed.
  emitBudget(onLane, { pos: at.pos, failed: at.failed, minFailed: at.minFailed, since: LINE_START }, stop);
  onLane.push(...op.end);
  const body: number[] = [];
  body.push(...op.localGet(at.from), ...op.localSet(LINE_START));
  body.push(...op.localGet(at.from), ...op.localGet(at.to), ...op.i32GeU, ...op.if, ...stop, ...op.end);
  body.push(...notBrace(at.from), ...op.if, ...stop, ...op.end);
  emitLanes(body, LINE_LANES, at, onLane, stop);
  body.push(...stop);
  return { params: values.params, results: [type.i32], locals: values.locals, body };
}

/**
 * What a budgeted search (the `dense` option) returns when it gives up: past DENSE_MIN_FAILED
 * candidates (positions where some needle's first and last bytes agree) that held no needle,
 * at more than one in 16 bytes, searching on would cost more than parsing the line.
 * `denseAt` says where.
 */
export const DENSE = -2;
/** Candidates without a needle a budgeted search passes before it may give up. */
export const DENSE_MIN_FAILED = 256;

/** Finds, in one loaded buffer, the next position where any needle occurs. */
export interface NeedleFinder {
  /** Which implementation: the WebAssembly SIMD loop or native indexOf per needle. */
  readonly engine: 'wasm' | 'indexOf';
  /** Index (in the needles given) of the needle found by the last next() that found one. */
  readonly needle: number;
  /** Takes `buf` as the data to search (replacing the previous one). */
  load(buf: Uint8Array): void;
  /**
   * The first position ≥ `from` and < `before` (default: the data's end) where some needle
   * starts, or -1. Where several needles start at that position, `needle` is the lowest index.
   * A budgeted finder may return DENSE instead (WebAssembly only).
   */
  next(from: number, before?: number): number;
  /** As next(), among the leading needles only: the first `leading` given at creation (all by default). */
  nextLeading(from: number, before?: number): number;
  /** Where available (WebAssembly), passes over plain lines: see WasmNeedleFinder.screen. */
  screen?(from: number, maxLines: number, maxLineBytes: number): number;
  /** Lines the last screen() passed over. */
  readonly passedOver?: number;
  /** Where the last search that returned DENSE gave up. */
  readonly denseAt?: number;
  /**
   * Starts a line's budget (budgeted finders): the searches from here until the next call
   * count failed candidates together, so that hits in the line (each a new search) do not
   * each buy a fresh budget.
   */
  startLine?(at: number): void;
}

/** The SIMD finder where WebAssembly is available (not under `node --jitless`), else the indexOf one. */
export function createNeedleFinder(needles: Needle[], options: { wasm?: boolean; leading?: number; dense?: boolean } = {}): NeedleFinder {
  if (options.wasm !== false) {
    try {
      return new WasmNeedleFinder(needles, options.leading, options.dense);
    } catch (err) {
      if (!(err instanceof Error && err.message === 'WebAssembly is not available')) throw err;
    }
  }
  return new IndexOfNeedleFinder(needles, options.leading);
}

/** The number of leading needles, checked: at least one, at most all. */
function leadingCount(needles: Needle[], leading = needles.length): number {
  if (!Number.isInteger(leading) || leading < 1 || leading > needles.length) throw new Error(`leading must be 1 to ${needles.length}, not ${leading}`);
  return leading;
}

/**
 * The plain JavaScript finder: one native Buffer.indexOf per needle, case-insensitive
 * ones in a folded copy of the buffer, each needle's next hit kept until passed.
 */
export class IndexOfNeedleFinder implements NeedleFinder {
  readonly engine = 'indexOf';
  needle = -1;
  private readonly patterns: Buffer[];
  private readonly folder = new CaseFolder();
  private buf: Buffer = Buffer.alloc(0);
  private folded: Buffer | undefined;
  /** Per needle: its next hit at or after searchedFrom (-1: none left). */
  private readonly hits: Int32Array;
  private searchedFrom = 0;

  private readonly leading: number;

  constructor(
    readonly needles: Needle[],
    leading?: number,
  ) {
    if (needles.length === 0 || needles.some((n) => n.bytes.length === 0)) throw new Error('needles must be non-empty');
    this.leading = leadingCount(needles, leading);
    this.patterns = needles.map((n) => Buffer.from(searchedBytes(n)));
    this.hits = new Int32Array(needles.length);
  }

  load(buf: Uint8Array): void {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    this.folded = undefined;
    this.hits.fill(-2); // not searched yet
    this.searchedFrom = 0;
  }

  next(from: number, before = Infinity): number {
    return this.nextAmong(this.needles.length, from, before);
  }

  nextLeading(from: number, before = Infinity): number {
    return this.nextAmong(this.leading, from, before);
  }

  /** next() among the first `count` needles (the others' hits are brought up to date when asked for). */
  private nextAmong(count: number, from: number, before: number): number {
    if (from < this.searchedFrom) this.hits.fill(-2); // going back: search again
    this.searchedFrom = from;
    let best = -1;
    for (let k = 0; k < count; k++) {
      let h = this.hits[k]!;
      if (h !== -1 && h < from) {
        h = this.search(k, from);
        this.hits[k] = h;
      }
      if (h !== -1 && (best === -1 || h < best)) {
        best = h;
        this.needle = k;
      }
    }
    return best < before ? best : -1;
  }

  private search(k: number, from: number): number {
    if (this.needles[k]!.caseInsensitive) {
      this.folded ??= this.folder.fold(this.buf);
      return this.folded.indexOf(this.patterns[k]!, from);
    }
    return this.buf.indexOf(this.patterns[k]!, from);
  }
}

type FindFunction = (from: number, to: number, limit: number, minFailed: number, since: number, failed: number) => number;

export class WasmNeedleFinder implements NeedleFinder {
  readonly engine = 'wasm';
  /** Index of the needle found by the last next() that found one. */
  needle = -1;
  private readonly memory: WasmMemory;
  private readonly find: FindFunction;
  private readonly findLeading: FindFunction;
  private readonly screenFn: (from: number, to: number, maxLines: number, maxLineBytes: number, minFailed: number) => number;
  /** Lines the last screen() passed over. */
  passedOver = 0;
  /** Where the last search that returned DENSE gave up. */
  denseAt = -1;
  /** Candidates without a needle passed before a search may give up (-1, as unsigned: never). */
  private readonly minFailed: number;
  /** The line the budget counts for (startLine), and the candidates found in it without a needle. */
  private lineSince = 0;
  private lineFailed = 0;
  private readonly dataAt: number;
  /** Bytes read past the data's end: one step plus the longest needle. */
  private readonly slack: number;
  private view: Uint8Array;
  private length = 0;

  /** Throws where WebAssembly is unavailable. */
  /** With `dense`, searches may give up on stretches dense with candidates (DENSE). */
  constructor(
    readonly needles: Needle[],
    leading?: number,
    dense = false,
  ) {
    if (needles.length === 0 || needles.some((n) => n.bytes.length === 0)) throw new Error('needles must be non-empty');
    const lead = leadingCount(needles, leading);
    this.minFailed = dense ? DENSE_MIN_FAILED : -1;
    const offsets: number[] = [];
    let at = NEEDLES_AT;
    for (const n of needles) {
      offsets.push(at);
      at += n.bytes.length;
    }
    this.dataAt = Math.ceil(at / PAGE_BYTES) * PAGE_BYTES;
    this.slack = STEP + Math.max(...needles.map((n) => n.bytes.length));
    const functions: Record<(typeof FUNCTIONS)[number], WasmFunction> = {
      lineLanes: lanesFunction(needles),
      find: findFunction(needles, offsets),
      findLeading: findFunction(needles.slice(0, lead), offsets.slice(0, lead)),
      screen: screenFunction(needles, offsets),
    };
    const { memory, fns } = instantiate(moduleBytes(FUNCTIONS.map((name) => [name, functions[name]])));
    this.memory = memory;
    this.find = fns.find!;
    this.findLeading = fns.findLeading!;
    this.screenFn = fns.screen!;
    this.view = new Uint8Array(memory.buffer);
    this.ensure(this.dataAt);
    needles.forEach((n, k) => this.view.set(searchedBytes(n), offsets[k]));
  }

  /** Copies `buf` in as the data to search (replacing the previous one). */
  load(buf: Uint8Array): void {
    this.ensure(this.dataAt + buf.length + this.slack);
    this.view.set(buf, this.dataAt);
    this.length = buf.length;
    this.startLine(0);
  }

  /** The first position ≥ `from` and < `before` where some needle starts in the loaded data, or -1; `needle` says which. */
  next(from: number, before = this.length): number {
    return this.run(this.find, from, before);
  }

  nextLeading(from: number, before = this.length): number {
    return this.run(this.findLeading, from, before);
  }

  /** Starts the budget of a line at `at`: the searches in it until the next startLine share one count of failed candidates. */
  startLine(at: number): void {
    this.lineSince = at;
    this.lineFailed = 0;
  }

  private run(find: FindFunction, from: number, before: number): number {
    const limit = Math.min(before, this.length);
    if (from >= limit) return -1;
    const since = Math.min(this.lineSince, from);
    const at = find(this.dataAt + from, this.dataAt + this.length, this.dataAt + limit, this.minFailed, this.dataAt + since, this.lineFailed);
    this.lineFailed = this.readI32(FAILED_AT);
    if (at === DENSE) {
      this.denseAt = this.readI32(DENSE_AT) - this.dataAt;
      return DENSE;
    }
    if (at < 0) return -1;
    this.needle = this.readI32(RESULT_AT);
    return at - this.dataAt;
  }

  /** The little-endian i32 the module stored at `at` (a result slot of the memory layout). */
  private readI32(at: number): number {
    const v = this.view;
    return v[at]! | (v[at + 1]! << 8) | (v[at + 2]! << 16) | (v[at + 3]! << 24);
  }

  /**
   * From `from`, the start of a line in the loaded data, passes over plain lines: lines
   * that start with `{`, end with `}` and a newline, are at most `maxLineBytes` long (with any
   * '\r') and hold no needle. Returns the start of the first line that is not plain, or
   * the data's length; stops after `maxLines` lines (≥ 1). `passedOver` counts the lines passed over.
   */
  screen(from: number, maxLines: number, maxLineBytes: number): number {
    // (As wasm i32s: a limit above 2³¹ − 1 would read as negative.)
    const at = this.screenFn(this.dataAt + from, this.dataAt + this.length, Math.max(1, Math.min(maxLines, 0x7fffffff)), Math.max(0, Math.min(maxLineBytes, 0x7fffffff)), this.minFailed);
    this.passedOver = this.readI32(PASSED_OVER_AT);
    return at - this.dataAt;
  }

  private ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    this.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    this.view = new Uint8Array(this.memory.buffer); // growing detached the old buffer
  }
}
