/**
 * Which JSON escapes make the prefilter parse a line: only those that could spell part
 * of a rule's literal. `\\u` in a Windows path is an escaped backslash, `\u00e9` cannot
 * spell an ASCII literal; neither should cost a JSON.parse, and neither may hide a match.
 */
import { describe, expect, it } from 'vitest';
import type { Rule } from '../../lambda/rules/model.js';
import { PreparedRules } from '../../lambda/scan/pipeline.js';
import { queryRule as rule } from '../rules/helpers.js';
import { alertLines, scanAll, shippedRules } from './helpers.js';


/** Scans `lines` with the prefilter on and off: same records, and which lines were parsed. */
async function parsedLines(rules: Rule[], lines: string[]): Promise<{ parsed: number; alerts: number }> {
  const text = lines.join('\n') + '\n';
  const on = await scanAll(text, { rules, prepared: new PreparedRules(rules, true) });
  const viaIndexOf = await scanAll(text, { rules, prepared: new PreparedRules(rules, true, { wasm: false }) });
  const off = await scanAll(text, { rules, prepared: new PreparedRules(rules, false) });
  expect(on.records).toEqual(off.records);
  expect(viaIndexOf.records).toEqual(off.records);
  expect(viaIndexOf.result.stats.events).toBe(on.result.stats.events);
  expect(on.result.stats.lines).toBe(lines.length);
  return { parsed: on.result.stats.events + on.result.stats.skipped.total, alerts: on.records.length };
}

const benign = (value: string): string => `{"event":{"category":"process"},"process":{"name":"bash","title":"${value}"}}`;

describe('prefilter: JSON escapes', () => {
  const shipped = shippedRules();

  it('skips escaped backslashes before "u" and "/" (Windows paths) and non-ASCII escapes', async () => {
    const lines = [benign('C:\\\\users\\\\admin'), benign('C:\\\\\\\\unc\\\\share'), benign('caf\\u00e9 \\ud83d\\ude00'), benign('a\\\\/b')];
    expect(await parsedLines(shipped, lines)).toEqual({ parsed: 0, alerts: 0 });
  });

  it('parses lines with an escape that could spell a literal character, after any even run of backslashes', async () => {
    const lines = [benign('\\u0073'), benign('\\\\\\u0073'), benign('\\u004F'), benign('a\\/b')];
    expect((await parsedLines(shipped, lines)).parsed).toBe(4);
  });

  it('finds a match spelled with escapes (open\\u0073sl, \\/usr\\/sbin\\/sshd) next to Windows-style escaped backslashes', async () => {
    const openssl = '{"event":{"type":"start","action":"exec","category":"process"},"host":{"os":{"type":"linux"}},"process":{"name":"open\\u0073sl","args":["s_client","-connect","x:443"],"title":"C:\\\\users"}}';
    const result = await parsedLines(shipped, [openssl]);
    expect(result.alerts).toBe(1);
  });

  it('parses malformed \\u escapes, so JSON.parse classifies them', async () => {
    const text = benign('\\uZZZZ') + '\n';
    const { result } = await scanAll(text, { rules: shipped, prepared: new PreparedRules(shipped, true) });
    expect(result.stats.skipped.total).toBe(1);
  });

  it('ignores \\/ when no literal holds a slash', async () => {
    const rules = [rule('openssl-only', 'process where process.name == "openssl"')];
    expect(await parsedLines(rules, [benign('a\\/b'), benign('\\u0041')])).toEqual({ parsed: 0, alerts: 0 });
    expect(await parsedLines(rules, [benign('\\u006f'), benign('\\u004F')])).toEqual({ parsed: 2, alerts: 0 });
  });

  it('counts every \\u escape when a literal holds a backslash (it holds escapes itself)', async () => {
    const rules = [rule('windows', 'process where process.executable : "C:\\\\Windows\\\\evil.exe"')];
    const evil = '{"event":{"category":"process"},"process":{"executable":"C:\\u005cWINDOWS\\\\evil.exe"}}';
    expect(await parsedLines(rules, [benign('caf\\u00e9'), benign('\\u0001'), evil])).toEqual({ parsed: 3, alerts: 1 });
  });

  it('counts non-ASCII escapes when a literal is not ASCII', async () => {
    const rules = [rule('cafe', 'process where process.name == "café"')];
    const match = '{"event":{"category":"process"},"process":{"name":"caf\\u00e9"}}';
    expect(await parsedLines(rules, [match, benign('\\u00e8'), benign('plain')])).toEqual({ parsed: 2, alerts: 1 });
  });
});

describe('prefilter: many rules', () => {
  it('with more than 64 rules, parses anchored lines without checking formulas, and still agrees with no prefilter', async () => {
    const rules = Array.from({ length: 70 }, (_, i) => rule(`r${i}`, `process where process.name == "tool${i}x" and process.args == "-flag${i}"`));
    const lines = [
      '{"event":{"category":"process"},"process":{"name":"tool3x","args":["-flag3"]}}', // matches r3
      '{"event":{"category":"process"},"process":{"name":"tool3x","args":["-flag4"]}}', // anchor, formula fails: parsed anyway
      '{"event":{"category":"file"},"file":{"name":"bash"}}', // no anchor: skipped
      '{"event":{"category":"process"},"process":{"name":"tool6\\u0039x","args":"-flag69"}}', // escaped: parsed, matches r69
    ];
    expect(await parsedLines(rules, lines)).toEqual({ parsed: 3, alerts: 2 });
    // With few rules the formula check skips the near miss.
    expect(await parsedLines(rules.slice(0, 10), lines.slice(0, 3))).toEqual({ parsed: 1, alerts: 1 });
  });
});

describe('prefilter: what JSON.parse turns bytes into', () => {
  it('lets through numbers too large for a double (1e999 reads as Infinity)', async () => {
    const rules = [rule('r1', 'any where x == "Infinity"'), rule('r2', 'any where process.args : "*init*"'), rule('r3', 'any where y : "-inf*"')];
    const { alerts } = await parsedLines(rules, ['{"x":1e999}', '{"process":{"args":[1e400]}}', '{"y":-1e999}', '{"x":"benign"}']);
    expect(alerts).toBe(3);
  });

  it('lets through invalid UTF-8 where a literal holds U+FFFD (the byte reads as U+FFFD)', async () => {
    const rules = [rule('r4', 'any where x : "*\\u{fffd}*"')];
    const text = Buffer.concat([Buffer.from('{"x":"a'), Buffer.from([0xff]), Buffer.from('b"}\n{"x":"ab"}\n')]);
    const on = await scanAll(text, { rules, prepared: new PreparedRules(rules, true) });
    const off = await scanAll(text, { rules, prepared: new PreparedRules(rules, false) });
    expect(on.records).toEqual(off.records);
    expect(alertLines(on.records)).toHaveLength(1);
  });

  it('finds an anchor that starts where an escaped backslash does (\\\\u001fabc)', async () => {
    for (const rules of [[rule('r5', 'any where x in ("\\u{1f}abc", "\\\\u001fabc")')], [rule('r6', 'any where x == "\\u{1f}abc"'), rule('r7', 'any where x == "\\\\u001fabc"')]]) {
      const { alerts } = await parsedLines(rules, ['{"x":"\\\\u001fabc"}', '{"x":"\\u001fabc"}', '{"x":"abc"}']);
      expect(alerts).toBe(2);
    }
  });
});

describe('prefilter: a source that reuses its Buffer', () => {
  const rules = [rule('r8', 'any where x == "evil"')];
  const scanBoth = async (source: () => AsyncGenerator<Buffer>) => {
    const on = await scanAll(source(), { rules, prepared: new PreparedRules(rules, true) });
    const off = await scanAll(source(), { rules, prepared: new PreparedRules(rules, false) });
    expect(on.records).toEqual(off.records);
    return alertLines(on.records).map(([, l]) => l);
  };

  it('searches the same Buffer object again when it is handed over twice', async () => {
    const b = Buffer.from('{"x":"evil"}\n{"x":"good"}\n');
    expect(
      await scanBoth(async function* () {
        yield b;
        yield b;
      }),
    ).toEqual([1, 3]);
  });

  it('searches a Buffer refilled with other bytes', async () => {
    expect(
      await scanBoth(async function* () {
        const b = Buffer.from('{"x":"good"}\n');
        yield b;
        b.write('{"x":"evil"}\n');
        yield b;
      }),
    ).toEqual([2]);
  });
});
