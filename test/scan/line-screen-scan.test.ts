/**
 * The scan with the line screen (WebAssembly: plain lines are passed over in one pass,
 * never visited one by one) against the scan that visits every line (the indexOf finder,
 * as under node --jitless): the same records and the same counts, line numbers and skip
 * reasons, whatever the chunking, the line cap, the sampling window or the start line.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PreparedRules, type ScanResult } from '../../lambda/scan/pipeline.js';
import { Prefilter } from '../../lambda/scan/prefilter.js';
import { queryRule as rule } from '../rules/helpers.js';
import { cutAt, scanAll } from './helpers.js';

// `any`: an event category would be an anchor found in nearly every line.
const RULES = [
  rule('curl', 'any where process.name == "curl"'),
  rule('wget', 'any where process.name : "WGET" and process.args : "*-O*"'),
  rule('slash', 'any where file.path : "/etc/*"'),
];

/** Lines of every kind the screen must pass over or stop at. */
const LINES = [
  '{"event":{"category":"process"},"process":{"name":"bash"}}', // plain: passed over
  '{"event":{"category":"process"},"process":{"name":"bash","args":["x"]}}',
  '{"event":{"category":"process"},"process":{"name":"curl"}}', // anchored, matches
  '{"event":{"category":"process"},"process":{"name":"wget","args":["-O","f"]}}', // case-insensitive anchor
  '{"event":{"category":"process"},"process":{"name":"cur\\u006c"}}', // escape spelling a literal
  '{"event":{"category":"file"},"file":{"path":"\\/etc\\/passwd"}}', // \/ escapes
  '{"event":{"category":"file"},"file":{"path":"C:\\\\users\\\\x"}}', // \\u is no escape
  '{"event":{"category":"process"},"process":{"name":"curly"}}', // near miss
  ' {"event":{"category":"process"},"process":{"name":"curl"}}', // blank before the brace
  '\t{}',
  '',
  '\r',
  '[1,2]',
  '"curl"',
  '{"unterminated":',
  'not json at all',
  '{"event":{"category":"process"},"process":{"name":"curl"}}\r', // CRLF
  `{"event":{"category":"process"},"process":{"name":"bash","pad":"${'x'.repeat(300)}"}}`, // over a small cap
  // Plain lines of many lengths, so some are exactly at the cap, one over, one under.
  ...Array.from({ length: 12 }, (_, i) => `{"event":{"category":"process"},"process":{"name":"bash","pad":"${'x'.repeat(i)}"}}`),
];

async function scanBoth(text: Buffer, cuts: number[], options: { maxLineBytes?: number; startLine?: number; sampleLines?: number; restLines?: number }) {
  const run = async (wasm: boolean): Promise<{ records: unknown[]; result: ScanResult }> => {
    const prepared = new PreparedRules(RULES, true, { wasm, sampleLines: options.sampleLines, restLines: options.restLines });
    return scanAll(cutAt(text, cuts), { rules: RULES, prepared, maxAlertsPerRule: 1_000_000, maxLineBytes: options.maxLineBytes, startLine: options.startLine });
  };
  return { screened: await run(true), visited: await run(false) };
}

const counts = (r: ScanResult) => ({ lines: r.stats.lines, events: r.stats.events, prefiltered: r.stats.prefiltered, skipped: r.stats.skipped, error: r.error, stoppedAtLine: r.stoppedAtLine });

describe('scan with the line screen', () => {
  it('gives what visiting every line gives: records, counts, skip reasons and their line numbers', async () => {
    const totals = { prefiltered: 0, alerts: 0, skipped: 0 };
    await fc.assert(
      fc.asyncProperty(
        // Plain lines are most lines, as in real logs (else the prefilter rests and passes nothing over).
        fc.array(fc.oneof({ arbitrary: fc.constant(0), weight: 6 }, { arbitrary: fc.nat(LINES.length - 1), weight: 4 }), { minLength: 20, maxLength: 150 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.record({
          // Around the lengths of most lines (so the cap, and a '\r', decide for some), below the long padded one.
          maxLineBytes: fc.option(fc.integer({ min: 60, max: 120 }), { nil: undefined }),
          startLine: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
          sampleLines: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
          restLines: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
        }),
        async (picks, trailingNewline, cutSeeds, options) => {
          const text = Buffer.from(picks.map((i) => LINES[i]).join('\n') + (trailingNewline ? '\n' : ''));
          const cuts = cutSeeds.map((s) => s % (text.length + 1));
          const { screened, visited } = await scanBoth(text, cuts, options);
          expect(screened.records).toEqual(visited.records);
          expect(counts(screened.result)).toEqual(counts(visited.result));
          totals.prefiltered += screened.result.stats.prefiltered;
          totals.alerts += screened.records.length;
          totals.skipped += screened.result.stats.skipped.total;
        },
      ),
      { numRuns: 300 },
    );
    // Both paths were exercised: lines passed over, lines matched, lines skipped.
    expect(totals.prefiltered).toBeGreaterThan(2000);
    expect(totals.alerts).toBeGreaterThan(300);
    expect(totals.skipped).toBeGreaterThan(300);
  });

  it('passes over thousands of plain lines between matches, across chunk boundaries, with the same line numbers', async () => {
    const plain = LINES[0]!;
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(i % 997 === 0 ? LINES[2]! : i % 1499 === 0 ? '' : plain);
    const text = Buffer.from(lines.join('\n') + '\n');
    const cuts = [100_000, 100_001, 333_333, 700_000];
    const { screened, visited } = await scanBoth(text, cuts, {});
    expect(screened.records).toEqual(visited.records);
    expect(counts(screened.result)).toEqual(counts(visited.result));
    expect(screened.result.stats.prefiltered).toBeGreaterThan(19_000);
    expect(screened.result.stats.skipped.counts.empty).toBe(13);
  });

  it('gives up screening a buffer where most calls stop at once, and still finds the same', async () => {
    // Every line holds an escape that spells nothing (each stops the screen), with plain
    // lines, matches and escapes that do spell a literal among them.
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) {
      if (i % 50 === 7) lines.push(LINES[2]!); // a match
      else if (i % 50 === 19) lines.push(LINES[4]!); // cur\u006c: an escape that matters
      else if (i < 2500) lines.push(`{"process":{"name":"b\\u00e9sh${i}"}}`);
      else lines.push(i % 3 === 0 ? ` ${LINES[0]!}` : LINES[0]!); // blank-led among plain lines
    }
    const text = Buffer.from(lines.join('\n') + '\n');
    for (const cuts of [[], [40_000, 100_000, 100_001]]) {
      const { screened, visited } = await scanBoth(text, cuts, {});
      expect(screened.records).toEqual(visited.records);
      expect(counts(screened.result)).toEqual(counts(visited.result));
      expect(screened.records).toHaveLength(200);
    }
  });

  it('stops screening a buffer where its calls pass over nothing (-1: ask no more), and screens the next one afresh', () => {
    const prefilter = new Prefilter(RULES, true);
    const blankLed = Buffer.from(` ${LINES[0]!}\n`.repeat(40));
    const starts = [...blankLed.keys()].filter((i) => i === 0 || blankLed[i - 1] === 0x0a);
    const answers = starts.map((from) => prefilter.screen(blankLed, from, 1 << 20));
    // Each call stops at its own line; after 16 of them it gives up on this buffer.
    expect(answers.slice(0, 16)).toEqual(starts.slice(0, 16));
    expect(answers.slice(16).every((a) => a === -1)).toBe(true);
    prefilter.newChunk();
    const plain = Buffer.from(`${LINES[0]!}\n`.repeat(40));
    expect(prefilter.screen(plain, 0, 1 << 20)).toBe(plain.length);
    expect(prefilter.passedOver).toBe(40);
  });
});
