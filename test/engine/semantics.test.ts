import { describe, expect, it } from 'vitest';
import { compileQuery, scriptSearches } from '../../lambda/engine/index.js';
import { m, w } from './helpers.js';

describe('== and in: case-sensitive exact', () => {
  it('matches exactly and treats * as a literal', () => {
    expect(w('name == "openssl"', { name: 'openssl' })).toBe(true);
    expect(w('name == "openssl"', { name: 'OpenSSL' })).toBe(false);
    expect(w('name == "open*"', { name: 'openssl' })).toBe(false);
    expect(w('name == "open*"', { name: 'open*' })).toBe(true);
    expect(w('name in ("a", "openssl")', { name: 'openssl' })).toBe(true);
    expect(w('name in ("a", "OPENSSL")', { name: 'openssl' })).toBe(false);
    expect(w('name in ("open*")', { name: 'openssl' })).toBe(false);
  });

  it('in~ folds ASCII case only', () => {
    expect(w('name in~ ("OPENSSL")', { name: 'openssl' })).toBe(true);
    expect(w('name in~ ("open*")', { name: 'openssl' })).toBe(false);
    expect(w('name in~ ("É")', { name: 'é' })).toBe(false);
    expect(w('name in~ ("k")', { name: '\u212a' })).toBe(false); // Kelvin sign is not ASCII K
  });

  it('!= is not ==', () => {
    expect(w('name != "a"', { name: 'b' })).toBe(true);
    expect(w('name != "a"', { name: 'a' })).toBe(false);
    expect(w('name != "a"', {})).toBe(true);
    expect(w('name != "a"', { name: ['a', 'b'] })).toBe(false);
  });
});

describe('ECS ip fields: addresses, as Elasticsearch compares an `ip` mapping', () => {
  it('== and != compare addresses however they are spelled', () => {
    expect(w('source.ip == "::1"', { source: { ip: '0:0:0:0:0:0:0:1' } })).toBe(true);
    expect(w('source.ip != "::1"', { source: { ip: '0:0:0:0:0:0:0:1' } })).toBe(false);
    expect(w('source.ip != "::1"', { source: { ip: '::2' } })).toBe(true);
    expect(w('destination.ip == "169.254.169.254"', { destination: { ip: '::ffff:169.254.169.254' } })).toBe(true);
    expect(w('destination.ip == "169.254.169.254"', { destination: { ip: '::ffff:a9fe:a9fe' } })).toBe(true);
    expect(w('destination.ip == "169.254.169.254"', { destination: { ip: '169.254.169.25' } })).toBe(false);
    expect(w('source.ip != "127.0.0.1"', { source: { ip: '::FFFF:127.0.0.1' } })).toBe(false);
    expect(w('host.ip == "fe80::1"', { host: { ip: ['10.0.0.1', 'FE80:0::1'] } })).toBe(true);
    expect(w('ip == "10.0.0.1"', { ip: '10.0.0.1' })).toBe(true);
  });

  it('a literal with a / is a CIDR block, as in a term query on an ip field', () => {
    expect(w('source.ip == "10.0.0.0/8"', { source: { ip: '10.200.3.4' } })).toBe(true);
    expect(w('source.ip == "10.0.0.0/8"', { source: { ip: '11.0.0.1' } })).toBe(false);
    expect(w('source.ip in ("192.168.0.0/16", "::1")', { source: { ip: '0::1' } })).toBe(true);
    expect(w('source.ip in ("192.168.0.0/16", "::1")', { source: { ip: '192.168.4.4' } })).toBe(true);
    expect(w('source.ip not in ("192.168.0.0/16", "::1")', { source: { ip: '192.169.0.1' } })).toBe(true);
  });

  it('refuses what Elasticsearch refuses as an address: leading zeros, a prefix on an IPv4-mapped address', () => {
    // Not addresses (Elasticsearch would not index the value): no address matches them.
    expect(w('source.ip == "10.0.0.1"', { source: { ip: '010.0.0.1' } })).toBe(false);
    expect(w('source.ip != "127.0.0.1"', { source: { ip: '127.000.000.001' } })).toBe(true);
    // Not address literals: compared as text.
    expect(w('source.ip == "010.0.0.1"', { source: { ip: '10.0.0.1' } })).toBe(false);
    expect(w('source.ip == "::ffff:1.2.3.4/8"', { source: { ip: '9.9.9.9' } })).toBe(false);
    // ...and a value that is no address is missing (never indexed), whatever the literal.
    expect(w('source.ip == "::ffff:1.2.3.4/8"', { source: { ip: '::ffff:1.2.3.4/8' } })).toBe(false);
    expect(w('source.ip == "::ffff:1.2.3.4"', { source: { ip: '1.2.3.4' } })).toBe(true);
    expect(w('source.ip == "::/0"', { source: { ip: '1.2.3.4' } })).toBe(true);
    expect(w('source.ip == "0.0.0.0/0"', { source: { ip: '::1' } })).toBe(false);
  });

  it('a value that is no address is missing, as Elasticsearch leaves it unindexed (ignore_malformed, the logs-*-* default)', () => {
    expect(w('source.ip == "10.0.0.1"', { source: { ip: 'unknown' } })).toBe(false);
    expect(w('source.ip != "10.0.0.1"', { source: { ip: 'unknown' } })).toBe(true); // as on any missing field
    expect(w('source.ip == "-"', { source: { ip: '-' } })).toBe(false);
    expect(w('source.ip in ("-", "10.0.0.1")', { source: { ip: '-' } })).toBe(false);
    // Windows writes `-` where there is no address: not a value, so not "present".
    expect(w('source.ip != null', { source: { ip: '-' } })).toBe(false);
    expect(w('source.ip == null', { source: { ip: '' } })).toBe(true);
    expect(w('source.ip != null', { source: { ip: 12 } })).toBe(false);
    expect(w('length(source.ip) == 1', { source: { ip: '-' } })).toBe(false);
    expect(w('host.ip == "10.0.0.1"', { host: { ip: ['-', '10.0.0.1'] } })).toBe(true);
    expect(w('host.ip != null', { host: { ip: ['-', '10.0.0.1'] } })).toBe(true);
    expect(w(`source.ip != null`, { source: { ip: `${'1'.repeat(100)}` } })).toBe(false);
  });

  it('compares an address literal in :, like and in~ by its normal form too (values are in normal form)', () => {
    const loop = { source: { ip: '0:0:0:0:0:0:0:1' } };
    const mapped = { source: { ip: '::ffff:10.0.0.5' } };
    for (const q of ['source.ip : "0:0:0:0:0:0:0:1"', 'source.ip : ("x", "::1")', 'source.ip like "0::1"', 'source.ip in~ ("0:0:0:0:0:0:0:1", "x")', 'source.ip in ("x", "0::1")']) {
      expect(w(q, loop), q).toBe(true);
    }
    expect(w('source.ip : "::ffff:10.0.0.5"', mapped)).toBe(true);
    expect(w('source.ip : "10.0.0.5"', mapped)).toBe(true);
    expect(w('source.ip : "10.0.0.*"', mapped)).toBe(true);
    expect(w('source.ip : "::ffff:*"', mapped)).toBe(false); // a pattern meets the normal form as text
    expect(w('source.address : "0:0:0:0:0:0:0:1"', { source: { address: '::1' } })).toBe(false); // other fields: text
  });

  it('refuses what Elasticsearch refuses as an address: an IPv4 part before ::, an empty zone', () => {
    expect(w('source.ip != null', { source: { ip: '1.2.3.4::' } })).toBe(false);
    expect(w('source.ip != null', { source: { ip: 'fe80::1%' } })).toBe(false);
    expect(w('source.ip == "fe80::1"', { source: { ip: 'fe80::1%eth0' } })).toBe(true);
    expect(w('source.ip == "1:2:3:4:5:6:102:304"', { source: { ip: '1:2:3:4:5:6:1.2.3.4' } })).toBe(true);
  });

  it('functions read an address in the normal form Elasticsearch prints it in (doc values), not as the event spelled it', () => {
    expect(w('string(source.ip) == "::1"', { source: { ip: '0:0:0:0:0:0:0:1' } })).toBe(true);
    expect(w('string(source.ip) == "10.0.0.5"', { source: { ip: '::ffff:10.0.0.5' } })).toBe(true);
    expect(w('string(source.ip) == "10.0.0.5"', { source: { ip: '::FFFF:0a00:0005' } })).toBe(true);
    expect(w('string(source.ip) == "fe80::1:0:0:2"', { source: { ip: 'FE80:0000:0000:0000:0001:0000:0000:0002' } })).toBe(true); // the longest run
    expect(w('string(source.ip) == "1::2:0:0:3:4"', { source: { ip: '1:0:0:2:0:0:3:4' } })).toBe(true); // the first of equal runs
    expect(w('string(source.ip) == "1:0:2:3:4:5:6:7"', { source: { ip: '1:0:2:3:4:5:6:7' } })).toBe(true); // a single zero group stays
    expect(w('string(source.ip) == "1::"', { source: { ip: '1:0:0:0:0:0:0:0' } })).toBe(true);
    expect(w('string(source.ip) == "::"', { source: { ip: '0::0' } })).toBe(true);
    expect(w('string(source.ip) == "::102:304"', { source: { ip: '::1.2.3.4' } })).toBe(true); // IPv4-compatible is IPv6
    expect(w('string(source.ip) == "fe80::1"', { source: { ip: 'fe80::1%eth0' } })).toBe(true); // no zone in doc values
    // Elastic's "Machine Account Relay" rules: the host's own address, written mapped, is its own.
    const relay = 'not endswith(string(source.ip), string(host.ip)) and indexOf(string(host.ip), string(source.ip)) == null';
    expect(w(relay, { source: { ip: '::ffff:10.0.0.5' }, host: { ip: ['10.0.0.50'] } })).toBe(false);
    expect(w(relay, { source: { ip: '10.0.0.5' }, host: { ip: ['10.0.0.50'] } })).toBe(false);
    expect(w(relay, { source: { ip: '10.0.0.7' }, host: { ip: ['10.0.0.50'] } })).toBe(true);
  });

  it('other fields still compare text', () => {
    expect(w('source.address == "::1"', { source: { address: '0:0:0:0:0:0:0:1' } })).toBe(false);
    expect(w('source.ipv6 == "::1"', { source: { ipv6: '0::1' } })).toBe(false);
    expect(w('zip == "::1"', { zip: '0::1' })).toBe(false);
  });

  it('needs no literal text from the line (the prefilter cannot know the spelling)', () => {
    const none = compileQuery('any where true').needs;
    for (const q of [
      'destination.ip == "169.254.169.254"',
      'source.ip : "fe80::*"',
      'source.ip like~ "FE80::*"',
      'source.ip regex "fe80:.*"',
      'source.ip in~ ("fe80::1", "x")',
      'startsWith(source.ip, "fe80:")',
      'stringContains(host.ip, "db8")',
      'source.ip == "not an address"',
    ]) {
      expect(compileQuery(`any where ${q}`).needs, q).toEqual(none);
    }
    // Values in normal form match where the line spells them otherwise.
    expect(w('source.ip : "10.0.0.*"', { source: { ip: '::ffff:a00:5' } })).toBe(true);
    expect(w('source.ip : "fe80::*"', { source: { ip: 'FE80:0:0:0:0:0:0:1' } })).toBe(true);
    expect(w('startsWith(source.ip, "fe80::")', { source: { ip: 'FE80:0:0:0:0:0:0:1' } })).toBe(true);
    // A category field of the ip fields (event_category_override): an address too.
    const byAddress = compileQuery('"0::1" where true', { categoryField: 'source.ip' });
    expect(byAddress.needs).toEqual(none);
    expect(byAddress.matches({ source: { ip: '0:0:0:0:0:0:0:1' } })).toBe(true);
    expect(byAddress.matches({ source: { ip: '::2' } })).toBe(false);
    // Other fields still need their text.
    expect(compileQuery('any where source.address : "fe80::*"').needs).not.toEqual(none);
    expect(compileQuery('any where startsWith(source.address, "fe80:")').needs).not.toEqual(none);
  });
});

describe(': like like~ regex regex~', () => {
  it(': is ASCII-case-insensitive with * and ? wildcards', () => {
    expect(w('p : "/USR/SBIN/SSHD"', { p: '/usr/sbin/sshd' })).toBe(true);
    expect(w('p : "*:*"', { p: 'example.com:443' })).toBe(true);
    expect(w('p : "*:*"', { p: 'example.com' })).toBe(false);
    expect(w('p : "a?c"', { p: 'ABC' })).toBe(true);
    expect(w('p : "a?c"', { p: 'abbc' })).toBe(false);
    expect(w('p : "a?c"', { p: 'a😀c' })).toBe(true); // ? is one code point
    expect(w('p : "*\\\\temp\\\\*"', { p: 'C:\\Temp\\x' })).toBe(true); // backslash is literal
    expect(w('p : "ä"', { p: 'Ä' })).toBe(false);
  });

  it('like is case-sensitive, like~ is not', () => {
    expect(w('p like "Open*"', { p: 'OpenSSL' })).toBe(true);
    expect(w('p like "open*"', { p: 'OpenSSL' })).toBe(false);
    expect(w('p like~ "open*"', { p: 'OpenSSL' })).toBe(true);
    expect(w('p like ("x", "?pen*")', { p: 'OpenSSL' })).toBe(true);
  });

  it('refuses regexes too large to build or nested too deeply, at compile time', () => {
    expect(() => compileQuery('process where x regex "(a{1000}){1000}"')).toThrow(/too complex: it would need about 2001001 automaton states \(the limit is 10000\)/);
    expect(() => compileQuery('process where x regex "((a{100}){100}){100}"')).toThrow(/too complex/);
    expect(() => compileQuery(`process where x regex "${'('.repeat(10_000)}a${')'.repeat(10_000)}"`)).toThrow(/nested too deeply/);
    expect(() => compileQuery(`process where x regex "${'~('.repeat(10_000)}a${')'.repeat(10_000)}"`)).toThrow(/nested too deeply/);
    expect(() => compileQuery(`process where x regex "${Array.from({ length: 10_000 }, () => 'a').join('&')}"`)).toThrow(/nested too deeply/);
    expect(() => compileQuery(`process where x regex "a${'*'.repeat(10_000)}"`)).toThrow(/nested too deeply/);
    // Bounded repeats whose DFA explodes (Lucene: too complex to determinize) are refused at compile time too.
    expect(() => compileQuery('process where x regex "(.{0,1000}b){2}"')).toThrow(/1:23: pattern is too complex: more than 10000 automaton states/);
    expect(() => compileQuery('process where x regex~ "([a-z]{0,500}b){3}"')).toThrow(/too complex/);
    // Large but reasonable patterns still compile and match.
    expect(w('x regex "a{1000}"', { x: 'a'.repeat(1000) })).toBe(true);
    expect(w('x regex "[a-z]{1000}[0-9]"', { x: `${'c'.repeat(1000)}7` })).toBe(true);
    expect(w(`x regex "${'('.repeat(50)}a${')'.repeat(50)}"`, { x: 'a' })).toBe(true);
    expect(w('x regex ".{0,100}b"', { x: `${'b'.repeat(100)}b` })).toBe(true);
    expect(w('x regex ".{0,100}b"', { x: `${'b'.repeat(101)}b` })).toBe(false);
    // Elastic's rule with the largest repeat: `\.[a-z0-9_\-][a-z0-9_\-\.]{1,254}`.
    expect(w(String.raw`x regex~ """\.[a-z0-9_\-][a-z0-9_\-\.]{1,254}"""`, { x: '.evil-domain.example' })).toBe(true);
  });
  it('refuses any regex or wildcard whose automaton would exceed 10,000 states, at compile time, with its position', () => {
    // A character somewhere before N arbitrary ones: about 2^N states (Elasticsearch: too_complex_to_determinize).
    expect(() => compileQuery('process where x regex ".*a.{20}"')).toThrow(/^1:23: pattern is too complex: more than 10000 automaton states$/);
    expect(() => compileQuery(`process where x like "*a${'?'.repeat(20)}"`)).toThrow(/^1:22: pattern is too complex/);
    expect(() => compileQuery(`process where x : ("ok", "*a${'?'.repeat(20)}")`)).toThrow(/^1:26: pattern is too complex/);
    expect(() => compileQuery(`process where endsWith(x, "a${'?'.repeat(20)}")`)).toThrow(/^1:27: pattern is too complex/);
    expect(() => compileQuery('process where x regex "[ab]*a[ab]{40}x"')).toThrow(/too complex/);
    // Below the limit they compile, and match in linear time.
    expect(w('x regex ".*a.{8}"', { x: `${'b'.repeat(50)}a${'c'.repeat(8)}` })).toBe(true);
    expect(w(`x like "*a${'?'.repeat(8)}"`, { x: `${'b'.repeat(50)}a${'c'.repeat(8)}` })).toBe(true);
    expect(w(`x like "*a${'?'.repeat(8)}"`, { x: `${'b'.repeat(50)}a${'c'.repeat(9)}` })).toBe(false);
  });

  it('folds case the Java way (Unicode-aware) on the script path, ASCII only on the query path', () => {
    // Script path: String.compareToIgnoreCase for `:` and in~, toLowerCase(Locale.ROOT) for ~ functions.
    expect(w('substring(x, 0) : "ÉCOLE"', { x: 'école' })).toBe(true);
    expect(w('substring(x, 0) in~ ("ÉCOLE")', { x: 'école' })).toBe(true);
    expect(w('endsWith~(substring(x, 0), "ÉCOLE")', { x: 'une école' })).toBe(true);
    expect(w('stringContains~(substring(x, 0), "ΣΟΦΊΑ")', { x: 'η σοφία' })).toBe(true);
    expect(w('substring(x, 0) : "STRASSE"', { x: 'straße' })).toBe(false); // one char never becomes two
    // Query path (a field): ASCII only, as Lucene's case-insensitive term and wildcard queries.
    expect(w('x : "ÉCOLE"', { x: 'école' })).toBe(false);
    expect(w('x in~ ("ÉCOLE")', { x: 'école' })).toBe(false);
    expect(w('endsWith~(x, "ÉCOLE")', { x: 'une école' })).toBe(false);
    expect(w('x : "ECOLE"', { x: 'ecole' })).toBe(true);
  });
  it('regex uses Lucene syntax anchored to the whole value', () => {
    expect(w('p regex "ab+c"', { p: 'abbbc' })).toBe(true);
    expect(w('p regex "b+"', { p: 'abbbc' })).toBe(false); // anchored
    expect(w('p regex ".*b+.*"', { p: 'abbbc' })).toBe(true);
    expect(w('p regex "^abc$"', { p: 'abc' })).toBe(false); // ^ and $ are literals
    expect(w('p regex "\\\\^abc\\\\$"', { p: '^abc$' })).toBe(true);
    expect(w('p regex "[0-9]{1,3}(\\\\.[0-9]{1,3}){3}"', { p: '10.1.2.3' })).toBe(true);
    expect(w('p regex """\\d+\\s\\w+"""', { p: '42 foo_1' })).toBe(true);
    // Lucene's \s is space, tab, line feed and carriage return only: not form feed or vertical tab.
    for (const ch of [' ', '\t', '\n', '\r']) expect(w('p regex """a\\sb"""', { p: `a${ch}b` })).toBe(true);
    for (const ch of ['\f', '\v']) {
      expect(w('p regex """a\\sb"""', { p: `a${ch}b` })).toBe(false);
      expect(w('p regex """a\\Sb"""', { p: `a${ch}b` })).toBe(true);
    }
    expect(w('p regex "a|b"', { p: 'b' })).toBe(true);
    expect(w('p regex "@"', { p: 'anything at all' })).toBe(true); // @ is any string
    expect(w('p regex "#"', { p: '' })).toBe(false); // # is the empty language
    expect(w('p regex "<1-100>"', { p: '42' })).toBe(true);
    expect(w('p regex "<1-100>"', { p: '101' })).toBe(false);
    expect(w('p regex "<01-10>"', { p: '07' })).toBe(true);
    expect(w('p regex "~(a.*)"', { p: 'bcd' })).toBe(true); // complement
    expect(w('p regex "~(a.*)"', { p: 'abc' })).toBe(false);
    expect(w('p regex ".*a.*&.*b.*"', { p: 'xbxa' })).toBe(true); // intersection
    expect(w('p regex "\\"lit.eral\\""', { p: 'lit.eral' })).toBe(true);
  });

  it('regex~ folds ASCII letters, not ranges', () => {
    expect(w('p regex~ "abc"', { p: 'ABC' })).toBe(true);
    expect(w('p regex "abc"', { p: 'ABC' })).toBe(false);
    expect(w('p regex~ "[a-z]+"', { p: 'ABC' })).toBe(false);
    expect(w('p regex~ "[abc]+"', { p: 'ABC' })).toBe(true);
  });
});

describe('multi-valued fields', () => {
  const ev = { process: { args: ['openssl', 's_client', '-connect', 'evil:443'] } };
  it('a predicate holds if any value satisfies it', () => {
    expect(w('process.args == "s_client"', ev)).toBe(true);
    expect(w('process.args : "*:*"', ev)).toBe(true);
    expect(w('process.args in ("-x", "-connect")', ev)).toBe(true);
    expect(w('startsWith(process.args, "-con")', ev)).toBe(true);
  });
  it('not P holds iff P does not: no element may satisfy P', () => {
    expect(w('not process.args == "-showcerts"', ev)).toBe(true);
    expect(w('not process.args == "-connect"', ev)).toBe(false);
    expect(w('not process.args : "*:*"', ev)).toBe(false);
  });
  it('flattens arrays of objects and nested arrays', () => {
    const e = { a: [{ b: 1 }, { b: [2, [3]] }] };
    expect(w('a.b == 3', e)).toBe(true);
    expect(w('a.b == 4', e)).toBe(false);
  });
});

describe('missing fields', () => {
  it('comparisons on missing, null and empty-array fields are false, and not of them true', () => {
    for (const ev of [{}, { x: null }, { x: [] }, { x: [null] }]) {
      expect(w('x == "a"', ev)).toBe(false);
      expect(w('not x == "a"', ev)).toBe(true);
      expect(w('x : "a*"', ev)).toBe(false);
      expect(w('not x : "a*"', ev)).toBe(true);
      expect(w('x in ("a")', ev)).toBe(false);
      expect(w('x not in ("a")', ev)).toBe(true);
      expect(w('x == null', ev)).toBe(true);
      expect(w('x != null', ev)).toBe(false);
    }
  });
  it('not parent.executable in (...) matches an event with no parent', () => {
    const q = 'process where not process.parent.executable in ("/bin/x")';
    expect(m(q, { event: { category: 'process' }, process: { name: 'a' } })).toBe(true);
    expect(m(q, { event: { category: 'process' }, process: { parent: { executable: '/bin/x' } } })).toBe(false);
  });
  it('x == null iff missing; x != null iff present', () => {
    expect(w('x == null', { x: 0 })).toBe(false);
    expect(w('x != null', { x: '' })).toBe(true);
    expect(w('x != null', { x: false })).toBe(true);
  });
  it('a negated range is a must_not around the range: a missing field matches, an array with one value in range does not', () => {
    // Elasticsearch 8 no longer rewrites `not x < 5` to `x >= 5` (EqlBooleanSimplification.maybeSimplifyNegatable returns null).
    expect(w('not x < 5', {})).toBe(true);
    expect(w('not x < 5', { x: 7 })).toBe(true);
    expect(w('not x < 5', { x: 3 })).toBe(false);
    expect(w('not x < 5', { x: [3, 7] })).toBe(false);
    expect(w('x >= 5', { x: [3, 7] })).toBe(true);
    expect(w('not x >= 5', {})).toBe(true);
    expect(w('not not x < 5', {})).toBe(false);
  });
  it('a null in an in-list matches nothing, as in a terms query', () => {
    expect(w('x in ("a", null)', {})).toBe(false);
    expect(w('x not in ("a", null)', {})).toBe(true);
    expect(w('x in ("a", null)', { x: 'a' })).toBe(true);
    expect(w('x in~ ("A", null)', { x: 'a' })).toBe(true);
    expect(w('x in (null)', {})).toBe(false);
    expect(w('x in (null)', { x: 'a' })).toBe(false);
  });
  it('an in-list of nulls alone is null whatever the value (In.fold), so its not matches nothing either', () => {
    for (const event of [{}, { x: 'a' }, { x: null }]) {
      expect(w('x not in (null)', event)).toBe(false);
      expect(w('not x in (null)', event)).toBe(false);
      expect(w('x not in (null, null)', event)).toBe(false); // In dedups its list to one null
      expect(w('x not in~ (null)', event)).toBe(false);
      expect(w('length(x) not in (null)', event)).toBe(false);
      expect(w('not (x in (null) and true)', event)).toBe(false);
    }
    // A null beside other values is dropped, as by the terms query: its not matches.
    expect(w('x not in ("b", null)', { x: 'a' })).toBe(true);
  });
  it('pushed-down functions behave like comparisons', () => {
    expect(w('startsWith(x, "a")', {})).toBe(false);
    expect(w('not startsWith(x, "a")', {})).toBe(true);
    expect(w('not endsWith~(x, "A")', { x: 'ba' })).toBe(false);
    expect(w('not stringContains(x, "a")', {})).toBe(true);
    expect(w('not cidrMatch(ip, "10.0.0.0/8")', {})).toBe(true);
  });
  it('script functions are null-safe: null in, null out; a null predicate is false and its not is true', () => {
    // Elasticsearch wraps the script in not(multiValueDocValues(..., nullSafeFilter(...))):
    // a null result counts as false inside, and the not applies outside.
    expect(w('length(x) > 0', {})).toBe(false);
    expect(w('not length(x) > 0', {})).toBe(true);
    expect(w('not (length(x) > 0)', {})).toBe(true);
    expect(w('concat(x, "a") == "a"', {})).toBe(false);
    expect(w('not concat(x, "a") == "a"', {})).toBe(true);
    expect(w('startsWith("abc", x)', {})).toBe(false);
    expect(w('not startsWith("abc", x)', {})).toBe(true);
    expect(w('substring(x, 5) not in ("a")', {})).toBe(true);
    expect(w('concat(x, "a") == null', {})).toBe(true);
    expect(w('concat(a, b) == "1"', { a: 1 })).toBe(false);
    expect(w('not concat(a, b) == "1"', { a: 1 })).toBe(true);
    expect(w('not concat(a, b) == "11"', { a: 1, b: 2 })).toBe(true);
    expect(w('not concat(a, b) == "11"', { a: 1, b: 1 })).toBe(false);
  });
  it('not over a script predicate on an array: false when any value holds', () => {
    expect(w('not (length(user) == 1)', { user: ['a', 'bb'] })).toBe(false);
    expect(w('not (length(user) == 1)', { user: ['aa', 'bb'] })).toBe(true);
    // Elastic's BITS ingress rule: `not length(file.name) > 30`
    expect(w('not length(file.name) > 30', { file: {} })).toBe(true);
    expect(w('not length(file.name) > 30', { file: { name: ['evil.exe', 'x'.repeat(40)] } })).toBe(false);
  });
  it('script predicates hold if any combination of values does', () => {
    expect(w('length(args) > 5', { args: ['a', 'abcdefg'] })).toBe(true);
    expect(w('length(args) > 5', { args: ['a', 'b'] })).toBe(false);
    expect(w('concat(a, b) == "23"', { a: [1, 2], b: [2, 3] })).toBe(true);
    expect(w('concat(a, b) == "31"', { a: [1, 2], b: [2, 3] })).toBe(false);
  });

  // Each combination redoes the script's pass over its longest value: hostile arrays beside a
  // long field made it quadratic in the line (minutes for one event), as in two Elastic rules.
  describe('with a long value and a hostile array beside it', () => {
    const haystack = `${'x'.repeat(600_000)}needle`;

    it('keeps -0 apart from 0 among the distinct values', () => {
      expect(w('1.0 / x < 0', { x: [-0, 5] })).toBe(true);
      expect(w('1.0 / x < 0', { x: [0, -0] })).toBe(true);
      expect(w('1.0 / x > 0', { x: [-0, -0] })).toBe(false);
    });

    it('tries each distinct value once, so repeats cost nothing and change nothing', () => {
      const before = scriptSearches.cutShort;
      expect(w('stringContains(a, b)', { a: haystack, b: [...Array<string>(60_000).fill('ab'), 'needle'] })).toBe(true);
      expect(w('not stringContains(a, b)', { a: haystack, b: Array<string>(60_000).fill('needle') })).toBe(false);
      expect(w('stringContains(a, b)', { a: haystack, b: Array<string>(60_000).fill('ab') })).toBe(false);
      expect(scriptSearches.cutShort).toBe(before);
    });

    it('stops after a bounded amount of work, and counts the search it cut short', () => {
      const before = scriptSearches.cutShort;
      const distinct = Array.from({ length: 60_000 }, (_, i) => `ab${i}`);
      expect(w('stringContains(a, b)', { a: haystack, b: [...distinct, 'needle'] })).toBe(false);
      expect(scriptSearches.cutShort).toBe(before + 1);
      // Within the bound every combination is tried.
      expect(w('stringContains(a, b)', { a: haystack, b: [...distinct.slice(0, 5), 'needle'] })).toBe(true);
      expect(scriptSearches.cutShort).toBe(before + 1);
    });
  });
});

describe('comparisons against fields', () => {
  it('are refused at compile time with the offender and its position, as Elasticsearch plans them', () => {
    const refused = (q: string): string => {
      try {
        compileQuery(q);
      } catch (err) {
        return (err as Error).message;
      }
      return 'compiled';
    };
    // Elasticsearch's own QA cases (QueryTranslatorFailTests): opcode == pid, and a field in an in-list.
    expect(refused('process where (serial_event_id<9 and serial_event_id >= 7) or (opcode == pid)')).toMatch(/^1:74: comparisons against fields are not supported .*`pid` in `==`/);
    expect(refused('process where opcode in (1,3) and process_name in (parent_process_name, "SYSTEM")')).toMatch(/^1:52: .*`parent_process_name` in `in`/);
    expect(refused('process where a in~ ("x", b)')).toMatch(/^1:27: .*`b` in `in~`/);
    expect(refused('process where length(a) > length(b)')).toMatch(/`length\(\.\.\.\)` in `>`/);
    expect(refused('process where not a != b')).toMatch(/`b` in `!=`/);
    expect(refused('process where (a == b) == true')).toMatch(/`b` in `==`/);
    expect(refused('process where a < 1 + b')).toMatch(/an expression of fields in `<`/);
    // Constants on either side, folded first, are fine; so are functions of two fields.
    expect(refused('process where 1 + 1 == a')).toBe('compiled');
    expect(refused('process where "x" < a')).toBe('compiled');
    expect(refused('process where a in (1 + 1, 7)')).toBe('compiled');
    expect(refused('process where startsWith(a, b)')).toBe('compiled');
    expect(w('1 + 1 == a', { a: 2 })).toBe(true);
    expect(w('a in (1 + 1, 7)', { a: 2 })).toBe(true);
  });
});

describe('field lookup', () => {
  it('nested objects, dotted keys and mixes are the same field', () => {
    for (const ev of [{ process: { name: 'a' } }, { 'process.name': 'a' }, { process: { 'name': 'a' } }]) {
      expect(w('process.name == "a"', ev)).toBe(true);
    }
    expect(w('process.parent.name == "b"', { process: { 'parent.name': 'b' } })).toBe(true);
    expect(w('process.parent.name == "b"', { 'process.parent': { name: 'b' } })).toBe(true);
    expect(w('a.b == 2', { 'a.b': 1, a: { b: 2 } })).toBe(true); // both spellings are values of a.b
  });
  it('reads own properties only: prototypes are unreachable', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'constructor.name', '__proto__.constructor']) {
      expect(w(`${name} == null`, {}), name).toBe(true);
      expect(w(`${name} != null`, { a: 1 }), name).toBe(false);
      expect(w(`length(${name}) > 0`, {}), name).toBe(false);
    }
    expect(w('constructor.name == "Object"', {})).toBe(false);
    expect(w('a.length == 3', { a: 'abc' })).toBe(false);
    expect(w('a.length == 1', { a: [1] })).toBe(false);
    // An own property named __proto__ is data, readable like any other key.
    expect(w('__proto__.x == "y"', JSON.parse('{"__proto__": {"x": "y"}}'))).toBe(true);
  });
  it('objects are not values', () => {
    expect(w('process == null', { process: { name: 'a' } })).toBe(true);
  });
});

describe('numbers, strings and booleans', () => {
  it('a JSON number compared with a string literal compares by its text', () => {
    expect(w('user.id == "0"', { user: { id: 0 } })).toBe(true);
    expect(w('user.id in ("0", "1000")', { user: { id: 1000 } })).toBe(true);
    expect(w('user.id : "10*"', { user: { id: 1000 } })).toBe(true);
    expect(w('user.id == 0', { user: { id: '0' } })).toBe(true);
    expect(w('b == "true"', { b: true })).toBe(true);
  });
  it('< and > compare numbers numerically and strings by code point', () => {
    expect(w('n > 9', { n: 10 })).toBe(true);
    expect(w('n > 9', { n: '10' })).toBe(true);
    expect(w('s > "9"', { s: '10' })).toBe(false);
    expect(w('s >= "Syste" and s <= "Systez"', { s: 'System' })).toBe(true);
    expect(w('n < 5', { n: 'abc' })).toBe(false);
  });
});

describe('script comparisons, as Elasticsearch compares values in scripts (ql Comparisons)', () => {
  it('a function result against a literal of another type is null: no match either way', () => {
    const event = { process: { name: 'abc', pid: 42 } };
    expect(w('length(process.name) == 3', event)).toBe(true);
    expect(w('length(process.name) == "3"', event)).toBe(false);
    expect(w('length(process.name) != "3"', event)).toBe(false);
    expect(w('length(process.name) > "10"', event)).toBe(false); // as text, "3" > "10"
    expect(w('string(process.pid) == 42', event)).toBe(false);
    expect(w('string(process.pid) == "42"', event)).toBe(true);
    expect(w('startsWith(process.name, "a") == "true"', event)).toBe(false);
    expect(w('"3" == 3', event)).toBe(false); // folded the same way
  });

  it('an in list that mixes numbers with strings, or does not fit a function result, is refused (In.resolveType)', () => {
    expect(() => compileQuery('process where length(process.name) in ("3")')).toThrow(/^1:40: `in` compares like with like .*a string here, against the number it tests/);
    expect(() => compileQuery('process where process.name in ("a", 1)')).toThrow(/^1:37: `in` compares like with like .*a number here, against the string before it/);
    expect(() => compileQuery('process where process.name in ("a", null, "b")')).not.toThrow();
    expect(() => compileQuery('process where process.pid in (1, 2.5)')).not.toThrow();
  });

  it('doubles order as Double.compare (-0.0 below 0.0, NaN above all), strings by UTF-16 unit', () => {
    expect(w('process.pid * -1.0 == 0', { process: { pid: 0 } })).toBe(false);
    expect(w('process.pid * -1.0 < 0', { process: { pid: 0 } })).toBe(true);
    expect(w('process.pid * -1 == 0', { process: { pid: 0 } })).toBe(true); // longs have no -0
    expect(w('divide(process.pid, 0.0) > 5', { process: { pid: 0 } })).toBe(true);
    expect(w('divide(process.pid, 0.0) == divide(0.0, 0.0)', { process: { pid: 0 } })).toBe(true);
    // U+1F600 is the surrogate pair D83D DE00, below U+E000 by UTF-16 unit (above it by code point).
    expect(w('concat(process.name, "\u{1F600}") > "abc\u{E000}"', { process: { name: 'abc' } })).toBe(false);
    expect(w('concat(process.name, "\u{1F600}") < "abc\u{E000}"', { process: { name: 'abc' } })).toBe(true);
  });

  it('a greedy between whose last right comes before the left ends is null (Java\'s substring throws)', () => {
    expect(w('between(s, "c", "-", true) == ""', { s: 'a-b-c' })).toBe(false);
    expect(w('between(s, "c", "-", true) != ""', { s: 'a-b-c' })).toBe(false);
    expect(w('between(s, "a", "-", true) == "-b"', { s: 'a-b-c' })).toBe(true);
    expect(w('between(s, "x", "-", true) == ""', { s: 'a-b-c' })).toBe(true); // no left: empty
  });
});

describe('category', () => {
  it('tests event.category by default, any value, case-sensitive', () => {
    expect(m('process where true', { event: { category: 'process' } })).toBe(true);
    expect(m('process where true', { event: { category: ['network', 'process'] } })).toBe(true);
    expect(m('process where true', { event: { category: 'Process' } })).toBe(false);
    expect(m('process where true', {})).toBe(false);
    expect(m('any where true', {})).toBe(true);
  });
  it('tests a configurable field', () => {
    expect(m('process where true', { event_type: 'process' }, { categoryField: 'event_type' })).toBe(true);
    expect(m('process where true', { event: { category: 'process' } }, { categoryField: 'event_type' })).toBe(false);
  });
});

describe('linear-time matching on attacker-controlled values', () => {
  const big = 'a'.repeat(1024 * 1024);
  it('wildcards do not backtrack on a 1 MB value', () => {
    expect(w('p : "*a*a*a*a*a*a*a*a*b"', { p: big })).toBe(false);
    expect(w('p like "*a?a*a?a*a*b"', { p: big })).toBe(false);
    expect(w('p : "*a*a*a*a*a*a*a*a*"', { p: big })).toBe(true);
  }, 10_000);
  it('regexes do not backtrack on a 1 MB value', () => {
    expect(w('p regex "(a|aa)*b"', { p: big })).toBe(false);
    expect(w('p regex "(a*)*b"', { p: big })).toBe(false);
    expect(w('p regex "(.*a){12}"', { p: big })).toBe(true);
    expect(w('p regex~ "(A+)+B"', { p: big })).toBe(false);
  }, 10_000);
  it('compiles a rule once and reuses it', () => {
    const q = compileQuery('any where p : "*x*"');
    expect([q.matches({ p: 'axb' }), q.matches({ p: 'ab' })]).toEqual([true, false]);
  });
});
