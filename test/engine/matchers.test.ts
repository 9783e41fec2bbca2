import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRegex } from '../../lambda/engine/regex.js';
import { asciiLower } from '../../lambda/engine/text.js';
import { compileWildcard } from '../../lambda/engine/wildcard.js';

/** Reference: translate the EQL wildcard to a JS RegExp (fine for short test strings). */
function referenceWildcard(pattern: string, value: string, ci: boolean): boolean {
  const body = [...pattern].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).join('');
  const re = new RegExp(`^${body}$`, 'su');
  return ci ? re.test(asciiLower(value)) === true || re.test(value) && !ci : re.test(value);
}

const alphabet = fc.constantFrom('a', 'b', 'A', 'B', '*', '?', '\\', '.', '😀');
const values = fc.constantFrom('a', 'b', 'A', 'B', '\\', '.', '😀', 'c');

describe('wildcard matcher', () => {
  it('agrees with a reference implementation (case-sensitive)', () => {
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 8 }), fc.array(values, { maxLength: 10 }), (p, v) => {
        const pattern = p.join('');
        const value = v.join('');
        expect(compileWildcard(pattern, false)(value)).toBe(referenceWildcard(pattern, value, false));
      }),
      { numRuns: 5000 },
    );
  });
  it('agrees with a reference implementation (ASCII case-insensitive)', () => {
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 8 }), fc.array(values, { maxLength: 10 }), (p, v) => {
        const pattern = p.join('');
        const value = v.join('');
        expect(compileWildcard(pattern, true)(value)).toBe(referenceWildcard(asciiLower(pattern), asciiLower(value), false));
      }),
      { numRuns: 5000 },
    );
  });
});

/** Random regexes (bounded depth) in the syntax Lucene and JavaScript share. */
const regexArb: fc.Memo<string> = fc.memo((depth) => {
  const atom = depth <= 1 ? fc.constantFrom('a', 'b', '.', '[ab]', '[^a]', '\\d', 'x') : fc.oneof(fc.constantFrom('a', 'b', '.', '[ab]', '[^a]', '\\d'), regexArb(depth - 1).map((s) => `(${s})`));
  const piece = fc.tuple(atom, fc.constantFrom('', '*', '+', '?', '{1,2}', '{2}')).map(([a, q]) => a + q);
  const seq = fc.array(piece, { minLength: 1, maxLength: 3 }).map((p) => p.join(''));
  return fc.array(seq, { minLength: 1, maxLength: 3 }).map((p) => p.join('|'));
});

describe('regex DFA', () => {
  it('agrees with JavaScript RegExp on their common syntax', () => {
    fc.assert(
      fc.property(regexArb(3), fc.array(fc.constantFrom('a', 'b', 'x', '1', 'c'), { maxLength: 6 }), (pattern, v) => {
        const value = v.join('');
        const expected = new RegExp(`^(?:${pattern})$`, 'su').test(value);
        expect(compileRegex(pattern, false)(value)).toBe(expected);
      }),
      { numRuns: 400 },
    );
  });
});
