/**
 * The needle finders: the WebAssembly SIMD loop and the indexOf one against a naive
 * reference, on random needles and data from a small alphabet (so matches, near misses
 * and case variants are frequent), including stale bytes after a shorter load.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createNeedleFinder, DENSE, DENSE_MIN_FAILED, IndexOfNeedleFinder, WasmNeedleFinder, type Needle, type NeedleFinder } from '../../lambda/scan/needle-search.js';
import { needleAt } from './helpers.js';

const ALPHABET = [...Buffer.from('abAB/\\u\x0f{[é"'), 0x00, 0xff];

/** Every [position, lowest needle index] from `from` on, the slow way. */
function reference(data: Uint8Array, needles: Needle[], from: number): [number, number][] {
  const out: [number, number][] = [];
  for (let at = from; at < data.length; at++) {
    const k = needles.findIndex((n) => needleAt(data, at, n));
    if (k >= 0) out.push([at, k]);
  }
  return out;
}

function allHits(finder: NeedleFinder, from: number): [number, number][] {
  const out: [number, number][] = [];
  for (let at = finder.next(from); at !== -1; at = finder.next(at + 1)) out.push([at, finder.needle]);
  return out;
}

const byte = fc.constantFrom(...ALPHABET);
const needle: fc.Arbitrary<Needle> = fc.record({
  bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 3 }).map((a) => a.map((i) => ALPHABET[i % ALPHABET.length]!)), fc.array(byte, { minLength: 1, maxLength: 40 }).map((a) => Uint8Array.from(a))),
  caseInsensitive: fc.boolean(),
});

/** Data with some needles planted, ci ones in a random case. */
const dataFor = (needles: Needle[]): fc.Arbitrary<Uint8Array> =>
  fc
    .array(fc.oneof({ weight: 3, arbitrary: fc.array(byte, { minLength: 1, maxLength: 80 }) }, { weight: 1, arbitrary: fc.tuple(fc.nat(needles.length - 1), fc.boolean()) }), { maxLength: 60 })
    .map((parts) =>
      Uint8Array.from(
        parts.flatMap((p) => {
          if (Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'boolean' && p.length === 2) {
            const n = needles[p[0]]!;
            return [...n.bytes].map((b) => (n.caseInsensitive && p[1] && ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7a) ? b ^ 0x20 : b));
          }
          return p as number[];
        }),
      ),
    );

describe('needle finders', () => {
  it('the WebAssembly and indexOf finders find exactly what a naive search finds', () => {
    fc.assert(
      fc.property(
        fc.array(needle, { minLength: 1, maxLength: 6 }).chain((needles) => fc.tuple(fc.constant(needles), fc.array(dataFor(needles), { minLength: 1, maxLength: 3 }), fc.nat(200))),
        ([needles, loads, from]) => {
          const wasm = new WasmNeedleFinder(needles);
          const indexOf = new IndexOfNeedleFinder(needles);
          // Several loads, larger then smaller: stale bytes past the end must never match.
          for (const data of [...loads].sort((a, b) => b.length - a.length)) {
            wasm.load(data);
            indexOf.load(data);
            const start = Math.min(from, data.length);
            const expected = reference(data, needles, start);
            expect(allHits(wasm, start)).toEqual(expected);
            expect(allHits(indexOf, start)).toEqual(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('nextLeading finds what a naive search for the leading needles finds, interleaved with next()', () => {
    fc.assert(
      fc.property(
        fc.array(needle, { minLength: 1, maxLength: 6 }).chain((needles) =>
          fc.tuple(fc.constant(needles), dataFor(needles), fc.integer({ min: 1, max: needles.length }), fc.array(fc.tuple(fc.boolean(), fc.option(fc.nat(400), { nil: undefined })), { maxLength: 40 })),
        ),
        ([needles, data, leading, steps]) => {
          const leaders = reference(data, needles.slice(0, leading), 0);
          const all = reference(data, needles, 0);
          for (const finder of [new WasmNeedleFinder(needles, leading), new IndexOfNeedleFinder(needles, leading)]) {
            finder.load(data);
            // Alternate the two searches, as the prefilter does within a line, mostly from just past
            // the last hit, sometimes from anywhere (back too: the indexOf finder's cache must cope).
            let from = 0;
            for (const [leadingOnly, jump] of steps) {
              if (jump !== undefined) from = Math.min(jump, data.length);
              const at = leadingOnly ? finder.nextLeading(from) : finder.next(from);
              const expected = (leadingOnly ? leaders : all).find(([p]) => p >= from);
              expect(at).toBe(expected?.[0] ?? -1);
              if (at === -1) continue;
              expect(finder.needle).toBe(expected![1]);
              from = at + 1;
            }
            // Bounded: none at or past `before`.
            const bounded = leaders.find(([p]) => p < 10);
            expect(finder.nextLeading(0, 10)).toBe(bounded?.[0] ?? -1);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(() => new WasmNeedleFinder([{ bytes: Buffer.from('x'), caseInsensitive: false }], 2)).toThrow('leading must be 1 to 1, not 2');
    expect(() => new IndexOfNeedleFinder([{ bytes: Buffer.from('x'), caseInsensitive: false }], 0)).toThrow('leading must be 1 to 1, not 0');
  });

  it('finds needles at the very end and across every block boundary, and grows for large buffers', () => {
    const needles: Needle[] = [
      { bytes: Buffer.from('penssl'), caseInsensitive: false },
      { bytes: Buffer.from('bin/ssh'), caseInsensitive: true },
    ];
    const wasm = new WasmNeedleFinder(needles);
    for (const size of [7, 64, 65, 200, 300_000]) {
      for (let at = Math.max(0, size - 70); at + 7 <= size; at++) {
        const data = Buffer.alloc(size, 'x');
        data.write('BiN/sSh', at, 'latin1');
        wasm.load(data);
        expect([wasm.next(0), wasm.needle]).toEqual([at, 1]);
        expect(wasm.next(at + 1)).toBe(-1);
      }
    }
  });

  it('reports the lowest needle where several start at the same byte', () => {
    const needles: Needle[] = [
      { bytes: Buffer.from('\\u'), caseInsensitive: false },
      { bytes: Buffer.from('\\u00'), caseInsensitive: false },
    ];
    for (const finder of [new WasmNeedleFinder(needles), new IndexOfNeedleFinder(needles)]) {
      finder.load(Buffer.from('ab\\u0041'));
      expect([finder.next(0), finder.needle]).toEqual([2, 0]);
    }
  });

  it('uses WebAssembly when available, and indexOf when asked (as under node --jitless)', () => {
    const needles: Needle[] = [{ bytes: Buffer.from('x'), caseInsensitive: false }];
    expect(createNeedleFinder(needles).engine).toBe('wasm');
    expect(createNeedleFinder(needles, { wasm: false }).engine).toBe('indexOf');
    expect(() => createNeedleFinder([])).toThrow('needles must be non-empty');
  });
});

describe('needle groups and the candidate budget', () => {
  it('many needles sharing first bytes, with and without case, give exactly the naive hits, lowest index first', () => {
    fc.assert(
      fc.property(
        fc.array(needle, { minLength: 7, maxLength: 40 }).chain((needles) => fc.tuple(fc.constant(needles), dataFor(needles), fc.nat(100))),
        ([needles, data, from]) => {
          const finder = new WasmNeedleFinder(needles);
          finder.load(data);
          const start = Math.min(from, data.length);
          expect(allHits(finder, start)).toEqual(reference(data, needles, start));
        },
      ),
      { numRuns: 200 },
    );
  });

  // A run of a byte that a needle starts and ends with makes every position a candidate.
  const spaced: Needle[] = [{ bytes: Buffer.from('\\u'), caseInsensitive: false }, { bytes: Buffer.from(' OR '), caseInsensitive: true }];
  const run = Buffer.from(`{"m":"${' '.repeat(100_000)}or"}\n{"m":"a b or c"}\n`);

  it('a budgeted search gives up on a stretch dense with candidates that hold no needle, having found none before', () => {
    const budgeted = new WasmNeedleFinder(spaced, undefined, true);
    const exact = new WasmNeedleFinder(spaced);
    budgeted.load(run);
    exact.load(run);
    expect(exact.next(0)).toBe(run.indexOf(' or c'));
    expect(budgeted.next(0)).toBe(DENSE);
    expect(budgeted.denseAt).toBeGreaterThanOrEqual(6 + DENSE_MIN_FAILED);
    expect(budgeted.denseAt).toBeLessThan(6 + 100_000);
    expect(reference(run.subarray(0, budgeted.denseAt), spaced, 0)).toEqual([]);
    // Past the dense line, the same hits as the exact search.
    const second = run.indexOf('{"m":"a');
    expect(budgeted.next(second)).toBe(exact.next(second));
    // The screen stops at the dense line (its start), without reading it as plain.
    expect(budgeted.screen(0, 10, 1 << 20)).toBe(0);
    expect(budgeted.passedOver).toBe(0);
    expect(exact.screen(0, 10, 1 << 20)).toBe(second); // the exact screen passes over it: no needle
  });

  it('the searches of one line share its budget: hits between the runs do not buy a fresh one', () => {
    const line = Buffer.from(`{"m":"${`${' '.repeat(200)}\\u`.repeat(10)}"}`);
    const hitsUntilDense = (finder: WasmNeedleFinder): number[] => {
      finder.load(line);
      finder.startLine(0);
      const hits: number[] = [];
      for (let at = finder.next(0); at !== -1; at = finder.next(at + 1)) {
        if (at === DENSE) return [...hits, DENSE];
        hits.push(at);
      }
      return hits;
    };
    // 200 failed candidates a run: the second run passes the line's 256.
    expect(hitsUntilDense(new WasmNeedleFinder(spaced, undefined, true))).toEqual([line.indexOf('\\u'), DENSE]);
    expect(hitsUntilDense(new WasmNeedleFinder(spaced))).toHaveLength(10);
  });

  it('a budgeted search finds every needle where candidates are sparse', () => {
    fc.assert(
      fc.property(
        fc.array(needle, { minLength: 1, maxLength: 12 }).chain((needles) => fc.tuple(fc.constant(needles), dataFor(needles))),
        ([needles, data]) => {
          // Under DENSE_MIN_FAILED candidates in all: the budget cannot run out.
          fc.pre(data.length < DENSE_MIN_FAILED);
          const finder = new WasmNeedleFinder(needles, undefined, true);
          finder.load(data);
          expect(allHits(finder, 0)).toEqual(reference(data, needles, 0));
        },
      ),
      { numRuns: 200 },
    );
  });
});
