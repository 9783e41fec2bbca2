import { readFileSync } from 'node:fs';
/**
 * Rule loading: the shipped rules, defaults, MITRE threat parsing, and every kind of
 * error positioned as `path:line:col` in the rule file.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRuleFile, loadRules, parseRule } from '../../lambda/rules/load.js';
import { RuleError } from '../../lambda/rules/model.js';
import { OPENSSL_RULE_FILE, OPENSSL_RULE_ID, RULES_DIR, SSH_RULE_FILE, SSH_RULE_ID } from './helpers.js';

const tempRoot = mkdtempSync(join(tmpdir(), 'eqlambda-load-test-'));
afterAll(() => rmSync(tempRoot, { recursive: true, force: true }));

/** A fresh empty folder for one test. */
function tempDir(): string {
  return mkdtempSync(join(tempRoot, 'case-'));
}

/** Writes `lines` (joined with \n) to dir/name and returns the path. */
function writeRule(dir: string, name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** The single error of loading one file; fails the test when it loads. */
function loadError(path: string): RuleError {
  const result = loadRules([path]);
  expect(result.rules).toEqual([]);
  expect(result.errors).toHaveLength(1);
  const err = result.errors[0]!;
  expect(err).toBeInstanceOf(RuleError);
  return err;
}

/** The lines of a minimal valid EQL rule (line numbers in comments); `query` is its last line. */
function ruleLines(ruleId: string, query = 'query = "process where true"'): string[] {
  return [
    '[metadata]', //                                   1
    'creation_date = "2024/07/30"', //                 2
    'maturity = "production"', //                      3
    '', //                                             4
    '[rule]', //                                       5
    'author = ["Test"]', //                            6
    'description = "A rule for tests."', //            7
    'name = "Test rule"', //                           8
    'risk_score = 21', //                              9
    `rule_id = "${ruleId}"`, //                        10
    'severity = "low"', //                             11
    'type = "eql"', //                                 12
    query, //                                          13...
  ];
}

describe('loading the shipped rules', () => {
  it('loads both files from rules/ in sorted order, without errors', () => {
    const result = loadRules([RULES_DIR]);
    expect(result.errors.map((e) => e.message)).toEqual([]);
    expect(result.files).toEqual([SSH_RULE_FILE, OPENSSL_RULE_FILE]);
    expect(result.rules.map((r) => r.id)).toEqual([SSH_RULE_ID, OPENSSL_RULE_ID]);
    expect(result.rules.map((r) => r.path)).toEqual([SSH_RULE_FILE, OPENSSL_RULE_FILE]);
  });

  it('reads the rule fields of the openssl rule', () => {
    const rule = loadRuleFile(OPENSSL_RULE_FILE);
    expect(rule).toMatchObject({
      id: OPENSSL_RULE_ID,
      name: 'Openssl Client or Server Activity',
      version: 2,
      severity: 'low',
      risk_score: 21,
      max_signals: 100, // not in the file: the default
      index: ['logs-endpoint.events.*', 'endgame-*'],
      references: ['https://gtfobins.github.io/gtfobins/openssl/'],
    });
    expect(rule.tags).toContain('Tactic: Execution');
    expect(rule.description).toMatch(/^This rule identifies when the openssl client or server is used/);
    expect(rule.query.trim()).toMatch(/^process where host\.os\.type == "linux" and event\.type == "start"/);
    expect(rule.event_category_override).toBeUndefined();
  });

  it('parses the MITRE ATT&CK mapping of the openssl rule, subtechnique included', () => {
    const rule = loadRuleFile(OPENSSL_RULE_FILE);
    expect(rule.threat).toEqual([
      {
        framework: 'MITRE ATT&CK',
        tactic: { id: 'TA0002', name: 'Execution', reference: 'https://attack.mitre.org/tactics/TA0002/' },
        technique: [
          {
            id: 'T1059',
            name: 'Command and Scripting Interpreter',
            reference: 'https://attack.mitre.org/techniques/T1059/',
            subtechnique: [{ id: 'T1059.004', name: 'Unix Shell', reference: 'https://attack.mitre.org/techniques/T1059/004/' }],
          },
        ],
      },
      {
        framework: 'MITRE ATT&CK',
        tactic: { id: 'TA0011', name: 'Command and Control', reference: 'https://attack.mitre.org/tactics/TA0011/' },
        technique: [{ id: 'T1071', name: 'Application Layer Protocol', reference: 'https://attack.mitre.org/techniques/T1071/' }],
      },
    ]);
    expect(rule.threat[1]!.technique![0]!.subtechnique).toBeUndefined();
  });

  it('parses the MITRE ATT&CK mapping of the ssh backdoor rule', () => {
    const rule = loadRuleFile(SSH_RULE_FILE);
    expect(rule.version).toBe(211);
    const summary = rule.threat.map((t) => ({
      framework: t.framework,
      tactic: t.tactic.id,
      techniques: (t.technique ?? []).map((tech) => [tech.id, tech.name, (tech.subtechnique ?? []).map((s) => s.id)]),
    }));
    expect(summary).toEqual([
      { framework: 'MITRE ATT&CK', tactic: 'TA0006', techniques: [['T1556', 'Modify Authentication Process', []]] },
      { framework: 'MITRE ATT&CK', tactic: 'TA0003', techniques: [['T1554', 'Compromise Host Software Binary', []]] },
    ]);
    expect(rule.threat.map((t) => t.tactic.name)).toEqual(['Credential Access', 'Persistence']);
  });
});

describe('defaults', () => {
  it('a rule without version, max_signals, tags, references, index or threat gets the defaults', () => {
    const dir = tempDir();
    const lines = ruleLines('0a1b2c3d-0000-4000-8000-000000000001').filter((l) => !l.startsWith('description'));
    const rule = loadRuleFile(writeRule(dir, 'minimal.toml', lines));
    expect(rule.version).toBe(1);
    expect(rule.max_signals).toBe(100);
    expect(rule.tags).toEqual([]);
    expect(rule.references).toEqual([]);
    expect(rule.threat).toEqual([]);
    expect(rule.index).toBeNull();
    expect(rule.description).toBe('');
    expect(rule.compiled.categoryField).toBe('event.category');
  });

  it('explicit version and max_signals are kept', () => {
    const dir = tempDir();
    const lines = [...ruleLines('0a1b2c3d-0000-4000-8000-000000000002'), 'version = 7', 'max_signals = 5'];
    const rule = loadRuleFile(writeRule(dir, 'explicit.toml', lines));
    expect(rule.version).toBe(7);
    expect(rule.max_signals).toBe(5);
  });

  it('event_category_override is the field `<category> where` tests; loadRules option categoryField is the fallback', () => {
    const dir = tempDir();
    const overridden = writeRule(dir, 'override.toml', [
      ...ruleLines('0a1b2c3d-0000-4000-8000-000000000003'),
      'event_category_override = "event.type"',
    ]);
    const plain = writeRule(dir, 'plain.toml', ruleLines('0a1b2c3d-0000-4000-8000-000000000004'));
    const result = loadRules([overridden, plain], { categoryField: 'endgame.event_type_full' });
    expect(result.errors).toEqual([]);
    const [withOverride, withOption] = result.rules;
    expect(withOverride!.event_category_override).toBe('event.type');
    expect(withOverride!.compiled.categoryField).toBe('event.type');
    expect(withOverride!.compiled.matches({ event: { type: ['process'] } })).toBe(true);
    expect(withOverride!.compiled.matches({ event: { category: ['process'] } })).toBe(false);
    expect(withOption!.compiled.categoryField).toBe('endgame.event_type_full');
    expect(withOption!.compiled.matches({ endgame: { event_type_full: 'process' } })).toBe(true);
  });
});

describe('overlapping paths', () => {
  it('read a file named twice once (a folder, and a file in it)', () => {
    const dir = tempDir();
    const file = writeRule(dir, 'one.toml', ruleLines('0a1b2c3d-0000-4000-8000-000000000051'));
    const result = loadRules([dir, file]);
    expect(result.errors).toEqual([]);
    expect(result.rules).toHaveLength(1);
    expect(result.skipped).toEqual([`${file} (a file already read)`]);
  });
});

describe('deprecated rules', () => {
  it('are skipped, and named among the skipped entries, as Kibana does not install them; development rules load', () => {
    const dir = tempDir();
    const deprecated = writeRule(dir, 'old.toml', ruleLines('0a1b2c3d-0000-4000-8000-000000000041').map((l) => (l === 'maturity = "production"' ? 'maturity = "deprecated"' : l)));
    const development = writeRule(dir, 'new.toml', ruleLines('0a1b2c3d-0000-4000-8000-000000000042').map((l) => (l === 'maturity = "production"' ? 'maturity = "development"' : l)));
    const result = loadRules([deprecated, development]);
    expect(result.errors).toEqual([]);
    expect(result.rules.map((r) => r.id)).toEqual(['0a1b2c3d-0000-4000-8000-000000000042']);
    expect(result.skipped).toEqual([`${deprecated} (deprecated: Elastic no longer ships it)`]);
  });
});

describe('errors: event_category_override', () => {
  it('must name a field, of at most 64 dotted parts', () => {
    const dir = tempDir();
    const empty = writeRule(dir, 'empty.toml', [...ruleLines('0a1b2c3d-0000-4000-8000-000000000031'), 'event_category_override = ""']);
    const deep = writeRule(dir, 'deep.toml', [...ruleLines('0a1b2c3d-0000-4000-8000-000000000032'), `event_category_override = "${'a.'.repeat(64)}a"`]);
    const gap = writeRule(dir, 'gap.toml', [...ruleLines('0a1b2c3d-0000-4000-8000-000000000033'), 'event_category_override = "event..category"']);
    const result = loadRules([empty, deep, gap]);
    expect(result.rules).toEqual([]);
    expect(result.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/empty\.toml:\d+:\d+: rule\.event_category_override must name a field$/),
      expect.stringMatching(/deep\.toml:\d+:\d+: rule\.event_category_override: field name `a\.a\.a.*` has more than 64 dotted parts$/),
      expect.stringMatching(/gap\.toml:\d+:\d+: rule\.event_category_override: invalid field name `event\.\.category`: a dotted part is empty$/),
    ]);
  });
});

describe('errors: TOML and rule fields', () => {
  it('invalid TOML is reported at the TOML parser position', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'bad-value.toml', [
      '[rule]', //                1
      'name = "Broken"', //       2
      'severity = low', //        3: bare word, col 12
    ]);
    const err = loadError(path);
    expect([err.path, err.line, err.col]).toEqual([path, 3, 12]);
    expect(err.reason).toBe('invalid TOML: invalid value');
    expect(err.message).toBe(`${path}:3:12: invalid TOML: invalid value`);
  });

  it('an unterminated multi-line query is reported where the string opens', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'unterminated.toml', [
      '[rule]', //                                     1
      'name = "Broken"', //                            2
      "query = '''", //                                3: opening quotes at col 9
      'process where process.name == "openssl"', //  4
    ]);
    const err = loadError(path);
    expect(err.message).toBe(`${path}:3:9: invalid TOML: unfinished string`);
  });

  it('a key defined twice is reported on the second definition', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'twice.toml', ['[rule]', 'name = "a"', 'rule_id = "x"', 'name = "b"']);
    const err = loadError(path);
    expect([err.line, err.col]).toEqual([4, 1]);
    expect(err.reason).toMatch(/^invalid TOML: /);
  });

  it('a missing rule_id is reported', () => {
    const dir = tempDir();
    const lines = ruleLines('unused').filter((l) => !l.startsWith('rule_id'));
    const path = writeRule(dir, 'no-id.toml', lines);
    const err = loadError(path);
    expect(err.reason).toBe('missing required key rule.rule_id');
    expect(err.message).toBe(`${path}:1:1: missing required key rule.rule_id`);
  });

  it('a file that is not valid UTF-8 is rejected at the bad byte, not read with U+FFFD in its literals', () => {
    const dir = tempDir();
    const path = join(dir, 'latin1.toml');
    const text = ruleLines('0a1b2c3d-0000-4000-8000-0000000000f1', 'query = "process where process.name == \\"opensslX\\""').join('\n') + '\n';
    const bytes = Buffer.from(text);
    bytes[bytes.indexOf('X')] = 0xe9; // é in Latin-1
    writeFileSync(path, bytes);
    const err = loadError(path);
    expect(err.message).toBe(`${path}:13:49: invalid TOML: the file is not valid UTF-8`);
  });

  it('an empty rule_id or name is reported', () => {
    const dir = tempDir();
    const emptyId = writeRule(dir, 'empty-id.toml', ruleLines(''));
    expect(loadError(emptyId).message).toBe(`${emptyId}:10:1: rule.rule_id must not be empty`);
    const emptyName = writeRule(dir, 'empty-name.toml', ruleLines('0a1b2c3d-0000-4000-8000-0000000000f2').map((l) => (l.startsWith('name =') ? 'name = " "' : l)));
    expect(loadError(emptyName).reason).toBe('rule.name must not be empty');
  });

  it('a threat mapping without tactic ids, or with a technique table instead of a list, is reported', () => {
    const dir = tempDir();
    const cases: [string[], string][] = [
      [['threat = ["x"]'], 'rule.threat must be a list of [[rule.threat]] tables'],
      [['[[rule.threat]]', 'framework = "MITRE ATT&CK"'], 'rule.threat: each tactic needs a non-empty id and name'],
      [['[[rule.threat]]', '[rule.threat.tactic]', 'id = "TA0002"', 'name = "Execution"', '[rule.threat.technique]', 'id = "T1059"', 'name = "x"'], 'rule.threat: technique must be a list of tables ([[rule.threat.technique]])'],
      [['[[rule.threat]]', '[rule.threat.tactic]', 'id = "TA0002"', 'name = "Execution"', '[[rule.threat.technique]]', 'name = "x"'], 'rule.threat: each technique needs a non-empty id and name'],
    ];
    cases.forEach(([extra, reason], i) => {
      const lines = ruleLines(`0a1b2c3d-0000-4000-8000-0000000001${String(i).padStart(2, '0')}`);
      const path = writeRule(dir, `threat-${i}.toml`, extra[0]!.startsWith('[[') ? [...lines, ...extra] : [...lines.slice(0, 12), ...extra, lines[12]!]);
      expect(loadError(path).reason).toBe(reason);
    });
  });

  it('a missing query is reported', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'no-query.toml', ruleLines('0a1b2c3d-0000-4000-8000-000000000005', ''));
    expect(loadError(path).message).toBe(`${path}:1:1: missing required key rule.query`);
  });

  it('a non-EQL rule (type = "query") is rejected at its type line', () => {
    const dir = tempDir();
    const lines = ruleLines('0a1b2c3d-0000-4000-8000-000000000006', 'query = "process.name : openssl"').map((l) =>
      l === 'type = "eql"' ? 'type = "query"' : l,
    );
    lines.push('language = "kuery"');
    const path = writeRule(dir, 'kql.toml', lines);
    const err = loadError(path);
    expect([err.line, err.col]).toEqual([12, 1]);
    expect(err.reason).toBe('unsupported rule type "query": eqlambda runs EQL rules (type = "eql") only');
  });

  it('an EQL type with another language is rejected at its language line', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'lucene.toml', [...ruleLines('0a1b2c3d-0000-4000-8000-000000000007'), '  language = "lucene"']);
    const err = loadError(path);
    expect(err.message).toBe(`${path}:14:3: unsupported rule language "lucene": expected "eql"`);
  });

  it('an unknown severity and an out-of-range risk_score are reported at their lines', () => {
    const dir = tempDir();
    const severity = writeRule(dir, 'severity.toml', ruleLines('0a1b2c3d-0000-4000-8000-000000000008').map((l) => l.replace('"low"', '"urgent"')));
    expect(loadError(severity).message).toBe(`${severity}:11:1: rule.severity must be low, medium, high or critical, not "urgent"`);
    const risk = writeRule(dir, 'risk.toml', ruleLines('0a1b2c3d-0000-4000-8000-000000000009').map((l) => l.replace('= 21', '= 101')));
    expect(loadError(risk).message).toBe(`${risk}:9:1: rule.risk_score must be a whole number from 0 to 100`);
  });

  it('a document without a [rule] table is not a detection rule', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'pyproject.toml', ['[project]', 'name = "detection-rules"', 'version = "1.0.0"']);
    expect(loadError(path).message).toBe(`${path}:1:1: not a detection rule: no [rule] table`);
  });
});

describe('errors: the query, positioned in the file', () => {
  it('a syntax error on the 3rd line of a multi-line query is reported on the file line of that query line', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'query-syntax.toml', [
      ...ruleLines('0a1b2c3d-0000-4000-8000-000000000010', "query = '''"), // 13
      'process where host.os.type == "linux" and', //                      14: query line 1
      '  event.type == "start" and', //                                    15: query line 2
      '  process.name = "openssl"', //                                     16: query line 3, '=' at col 16
      "'''",
    ]);
    const err = loadError(path);
    expect([err.line, err.col]).toEqual([16, 16]);
    expect(err.message).toBe(`${path}:16:16: use == to compare values, not =`);
  });

  it('an error on the first line of a query that starts after the opening quotes is offset by them', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'same-line.toml', [
      ...ruleLines('0a1b2c3d-0000-4000-8000-000000000011', "query = '''process where process.name = \"openssl\"'''"),
    ]);
    // "query = '''" is 11 characters and the '=' is at col 28 of the query: col 11 + 28 = 39 of the line.
    expect(loadError(path).message).toBe(`${path}:13:39: use == to compare values, not =`);
  });

  it('a later line of a query that starts after the opening quotes keeps its own columns', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'same-line-multi.toml', [
      ...ruleLines('0a1b2c3d-0000-4000-8000-000000000012', "query = '''process where"), // 13
      '    process.name == "openssl" and', //                                         14
      '    process.args == ', //                                                      15: ends too early
      "'''",
    ]);
    expect(loadError(path).message).toBe(`${path}:16:1: unexpected end of query: the condition is incomplete`);
  });

  it('a single-line basic string query is offset by `query = "`', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'basic.toml', ruleLines('0a1b2c3d-0000-4000-8000-000000000013', 'query = "process where foo = 1"'));
    expect(loadError(path).message).toBe(`${path}:13:28: use == to compare values, not =`);
  });

  it('columns after \\U escapes of astral characters and TOML 1.1 \\x escapes count what they decode to', () => {
    const dir = tempDir();
    // Each \U0001F600 decodes to two UTF-16 units (the query's columns), each \x41 to one: `nope` is at col 69 and 53 of the line.
    const astral = writeRule(dir, 'astral.toml', ruleLines('id-u', 'query = "process where process.name == \\"\\U0001F600\\U0001F600\\" and nope(1)"'));
    expect(loadError(astral).message).toBe(`${astral}:13:69: unknown function \`nope\``);
    const hex = writeRule(dir, 'hex.toml', ruleLines('id-x', 'query = "process where process.name == \\"\\x41\\" and nope(1)"'));
    expect(loadError(hex).message).toBe(`${hex}:13:53: unknown function \`nope\``);
  });

  it('an unknown function is reported at its name', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'unknown-function.toml', [
      ...ruleLines('0a1b2c3d-0000-4000-8000-000000000014', "query = '''"), // 13
      'process where host.os.type == "linux" and', //                      14
      '  process.name == "openssl" and', //                                15
      '  wildcardMatch(process.command_line, "*s_client*")', //            16: name at col 3
      "'''",
    ]);
    expect(loadError(path).message).toBe(`${path}:16:3: unknown function \`wildcardMatch\``);
  });

  it('a function called with the wrong number of arguments is reported at its name', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'arity.toml', [
      ...ruleLines('0a1b2c3d-0000-4000-8000-000000000015', "query = '''"),
      'process where', //                                   14
      '  startsWith~(process.name)', //                     15
      "'''",
    ]);
    expect(loadError(path).message).toBe(`${path}:15:3: function \`startsWith\` takes 2 argument(s), got 1`);
  });

  it('a sequence query is reported at `sequence`', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'sequence.toml', [
      ...ruleLines('0a1b2c3d-0000-4000-8000-000000000016', "query = '''"),
      'sequence by host.id', //                                              14
      '  [process where process.name == "openssl"]', //                      15
      '  [network where destination.port == 443]', //                       16
      "'''",
    ]);
    const err = loadError(path);
    expect([err.line, err.col]).toEqual([14, 1]);
    expect(err.reason).toMatch(/^sequence queries are not supported/);
  });

  it('a sequence query with maxspan is still reported on its first line', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'sequence-maxspan.toml', [
      ...ruleLines('0a1b2c3d-0000-4000-8000-000000000022', "query = '''"),
      'sequence by host.id with maxspan=1m', //                              14
      '  [process where process.name == "openssl"]', //                      15
      "'''",
    ]);
    // Only the line is asserted: the lexer currently rejects `1m` before the parser sees `sequence`.
    expect(loadError(path).line).toBe(14);
  });

  it('a pipe is reported at `|`', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'pipe.toml', [
      ...ruleLines('0a1b2c3d-0000-4000-8000-000000000017', "query = '''"),
      'process where process.name == "openssl"', //   14
      '| head 5', //                                  15
      "'''",
    ]);
    const err = loadError(path);
    expect([err.line, err.col]).toEqual([15, 1]);
    expect(err.reason).toMatch(/^pipes .* are not supported/);
  });

  it('finds the query and the fields below a note whose markdown has [Heading] lines, as Elastic notes do', () => {
    const dir = tempDir();
    const lines = ruleLines('0a1b2c3d-0000-4000-8000-000000000019', 'query = "process where a ="');
    const note = ["note = '''## Triage", '[Possible investigation steps]', '- look at the parent', "'''"];
    // [rule] keys after the note: severity (line 15) and the query (line 16).
    const path = writeRule(dir, 'note.toml', [...lines.slice(0, 10), ...note, 'severity = "bogus"', 'type = "eql"', lines[12]!]);
    expect(loadError(path).message).toBe(`${path}:15:1: rule.severity must be low, medium, high or critical, not "bogus"`);
    const fixed = writeRule(dir, 'note2.toml', [...lines.slice(0, 10), ...note, 'severity = "low"', 'type = "eql"', lines[12]!]);
    expect(loadError(fixed).message).toBe(`${fixed}:17:26: use == to compare values, not =`);
  });

  it('parseRule positions errors with the path it is given', () => {
    const text = ruleLines('0a1b2c3d-0000-4000-8000-000000000018', 'query = "process where"').join('\n');
    expect(() => parseRule(text, 'inline.toml')).toThrow('inline.toml:13:23: unexpected end of query: the condition is incomplete');
  });
});

/** The 1-based line of `rule_id = ...` in a file: where a duplicate is reported. */
function ruleIdLine(path: string): number {
  return readFileSync(path, 'utf8').split('\n').findIndex((l) => l.startsWith('rule_id')) + 1;
}

describe('folders: what is read, skipped and refused', () => {
  it('walks a folder once, so a symlink loop ends, and says what it skipped', () => {
    const dir = tempDir();
    writeRule(dir, 'a.toml', ruleLines('id-a'));
    symlinkSync('.', join(dir, 'loop'));
    symlinkSync('.', join(dir, 'loop2'));
    writeRule(dir, 'B.TOML', ruleLines('id-b'));
    writeRule(dir, 'notes.md', ['# not a rule']);
    mkdirSync(join(dir, '.git'));
    writeRule(join(dir, '.git'), 'x.toml', ruleLines('id-hidden'));
    const result = loadRules([dir]);
    expect(result.errors.map((e) => e.message)).toEqual([]);
    expect(result.rules.map((r) => r.id).sort()).toEqual(['id-a', 'id-b']);
    expect(result.skipped).toEqual([
      `${join(dir, '.git')} (hidden)`,
      `${join(dir, 'loop')} (a folder already read, through a link)`,
      `${join(dir, 'loop2')} (a folder already read, through a link)`,
      `${join(dir, 'notes.md')} (not *.toml)`,
    ]);
  });

  it('never opens a FIFO (it would block): skipped in a folder, an error when named', () => {
    const dir = tempDir();
    writeRule(dir, 'a.toml', ruleLines('id-a'));
    const fifo = join(dir, 'b.toml');
    execFileSync('mkfifo', [fifo]);
    const result = loadRules([dir]);
    expect(result.rules.map((r) => r.id)).toEqual(['id-a']);
    expect(result.skipped).toEqual([`${fifo} (not a regular file)`]);
    expect(loadError(fifo).message).toBe(`${fifo}:1:1: not a regular file`);
  });

  it('a self-referencing link is an error, not a crash', () => {
    const dir = tempDir();
    symlinkSync('self.toml', join(dir, 'self.toml'));
    const result = loadRules([dir]);
    expect(result.errors.map((e) => e.message)).toEqual([`${join(dir, 'self.toml')}:1:1: symbolic link loop`]);
  });

  it('counts a broken link named *.toml as a rule file that failed; one that may have been a folder is an error; others are skipped', () => {
    const dir = tempDir();
    writeRule(dir, 'a.toml', ruleLines('id-a'));
    symlinkSync(join(dir, 'gone.toml'), join(dir, 'b.toml'));
    symlinkSync(join(dir, 'gone.md'), join(dir, 'c.md'));
    writeRule(dir, 'd.toml', ruleLines('id-d'));
    symlinkSync(join(dir, 'missing-folder'), join(dir, 'vendor')); // a folder of rules, gone
    symlinkSync(join(dir, 'missing-folder/'), join(dir, 'e.md')); // named like notes, pointing to a folder
    symlinkSync(join(dir, 'detection-rules-8.14'), join(dir, 'elastic-8.14')); // a versioned folder, gone
    symlinkSync(join(dir, 'gone.d'), join(dir, 'windows.d'));
    const result = loadRules([dir]);
    expect(result.rules.map((r) => r.id)).toEqual(['id-a', 'id-d']);
    expect(result.files).toEqual([join(dir, 'a.toml'), join(dir, 'b.toml'), join(dir, 'd.toml')]);
    expect(result.errors.map((e) => e.message)).toEqual([
      `${join(dir, 'e.md')}:1:1: no such file or folder`,
      `${join(dir, 'elastic-8.14')}:1:1: no such file or folder`,
      `${join(dir, 'vendor')}:1:1: no such file or folder`,
      `${join(dir, 'windows.d')}:1:1: no such file or folder`,
      `${join(dir, 'b.toml')}:1:1: no such file or folder`,
    ]);
    expect(result.skipped).toEqual([`${join(dir, 'c.md')} (no such file or folder)`]);
  });

  it('refuses a rule file over 4 MiB before reading it', () => {
    const dir = tempDir();
    const path = join(dir, 'huge.toml');
    writeFileSync(path, '');
    truncateSync(path, 600 * 1024 * 1024); // sparse: no disk used
    expect(loadError(path).message).toBe(`${path}:1:1: rule file too large: ${600 * 1024 * 1024} bytes (the limit is 4194304)`);
  });

  it('reads at most one byte past the limit of a file that reports no size (/proc), never the whole of it', () => {
    // /proc/self/pagemap says 0 bytes and holds gigabytes: reading it whole ran out of memory.
    const dir = tempDir();
    const path = join(dir, 'pagemap.toml');
    symlinkSync('/proc/self/pagemap', path);
    expect(statSync(path).size).toBe(0);
    const before = process.memoryUsage().rss;
    expect(loadError(path).message).toBe(`${path}:1:1: rule file too large: over 4194304 bytes`);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('an unreadable folder is an error at that folder, and the rest still loads', () => {
    const dir = tempDir();
    const locked = join(dir, 'locked');
    mkdirSync(locked);
    writeRule(dir, 'a.toml', ruleLines('id-a'));
    chmodSync(locked, 0);
    chmodSync(dir, 0o755);
    chmodSync(tempRoot, 0o755);
    // As an unprivileged user: root reads any folder.
    const script = `import { loadRules } from ${JSON.stringify(join(process.cwd(), 'lambda/rules/load.ts'))};
      const r = loadRules([${JSON.stringify(dir)}]);
      console.log(JSON.stringify({ ids: r.rules.map((x) => x.id), errors: r.errors.map((e) => e.message) }));`;
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', ...asNobody });
    chmodSync(locked, 0o755);
    const { ids, errors } = JSON.parse(out) as { ids: string[]; errors: string[] };
    expect(ids).toEqual(['id-a']);
    expect(errors).toEqual([expect.stringMatching(new RegExp(`^${locked}:1:1: cannot read folder: EACCES`))]);
  });
});

describe('errors: what Elastic applies that eqlambda cannot', () => {
  it('rule.filters and a non-empty rule.exceptions_list are errors at their key; empty lists are fine', () => {
    const dir = tempDir();
    const filters = writeRule(dir, 'filters.toml', [
      ...ruleLines('id-f'),
      '',
      '[[rule.filters]]', // 15
      '[rule.filters.meta]',
      'negate = true',
      '[rule.filters.query.match_phrase]',
      '"host.name" = "web-01"',
    ]);
    expect(loadError(filters).message).toMatch(new RegExp(`^${filters}:15:1: rule.filters is not supported`));
    const exceptions = writeRule(dir, 'exceptions.toml', [
      ...ruleLines('id-e'),
      '',
      '[[rule.exceptions_list]]', // 15
      'id = "endpoint_list"',
      'list_id = "endpoint_list"',
      'namespace_type = "agnostic"',
      'type = "endpoint"',
    ]);
    expect(loadError(exceptions).message).toMatch(new RegExp(`^${exceptions}:15:1: rule.exceptions_list is not supported: its exceptions live in Kibana`));
    const empty = writeRule(dir, 'empty.toml', [...ruleLines('id-x').slice(0, 12), 'exceptions_list = []', 'filters = []', ruleLines('id-x')[12]!]);
    expect(loadRules([empty]).errors).toEqual([]);
  });

  it('rule.data_view_id and rule.alert_suppression are errors at their key', () => {
    const dir = tempDir();
    const dataView = writeRule(dir, 'data-view.toml', [...ruleLines('id-dv').slice(0, 12), 'data_view_id = "security-solution-default"', ruleLines('id-dv')[12]!]);
    expect(loadError(dataView).message).toMatch(new RegExp(`^${dataView}:13:1: rule.data_view_id is not supported: Kibana searches the data view's index patterns`));
    const suppression = writeRule(dir, 'suppression.toml', [...ruleLines('id-as'), '', '[rule.alert_suppression]', 'group_by = ["host.name"]', 'missing_fields_strategy = "suppress"']);
    expect(loadError(suppression).message).toMatch(new RegExp(`^${suppression}:15:1: rule.alert_suppression is not supported: Kibana turns repeated matches into one alert`));
  });

  it('a bad entry in a later [[rule.threat]] is reported at that table', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'second-threat.toml', [
      ...ruleLines('id-t2'),
      '[[rule.threat]]', //                 14
      'framework = "MITRE ATT&CK"',
      '[rule.threat.tactic]',
      'id = "TA0002"',
      'name = "Execution"',
      '[[rule.threat]]', //                 19
      'framework = "MITRE ATT&CK"',
      '[rule.threat.tactic]',
      'id = "TA0003"',
    ]);
    expect(loadError(path).message).toBe(`${path}:19:1: rule.threat: each tactic needs a non-empty id and name`);
    // A `[[rule.threat]]` line inside a multi-line string (a note) is text, not a table.
    const noted = writeRule(dir, 'noted-threat.toml', [
      ...ruleLines('id-t3').slice(0, 12),
      "note = '''", //                       13
      '[[rule.threat]]',
      "'''",
      ruleLines('id-t3')[12]!, //            16
      '[[rule.threat]]', //                  17
      'framework = "MITRE ATT&CK"',
    ]);
    expect(loadError(noted).message).toBe(`${noted}:17:1: rule.threat: each tactic needs a non-empty id and name`);
  });

  it('an index list that names no pattern is an error', () => {
    const dir = tempDir();
    const cases = [
      ['none.toml', '[]'],
      ['blank.toml', '[" ", "-"]'],
      ['cluster-only.toml', '[":", "remote:", "::", "remote:-"]'],
      ['exclusions-only.toml', '["-logs-*", "-logs-x*,-logs-y*", "-cluster_three:*"]'],
      ['failures-only.toml', '["logs-*::failures"]'],
    ] as const;
    for (const [name, index] of cases) {
      const path = writeRule(dir, name, [...ruleLines('id-i').slice(0, 12), `index = ${index}`, ruleLines('id-i')[12]!]);
      expect(loadError(path).message).toBe(`${path}:13:1: rule.index names no index pattern to search (only exclusions, or nothing)`);
    }
  });
});

describe('errors across files and folders', () => {
  it('a rule_id used by two files: the first loads, the second is reported', () => {
    const dir = tempDir();
    const first = writeRule(dir, 'a_first.toml', ruleLines('5f2bd0c4-0000-4000-8000-00000000d0d0'));
    const second = writeRule(dir, 'b_second.toml', ruleLines('5f2bd0c4-0000-4000-8000-00000000d0d0', 'query = "file where true"'));
    const result = loadRules([dir]);
    expect(result.files).toEqual([first, second]);
    expect(result.rules.map((r) => r.path)).toEqual([first]);
    expect(result.errors.map((e) => e.message)).toEqual([
      `${second}:${ruleIdLine(second)}:1: duplicate rule_id 5f2bd0c4-0000-4000-8000-00000000d0d0 (also in ${first})`,
    ]);
  });

  it('a rule_id of the shipped rules reused in another folder is a duplicate too', () => {
    const dir = tempDir();
    const copy = writeRule(dir, 'copy.toml', ruleLines(OPENSSL_RULE_ID));
    const result = loadRules([RULES_DIR, dir]);
    expect(result.rules.map((r) => r.id)).toEqual([SSH_RULE_ID, OPENSSL_RULE_ID]);
    expect(result.errors.map((e) => e.message)).toEqual([
      `${copy}:${ruleIdLine(copy)}:1: duplicate rule_id ${OPENSSL_RULE_ID} (also in ${OPENSSL_RULE_FILE})`,
    ]);
  });

  it('a folder: *.toml files load recursively, other and hidden files are skipped, a non-rule .toml is reported', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'README.md'), '# Rules\n\nquery = "not a rule"\n');
    writeFileSync(join(dir, 'notes.txt'), 'severity = low\n');
    writeRule(dir, '.hidden.toml', ['this is = not toml']);
    const good = writeRule(dir, 'good.toml', ruleLines('0a1b2c3d-0000-4000-8000-000000000019'));
    const config = writeRule(dir, 'settings.toml', ['[scan]', 'bucket = "logs"']);
    mkdirSync(join(dir, 'linux'));
    const nested = writeRule(join(dir, 'linux'), 'nested.toml', ruleLines('0a1b2c3d-0000-4000-8000-000000000020'));
    mkdirSync(join(dir, '.git'));
    writeRule(join(dir, '.git'), 'config.toml', ['[core]', 'bare = false']);

    const result = loadRules([dir]);
    expect(result.files).toEqual([good, nested, config]);
    expect(result.rules.map((r) => r.path)).toEqual([good, nested]);
    expect(result.errors.map((e) => e.message)).toEqual([`${config}:1:1: not a detection rule: no [rule] table`]);
  });

  it('a file named explicitly is read whatever its extension', () => {
    const dir = tempDir();
    const readme = join(dir, 'README.md');
    writeFileSync(readme, '# Rules\n');
    const result = loadRules([readme]);
    expect(result.files).toEqual([readme]);
    expect(result.errors.map((e) => e.message)).toEqual([`${readme}:1:1: not a detection rule: no [rule] table`]);
  });

  it('a missing path is reported and the other paths still load', () => {
    const missing = join(tempRoot, 'does-not-exist');
    const result = loadRules([missing, OPENSSL_RULE_FILE]);
    expect(result.rules.map((r) => r.id)).toEqual([OPENSSL_RULE_ID]);
    expect(result.errors.map((e) => e.message)).toEqual([`${missing}:1:1: no such file or folder`]);
  });

  it('errors carry path, line, col and reason, and the message is path:line:col: reason', () => {
    const dir = tempDir();
    const path = writeRule(dir, 'fields.toml', [...ruleLines('0a1b2c3d-0000-4000-8000-000000000021'), 'tags = [1, 2]']);
    const err = loadError(path);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('RuleError');
    expect({ path: err.path, line: err.line, col: err.col, reason: err.reason }).toEqual({
      path,
      line: 14,
      col: 1,
      reason: 'rule.tags must be a list of strings',
    });
    expect(err.message).toBe(`${err.path}:${err.line}:${err.col}: ${err.reason}`);
  });
});
