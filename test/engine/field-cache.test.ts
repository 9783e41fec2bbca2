/**
 * The per-event field cache: inside withFieldCache(event, ...) every rule reading a
 * field shares one walk of the event; results are exactly those without it, and
 * nothing is remembered outside it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FieldPath } from '../../lambda/engine/fields.js';
import { compileQuery, withFieldCache, type Event } from '../../lambda/engine/index.js';

/** An event whose process.name records each read. */
function countingEvent(name: unknown, reads: { n: number }): Event {
  const process = {};
  Object.defineProperty(process, 'name', {
    enumerable: true,
    get: () => {
      reads.n++;
      return name;
    },
  });
  return { event: { category: 'process' }, process };
}

const QUERIES_ON_NAME = [
  'process where process.name == "sshd"',
  'process where process.name : ("SSHD", "bash")',
  'process where process.name in~ ("Sshd", "zsh")',
  'process where process.name like~ "ss?d"',
  'process where process.name : "*sh*"',
].map((q) => compileQuery(q));

describe('field cache', () => {
  it('walks a field once per event, however many rules read it', () => {
    const outside = { n: 0 };
    const event = countingEvent('sshd', outside);
    expect(QUERIES_ON_NAME.map((q) => q.matches(event))).toEqual([true, true, true, true, true]);
    expect(outside.n).toBeGreaterThanOrEqual(QUERIES_ON_NAME.length);

    const inside = { n: 0 };
    const cachedEvent = countingEvent('sshd', inside);
    const results = withFieldCache(cachedEvent, () => QUERIES_ON_NAME.map((q) => q.matches(cachedEvent)));
    expect(results).toEqual([true, true, true, true, true]);
    expect(inside.n).toBe(1);
  });

  it('never serves one event the values of another, nor stale values after it closes', () => {
    const q = compileQuery('process where process.name : "sshd"');
    const a: Event = { event: { category: 'process' }, process: { name: 'SSHD' } };
    const b: Event = { event: { category: 'process' }, process: { name: 'bash' } };
    expect(withFieldCache(a, () => q.matches(a))).toBe(true);
    expect(withFieldCache(b, () => q.matches(b))).toBe(false);
    // Another event looked up inside the cache of the first is walked afresh.
    expect(withFieldCache(a, () => q.matches(b))).toBe(false);
    // Outside the cache, a changed event is seen as it is now.
    (a.process as Record<string, unknown>).name = 'bash';
    expect(q.matches(a)).toBe(false);
    expect(withFieldCache(a, () => q.matches(a))).toBe(false);
  });

  it('restores the outer cache after a nested one', () => {
    const q = compileQuery('process where process.name == "sshd"');
    const outer: Event = { event: { category: 'process' }, process: { name: 'sshd' } };
    const inner: Event = { event: { category: 'process' }, process: { name: 'bash' } };
    const seen = withFieldCache(outer, () => [q.matches(outer), withFieldCache(inner, () => q.matches(inner)), q.matches(outer)]);
    expect(seen).toEqual([true, false, true]);
  });

  it('finds a value beside an array nested deeper than the call stack, cached or not', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const event: Event = { event: { category: 'process' }, process: { args: ['evil', deep, 'later'] } };
    const q = compileQuery('process where process.args == "evil"');
    const later = compileQuery('process where process.args : "LATER"');
    expect(q.matches(event)).toBe(true);
    expect(withFieldCache(event, () => [q.matches(event), later.matches(event)])).toEqual([true, true]);
    expect(FieldPath.of('process.args').values(event)).toEqual(['evil', 'x', 'later']);
  });

  it('lists values in the order of the recursive walk it replaced (property)', () => {
    // The walk before it was made iterative: arrays in order; of the keys present in
    // several spellings, the others before the first found.
    const reference = (path: string, event: unknown): unknown[] => {
      const segments = path.split('.');
      const out: unknown[] = [];
      const walk = (node: unknown, index: number): void => {
        if (Array.isArray(node)) {
          for (const item of node) walk(item, index);
          return;
        }
        if (index === segments.length) {
          if (['string', 'number', 'boolean'].includes(typeof node)) out.push(node);
          return;
        }
        if (node === null || typeof node !== 'object') return;
        const found: [unknown, number][] = [];
        for (let j = index; j < segments.length; j++) {
          const key = segments.slice(index, j + 1).join('.');
          if (Object.prototype.hasOwnProperty.call(node, key) && (node as Record<string, unknown>)[key] !== undefined) found.push([(node as Record<string, unknown>)[key], j + 1]);
        }
        for (const [value, next] of [...found.slice(1), ...found.slice(0, 1)]) walk(value, next);
      };
      walk(event, 0);
      return out;
    };
    const leaf = fc.oneof(fc.constantFrom('a', 'b', 1, true, null), fc.array(fc.constantFrom('c', 2), { maxLength: 2 }));
    const tree = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('object'), fc.array(tie('node'), { maxLength: 3 })),
      object: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'a.b', 'b.c', 'a.b.c'), tie('node'), { maxKeys: 4 }),
    }));
    fc.assert(
      fc.property(tree.object, (event) => {
        for (const path of ['a', 'a.b', 'a.b.c', 'b.c']) {
          expect(FieldPath.of(path).values(event)).toEqual(reference(path, event));
          expect(withFieldCache(event as Event, () => FieldPath.of(path).values(event))).toEqual(reference(path, event));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('shares one path object per field name', () => {
    expect(FieldPath.of('process.name')).toBe(FieldPath.of('process.name'));
    expect(FieldPath.of('process.name')).not.toBe(FieldPath.of('process.executable'));
  });

  it('gives the same results as evaluating without it (property)', () => {
    const queries = [
      'process where process.name == "sshd"',
      'process where process.name != "sshd"',
      'process where process.name : ("SSHD", "*ash")',
      'process where process.name in ("sshd", "bash", "1")',
      'process where process.name in~ ("SSHD", "Bash", null)',
      'process where process.name like~ "S?hd"',
      'process where process.name like "s*"',
      'process where process.name regex~ "ss.d"',
      'process where process.args : "-C*" and process.name : "*sh*"',
      'process where process.args == null or process.parent.name == "bash"',
      'process where length(process.name) == 4 and not process.args : "x"',
      'process where process.pid > 10 and process.pid < 1000',
      'process where startsWith(process.name, "SS") or endsWith~(process.parent.name, "SH")',
      'any where startsWith(process.name, process.parent.name)',
    ].map((q) => compileQuery(q));
    const text = fc.constantFrom('sshd', 'SSHD', 'bash', 'BaSh', 'zsh', '-c', '-C', 'x', '', 'sS?d');
    const scalar = fc.oneof(text, fc.integer({ min: -5, max: 2000 }), fc.boolean(), fc.constant(null));
    const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }));
    // Nested and dotted spellings, arrays of objects: the walk's own corner cases.
    const processField = fc.record(
      {
        name: value,
        args: value,
        pid: value,
        parent: fc.oneof(fc.record({ name: value }, { requiredKeys: [] }), fc.array(fc.record({ name: value }, { requiredKeys: [] }), { maxLength: 2 })),
        'parent.name': value,
      },
      { requiredKeys: [] },
    );
    const event = fc.record(
      {
        event: fc.constantFrom({ category: 'process' }, { category: ['process', 'file'] }, { category: 'file' }),
        process: fc.oneof(processField, fc.array(processField, { maxLength: 2 })),
        'process.name': value,
      },
      { requiredKeys: ['event'] },
    );
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 4 }), (events) => {
        for (const e of events) {
          const plain = queries.map((q) => q.matches(e));
          const cached = withFieldCache(e, () => queries.map((q) => q.matches(e)));
          expect(cached).toEqual(plain);
        }
      }),
      { numRuns: 400 },
    );
  });
});
