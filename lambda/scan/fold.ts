/**
 * ASCII case folding of raw bytes, for case-insensitive substring search with the
 * native Buffer.indexOf: clearing bit 0x20 maps `a`–`z` onto `A`–`Z`. It also maps a
 * few other bytes together (`/` and 0x0F, `{` and `[`), which can only add candidate
 * lines, never lose one: if a line contains a needle ignoring ASCII case, the folded
 * line contains the folded needle.
 *
 * Chunks are folded by a tiny WebAssembly SIMD loop (16 bytes per step, ~10 GB/s;
 * plain JavaScript manages ~3 GB/s, which would make folding the scan's largest cost).
 */
const FOLD_MASK = 0xdf;

/** Folds `bytes` in place (for needles). */
export function foldBytes(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) bytes[i]! &= FOLD_MASK;
}

// ---- the WebAssembly module, assembled here so the source shows every instruction ----

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'latin1')];

const op = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  emptyType: 0x40,
  simd: 0xfd, // prefix; the SIMD opcodes follow
  v128Load: 0,
  v128Store: 11,
  v128Const: 12,
  v128And: 78,
} as const;

/** fold(from: i32, to: i32): memory[from, to) &= 0xDF, in steps of 16 bytes (so up to `to` rounded up). */
const FOLD_BODY = [
  ...[1, 1, 0x7b], // locals: one v128 (local 2: the mask)
  op.simd, op.v128Const, ...new Array<number>(16).fill(FOLD_MASK),
  op.localSet, 2,
  op.block, op.emptyType,
  op.loop, op.emptyType,
  ...[op.localGet, 0, op.localGet, 1, op.i32GeU, op.brIf, 1], // from >= to: done
  ...[op.localGet, 0], // store address
  ...[op.localGet, 0, op.simd, op.v128Load, 0, 0], // v128.load from
  ...[op.localGet, 2, op.simd, op.v128And],
  ...[op.simd, op.v128Store, 0, 0],
  ...[op.localGet, 0, op.i32Const, 16, op.i32Add, op.localSet, 0], // from += 16
  ...[op.br, 0],
  op.end, // loop
  op.end, // block
  op.end, // function
];

const MODULE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 0]), // types: (i32, i32) -> ()
  ...section(3, [1, 0]), // functions: fold has type 0
  ...section(5, [1, 0, 1]), // memory: at least one 64 KiB page, no maximum
  ...section(7, [2, ...name('memory'), 2, 0, ...name('fold'), 0, 0]), // exports
  ...section(10, [1, ...uleb(FOLD_BODY.length), ...FOLD_BODY]), // code
]);

/** The few WebAssembly APIs used (the project's TypeScript libs do not declare them). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { memory: WasmMemory; fold: (from: number, to: number) => void } };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | undefined;

const PAGE = 64 * 1024;

interface Folding {
  memory: WasmMemory;
  foldRange: (from: number, to: number) => void;
}

function wasmFolding(): Folding {
  if (wasm === undefined) throw new Error('WebAssembly is not available');
  compiled ??= new wasm.Module(MODULE);
  const { exports } = new wasm.Instance(compiled);
  return { memory: exports.memory, foldRange: exports.fold };
}

/** The same in plain JavaScript (~3 GB/s), for runtimes without WebAssembly (node --jitless). */
function jsFolding(): Folding {
  let buffer = new ArrayBuffer(PAGE);
  const memory: WasmMemory = {
    get buffer() {
      return buffer;
    },
    grow(pages) {
      const next = new ArrayBuffer(buffer.byteLength + pages * PAGE);
      new Uint8Array(next).set(new Uint8Array(buffer));
      const before = buffer.byteLength / PAGE;
      buffer = next;
      return before;
    },
  };
  const foldRange = (from: number, to: number): void => {
    const words = new Uint32Array(buffer, from, Math.ceil((to - from) / 4));
    for (let i = 0; i < words.length; i++) words[i]! &= 0xdfdfdfdf;
  };
  return { memory, foldRange };
}

/** Folds buffers into a reused scratch area (WebAssembly memory, grown on demand). */
export class CaseFolder {
  /** Which implementation folds: the SIMD loop, or plain JavaScript where WebAssembly is unavailable. */
  readonly engine: 'wasm' | 'js';
  private readonly memory: WasmMemory;
  private readonly foldRange: (from: number, to: number) => void;
  private view: Buffer;

  constructor(options: { wasm?: boolean } = {}) {
    let folding: Folding;
    try {
      if (options.wasm === false) throw new Error('not wanted');
      folding = wasmFolding();
      this.engine = 'wasm';
    } catch {
      folding = jsFolding();
      this.engine = 'js';
    }
    this.memory = folding.memory;
    this.foldRange = folding.foldRange;
    this.view = Buffer.from(this.memory.buffer);
  }

  /** Bytes of scratch memory (for tests: it grows to the largest buffer folded). */
  get capacity(): number {
    return this.view.length;
  }

  /** A folded copy of `buf`, valid until the next call. */
  fold(buf: Uint8Array): Buffer {
    // The loop works in 16-byte steps: room for the last step's overrun.
    if (buf.length + 16 > this.view.length) this.grow(buf.length + 16);
    this.view.set(buf);
    this.foldRange(0, buf.length);
    return this.view.subarray(0, buf.length);
  }

  private grow(size: number): void {
    const pages = Math.ceil(size / PAGE) - this.memory.buffer.byteLength / PAGE;
    this.memory.grow(pages);
    // Growing detaches the old ArrayBuffer: view the new one.
    this.view = Buffer.from(this.memory.buffer);
  }
}
