/**
 * Wildcard patterns, matched against the whole value. Two dialects:
 *
 * - EQL (`:`, `like`, `like~`): `*` matches any run of characters, `?` exactly one
 *   character (code point), everything else is literal, backslashes included; there
 *   is no escape (Elasticsearch escapes everything else before calling Lucene).
 * - Lucene (`endsWith`/`stringContains` on a field, which Elasticsearch sends to Lucene
 *   unescaped): the same, but `\x` stands for a literal x.
 *
 * Patterns made only of literals and `*` run as indexOf over segments (greedy
 * leftmost matching is exact for them and linear in the value); patterns with `?`
 * compile to a DFA. Neither backtracks.
 */
import { automatonMatcher, MAX_CODE_POINT, Nfa, type Fragment } from './automaton.js';
import { asciiLower } from './text.js';

export type StringMatcher = (value: string) => boolean;

/** A parsed pattern: literal text, `*` (any run) or `?` (one character). */
export type GlobToken = string | { wildcard: '*' | '?' };

export const STAR: GlobToken = { wildcard: '*' };
const ONE: GlobToken = { wildcard: '?' };
const isStar = (t: GlobToken): boolean => typeof t !== 'string' && t.wildcard === '*';
const isOne = (t: GlobToken): boolean => typeof t !== 'string' && t.wildcard === '?';

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

export function parseEqlWildcard(pattern: string): GlobToken[] {
  return tokenize(pattern, false);
}

export function parseLuceneWildcard(pattern: string): GlobToken[] {
  return tokenize(pattern, true);
}

function tokenize(pattern: string, backslashEscapes: boolean): GlobToken[] {
  const out: GlobToken[] = [];
  let literal = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*' || ch === '?') {
      if (literal) out.push(literal);
      literal = '';
      out.push(ch === '*' ? STAR : ONE);
    } else if (ch === '\\' && backslashEscapes && i + 1 < pattern.length) {
      literal += pattern[++i];
    } else {
      literal += ch;
    }
  }
  if (literal) out.push(literal);
  return out;
}

/** The literal runs: every one of them occurs in a matching value. */
export function literalRuns(tokens: GlobToken[]): string[] {
  return tokens.filter((t): t is string => typeof t === 'string');
}

export function compileWildcard(pattern: string, caseInsensitive: boolean): StringMatcher {
  return compileGlob(parseEqlWildcard(pattern), caseInsensitive);
}

export function compileGlob(tokens: GlobToken[], caseInsensitive: boolean): StringMatcher {
  const fold = caseInsensitive ? asciiLower : (s: string): string => s;
  const parts = tokens.map((t) => (typeof t === 'string' ? fold(t) : t));
  if (parts.every((t) => typeof t === 'string')) {
    const exact = parts.join('');
    return (v) => fold(v) === exact;
  }
  if (parts.some(isOne)) return dfaGlob(parts, caseInsensitive);

  // Only literals and stars: first segment anchors the start, last anchors the end.
  const segments: string[] = [''];
  for (const t of parts) {
    if (typeof t === 'string') segments[segments.length - 1] += t;
    else segments.push('');
  }
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  const middle = segments.slice(1, -1).filter((s) => s.length > 0);
  const minLength = first.length + last.length + middle.reduce((n, m) => n + m.length, 0);
  if (middle.length === 0) {
    if (first === '' && last === '') return () => true;
    if (last === '') return (v) => fold(v).startsWith(first);
    if (first === '') return (v) => fold(v).endsWith(last);
  }
  return (v) => {
    const s = fold(v);
    if (s.length < minLength || !s.startsWith(first) || !s.endsWith(last)) return false;
    let pos = first.length;
    const limit = s.length - last.length;
    for (const m of middle) {
      const at = s.indexOf(m, pos);
      if (at < 0 || at + m.length > limit) return false;
      pos = at + m.length;
    }
    return true;
  };
}

function dfaGlob(tokens: GlobToken[], caseInsensitive: boolean): StringMatcher {
  return automatonMatcher(() => {
    const nfa = new Nfa();
    let frag: Fragment = nfa.empty();
    for (const t of tokens) {
      let next: Fragment;
      if (isStar(t)) next = nfa.star(nfa.range(0, MAX_CODE_POINT));
      else if (isOne(t)) next = nfa.range(0, MAX_CODE_POINT);
      else next = nfa.literal(t as string, caseInsensitive);
      frag = nfa.concat(frag, next);
    }
    return { nfa, frag };
  });
}
