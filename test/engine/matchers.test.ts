import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AutomatonTooComplexError, automatonMatcher, MAX_CODE_POINT, Nfa } from '../../lambda/engine/automaton.js';
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
      // Up to 40 characters: longer ones are mostly refused as too complex, after a
      // determinization of 10,000 states each (seconds).
      fc.property(regexArb(3).filter((p) => p.length <= 40), fc.array(fc.constantFrom('a', 'b', 'x', '1', 'c'), { maxLength: 6 }), (pattern, v) => {
        const value = v.join('');
        const expected = new RegExp(`^(?:${pattern})$`, 'su').test(value);
        let matcher;
        try {
          matcher = compileRegex(pattern, false);
        } catch (err) {
          // Refused as too complex (over 10,000 states), as Elasticsearch refuses it.
          if (err instanceof AutomatonTooComplexError) return;
          throw err;
        }
        expect(matcher(value)).toBe(expected);
      }),
      { numRuns: 400 },
    );
  });
});

describe('automata built on first use', () => {
  it('checks a pattern at compile time, then keeps its matcher only once a value reaches it, building it once', () => {
    let builds = 0;
    const match = automatonMatcher(() => {
      builds++;
      const nfa = new Nfa();
      return { nfa, frag: nfa.concat(nfa.literal('a', false), nfa.star(nfa.range(0, MAX_CODE_POINT))) };
    });
    expect(builds).toBe(1); // the check (under 10,000 states), then dropped
    expect([match('abc'), match('b'), match('a')]).toEqual([true, false, true]);
    expect(builds).toBe(2);
  });

  it('matches with a lazily determinized automaton where the full one is large (above 300 states, within 10,000)', () => {
    // `*a` then 11 single characters: the full DFA needs 2^12 states.
    const pattern = `*a${'?'.repeat(11)}`;
    const match = compileWildcard(pattern, false);
    const reference = (v: string): boolean => [...v].length >= 12 && [...v][[...v].length - 12] === 'a';
    for (const v of ['a'.repeat(12), `xa${'b'.repeat(11)}`, `a${'b'.repeat(10)}`, `${'ab'.repeat(20)}`, `ba${'😀'.repeat(11)}`]) expect(match(v), v).toBe(reference(v));
  });

  it('tells character classes apart in the compact DFA tables', () => {
    // Adjacent characters on either side of every class boundary.
    const match = compileWildcard('?:\\Win*[x]?.e?e', true);
    expect(match('C:\\Windows\\[x]a.exe')).toBe(true);
    expect(match('c:\\WINDOWS\\[X]1.EXE')).toBe(true);
    expect(match('C:\\Windows\\[y]a.exe')).toBe(false);
    expect(match('C;\\Windows\\[x]a.exe')).toBe(false);
    expect(match('C:\\Windows\\[x]a.exf')).toBe(false);
  });
});
