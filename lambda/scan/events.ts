/**
 * Turns lines into events. A line that is not a JSON object is skipped and counted by
 * reason, with the first few line numbers kept for the report. Invalid UTF-8 decodes
 * to U+FFFD rather than failing.
 */
import { scriptSearches, withFieldCache, type Event } from '../engine/index.js';

export const SKIP_REASONS = ['empty', 'invalid_json', 'not_object', 'too_long', 'too_deep', 'too_costly'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** How many line numbers per reason a report keeps. */
export const KEPT_LINE_NUMBERS = 5;

export class SkipCounter {
  readonly counts = Object.fromEntries(SKIP_REASONS.map((r): [SkipReason, number] => [r, 0])) as Record<SkipReason, number>;
  readonly firstLines = Object.fromEntries(SKIP_REASONS.map((r): [SkipReason, number[]] => [r, []])) as Record<SkipReason, number[]>;

  add(reason: SkipReason, line: number): void {
    this.counts[reason]++;
    const kept = this.firstLines[reason];
    if (kept.length < KEPT_LINE_NUMBERS) kept.push(line);
  }

  get total(): number {
    return SKIP_REASONS.reduce((n, r) => n + this.counts[r], 0);
  }

  /** e.g. "invalid_json 3 (lines 4, 9, 12), too_long 1 (line 7)" */
  describe(): string {
    return SKIP_REASONS.filter((r) => this.counts[r] > 0)
      .map((r) => {
        const lines = this.firstLines[r];
        const more = this.counts[r] > lines.length ? ', ...' : '';
        return `${r} ${this.counts[r]} (line${lines.length > 1 ? 's' : ''} ${lines.join(', ')}${more})`;
      })
      .join(', ');
  }
}

/** JSON's whitespace. */
export const isBlank = (c: number): boolean => c === 32 || c === 9 || c === 13 || c === 10;

/** Parses one line into an event, or returns the reason it is skipped. */
export function parseLine(buf: Buffer, start: number, end: number): Event | SkipReason {
  let s = start;
  while (s < end && isBlank(buf[s]!)) s++;
  if (s === end) return 'empty';
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8', s, end));
  } catch {
    return 'invalid_json';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not_object';
  return value as Event;
}

/**
 * Evaluates a parsed event as the scan and `query` both do, counting what cut it short on
 * `skipped`: an event nested past the stack (`too_deep`; undefined is returned), and one where
 * a function's search over many values stopped at its bound (`too_costly`; what was found
 * stands).
 */
export function evaluateCounted<T>(event: Event, line: number, skipped: SkipCounter, evaluate: () => T): T | undefined {
  const cutShort = scriptSearches.cutShort;
  let result: T | undefined;
  try {
    result = withFieldCache(event, evaluate);
  } catch (err) {
    // A pathological document (e.g. arrays nested past the stack) skips, never aborts the object.
    if (!(err instanceof RangeError)) throw err;
    skipped.add('too_deep', line);
  }
  // A rule's search over the combinations of many values stopped at its bound (scope.ts).
  if (scriptSearches.cutShort !== cutShort) skipped.add('too_costly', line);
  return result;
}
