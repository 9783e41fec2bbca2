/**
 * A prefilter that lets nearly every line through (hundreds of rules: some anchor is in
 * every line), or that turns lines down at great cost (lines crowded with needle hits),
 * rests: lines go through unsearched for a while, then it samples again. Resting only
 * changes which lines are parsed, never what is found.
 */
import { describe, expect, it } from 'vitest';
import { Prefilter } from '../../lambda/scan/prefilter.js';
import { PreparedRules } from '../../lambda/scan/pipeline.js';
import { queryRule as rule } from '../rules/helpers.js';
import { scanAll } from './helpers.js';

const RULES = [rule('curl-linux', 'process where process.name == "curl" and host.os.type == "linux"'), rule('wget', 'process where process.name : "wget"')];
const line = (name: string, os = 'linux'): string => `{"event":{"category":"process"},"process":{"name":"${name}"},"host":{"os":{"type":"${os}"}}}`;
const ask = (prefilter: Prefilter, text: string): boolean => {
  const buf = Buffer.from(text);
  return prefilter.isCandidate(buf, 0, buf.length);
};

describe('prefilter: resting when nearly every line goes through', () => {
  it('rests after a window that let nearly all lines through, and samples again after the rest', () => {
    const prefilter = new Prefilter(RULES, true, { sampleLines: 100, restLines: 300 });
    const miss = line('bash');
    expect(ask(prefilter, miss)).toBe(false);
    // 9 of 10 lines through: the window (100 lines, the miss above included) triggers the rest.
    for (let i = 1; i < 100; i++) ask(prefilter, i % 10 === 0 ? miss : line('curl'));
    expect(prefilter.searching).toBe(false);
    // Resting: even a line without any anchor goes through.
    expect(ask(prefilter, miss)).toBe(true);
    for (let i = 1; i < 300; i++) expect(ask(prefilter, miss)).toBe(true);
    // Sampling again: misses are caught, and a window of them keeps it searching.
    expect(prefilter.searching).toBe(true);
    for (let i = 0; i < 250; i++) expect(ask(prefilter, miss)).toBe(false);
    expect(prefilter.searching).toBe(true);
  });

  it('keeps searching while fewer than 90 % of the lines go through', () => {
    const prefilter = new Prefilter(RULES, true, { sampleLines: 100, restLines: 300 });
    for (let i = 0; i < 1000; i++) ask(prefilter, i % 5 === 0 ? line('bash') : line('wget'));
    expect(prefilter.searching).toBe(true);
  });

  it('finds exactly what the scan finds without a prefilter, across rests and samples', async () => {
    // Phases: all lines anchored (it rests), then mostly lines without anchors (sampling
    // resumes and skips them), with matches and near misses throughout.
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const anchored = i < 1200 || i % 7 === 0;
      const name = anchored ? ['curl', 'wget', 'WGET', 'curl'][i % 4]! : ['bash', 'zsh'][i % 2]!;
      lines.push(line(name, i >= 1200 && i % 3 === 0 ? 'macos' : 'linux'));
      if (i % 97 === 0) lines.push('not json', '', '{"process":{"name":"curl"}}');
    }
    const text = lines.join('\n') + '\n';
    const scanWith = (prepared: PreparedRules) => scanAll(text, { rules: RULES, prepared, maxAlertsPerRule: 100_000 });
    const resting = await scanWith(new PreparedRules(RULES, true, { sampleLines: 200, restLines: 500 }));
    const defaults = await scanWith(new PreparedRules(RULES, true));
    const off = await scanWith(new PreparedRules(RULES, false));
    expect(resting.records).toEqual(off.records);
    expect(defaults.records).toEqual(off.records);
    expect(resting.records.length).toBeGreaterThan(500);
    expect(resting.result.stats.lines).toBe(off.result.stats.lines);
    expect(resting.result.stats.skipped.counts).toEqual(off.result.stats.skipped.counts);
    // It did rest (more lines parsed than with the default windows, which never fill here)
    // and did sample again (fewer than without a prefilter).
    expect(resting.result.stats.events).toBeGreaterThan(defaults.result.stats.events);
    expect(resting.result.stats.events).toBeLessThan(off.result.stats.events);
  });
});

describe('prefilter: resting when turning lines down costs more than parsing them', () => {
  // Escaped backslashes before a `u` (`c:\\users` in JSON): each is found as a possible
  // escape and checked, and none can spell a literal.
  const crowded = (hits: number): string => `{"p":"${'\\\\u'.repeat(hits)}"}`;

  it('rests after a window with more than 64 needle hits per line, turning the lines down meanwhile', () => {
    const prefilter = new Prefilter(RULES, true, { sampleLines: 100, restLines: 300 });
    for (let i = 0; i < 100; i++) expect(ask(prefilter, crowded(65))).toBe(false);
    expect(prefilter.searching).toBe(false);
    for (let i = 0; i < 300; i++) expect(ask(prefilter, crowded(65))).toBe(true);
    expect(prefilter.searching).toBe(true);
  });

  it('keeps searching at 64 hits per line or fewer', () => {
    const prefilter = new Prefilter(RULES, true, { sampleLines: 100, restLines: 300 });
    for (let i = 0; i < 1000; i++) expect(ask(prefilter, crowded(64))).toBe(false);
    expect(prefilter.searching).toBe(true);
  });

  it('counts the escapes looked for after a turned-down anchor too', () => {
    const prefilter = new Prefilter(RULES, true, { sampleLines: 100, restLines: 300 });
    // The anchor ("process", the category) and then 64 escaped backslashes before a `u`: 65 hits.
    const anchoredThenCrowded = (hits: number): string => `{"process":{"name":"curl"},"host":{"os":{"type":"macos"}},"p":"${'\\\\u'.repeat(hits)}"}`;
    for (let i = 0; i < 100; i++) expect(ask(prefilter, anchoredThenCrowded(63))).toBe(false);
    expect(prefilter.searching).toBe(true);
    for (let i = 0; i < 100; i++) expect(ask(prefilter, anchoredThenCrowded(64))).toBe(false);
    expect(prefilter.searching).toBe(false);
  });

  it('finds exactly what the scan finds without a prefilter, crowded lines among matches', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++) {
      lines.push(i % 5 === 0 ? line(['curl', 'wget', 'bash'][i % 3]!) : crowded(i < 1000 ? 200 : 3));
      if (i % 11 === 0) lines.push(line('curl').replace('"linux"', '"\\u006cinux"'));
    }
    const text = lines.join('\n') + '\n';
    const scanWith = (prepared: PreparedRules) => scanAll(text, { rules: RULES, prepared, maxAlertsPerRule: 100_000 });
    const on = await scanWith(new PreparedRules(RULES, true, { sampleLines: 100, restLines: 400 }));
    const neverResting = await scanWith(new PreparedRules(RULES, true, { sampleLines: 100, restLines: 0 }));
    const off = await scanWith(new PreparedRules(RULES, false));
    expect(on.records).toEqual(off.records);
    expect(neverResting.records).toEqual(off.records);
    expect(on.records.length).toBeGreaterThan(300);
    expect(on.result.stats.skipped.counts).toEqual(off.result.stats.skipped.counts);
    // It rested among the crowded lines (parsing some that it would have turned down) and,
    // past them, searched again (turning down most lines of the second half).
    expect(on.result.stats.events).toBeGreaterThan(neverResting.result.stats.events + 500);
    expect(on.result.stats.prefiltered).toBeGreaterThan(600);
  });

  it('lets a line through to be parsed past 1024 hits, or one per 64 bytes of a longer line, without waiting for the window to end', () => {
    const prefilter = new Prefilter(RULES, true, { sampleLines: 100_000, restLines: 300 });
    expect(ask(prefilter, crowded(1024))).toBe(false);
    expect(ask(prefilter, crowded(1025))).toBe(true);
    // 3,000 hits in a line of 192 KB (a budget of 3,072): searched to the end and turned down.
    const padded = (hits: number, bytes: number): string => `{"pad":"${'x'.repeat(bytes - hits * 3 - 20)}","p":"${'\\\\u'.repeat(hits)}"}`;
    expect(ask(prefilter, padded(3000, 192 * 1024))).toBe(false);
    expect(ask(prefilter, padded(3100, 192 * 1024))).toBe(true);
    expect(prefilter.searching).toBe(true); // the window (100,000 lines) has not ended
  });

  it('with more needles, lets a dense line through proportionally sooner (each search step compares them all)', () => {
    // 32 rules: 32 anchors, plus the \\u escape: 33 needles, a budget of 1024 × 4 / 33 = 124 hits.
    // Names of four letters with no four in common, so that no two anchors merge into one.
    const name = (i: number): string => `k${String.fromCharCode(97 + Math.floor(i / 26), 97 + (i % 26))}j`;
    const many = Array.from({ length: 32 }, (_, i) => rule(`tool-${i}`, `any where process.name == "${name(i)}"`));
    const prefilter = new Prefilter(many, true, { sampleLines: 100_000, restLines: 300 });
    expect(prefilter.anchors).toHaveLength(32);
    expect(ask(prefilter, crowded(124))).toBe(false);
    expect(ask(prefilter, crowded(125))).toBe(true);
  });

  it('finds exactly what the scan finds without a prefilter, lines dense with hits among matches', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) {
      lines.push(i % 3 === 0 ? line(['curl', 'wget', 'bash'][i % 9 === 0 ? 0 : 1]!) : crowded(i % 2 === 0 ? 5000 : 900));
      // A match spelled with an escape, after hits beyond the budget in the same line.
      if (i % 7 === 0) lines.push(line('curl').replace('"linux"', `"\\u006cinux","p":"${'\\\\u'.repeat(2000)}"`));
    }
    const text = lines.join('\n') + '\n';
    const scanWith = (prepared: PreparedRules) => scanAll(text, { rules: RULES, prepared, maxAlertsPerRule: 100_000 });
    const on = await scanWith(new PreparedRules(RULES, true));
    const off = await scanWith(new PreparedRules(RULES, false));
    expect(on.records).toEqual(off.records);
    expect(on.records.length).toBeGreaterThan(140);
    // The lines over the budget were parsed; those under it were turned down.
    expect(on.result.stats.prefiltered).toBe(100);
  });
});

describe('prefilter: lines dense with candidates that hold no needle', () => {
  // " or " starts and ends with a space: in a run of spaces every position is a candidate.
  const OR_RULES = [rule('or-in-command', 'any where process.command_line : "* or *"')];
  const spaces = (n: number): string => `{"event":{"category":"process"},"process":{"command_line":"x${' '.repeat(n)}y"}}`;

  it('lets such a line through to be parsed (searching it would cost more), searched or screened', () => {
    const prefilter = new Prefilter(OR_RULES, true);
    expect(ask(prefilter, spaces(100_000))).toBe(true);
    expect(ask(prefilter, spaces(10))).toBe(false); // a few spaces: searched as usual
    // The screen stops at the dense line rather than passing it over.
    const buf = Buffer.from(`${spaces(10)}\n${spaces(100_000)}\n${spaces(10)}\n`);
    const screen = new Prefilter(OR_RULES, true);
    expect(screen.screen(buf, 0, 1 << 20)).toBe(buf.indexOf('\n') + 1);
    expect(screen.passedOver).toBe(1);
  });

  it('finds the same alerts and counts with the prefilter on and off', async () => {
    const match = `{"event":{"category":"process"},"process":{"command_line":"a or b"}}`;
    const input = [spaces(100_000), match, spaces(50), `{"event":{"category":"process"},"process":{"command_line":"x${' '.repeat(70_000)}or y"}}`, match].join('\n') + '\n';
    const on = await scanAll(input, { rules: OR_RULES });
    const off = await scanAll(input, { rules: OR_RULES, prefilter: false });
    expect(on.records.map((r) => (r.kind === 'alert' ? r.source.line : -1))).toEqual([2, 4, 5]);
    expect(on.records).toEqual(off.records);
    expect(on.result.stats.skipped.counts).toEqual(off.result.stats.skipped.counts);
  });
});
