/**
 * Just enough of a WebAssembly assembler to build small modules at run time: opcodes by
 * name, LEB128 numbers, sections. Writing the bytes from named opcodes keeps every
 * instruction visible in the source.
 */

/** Unsigned LEB128. */
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

/** Signed LEB128 (i32.const immediates). */
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};

const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'latin1')];

export const type = { i32: 0x7f, v128: 0x7b, func: 0x60, empty: 0x40 } as const;

const SIMD = 0xfd;
/** Instructions as their bytes; the functions append their immediates. */
export const op = {
  block: [0x02, type.empty],
  loop: [0x03, type.empty],
  if: [0x04, type.empty],
  else: [0x05],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  brTable: (depths: number[], otherwise: number) => [0x0e, ...uleb(depths.length), ...depths.flatMap(uleb), ...uleb(otherwise)],
  return: [0x0f],
  call: (index: number) => [0x10, ...uleb(index)],
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  i32Load: (offset: number) => [0x28, 2, ...uleb(offset)],
  i32Load8U: (offset: number) => [0x2d, 0, ...uleb(offset)],
  i32Store: (offset: number) => [0x36, 2, ...uleb(offset)],
  i32Const: (n: number) => [0x41, ...sleb(n)],
  i32Eq: [0x46],
  i32Ne: [0x47],
  i32LtU: [0x49],
  i32GtU: [0x4b],
  i32GeU: [0x4f],
  i32Ctz: [0x68],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32And: [0x71],
  i32Shl: [0x74],
  v128Load: (offset: number) => [SIMD, 0x00, 0, ...uleb(offset)],
  v128Const: (bytes: number[]) => [SIMD, 0x0c, ...bytes],
  i8x16Eq: [SIMD, 0x23],
  v128And: [SIMD, 0x4e],
  v128Or: [SIMD, 0x50],
  v128AnyTrue: [SIMD, 0x53],
  i8x16Bitmask: [SIMD, 0x64],
} as const;

/** A v128 constant with all 16 lanes set to `byte`. */
export const splat = (byte: number): number[] => op.v128Const(new Array<number>(16).fill(byte));

/** The few WebAssembly APIs used (the project's TypeScript libs do not declare them). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

/** undefined where the runtime has no WebAssembly (node --jitless). */
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export const PAGE_BYTES = 64 * 1024;

export interface WasmFunction {
  params: number[];
  results: number[];
  /** Local declarations as [count, type] groups. */
  locals: [number, number][];
  body: number[];
}

/**
 * The bytes of a module exporting its memory as "memory" and each function under its
 * name. A function's index (for `op.call`) is its place in the list.
 */
export function moduleBytes(list: [string, WasmFunction][]): Uint8Array {
  const types = list.flatMap(([, fn]) => [type.func, ...uleb(fn.params.length), ...fn.params, ...uleb(fn.results.length), ...fn.results]);
  const codes = list.flatMap(([, fn]) => {
    const locals = [...uleb(fn.locals.length), ...fn.locals.flatMap(([count, t]) => [...uleb(count), t])];
    const code = [...locals, ...fn.body, ...op.end];
    return [...uleb(code.length), ...code];
  });
  const exports = [...name('memory'), 2, 0, ...list.flatMap(([n], i) => [...name(n), 0, ...uleb(i)])];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, [...uleb(list.length), ...types]), // a type per function
    ...section(3, [...uleb(list.length), ...list.flatMap((_, i) => uleb(i))]), // function i has type i
    ...section(5, [1, 0, 1]), // one memory: at least one page, no maximum
    ...section(7, [...uleb(list.length + 1), ...exports]),
    ...section(10, [...uleb(list.length), ...codes]),
  ]);
}

/** Compiles and instantiates a module from moduleBytes (throws where WebAssembly is unavailable). */
export function instantiate(bytes: Uint8Array): { memory: WasmMemory; fns: Record<string, (...args: number[]) => number> } {
  if (wasmApi === undefined) throw new Error('WebAssembly is not available');
  const { exports } = new wasmApi.Instance(new wasmApi.Module(bytes));
  const { memory, ...fns } = exports;
  return { memory: memory as WasmMemory, fns: fns as Record<string, (...args: number[]) => number> };
}
