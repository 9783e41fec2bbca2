/**
 * Rule dispatch may only leave out rules that cannot match: a property test over rules
 * using every kind of constraint (and kinds that must not constrain) and random events
 * with case variants, numbers spelt as strings, arrays, dotted keys, nulls and missing
 * fields. Every rule whose compiled test matches an event must be among the rules
 * dispatch keeps for it, in the same order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Rule } from '../../lambda/rules/model.js';
import { constraintsOf, RuleDispatch } from '../../lambda/rules/dispatch.js';
import { opensslRule, queryRule as rule, sshRule } from './helpers.js';


const RULES: Rule[] = [
  opensslRule(),
  sshRule(),
  rule('eq', 'process where os == "linux" and kind == "start"'),
  rule('eq-number', 'process where os == "linux" and code == 5'),
  rule('eq-number-text', 'any where code == "5"'),
  rule('in', 'file where os in ("linux", "macos") and kind in ("change", "start")'),
  rule('in-ci', 'process where name in~ ("Curl", "WGET")'),
  rule('in-null', 'process where name in ("curl", null)'),
  rule('colon', 'process where name : ("CURL", "wget") and os == "windows"'),
  rule('colon-wildcard', 'process where name : "cur*" and os == "linux"'),
  rule('like', 'process where name like "curl" and os == "linux"'),
  rule('like-ci', 'process where name like~ "CuRl"'),
  rule('regex', 'process where name regex "cu.l" and os == "linux"'),
  rule('or', 'process where os == "linux" or os == "windows"'),
  rule('not', 'process where not os == "linux"'),
  rule('boolean', 'process where flag == true and os == "linux"'),
  rule('two-on-one-field', 'process where os in ("linux", "windows") and os == "linux"'),
  // On a multi-valued field each constraint may be met by a different value: [linux, windows].
  rule('two-values-one-field', 'process where os == "linux" and os == "windows"'),
  rule('or-two-values', 'process where (name == "curl" and name : "WGET") or name == "x"'),
  rule('any', 'any where name == "curl"'),
  rule('override', 'process where os == "linux"', 'event_category_override = "kind"'),
  rule('dotted', 'process where host.os.type == "linux" and process.name == "curl"'),
  // Disjunctions: a field every branch constrains is constrained by the union of their keys.
  rule('or-mixed-case', 'process where (name == "curl" and os == "linux") or name : "WGET"'),
  rule('or-partial', 'process where os == "linux" or name == "curl"'),
  rule('or-nested', 'process where (os == "linux" or os == "macos") and (name in ("curl", "wget") or (name == "CURL" and kind == "start"))'),
  rule('or-wildcard', 'process where os == "linux" or name : "cu*"'),
  rule('or-not', 'process where os == "linux" or not os == "windows"'),
  rule('or-intersect', 'process where (os in ("linux", "windows") and os == "linux") or os == "macos"'),
  rule('or-folded-branches', 'process where name like~ "CURL" or (name in~ ("Wget", "curl") and name : "wget")'),
  // ECS ip fields compare addresses, spelled in any way: no text keys from them.
  rule('ip-eq', 'process where source.ip == "::1" and os == "linux"'),
  rule('ip-in', 'process where source.ip in ("10.0.0.0/8", "127.0.0.1")'),
  rule('ip-or', 'process where source.ip == "127.0.0.1" or source.ip == "::1"'),
];

/** A field's values: a few likely ones (so rules match often) and their near misses. */
const values = (...likely: unknown[]): fc.Arbitrary<unknown> => {
  const one = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...likely) }, { weight: 1, arbitrary: fc.constantFrom('5', 5, true, 'true', null, '') });
  return fc.oneof({ weight: 4, arbitrary: one }, { weight: 1, arbitrary: fc.array(one, { maxLength: 3 }) });
};

/** Events over the fields the rules use, nested or dotted, some missing. */
const event = fc
  .record(
    {
      category: values('process', 'file', 'Process'),
      os: values('linux', 'LINUX', 'windows', 'macos'),
      kind: values('start', 'change', 'process'),
      code: values(5, '5', 5.0, 6, '05'),
      name: values('curl', 'CURL', 'Curl', 'cuRl', 'wget', 'WGET', 'curly'),
      flag: values(true, false, 'true'),
      hostOs: values('linux', 'Linux'),
      processName: values('curl', 'CURL'),
      sourceIp: values('::1', '0:0:0:0:0:0:0:1', '127.0.0.1', '::ffff:127.0.0.1', '::ffff:7f00:1', '10.9.8.7', 'x'),
      dotted: fc.boolean(),
    },
    { requiredKeys: ['dotted'] },
  )
  .map((f) => {
    const e: Record<string, unknown> = {};
    if ('category' in f) {
      if (f.dotted) e['event.category'] = f.category;
      else e.event = { category: f.category };
    }
    for (const key of ['os', 'kind', 'code', 'name', 'flag'] as const) if (key in f) e[key] = f[key];
    if ('hostOs' in f) {
      if (f.dotted) e['host.os.type'] = f.hostOs;
      else e.host = { os: { type: f.hostOs } };
    }
    if ('processName' in f) e.process = { name: f.processName };
    if ('sourceIp' in f) e.source = { ip: f.sourceIp };
    return e;
  });

describe('rule dispatch', () => {
  const dispatch = new RuleDispatch(RULES);

  it('reads the fields that most rules constrain', () => {
    expect(dispatch.fields).toContain('=event.category');
    expect(dispatch.fields).toContain('=os');
  });

  it('takes no constraint from wildcards, regexes, not, booleans, or an in with null', () => {
    const fields = (id: string): string[] => constraintsOf(RULES.find((r) => r.id === id)!).map((c) => `${c.caseInsensitive ? '~' : '='}${c.field}`);
    expect(fields('colon-wildcard')).toEqual(['=event.category', '=os']);
    expect(fields('regex')).toEqual(['=event.category', '=os']);
    expect(fields('not')).toEqual(['=event.category']);
    expect(fields('boolean')).toEqual(['=event.category', '=os']);
    expect(fields('in-null')).toEqual(['=event.category']);
    expect(fields('colon')).toEqual(['=event.category', '~name', '=os']);
    expect(fields('override')).toEqual(['=kind', '=os']);
    expect(fields('ip-eq')).toEqual(['=event.category', '=os']);
    expect(fields('ip-in')).toEqual(['=event.category']);
    expect(fields('ip-or')).toEqual(['=event.category']);
  });

  it('takes from an `or` the fields every branch constrains, with the union of their keys', () => {
    const implied = (id: string): string[] =>
      constraintsOf(RULES.find((r) => r.id === id)!)
        .filter((c) => c.field !== 'event.category')
        .map((c) => `${c.caseInsensitive ? '~' : '='}${c.field} ${[...c.keys].sort().join(',')}`);
    expect(implied('or')).toEqual(['=os linux,windows']);
    expect(implied('or-mixed-case')).toEqual(['~name curl,wget']);
    expect(implied('or-partial')).toEqual([]);
    expect(implied('or-nested')).toEqual(['=os linux,macos', '=name CURL,curl,wget']);
    expect(implied('or-wildcard')).toEqual([]);
    expect(implied('or-not')).toEqual([]);
    expect(implied('or-intersect')).toEqual(['=os linux,macos']);
    expect(implied('or-folded-branches')).toEqual(['~name curl,wget']);
  });

  it('never leaves out a rule that matches, and keeps the rules in order (2,000 random events)', () => {
    let narrowed = 0;
    let matched = 0;
    fc.assert(
      fc.property(event, (e) => {
        const kept = dispatch.rulesFor(RULES, e);
        const keptSet = new Set(kept);
        for (const r of RULES) {
          if (r.compiled.matches(e)) {
            matched++;
            expect(keptSet.has(r), `${r.id} matches ${JSON.stringify(e)}`).toBe(true);
          }
        }
        expect(kept).toEqual(RULES.filter((r) => keptSet.has(r)));
        if (kept.length < RULES.length) narrowed++;
      }),
      { numRuns: 2000 },
    );
    // The events exercised both sides: many rules matched, and dispatch did narrow.
    expect(matched).toBeGreaterThan(300);
    expect(narrowed).toBeGreaterThan(1000);
  });

  it('compares numbers by their text, as the engine does', () => {
    const rules = [rule('n5', 'any where code == 5'), rule('s5', 'any where code == "5"'), rule('in', 'any where code in (5, 6.5)'), rule('ci', 'any where code : ("5", "X")')];
    const numeric = new RuleDispatch(rules, { minRules: 1 });
    expect(numeric.fields).toEqual(['=code', '~code']);
    for (const code of [5, '5', 5.0, '05', [6.5], '6.5', 'x', null, true]) {
      const e = { code };
      const kept = new Set(numeric.rulesFor(rules, e));
      const matching = rules.filter((r) => r.compiled.matches(e));
      expect(matching.every((r) => kept.has(r)), JSON.stringify(e)).toBe(true);
      if (code === 'x') expect(kept.size).toBe(1); // only `:` folds "x" to "x"
    }
  });

  it('keeps rules on ECS ip fields for an address however it is spelled', () => {
    const rules = [rule('loopback6', 'any where source.ip == "::1"'), rule('imds', 'any where source.ip in ("169.254.169.254", "10.0.0.0/8")'), rule('name', 'any where source.name == "a"')];
    const byIp = new RuleDispatch(rules, { minRules: 1 });
    for (const ip of ['::1', '0:0:0:0:0:0:0:1', '0::1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '10.1.1.1', '::ffff:a01:101', 'x', ['x', '::0:1']]) {
      const e = { source: { ip, name: 'b' } };
      const kept = new Set(byIp.rulesFor(rules, e));
      const matching = rules.filter((r) => r.compiled.matches(e));
      expect(matching.length, JSON.stringify(e)).toBe(ip === 'x' ? 0 : 1);
      expect(matching.every((r) => kept.has(r)), JSON.stringify(e)).toBe(true);
    }
  });

  it('tells apart values that would spell the same if joined', () => {
    const target = rule('two-names', 'process where name == "x" and name == "z"');
    const rules = [...Array.from({ length: 20 }, (_, i) => rule(`filler-${i}`, `process where name == "f${i}"`)), target];
    const dispatch = new RuleDispatch(rules);
    expect(dispatch.fields).toContain('=name');
    // Values holding joiner characters come first...
    expect(dispatch.rulesFor(rules, { event: { category: 'process' }, name: 'x\u0000z' })).not.toContain(target);
    expect(dispatch.rulesFor(rules, { event: { category: 'process' }, name: 'x\u0001z' })).not.toContain(target);
    // ...and must not answer for the two values they would spell if joined.
    const event = { event: { category: 'process' }, name: ['x', 'z'] };
    expect(target.compiled.matches(event)).toBe(true);
    expect(dispatch.rulesFor(rules, event)).toContain(target);
  });

  it('stays out of the way for a handful of rules', () => {
    const few = new RuleDispatch([opensslRule(), sshRule()]);
    expect(few.fields).toEqual([]);
    const routed = [opensslRule(), sshRule()];
    expect(few.rulesFor(routed, {})).toBe(routed);
  });

  it('gives the same answer for an event whatever came before, with no memory per distinct value', () => {
    const e = { event: { category: 'process' }, os: 'linux', kind: 'start' };
    const before = dispatch.rulesFor(RULES, e).map((r) => r.id);
    expect(before).toContain('eq');
    expect(before).not.toContain('in'); // a file rule
    // An object with thousands of distinct values (process names across a fleet, or an attacker's).
    for (let i = 0; i < 5000; i++) dispatch.rulesFor(RULES, { event: { category: `c${i}` }, os: `os${i}`, name: `n${i}` });
    expect(dispatch.rulesFor(RULES, { ...e }).map((r) => r.id)).toEqual(before);
  });

  it('keeps a routed list in its own order, and rules it was not built with', () => {
    const stranger = rule('stranger', 'process where os == "plan9"');
    const routed = [RULES[5]!, stranger, RULES[2]!];
    const kept = dispatch.rulesFor(routed, { event: { category: 'process' }, os: 'linux', kind: 'start' }).map((r) => r.id);
    expect(kept).toEqual(['stranger', 'eq']); // `in` wants a file event; the stranger has no bits, so it stays
  });
});
