/**
 * Text from outside (file names, S3 keys, messages quoting them) made safe to print on a
 * terminal line: control characters, line and paragraph separators and bidirectional
 * overrides become visible escapes, so a hostile name can neither forge a line of the
 * summary nor send escape sequences to the terminal.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
