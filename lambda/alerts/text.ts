/**
 * Text taken from events and put into alerts and messages. Event strings may hold lone UTF-16
 * surrogates (JSON `"\ud800"`), and a cut can split a pair; the SDK's request encoding throws
 * on them before anything is sent, so such text is made well-formed (U+FFFD in place of a lone
 * half) and cut between pairs.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
export const wellFormed = (s: string): string => s.replace(LONE_SURROGATE, '\uFFFD');

/** `max`, or one less so as not to cut a surrogate pair in half (a lone half is escaped as 6 bytes, and is not text). */
export function cutPoint(value: string, max: number): number {
  const last = value.charCodeAt(max - 1);
  return max > 0 && last >= 0xd800 && last <= 0xdbff ? max - 1 : max;
}

/** `s` cut to at most `max` UTF-16 units (ending in `…` when cut), never half a surrogate pair, and well-formed. */
export const cut = (s: string, max: number): string => wellFormed(s.length > max ? `${s.slice(0, cutPoint(s, max - 1))}…` : s);
