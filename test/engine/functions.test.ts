import { describe, expect, it } from 'vitest';
import { w } from './helpers.js';
import { parseNumber } from '../../lambda/engine/functions.js';
import { Float, numberOf } from '../../lambda/engine/values.js';

const file = { file: { name: 'explorer.exe', path: 'C:\\Windows\\explorer.exe' }, n: 82, ip: '10.6.48.157', ip6: '2001:db8::1' };

describe('string functions', () => {
  it('length', () => {
    expect(w('length(file.name) == 12', file)).toBe(true);
    expect(w('length(n) == 2', file)).toBe(true); // a number is read as its text
  });
  it('startsWith / endsWith / stringContains, with ~', () => {
    expect(w('startsWith(file.name, "explorer.")', file)).toBe(true);
    expect(w('startsWith(file.name, "EXPLORER.")', file)).toBe(false);
    expect(w('startsWith~(file.name, "EXPLORER.")', file)).toBe(true);
    expect(w('endsWith(file.name, ".exe")', file)).toBe(true);
    expect(w('endsWith~(file.name, ".EXE")', file)).toBe(true);
    expect(w('stringContains(file.name, "plor")', file)).toBe(true);
    expect(w('stringContains~(file.name, "PLOR")', file)).toBe(true);
    expect(w('startsWith("explorer.exe-long", file.name)', file)).toBe(true); // script path
    expect(w('stringContains("xx", "")', file)).toBe(false);
  });
  it('endsWith/stringContains on a field take the constant as a Lucene wildcard, as Elasticsearch does', () => {
    const ev = { params: 'masterUserPassword=hunter2&x=1' };
    expect(w('stringContains(params, "masterUserPassword=*")', ev)).toBe(true);
    expect(w('stringContains(params, "master?serPassword")', ev)).toBe(true);
    expect(w('endsWith(params, "x=?")', ev)).toBe(true);
    expect(w('stringContains(params, "\\\\*")', { params: 'a*b' })).toBe(true);
    expect(w('stringContains(params, "\\\\*")', { params: 'ab' })).toBe(false);
    // on the script path (constant first argument) they are literal
    expect(w('stringContains("abc", "a*")', {})).toBe(false);
  });
  it('indexOf: position or null, optional start, ~', () => {
    expect(w('indexOf(file.name, "plore") == 2', file)).toBe(true);
    expect(w('indexOf(file.name, "nope") == null', file)).toBe(true);
    expect(w('indexOf(file.name, "e", 1) == 6', file)).toBe(true);
    expect(w('indexOf(file.name, "e", 100) == null', file)).toBe(true);
    expect(w('indexOf~(file.name, "PLORE") == 2', file)).toBe(true);
  });
  it('substring with Python-style offsets', () => {
    expect(w('substring(file.name, 0, 4) == "expl"', file)).toBe(true);
    expect(w('substring(file.name, -4) == ".exe"', file)).toBe(true);
    expect(w('substring(file.name, -4, -1) == ".ex"', file)).toBe(true);
    expect(w('substring(file.name, 5, 2) == ""', file)).toBe(true);
    expect(w('substring(file.name, 100) == ""', file)).toBe(true);
  });
  it('substring with a null start or end: the whole string, or up to its end (as Elasticsearch)', () => {
    expect(w('substring(file.name, missing) == "explorer.exe"', file)).toBe(true);
    expect(w('substring(file.name, null, 3) == "explorer.exe"', file)).toBe(true);
    expect(w('substring(file.name, 2, null) == "plorer.exe"', file)).toBe(true);
    expect(w('substring(file.name, -4, length(missing) - 1) == ".exe"', file)).toBe(true);
    // The shape of Elastic's DLL hijack rules: the directory of dll.path, or the whole path without dll.name.
    const dll = { dll: { path: 'C:\\Users\\a\\x.dll', name: 'x.dll' } };
    const dir = 'substring(dll.path, 0, length(dll.path) - (length(dll.name) + 1))';
    expect(w(`${dir} == "C:\\\\Users\\\\a"`, dll)).toBe(true);
    expect(w(`${dir} == "C:\\\\Users\\\\a\\\\x.dll"`, { dll: { path: dll.dll.path } })).toBe(true);
    expect(w('substring(missing, 0, 2) == null', file)).toBe(true);
    expect(w('substring(file.name, "a") == null', file)).toBe(true);
  });
  it('concat renders values and is null if any argument is null', () => {
    expect(w('concat(n, ":", file.name) == "82:explorer.exe"', file)).toBe(true);
    expect(w('concat(1.5, "/", 2.0) == "1.5/2.0"', file)).toBe(true);
    expect(w('concat(file.name, missing) == null', file)).toBe(true);
  });
  it('string and number', () => {
    expect(w('string(n) == "82"', file)).toBe(true);
    expect(w('string(true) == "true"', file)).toBe(true);
    expect(w('number("52") == 52', file)).toBe(true);
    expect(w('number("0x34", 16) == 52', file)).toBe(true);
    expect(w('number("0x34") == 52', file)).toBe(true);
    expect(w('number("34", 16) == 52', file)).toBe(true);
    expect(w('number("z", 36) == 35', file)).toBe(true);
    expect(w('number("2.5") == 2.5', file)).toBe(true);
    expect(w('number("nope") == null', file)).toBe(true);
  });
  it('between, greedy and case-insensitive', () => {
    expect(w('between(file.path, "\\\\", "\\\\") == "Windows"', file)).toBe(true);
    expect(w('between("a-b-c-d", "-", "-", true) == "b-c"', file)).toBe(true);
    expect(w('between("a-b-c-d", "-", "-", false) == "b"', file)).toBe(true);
    expect(w('between~("xAbCx", "a", "c") == "b"', file)).toBe(true);
    expect(w('between("abc", "z", "c") == ""', file)).toBe(true);
  });
  it('cidrMatch, IPv4 and IPv6, as a query and in scripts', () => {
    expect(w('cidrMatch(ip, "10.0.0.0/8")', file)).toBe(true);
    expect(w('cidrMatch(ip, "192.168.0.0/16", "10.6.48.0/24")', file)).toBe(true);
    expect(w('cidrMatch(ip, "192.168.0.0/16")', file)).toBe(false);
    expect(w('cidrMatch(ip6, "2001:db8::/32")', file)).toBe(true);
    expect(w('cidrMatch(ip6, "10.0.0.0/8")', file)).toBe(false);
    expect(w('cidrMatch(ip, "::ffff:10.6.48.157")', file)).toBe(true);
    // As Elasticsearch's InetAddresses: no prefix on an IPv4-mapped address, no leading zeros.
    expect(() => w('cidrMatch(ip, "::ffff:10.0.0.0/104")', file)).toThrow('cidrMatch: invalid CIDR block "::ffff:10.0.0.0/104"');
    expect(() => w('cidrMatch(ip, "010.0.0.0/8")', file)).toThrow('cidrMatch: invalid CIDR block "010.0.0.0/8"');
    expect(w('cidrMatch(ip, "10.0.0.0/8")', { ip: '010.6.48.157' })).toBe(false);
    expect(w('string(cidrMatch(ip, "10.0.0.0/8")) == "true"', file)).toBe(true);
    expect(w('cidrMatch(ip, "10.0.0.0/8") == true', file)).toBe(true);
    expect(w('cidrMatch(name, "10.0.0.0/8")', { name: 'not an ip' })).toBe(false);
  });
});

describe('arithmetic', () => {
  it('longs divide by truncation, doubles do not', () => {
    expect(w('n / 2 == 41', { n: 83 })).toBe(true);
    expect(w('n / 2.0 == 41.5', { n: 83 })).toBe(true);
    expect(w('divide(30, 4.0) == 7.5', {})).toBe(true);
    expect(w('(n / 2.0) / 2 == 20.75', { n: 83 })).toBe(true);
    expect(w('-7 / 2 == -3', {})).toBe(true);
  });
  it('operators and functions agree', () => {
    const ev = { n: 82 };
    for (const cond of ['n + 1 == 83', 'add(n, 1) == 83', 'n - 1 == 81', 'subtract(n, 1) == 81', 'n * 2 == 164', 'multiply(n, 2) == 164', 'n % 40 == 2', 'modulo(n, 40) == 2', '-n + 100 == 18', '100 - n == 18']) {
      expect(w(cond, ev), cond).toBe(true);
    }
  });
  it('precedence: * / % before + -', () => {
    expect(w('n + ((1 + 3) * 2 / (3 - 1)) * 2 == 9', { n: 1 })).toBe(true);
    expect(w('1 + 2 * 3 == 7', {})).toBe(true);
  });
  it('division by zero and non-numbers give null', () => {
    expect(w('n / 0 == 1', { n: 1 })).toBe(false);
    expect(w('n / 0 == null', { n: 1 })).toBe(true);
    expect(w('s + 1 == null', { s: 'abc' })).toBe(true);
  });
  it('a long result has no negative zero, as Java longs have none', () => {
    // -4 % 2, -1 / 2 and -(0) are -0 in JavaScript: compared as a double that is below 0.0.
    expect(w('(x % 2) == 0.0', { x: -4 })).toBe(true);
    expect(w('x / 2 >= 0.0', { x: -1 })).toBe(true);
    expect(w('string(-x * 1.0) == "0.0"', { x: 0 })).toBe(true);
    expect(w('1.0 / (x % 2) > 0', { x: -4 })).toBe(true); // Infinity, not -Infinity
    expect(w('(x % 2) in (0.0)', { x: -4 })).toBe(true);
    expect(w('string(-0.0 * x) == "-0.0"', { x: 1 })).toBe(true); // doubles keep theirs
  });
  it('a long result past the range is null, where Math.*Exact throws', () => {
    expect(w('x * 10 == null', { x: 1e18 })).toBe(true);
    expect(w('-x == null', { x: -(2 ** 63) })).toBe(true);
    expect(w('x * 10.0 > 0', { x: 1e18 })).toBe(true); // a double does not overflow
  });
  it('a field that arithmetic takes is numeric: a numeric string is its number (the index coerced it)', () => {
    expect(w('x + 0 > 3', { x: '4' })).toBe(true);
    expect(w('x > 3', { x: '4' })).toBe(true); // the query path reads it so too
    expect(w('x / 2 == 2.25', { x: '4.5' })).toBe(true); // a double: no truncation
    expect(w('x / 2 == 2', { x: '4' })).toBe(true);
    expect(w('-x == -4', { x: '4' })).toBe(true);
    expect(w('substring(s, n) == "c"', { s: 'abc', n: '2' })).toBe(true);
    expect(w('x + 1 == null', { x: '4a' })).toBe(true);
    expect(w('x + 1 == null', { x: true })).toBe(true);
  });
  it('an integer past a long is a double (only a double field holds 1e21)', () => {
    expect(w('string(x + 0) == "1.0E21"', { x: 1e21 })).toBe(true);
    expect(w('string(x) == "1.0E21"', { x: 1e21 })).toBe(true);
    expect(w('x / 2 == 5.0E20', { x: 1e21 })).toBe(true);
    expect(w('string(x) == "9007199254740992"', { x: 2 ** 53 })).toBe(true); // still a long
  });
});

describe('Java semantics at the edges', () => {
  it('substring and indexOf take int arguments as Number.intValue() does: a long keeps its low 32 bits, a double saturates', () => {
    const ev = { x: 'abc' };
    expect(w('substring(x, 4294967296) == "abc"', ev)).toBe(true); // 2^32 is 0 as an int
    expect(w('indexOf(x, "a", 4294967296) == 0', ev)).toBe(true);
    expect(w('substring(x, -4294967295) == "bc"', ev)).toBe(true); // 1 as an int
    expect(w('substring(x, 0, 1e10) == "abc"', ev)).toBe(true); // saturates at 2^31 - 1
    expect(w('substring(x, 1.9) == "bc"', ev)).toBe(true);
  });
  it('doubles print as Double.toString: never fewer than two digits, the closest two where one would do', () => {
    expect(w('string(x * 1.0) == "4.9E-324"', { x: 5e-324 })).toBe(true);
    expect(w('string(x * 1.0) == "1.0E20"', { x: 1e20 })).toBe(true);
    expect(w('string(x * 1.0) == "1.5E-7"', { x: 1.5e-7 })).toBe(true);
  });
  it('case-insensitive equality folds code points above U+FFFF, as compareToIgnoreCase has since JDK 16', () => {
    expect(w('concat(x, "") : "𐐨"', { x: '𐐀' })).toBe(true); // Deseret
    expect(w('concat(x, "") in~ ("𐐨", "b")', { x: '𐐀' })).toBe(true);
    expect(w('concat(x, "") : "𐐨"', { x: '😀' })).toBe(false);
    expect(w('concat(x, "") : "a😀𐐨"', { x: 'A😀𐐀' })).toBe(true);
  });
  it('a case-insensitive regex on a function result that spells one string compares as InsensitiveEquals (ReplaceRegexMatch): Unicode folding', () => {
    expect(w('concat(x, "") regex~ "é"', { x: 'É' })).toBe(true);
    expect(w('concat(x, "") regex~ "é{2}b"', { x: 'ÉÉB' })).toBe(true);
    expect(w('concat(x, "") regex~ ("é", "é")', { x: 'É' })).toBe(true); // one regex, é|é: still one string
    // Not one string: Java's regex with CASE_INSENSITIVE alone folds ASCII only.
    expect(w('concat(x, "") regex~ ("é", "x")', { x: 'É' })).toBe(false);
    expect(w('concat(x, "") regex~ "é."', { x: 'Éa' })).toBe(false);
    expect(w('concat(x, "") regex~ "a."', { x: 'AB' })).toBe(true);
    // On a field it is a case-insensitive term query: ASCII folding, as before.
    expect(w('x regex~ "é"', { x: 'É' })).toBe(false);
    expect(w('x regex~ "abc"', { x: 'ABC' })).toBe(true);
  });
  it('constant arguments are folded before the query is planned, as ConstantFolding does', () => {
    // endsWith(x, "*b") on a field is a Lucene wildcard query; so is it when the constant is computed.
    expect(w('endsWith(x, concat("*", "b"))', { x: 'ab' })).toBe(true);
    expect(w('endsWith(x, concat("*", "b"))', { x: 'a*b' })).toBe(true);
    // An ip field's in-list of a computed CIDR is a CIDR term query.
    expect(w('source.ip in (concat("10.0.0.0", "/8"))', { source: { ip: '10.1.2.3' } })).toBe(true);
    expect(w('source.ip in (concat("10.0.0.0", "/8"))', { source: { ip: '11.1.2.3' } })).toBe(false);
    expect(w('x in (concat("a", "b"), "c")', { x: ['z', 'ab'] })).toBe(true); // any value, as a terms query
  });
});

describe('number() on hostile text', () => {
  // A pattern with two ways to split a run of digits backtracked quadratically: about 6 s for
  // 80,000 digits, and minutes for a 1 MB value. Each of these returns at once now.
  it('is linear in a long run of digits that is not a number', () => {
    for (const tail of ['x', '.x', 'e', '..']) expect(parseNumber(`${'1'.repeat(1_000_000)}${tail}`, 10)).toBeNull();
    expect(parseNumber(`${'1'.repeat(1000)}.5`, 10)).not.toBeNull();
  });
});

describe('number() as Elasticsearch parses (Long.valueOf, then Double.valueOf; Long.parseLong in other bases)', () => {
  it('reads what Java reads, with the long/double distinction', () => {
    expect(parseNumber('42', 10)).toBe(42);
    expect(parseNumber('+42', 10)).toBe(42);
    expect(parseNumber('1f', 10)).toEqual(new Float(1)); // Double.valueOf takes a float/double suffix
    expect(parseNumber('2.5d', 10)).toBe(2.5);
    expect(Number.isNaN(numberOf(parseNumber('NaN', 10)!))).toBe(true);
    expect(parseNumber('-Infinity', 10)).toBe(-Infinity);
    expect(parseNumber(' 7', 10)).toEqual(new Float(7)); // not a long (a blank), so a trimmed double
    expect(parseNumber('99999999999999999999', 10)).toEqual(new Float(1e20)); // past a long: a double
    expect(parseNumber('7fffffffffffffff', 16)).toBe(2 ** 63 - 1);
    expect(parseNumber('0x-5', 16)).toBe(-5); // "0x" stripped, then Long.parseLong("-5", 16)
    expect(w('number(s) / 2 == 3.5', { s: ' 7' })).toBe(true);
    expect(w('string(number(s)) == "1.0E20"', { s: '99999999999999999999' })).toBe(true);
  });

  it('is null where Java throws', () => {
    for (const [text, base] of [['-0x5', 16], [' ff', 16], ['8000000000000000', 16], ['1_000', 10], ['0x1p3', 16], ['0x1', 10], ['0xp3', 10], ['0x1p', 10], ['𝟏', 10], ['', 10], ['-', 10], ['12', 37]] as const) {
      expect(parseNumber(text, base), `${text} in base ${base}`).toBeNull();
    }
    expect(w('number(s, 16.0) == null', { s: 'ff' })).toBe(true); // the base must be an integer
  });

  it('reads any BMP decimal digit and fullwidth letters, as Character.digit does', () => {
    expect(parseNumber('١٢٣', 10)).toBe(123); // Arabic-Indic
    expect(parseNumber('-１２３', 10)).toBe(-123); // fullwidth
    expect(parseNumber('߉꧙٠', 10)).toBe(990); // NKo nine, Javanese nine, Arabic-Indic zero
    expect(parseNumber('ＦＦ', 16)).toBe(255);
    expect(parseNumber('ｚ', 36)).toBe(35);
    expect(parseNumber('٣', 3)).toBeNull(); // three is not a digit in base 3
    expect(w('number(s) == 42', { s: '４２' })).toBe(true);
  });

  it('reads hexadecimal floating-point text in base 10, as Double.valueOf does', () => {
    expect(parseNumber('0x1p3', 10)).toEqual(new Float(8));
    expect(parseNumber('0X1.8P1d', 10)).toEqual(new Float(3));
    expect(parseNumber('-0x.8p-1', 10)).toBe(-0.25);
    expect(parseNumber(' 0x1p-1074 ', 10)).toBe(Number.MIN_VALUE);
    expect(parseNumber('0x1.8p-1075', 10)).toBe(Number.MIN_VALUE); // three quarters of the least subnormal
    expect(parseNumber('0x1p-1075', 10)).toEqual(new Float(0)); // half of it: a tie, to even
    expect(parseNumber('0x1p1024', 10)).toBe(Infinity);
    expect(parseNumber(`0x1p-${'9'.repeat(30)}`, 10)).toEqual(new Float(0));
    expect(w('number(s, 10) == 8', { s: '0x1p3' })).toBe(true);
    expect(w('number(s) == null', { s: '0x1p3' })).toBe(true); // no base: "0x" means base 16, and p is no hex digit
  });

  it('rounds hexadecimal text to the nearest double, ties to even, subnormals included', () => {
    const view = new DataView(new ArrayBuffer(8));
    let seed = 0x2545f491;
    const random32 = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    for (let i = 0; i < 3000; i++) {
      view.setUint32(0, random32() & 0x7fffffff); // positive, finite or not
      view.setUint32(4, random32());
      const d = view.getFloat64(0);
      if (!Number.isFinite(d)) continue;
      const biased = view.getUint32(0) >>> 20;
      const fraction = ((BigInt(view.getUint32(0) & 0xfffff) << 32n) | BigInt(view.getUint32(4))).toString(16).padStart(13, '0');
      const text = biased === 0 ? `0x0.${fraction}p-1022` : `0x1.${fraction}p${biased - 1023}`;
      const next = view.getUint32(4) & 1 ? 'up' : 'even';
      expect(numberOf(parseNumber(text, 10)!), text).toBe(d);
      // Exactly half a unit more: ties to even; a little more than half: up to the next double.
      const up = numberOf(parseNumber(`${text.replace('p', '8p')}`, 10)!);
      const above = numberOf(parseNumber(`${text.replace('p', '80000000001p')}`, 10)!);
      const nextDouble = (() => {
        view.setFloat64(0, d);
        view.setBigUint64(0, view.getBigUint64(0) + 1n);
        return view.getFloat64(0);
      })();
      expect(up, `${text} + half`).toBe(next === 'up' ? nextDouble : d);
      expect(above, `${text} + more than half`).toBe(nextDouble);
    }
  });
});
