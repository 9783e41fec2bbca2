import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileQuery, EqlError } from '../../lambda/engine/index.js';
import { MAX_NESTING, parseQuery } from '../../lambda/engine/parser.js';
import { w } from './helpers.js';

function errorOf(query: string): EqlError {
  try {
    compileQuery(query);
  } catch (err) {
    if (err instanceof EqlError) return err;
    throw err;
  }
  throw new Error(`expected ${query} to fail`);
}

describe('grammar', () => {
  it('reads `<category> where` and `any where`', () => {
    expect(parseQuery('process where true').category).toBe('process');
    expect(parseQuery('any where true').category).toBeNull();
    expect(parseQuery('"my category" where true').category).toBe('my category');
  });

  it('binds not tighter than and, and tighter than or', () => {
    const ev = { a: 1, b: 2 };
    expect(w('not a == 2 and b == 2', ev)).toBe(true);
    expect(w('not (a == 1 and b == 2)', ev)).toBe(false);
    expect(w('a == 9 and b == 9 or a == 1', ev)).toBe(true);
    expect(w('a == 9 and (b == 9 or a == 1)', ev)).toBe(false);
  });

  it('parses every comparison and predicate operator', () => {
    const ev = { n: 5, s: 'Hello', t: ['x', 'y'] };
    for (const [cond, expected] of [
      ['n == 5', true],
      ['n != 5', false],
      ['n < 6', true],
      ['n <= 5', true],
      ['n > 5', false],
      ['n >= 5', true],
      ['s : "hello"', true],
      ['s like "H*"', true],
      ['s like~ "h*"', true],
      ['s regex "H.*o"', true],
      ['s regex~ "h.*O"', true],
      ['s in ("Hello", "x")', true],
      ['s in~ ("hello")', true],
      ['s not in ("Hello")', false],
      ['s not in~ ("HELLO")', false],
      ['s : ("nope", "HEL*")', true],
      ['s like ("nope", "He?lo")', true],
      ['s regex ("nope", "[A-Z]ello")', true],
      ['t == "y"', true],
    ] as const) {
      expect(w(cond, ev), cond).toBe(expected);
    }
  });

  it('reads literals: null, booleans, numbers, escaped and raw strings', () => {
    expect(w('x == null', {})).toBe(true);
    expect(w('b == true', { b: true })).toBe(true);
    expect(w('b == false', { b: false })).toBe(true);
    expect(w('n == 1.5', { n: 1.5 })).toBe(true);
    expect(w('n == 1e3', { n: 1000 })).toBe(true);
    expect(w('n == -2', { n: -2 })).toBe(true);
    expect(w('n == .5', { n: 0.5 })).toBe(true);
    expect(w('s == "a\\tb\\nc\\rd\\\\e\\"f"', { s: 'a\tb\nc\rd\\e"f' })).toBe(true);
    expect(w('s == "\\u{e9}\\u{1F600}"', { s: 'é😀' })).toBe(true);
    expect(w('s == """C:\\Windows\\"""', { s: 'C:\\Windows\\' })).toBe(true);
  });

  it('reads field names: dotted, @, backticks, ?optional', () => {
    expect(w('@timestamp == "t"', { '@timestamp': 't' })).toBe(true);
    expect(w('`odd name`.x == 1', { 'odd name': { x: 1 } })).toBe(true);
    expect(w('`with``tick` == 1', { 'with`tick': 1 })).toBe(true);
    expect(w('a.`b c`.d == 1', { a: { 'b c': { d: 1 } } })).toBe(true);
    expect(w('?maybe.there == null', {})).toBe(true);
    expect(w('?maybe.there == 2', { maybe: { there: 2 } })).toBe(true);
  });

  it('skips // and /* */ comments', () => {
    expect(w('/* leading */ a == 1 // trailing\n and b == 2', { a: 1, b: 2 })).toBe(true);
  });

  it('calls functions by case-insensitive names, with ~ variants and spaces before (', () => {
    expect(w('STARTSWITH(s, "ab")', { s: 'abc' })).toBe(true);
    expect(w('startswith~(s, "AB")', { s: 'abc' })).toBe(true);
    expect(w('stringContains (s, "b")', { s: 'abc' })).toBe(true);
  });
});

describe("Elasticsearch's grammar where it differs from the obvious one", () => {
  it('binds :, like, regex and in to the primary expression before them (primaryExpression predicate?)', () => {
    const ev = { x: 'a', n: 2 };
    // A predicate can be compared...
    expect(w('x : "a" == true', ev)).toBe(true);
    expect(w('x in ("a") == false', ev)).toBe(false);
    expect(w('x like "b" != true', ev)).toBe(true);
    // ...and arithmetic takes the predicate, not the sum: Elasticsearch refuses both.
    expect(errorOf('process where -n in (-2)').message).toBe('1:15: expected a condition, found an arithmetic expression');
    expect(errorOf('process where -n in (-2) == -1').message).toBe('1:18: arithmetic needs numbers (Elasticsearch refuses this too): a boolean here');
    expect(errorOf('process where length(x) + 1 in (7)').message).toBe('1:25: expected a condition, found an arithmetic expression');
    expect(errorOf('process where length(x) + 1 in (7) == 8').message).toBe('1:29: arithmetic needs numbers (Elasticsearch refuses this too): a boolean here');
    expect(errorOf('process where "a" + 1 == 2').message).toBe('1:15: arithmetic needs numbers (Elasticsearch refuses this too): a string here');
    expect(w('(n + 1) in (3)', ev)).toBe(true);
    expect(w('n in (-2, 2)', ev)).toBe(true);
  });

  it('makes a like pattern of a number or boolean constant (its Java text); regex still needs strings', () => {
    expect(w('n like 5', { n: '5' })).toBe(true);
    expect(w('n like 5', { n: 5 })).toBe(true);
    expect(w('n like~ 2.0', { n: '2.0' })).toBe(true);
    expect(w('b like true', { b: 'true' })).toBe(true);
    expect(errorOf('process where n regex 5').message).toBe('1:23: `regex` needs string patterns');
    // The digits as Java prints the long or double they are, not as a JavaScript number holds them.
    expect(w('n like 9007199254740993', { n: '9007199254740993' })).toBe(true);
    expect(w('n like 007', { n: '7' })).toBe(true);
    expect(w('n like 99999999999999999999', { n: '1.0E20' })).toBe(true);
    expect(w('string(99999999999999999999) == "1.0E20"', {})).toBe(true); // a double past a long's range
  });

  it('takes only constants as patterns: no sign on a number (the grammar has none)', () => {
    for (const q of ['n like -5', 'n like +5', 'n like (-5)', 'n : -5', 'n : ("a", -1)']) expect(() => compileQuery(`process where ${q}`), q).toThrow(EqlError);
    // `:` takes strings on both sides there (InsensitiveBinaryComparison), and suggests ==.
    expect(errorOf('process where n : 5').message).toBe('1:19: `:` needs string patterns (use == for numbers and booleans)');
    expect(w('n : "5"', { n: 5 })).toBe(true);
  });

  it('refuses :, like, regex, in~ and string functions on what the query makes a number or a boolean', () => {
    const refused = {
      'length(x) : "1"': '1:15: `:` compares strings (Elasticsearch refuses this too): a number here',
      'length(x) like "1"': '1:15: `like` compares strings (Elasticsearch refuses this too): a number here',
      'x in~ ("a", 1)': '1:27: `in~` compares strings (Elasticsearch refuses this too): a number here',
      'length(x : "a") > 0': '1:24: `length` takes a string here (Elasticsearch refuses this too), not a boolean',
      'startsWith(x in ("a"), "t")': '1:28: `startsWith` takes a string here (Elasticsearch refuses this too), not a boolean',
      'startsWith(x, 5)': '1:29: `startsWith` takes a string here (Elasticsearch refuses this too), not a number',
    };
    for (const [q, message] of Object.entries(refused)) expect(errorOf(`process where ${q}`).message, q).toBe(message);
    // Fields are whatever their mapping says: schemaless here, so they pass.
    expect(w('length(x) == 1 and x : "a" and x in~ ("A") and startsWith(x, "a")', { x: 'a' })).toBe(true);
    expect(w('string(length(x)) : "1"', { x: 'a' })).toBe(true);
  });

  it('reads 1.e5 as a number, and a form feed as no whitespace', () => {
    expect(w('n == 1.e5', { n: 100000 })).toBe(true);
    expect(w('n == 1.', { n: 1 })).toBe(true);
    expect(errorOf('process where\fn == 1').message).toMatch(/^1:14: /);
  });

  it('takes at most two extra quotes after a raw string', () => {
    expect(w('x == """a"""""', { x: 'a""' })).toBe(true);
    expect(() => compileQuery('process where x == """a""""""')).toThrow(EqlError);
  });
});

describe('field names', () => {
  it('accepts up to 64 dotted parts', () => {
    const name = Array.from({ length: 64 }, (_, i) => `p${i}`).join('.');
    const q = compileQuery(`process where ${name} == 1`);
    expect(q.matches({ event: { category: 'process' }, [name]: 1 })).toBe(true);
  });
});

describe('syntax errors', () => {
  const cases: [string, string, number, number][] = [
    ['sequence [process where true] [file where true]', 'sequence queries are not supported', 1, 1],
    ['sample by host [process where true]', 'sample queries are not supported', 1, 1],
    ['process where true | head 5', 'pipes', 1, 20],
    ["process where name == 'x'", 'single-quoted strings are not supported', 1, 23],
    ['process where nosuch(a)', 'unknown function `nosuch`', 1, 15],
    ['process where a = 1', 'use == to compare', 1, 17],
    ['process where\n  a == "unterminated', 'unterminated string', 2, 8],
    ['process where a == 1 and', 'unexpected end of query', 1, 25],
    ['process where length(a, b) > 1', 'takes 1 argument(s), got 2', 1, 15],
    ['process where a == 1 == 2', 'comparisons cannot be chained', 1, 22],
    ['process where a : b', 'must be a constant', 1, 19],
    ['process where a == "\\s"', "invalid escape sequence '\\s'", 1, 21],
    ['process where a == """x\ny"""', 'line break inside', 1, 24],
    ['where a == 1', 'expected an event category', 1, 1],
    ['process a == 1', 'expected `where`', 1, 9],
    ['`process` where true', 'expected an event category', 1, 1],
    ['process where a[0] == 1', 'array indexing', 1, 16],
    ['process where a regex "[z-a]"', 'invalid character class range', 1, 23],
    ['process where a regex """\\n"""', 'unknown escape', 1, 23],
    ['process where cidrMatch(ip, "10.0.0.0/99")', 'invalid CIDR block', 1, 15],
    ['process where a AND b', 'unexpected `AND`', 1, 17],
    ['', 'empty query', 1, 1],
    // Field paths keep every run of their dotted parts (quadratic): bounded, as a rule is input too.
    [`process where ${Array.from({ length: 65 }, () => 'a').join('.')} == 1`, 'has more than 64 dotted parts', 1, 15],
  ];
  it.each(cases)('%s', (query, message, line, col) => {
    const err = errorOf(query);
    expect(err.reason).toContain(message);
    expect([err.line, err.col]).toEqual([line, col]);
    expect(err.message).toBe(`${line}:${col}: ${err.reason}`);
  });

  it('refuses queries nested deeper than Elasticsearch allows, with a position, never a stack overflow', () => {
    const deep = (n: number): string => `process where ${'('.repeat(n)}a == 1${')'.repeat(n)}`;
    expect(w(deep(MAX_NESTING).slice('process where '.length), { a: 1 })).toBe(true);
    for (const query of [
      deep(MAX_NESTING + 1),
      deep(100_000),
      `process where ${'not '.repeat(100_000)}a == 1`,
      `process where a == ${Array.from({ length: 100_000 }, () => '1').join(' + ')}`,
      `process where a == ${Array.from({ length: 100_000 }, () => '2').join(' * ')}`,
      `process where ${'length('.repeat(5000)}a${')'.repeat(5000)} > 1`,
      `process where a == ${'-'.repeat(100_000)}1`,
    ]) {
      const err = errorOf(query);
      expect(err.reason).toBe(`query nested too deeply: more than ${MAX_NESTING} levels of parentheses, not, function calls or operators`);
      expect(err.line).toBe(1);
    }
    expect(errorOf(deep(MAX_NESTING + 1)).col).toBe('process where '.length + MAX_NESTING + 1);
  });

  it('nests block comments, as Elasticsearch does', () => {
    expect(w('/* a /* b */ c */ x == 1', { x: 1 })).toBe(true);
    expect(errorOf('process where /* a /* b */ x == 1').reason).toBe('unterminated /* comment');
  });

  it('never crashes on arbitrary input: it compiles or throws EqlError', () => {
    const alphabet = fc.constantFrom(...'process where and or not in~ like regex : == != < > ( ) , " """ ` ? * a b 1 . - + / % \\ \' | [ ] ~ null true'.split(' '));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 25 }), (parts) => {
        const text = parts.join(' ');
        try {
          compileQuery(text).matches({ a: 1, b: 'x' });
        } catch (err) {
          expect(err).toBeInstanceOf(EqlError);
        }
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        try {
          compileQuery(`any where ${text}`);
        } catch (err) {
          expect(err).toBeInstanceOf(EqlError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
