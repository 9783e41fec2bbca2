/**
 * The line screen (WasmNeedleFinder.screen): the WebAssembly loop that passes over plain
 * lines in one pass, against a naive reference, on random lines built from a small
 * alphabet (so braces, newlines, CRs, needles and near misses are frequent).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WasmNeedleFinder, type Needle } from '../../lambda/scan/needle-search.js';
import { needleAt } from './helpers.js';

/** [position, lines passed], the slow way. */
function reference(data: Uint8Array, needles: Needle[], from: number, maxLines: number, maxLineBytes: number): [number, number] {
  if (from >= data.length || data[from] !== 0x7b) return [from, 0];
  let lineStart = from;
  let lines = 0;
  for (let p = from; p < data.length; p++) {
    if (data[p] === 0x0a) {
      if (p - lineStart > maxLineBytes) return [lineStart, lines];
      // A plain line ends with `}` (before any '\r'): one cut short is left to the caller.
      const last = data[p - 1] === 0x0d ? p - 2 : p - 1;
      if (data[last] !== 0x7d) return [lineStart, lines];
      lines++;
      lineStart = p + 1;
      if (lines >= maxLines || lineStart >= data.length || data[lineStart] !== 0x7b) return [lineStart, lines];
    } else if (needles.some((n) => needleAt(data, p, n))) {
      return [lineStart, lines];
    }
  }
  return [lineStart, lines];
}

const needle = (text: string, caseInsensitive = false): Needle => ({ bytes: Buffer.from(text, 'latin1'), caseInsensitive });
const screened = (finder: WasmNeedleFinder, from: number, maxLines: number, maxLineBytes: number): [number, number] => {
  const at = finder.screen(from, maxLines, maxLineBytes);
  return [at, finder.passedOver];
};

describe('line screen', () => {
  it('agrees with a naive screen on random lines, limits and starting points', () => {
    const line = fc
      .tuple(fc.array(fc.constantFrom(...'{{{}"ab:AB\\u/\r x'.split(''), 'ab', 'AB', 'b\\u', '{"a'), { maxLength: 12 }), fc.constantFrom('}', '}', '}\r', '\r', '', '}}', '"'))
      .map(([parts, end]) => parts.join('') + end);
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 40 }),
        fc.boolean(),
        fc.array(fc.constantFrom('ab', 'aB', '\\u', '\\/', 'x', '{"a'), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 40 }),
        fc.nat(),
        (lines, trailingNewline, texts, maxLines, maxLineBytes, seed) => {
          const data = Buffer.from(lines.join('\n') + (trailingNewline ? '\n' : ''), 'latin1');
          const needles = texts.map((t, i) => needle(t, i % 2 === 1));
          const finder = new WasmNeedleFinder(needles);
          // Stale bytes after the data must not count: load something longer first.
          finder.load(Buffer.alloc(data.length + 200, '{ab\n'));
          finder.load(data);
          // Start at line starts only, as the scan does.
          const starts = [0, ...[...data.keys()].filter((i) => data[i - 1] === 0x0a)];
          const from = starts[seed % starts.length]!;
          expect(screened(finder, from, maxLines, maxLineBytes)).toEqual(reference(data, needles, from, maxLines, maxLineBytes));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('passes over long runs of plain lines across every block boundary', () => {
    const finder = new WasmNeedleFinder([needle('needle'), needle('\\u')]);
    for (const width of [2, 15, 16, 17, 63, 64, 65, 200]) {
      const plain = `{${'x'.repeat(width - 2)}}\n`;
      const data = Buffer.from(plain.repeat(300) + `{"x":"needle"}\n` + plain.repeat(5), 'latin1');
      finder.load(data);
      expect(screened(finder, 0, 1e6, 1e6)).toEqual([plain.length * 300, 300]);
      expect(screened(finder, plain.length * 300 + 15, 1e6, 1e6)).toEqual([data.length, 5]);
      // Stops after maxLines lines, at the start of the next.
      expect(screened(finder, 0, 7, 1e6)).toEqual([plain.length * 7, 7]);
      // A line longer than the cap stops it at that line.
      expect(screened(finder, 0, 1e6, width)).toEqual([plain.length * 300, 300]);
      expect(screened(finder, 0, 1e6, width - 1)).toEqual([0, 0]);
    }
  });

  it('stops at lines that do not start with a brace: blank, empty, CRLF-empty, other JSON', () => {
    const finder = new WasmNeedleFinder([needle('zzz')]);
    for (const odd of [' {"a":1}', '', '\r', '[1]', '\t{}', 'x']) {
      const data = Buffer.from(`{"a":1}\n{"b":2}\n${odd}\n{"c":3}\n`, 'latin1');
      finder.load(data);
      expect(screened(finder, 0, 100, 100)).toEqual([16, 2]);
    }
  });

  it('stops at lines that do not end with a brace (cut short: the scan counts them as invalid JSON)', () => {
    const finder = new WasmNeedleFinder([needle('zzz')]);
    for (const odd of ['{"a":1', '{', '{\r', '{"a":1} ', '{"a":1}x', '{"a":"}"\r']) {
      const data = Buffer.from(`{"a":1}\n{"b":2}\r\n${odd}\n{"c":3}\n`, 'latin1');
      finder.load(data);
      expect(screened(finder, 0, 100, 100), JSON.stringify(odd)).toEqual([17, 2]);
    }
    finder.load(Buffer.from('{}\n{}\r\n{"a":{}}\n', 'latin1'));
    expect(screened(finder, 0, 100, 100)).toEqual([16, 3]);
  });

  it('stops at a last line with no newline (the scan carries it to the next chunk)', () => {
    const finder = new WasmNeedleFinder([needle('zzz')]);
    finder.load(Buffer.from('{"a":1}\n{"b":2}\n{"c":', 'latin1'));
    expect(screened(finder, 0, 100, 100)).toEqual([16, 2]);
  });
});
