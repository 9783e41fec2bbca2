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
 */
import { CaseFolder, FOLD_MASK as FOLD } from './fold.js';
import { instantiate, moduleBytes, op, PAGE_BYTES, splat, type, type WasmMemory } from './wasm.js';

export interface Needle {
  /** The needle's bytes as they appear in the data (case-insensitive needles in any case). */
  bytes: Uint8Array;
  caseInsensitive: boolean;
}

/** A needle's bytes as searched for: case-folded when it is case-insensitive. */
export const searchedBytes = (n: Needle): Uint8Array => (n.caseInsensitive ? n.bytes.map((b) => b & FOLD) : n.bytes);

/** Memory layout: the index of the needle found at 0, needle bytes from 16, the data from a page boundary after them. */
const RESULT_AT = 0;
const NEEDLES_AT = 16;
/** 16-byte blocks compared per step of the loop. */
const BLOCKS = 4;
const STEP = 16 * BLOCKS;

// Locals of the generated function.
const FROM = 0; // param: the position to search from (advanced STEP at a time)
const TO = 1; // param: the end of the data
const BITS = 2; // i32: candidate lanes of one block
const POS = 3; // i32: a candidate position
const J = 4; // i32: byte index while verifying
const ACC = 5; // v128 × BLOCKS: lanes where some needle's first and last bytes agree

/** The function `find(from, to) -> position or -1`, storing the needle's index at RESULT_AT. */
function findFunction(needles: Needle[], offsets: number[]): { body: number[]; scratch: number } {
  const body: number[] = [];
  // Within a block, each distinct load, fold and comparison is computed once into a
  // scratch local (the escapes share their backslash, needles share offset 0).
  let scratch = 0;
  let cache = new Map<string, number>();
  const cached = (key: string, compute: () => number[]): number[] => {
    let local = cache.get(key);
    if (local === undefined) {
      local = ACC + BLOCKS + scratch++;
      cache.set(key, local);
      body.push(...compute(), ...op.localSet(local));
    }
    return op.localGet(local);
  };
  const load = (at: number): number[] => cached(`load ${at}`, () => [...op.localGet(FROM), ...op.v128Load(at)]);
  const folded = (at: number): number[] => cached(`fold ${at}`, () => [...load(at), ...splat(FOLD), ...op.v128And]);
  const probe = (n: Needle, at: number, byte: number): number[] =>
    cached(`eq ${n.caseInsensitive} ${at} ${byte}`, () => [...(n.caseInsensitive ? folded(at) : load(at)), ...splat(byte), ...op.i8x16Eq]);

  body.push(...op.loop); // for (;; from += STEP)
  body.push(...op.localGet(FROM), ...op.localGet(TO), ...op.i32GeU, ...op.if, ...op.i32Const(-1), ...op.return, ...op.end);
  let most = 0;
  for (let b = 0; b < BLOCKS; b++) {
    cache = new Map();
    scratch = 0;
    needles.forEach((n, k) => {
      const bytes = searchedBytes(n);
      const last = bytes.length - 1;
      const first = probe(n, 16 * b, bytes[0]!);
      const lastProbe = probe(n, 16 * b + last, bytes[last]!);
      body.push(...first, ...lastProbe, ...op.v128And);
      if (k > 0) body.push(...op.v128Or);
    });
    body.push(...op.localSet(ACC + b));
    most = Math.max(most, scratch);
  }
  body.push(...op.localGet(ACC));
  for (let b = 1; b < BLOCKS; b++) body.push(...op.localGet(ACC + b), ...op.v128Or);
  body.push(...op.v128AnyTrue, ...op.if);
  for (let b = 0; b < BLOCKS; b++) {
    body.push(...op.localGet(ACC + b), ...op.i8x16Bitmask, ...op.localTee(BITS), ...op.if);
    body.push(...op.loop); // each candidate lane, lowest first
    body.push(...op.localGet(FROM), ...op.i32Const(16 * b), ...op.i32Add, ...op.localGet(BITS), ...op.i32Ctz, ...op.i32Add, ...op.localSet(POS));
    body.push(...op.localGet(POS), ...op.localGet(TO), ...op.i32GeU, ...op.if, ...op.i32Const(-1), ...op.return, ...op.end);
    needles.forEach((n, k) => {
      const length = n.bytes.length;
      body.push(...op.block); // left on the first mismatch
      body.push(...op.localGet(POS), ...op.i32Const(length), ...op.i32Add, ...op.localGet(TO), ...op.i32GtU, ...op.brIf(0));
      body.push(...op.i32Const(0), ...op.localSet(J));
      body.push(...op.loop);
      body.push(...op.localGet(J), ...op.i32Const(length), ...op.i32GeU, ...op.if);
      body.push(...op.i32Const(RESULT_AT), ...op.i32Const(k), ...op.i32Store(0), ...op.localGet(POS), ...op.return, ...op.end);
      body.push(...op.localGet(POS), ...op.localGet(J), ...op.i32Add, ...op.i32Load8U(0));
      if (n.caseInsensitive) body.push(...op.i32Const(FOLD), ...op.i32And);
      body.push(...op.localGet(J), ...op.i32Load8U(offsets[k]!), ...op.i32Ne, ...op.brIf(1));
      body.push(...op.localGet(J), ...op.i32Const(1), ...op.i32Add, ...op.localSet(J), ...op.br(0));
      body.push(...op.end, ...op.end); // loop, block
    });
    body.push(...op.localGet(BITS), ...op.localGet(BITS), ...op.i32Const(1), ...op.i32Sub, ...op.i32And, ...op.localTee(BITS), ...op.brIf(0));
    body.push(...op.end); // candidate loop
    body.push(...op.end); // if this block has candidates
  }
  body.push(...op.end); // if any block has candidates
  body.push(...op.localGet(FROM), ...op.i32Const(STEP), ...op.i32Add, ...op.localSet(FROM), ...op.br(0));
  body.push(...op.end); // loop
  body.push(...op.i32Const(-1));
  return { body, scratch: most };
}

/** Finds, in one loaded buffer, the next position where any needle occurs. */
export interface NeedleFinder {
  /** Which implementation: the WebAssembly SIMD loop or native indexOf per needle. */
  readonly engine: 'wasm' | 'indexOf';
  /** Index (in the needles given) of the needle found by the last next() that found one. */
  readonly needle: number;
  /** Takes `buf` as the data to search (replacing the previous one). */
  load(buf: Uint8Array): void;
  /**
   * The first position ≥ `from` where some needle occurs, or -1. Where several needles
   * occur at that position, `needle` is the lowest index.
   */
  next(from: number): number;
}

/** The SIMD finder where WebAssembly is available (not under `node --jitless`), else the indexOf one. */
export function createNeedleFinder(needles: Needle[], options: { wasm?: boolean } = {}): NeedleFinder {
  if (options.wasm !== false) {
    try {
      return new WasmNeedleFinder(needles);
    } catch (err) {
      if (!(err instanceof Error && err.message === 'WebAssembly is not available')) throw err;
    }
  }
  return new IndexOfNeedleFinder(needles);
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

  constructor(readonly needles: Needle[]) {
    if (needles.length === 0 || needles.some((n) => n.bytes.length === 0)) throw new Error('needles must be non-empty');
    this.patterns = needles.map((n) => Buffer.from(searchedBytes(n)));
    this.hits = new Int32Array(needles.length);
  }

  load(buf: Uint8Array): void {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    this.folded = undefined;
    this.hits.fill(-2); // not searched yet
    this.searchedFrom = 0;
  }

  next(from: number): number {
    if (from < this.searchedFrom) this.hits.fill(-2); // going back: search again
    this.searchedFrom = from;
    let best = -1;
    for (let k = 0; k < this.needles.length; k++) {
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
    return best;
  }

  private search(k: number, from: number): number {
    if (this.needles[k]!.caseInsensitive) {
      this.folded ??= this.folder.fold(this.buf);
      return this.folded.indexOf(this.patterns[k]!, from);
    }
    return this.buf.indexOf(this.patterns[k]!, from);
  }
}

export class WasmNeedleFinder implements NeedleFinder {
  readonly engine = 'wasm';
  /** Index of the needle found by the last next() that found one. */
  needle = -1;
  private readonly memory: WasmMemory;
  private readonly find: (from: number, to: number) => number;
  private readonly dataAt: number;
  /** Bytes read past the data's end: one step plus the longest needle. */
  private readonly slack: number;
  private view: Uint8Array;
  private length = 0;

  /** Throws where WebAssembly is unavailable. */
  constructor(readonly needles: Needle[]) {
    if (needles.length === 0 || needles.some((n) => n.bytes.length === 0)) throw new Error('needles must be non-empty');
    const offsets: number[] = [];
    let at = NEEDLES_AT;
    for (const n of needles) {
      offsets.push(at);
      at += n.bytes.length;
    }
    this.dataAt = Math.ceil(at / PAGE_BYTES) * PAGE_BYTES;
    this.slack = STEP + Math.max(...needles.map((n) => n.bytes.length));
    const { body, scratch } = findFunction(needles, offsets);
    const locals: [number, number][] = [
      [3, type.i32],
      [BLOCKS + scratch, type.v128],
    ];
    const { memory, fn } = instantiate(moduleBytes({ params: [type.i32, type.i32], results: [type.i32], locals, body }));
    this.memory = memory;
    this.find = fn;
    this.view = new Uint8Array(memory.buffer);
    this.ensure(this.dataAt);
    needles.forEach((n, k) => this.view.set(searchedBytes(n), offsets[k]));
  }

  /** Copies `buf` in as the data to search (replacing the previous one). */
  load(buf: Uint8Array): void {
    this.ensure(this.dataAt + buf.length + this.slack);
    this.view.set(buf, this.dataAt);
    this.length = buf.length;
  }

  /** The first position ≥ `from` where some needle occurs in the loaded data, or -1; `needle` says which. */
  next(from: number): number {
    if (from >= this.length) return -1;
    const at = this.find(this.dataAt + from, this.dataAt + this.length);
    if (at < 0) return -1;
    const v = this.view;
    this.needle = v[RESULT_AT]! | (v[RESULT_AT + 1]! << 8) | (v[RESULT_AT + 2]! << 16); // little-endian i32
    return at - this.dataAt;
  }

  private ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    this.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    this.view = new Uint8Array(this.memory.buffer); // growing detached the old buffer
  }
}
