/**
 * Text from outside (file names, S3 keys, messages quoting them) made safe to print on a
 * terminal line: control characters, line and paragraph separators and bidirectional
 * overrides become visible escapes, so a hostile name can neither forge a line of the
 * summary nor send escape sequences to the terminal.
 */
import { UNPRINTABLE } from '../publish/format.js';

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
