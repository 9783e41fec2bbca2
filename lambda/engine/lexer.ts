import { EqlError, SourceMap } from './errors.js';

export type TokenType =
  | 'ident' // field name, keyword or function name
  | 'quoted_ident' // `backtick quoted`
  | 'string'
  | 'number'
  | 'op' // == != < <= > >= : + - * / % ( ) , ? ~ |
  | 'eof';

export interface Token {
  type: TokenType;
  /** Identifier name, decoded string value, number text, or operator. */
  value: string;
  /** For numbers: whether the literal is written as a floating point number. */
  isFloat?: boolean;
  /** True when an identifier is immediately followed by `~` (e.g. `in~`, `startsWith~`). */
  tilde?: boolean;
  start: number;
  end: number;
}

const TWO_CHAR_OPS = new Set(['==', '!=', '<=', '>=']);
const ONE_CHAR_OPS = new Set(['<', '>', ':', '+', '-', '*', '/', '%', '(', ')', ',', '?', '~', '|', '[', ']', '=', '!']);

const isIdentStart = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 64; // a-z A-Z _ @
const isIdentPart = (c: number): boolean => isIdentStart(c) || (c >= 48 && c <= 57) || c === 46; // digits, '.'
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
/** Whether an exponent (`e5`, `E-3`) starts at `i`. */
const exponentAt = (text: string, i: number): boolean => {
  const e = text.charCodeAt(i);
  if (e !== 101 && e !== 69) return false;
  const sign = text.charCodeAt(i + 1);
  return isDigit(text.charCodeAt(sign === 43 || sign === 45 ? i + 2 : i + 1));
};
const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

/** Splits EQL text into tokens. Comments and whitespace are dropped. */
export function tokenize(text: string, map: SourceMap = new SourceMap(text)): Token[] {
  const tokens: Token[] = [];
  const fail = (reason: string, at: number): never => {
    throw new EqlError(reason, map.position(at));
  };
  let i = 0;
  const n = text.length;

  while (i < n) {
    const c = text.charCodeAt(i);
    // whitespace
    // (Elasticsearch's WS is these four: a form feed is no whitespace there.)
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      i++;
      continue;
    }
    // comments
    if (c === 47 && text.charCodeAt(i + 1) === 47) {
      while (i < n && text.charCodeAt(i) !== 10) i++;
      continue;
    }
    if (c === 47 && text.charCodeAt(i + 1) === 42) {
      // Block comments nest, as in Elasticsearch's grammar (BRACKETED_COMMENT).
      const open = i;
      let depth = 0;
      do {
        if (text.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (text.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else if (i >= n) {
          fail('unterminated /* comment', open);
        } else {
          i++;
        }
      } while (depth > 0);
      continue;
    }
    const start = i;
    if (isIdentStart(c)) {
      while (i < n && isIdentPart(text.charCodeAt(i))) i++;
      if (text.charCodeAt(i - 1) === 46 && text.charCodeAt(i) === 96) {
        // a.`b c`: a dotted name continued by a quoted part
        let name = text.slice(start, i);
        for (;;) {
          const part = readQuoted(text, i, fail);
          name += part.value;
          i = part.end;
          if (text.charCodeAt(i) !== 46) break;
          let j = i + 1;
          while (j < n && isIdentPart(text.charCodeAt(j)) && text.charCodeAt(j) !== 46) j++;
          name += text.slice(i, j);
          i = j;
          if (text.charCodeAt(i) === 46 && text.charCodeAt(i + 1) === 96) {
            name += '.';
            i++;
            continue;
          }
          if (text.charCodeAt(i) !== 96) break;
        }
        tokens.push({ type: 'quoted_ident', value: name, start, end: i });
        continue;
      }
      const token: Token = { type: 'ident', value: text.slice(start, i), start, end: i };
      if (text.charCodeAt(i) === 126) {
        // `~` glued to an identifier: in~, like~, regex~, startsWith~(...)
        token.tilde = true;
        i++;
        token.end = i;
      }
      tokens.push(token);
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(text.charCodeAt(i + 1)))) {
      let isFloat = false;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      if (text.charCodeAt(i) === 46 && isDigit(text.charCodeAt(i + 1))) {
        isFloat = true;
        i++;
        while (i < n && isDigit(text.charCodeAt(i))) i++;
      } else if (text.charCodeAt(i) === 46 && (!isIdentStart(text.charCodeAt(i + 1)) || exponentAt(text, i + 1))) {
        isFloat = true; // "1." is a float, and so is "1.e5"
        i++;
      }
      const e = text.charCodeAt(i);
      if (e === 101 || e === 69) {
        let j = i + 1;
        if (text.charCodeAt(j) === 43 || text.charCodeAt(j) === 45) j++;
        if (isDigit(text.charCodeAt(j))) {
          isFloat = true;
          i = j;
          while (i < n && isDigit(text.charCodeAt(i))) i++;
        }
      }
      if (i < n && isIdentStart(text.charCodeAt(i))) {
        fail(`invalid number '${text.slice(start, i + 1)}'`, start);
      }
      tokens.push({ type: 'number', value: text.slice(start, i), isFloat, start, end: i });
      continue;
    }
    if (c === 34) {
      if (text.startsWith('"""', i)) {
        const close = text.indexOf('"""', i + 3);
        if (close < 0) fail('unterminated """raw""" string', i);
        const newline = text.slice(i + 3, close).search(/[\r\n]/);
        if (newline >= 0) fail('line break inside a """raw""" string', i + 3 + newline);
        // A raw string may end with up to two extra quotes: """a"""" is the text a" (Elasticsearch's grammar: '"'? '"'?).
        let end = close;
        while (end < close + 2 && text.charCodeAt(end + 3) === 34) end++;
        tokens.push({ type: 'string', value: text.slice(i + 3, end), start, end: end + 3 });
        i = end + 3;
        continue;
      }
      const { value, end } = readString(text, i, fail);
      tokens.push({ type: 'string', value, start, end });
      i = end;
      continue;
    }
    if (c === 39) {
      fail(`single-quoted strings are not supported: use double quotes ["] to write a string, not single quotes [']`, i);
    }
    if (c === 96) {
      // `quoted identifier`, possibly one part of a dotted name: a.`b c`.d
      const { value, end } = readQuoted(text, i, fail);
      let name = value;
      i = end;
      while (text.charCodeAt(i) === 46) {
        const next = text.charCodeAt(i + 1);
        if (next === 96) {
          const part = readQuoted(text, i + 1, fail);
          name += `.${part.value}`;
          i = part.end;
        } else if (isIdentStart(next)) {
          let j = i + 1;
          while (j < n && isIdentPart(text.charCodeAt(j)) && !(text.charCodeAt(j) === 46 && text.charCodeAt(j + 1) === 96)) j++;
          name += text.slice(i, j);
          i = j;
        } else {
          break;
        }
      }
      tokens.push({ type: 'quoted_ident', value: name, start, end: i });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (TWO_CHAR_OPS.has(two)) {
      tokens.push({ type: 'op', value: two, start, end: i + 2 });
      i += 2;
      continue;
    }
    const one = text[i]!;
    if (ONE_CHAR_OPS.has(one)) {
      tokens.push({ type: 'op', value: one, start, end: i + 1 });
      i++;
      continue;
    }
    fail(`unexpected character '${one}'`, i);
  }
  tokens.push({ type: 'eof', value: '', start: n, end: n });
  return tokens;
}

/** Reads `...` starting at the opening backtick; a backtick inside is written twice. */
function readQuoted(text: string, start: number, fail: (reason: string, at: number) => never): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  for (;;) {
    if (i >= text.length) fail('unterminated `quoted` field name', start);
    if (text.charCodeAt(i) === 96) {
      if (text.charCodeAt(i + 1) === 96) {
        value += '`';
        i += 2;
        continue;
      }
      break;
    }
    value += text[i];
    i++;
  }
  if (value === '') fail('empty `quoted` field name', start);
  return { value, end: i + 1 };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  '"': '"',
  "'": "'",
  '\\': '\\',
};

function readString(
  text: string,
  start: number,
  fail: (reason: string, at: number) => never,
): { value: string; end: number } {
  let i = start + 1;
  let value = '';
  let chunkStart = i;
  for (;;) {
    if (i >= text.length) fail('unterminated string', start);
    const c = text.charCodeAt(i);
    if (c === 34) {
      value += text.slice(chunkStart, i);
      return { value, end: i + 1 };
    }
    if (c === 10 || c === 13) fail('unterminated string: a line break inside "..." (use """raw""" for multi-line text)', start);
    if (c !== 92) {
      i++;
      continue;
    }
    value += text.slice(chunkStart, i);
    const esc = text[i + 1];
    if (esc === undefined) fail('unterminated string', start);
    if (esc === 'u') {
      if (text[i + 2] !== '{') fail('invalid unicode escape: write \\u{XXXX}', i);
      let j = i + 3;
      while (j < text.length && isHex(text.charCodeAt(j))) j++;
      const hex = text.slice(i + 3, j);
      if (text[j] !== '}' || hex.length < 2 || hex.length > 8) fail('invalid unicode escape: write \\u{XXXX} with 2 to 8 hex digits', i);
      const code = parseInt(hex, 16);
      if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) fail(`invalid unicode code point \\u{${hex}}`, i);
      value += String.fromCodePoint(code);
      i = j + 1;
    } else if (esc in SIMPLE_ESCAPES) {
      value += SIMPLE_ESCAPES[esc];
      i += 2;
    } else {
      fail(`invalid escape sequence '\\${esc}' in string (write '\\\\' for a backslash)`, i);
    }
    chunkStart = i;
  }
}
