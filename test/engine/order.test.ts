/**
 * The order an `and` is evaluated in (results never depend on it: conditions have no side
 * effects): the category first, then cheap tests (field equality, sets), then costly ones
 * (wildcards, regexes, functions over long strings). Observed through accessor properties
 * that record which fields a rule reads.
 */
import { describe, expect, it } from 'vitest';
import { compileQuery } from '../../lambda/engine/index.js';

/** A Linux process event whose fields record their reads. */
function recordingEvent(reads: string[]): Record<string, unknown> {
  const field = (path: string, value: unknown) => ({
    enumerable: true,
    get: () => {
      reads.push(path);
      return value;
    },
  });
  const event = {};
  Object.defineProperty(event, 'event', field('event', Object.defineProperty({}, 'category', field('event.category', ['process']))));
  Object.defineProperty(event, 'host', field('host', Object.defineProperty({}, 'os', field('host.os', Object.defineProperty({}, 'type', field('host.os.type', 'linux'))))));
  Object.defineProperty(
    event,
    'process',
    field('process', Object.defineProperty({}, 'command_line', field('process.command_line', 'x'.repeat(10_000)))),
  );
  return event;
}

describe('evaluation order of `and`', () => {
  it('tests field equality before wildcards and functions, whatever the order written', () => {
    for (const where of [
      'process.command_line : "*Invoke-Mimikatz*" and host.os.type == "windows"',
      'stringContains(process.command_line, "mimikatz") and host.os.type == "windows"',
      'process.command_line regex~ ".*mimi.*" and host.os.type in ("windows", "macos")',
    ]) {
      const reads: string[] = [];
      expect(compileQuery(`process where ${where}`).matches(recordingEvent(reads))).toBe(false);
      expect(reads, where).toContain('host.os.type');
      expect(reads, where).not.toContain('process.command_line');
    }
  });

  it('among costly tests, runs a long pattern list after a short one', () => {
    // Elastic's rules often test process.args against 30 wildcard patterns: a pattern that fails
    // as often and costs one pass should go first, even when the list's literals are longer.
    const reads: string[] = [];
    const event = {};
    Object.defineProperty(event, 'event', { enumerable: true, value: { category: ['process'] } });
    Object.defineProperty(event, 'process', {
      enumerable: true,
      value: Object.defineProperties(
        {},
        {
          args: { enumerable: true, get: () => (reads.push('process.args'), ['kubectl', 'get', 'pods']) },
          name: { enumerable: true, get: () => (reads.push('process.name'), 'kubectl') },
        },
      ),
    });
    const patterns = Array.from({ length: 30 }, (_, i) => `"*describe-thing-${i}*"`).join(', ');
    expect(compileQuery(`process where process.args : (${patterns}) and process.name : "*zz*"`).matches(event)).toBe(false);
    expect(reads).toEqual(['process.name']);
  });

  it('tests the category before anything else', () => {
    const reads: string[] = [];
    expect(compileQuery('file where host.os.type == "linux" and process.command_line : "*x*"').matches(recordingEvent(reads))).toBe(false);
    expect(reads).toEqual(['event', 'event.category']);
  });

  it('still gives the same results in either order', () => {
    const a = compileQuery('process where process.command_line : "*xx*" and host.os.type == "linux"');
    const b = compileQuery('process where host.os.type == "linux" and process.command_line : "*xx*"');
    expect(a.matches(recordingEvent([]))).toBe(true);
    expect(b.matches(recordingEvent([]))).toBe(true);
  });
});
