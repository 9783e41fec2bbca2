/** printable(): what the CLI quotes from outside, made safe for one terminal line. */
import { describe, expect, it } from 'vitest';
import { printable } from '../../lambda/cli/printable.js';

describe('printable', () => {
  it('escapes control characters, line separators and bidirectional overrides', () => {
    expect(printable('a\nb\rc\td\x1b[2Je\x00f\x7fg\x9bh')).toBe('a\\x0ab\\x0dc\\x09d\\x1b[2Je\\x00f\\x7fg\\x9bh');
    expect(printable('x\u2028y\u2029z')).toBe('x\\u2028y\\u2029z');
    expect(printable('pay\u202eexe.txt \u2066i\u2069')).toBe('pay\\u202eexe.txt \\u2066i\\u2069');
  });

  it('leaves printable text, accents and other scripts as they are', () => {
    for (const text of ['logs/2026-11-24/app.ndjson.gz', 'café/日本語/файл.json', 's3://bucket/key with spaces+plus%25']) expect(printable(text)).toBe(text);
  });
});
