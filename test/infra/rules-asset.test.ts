/** Rules are compiled at synth time: a broken rule fails the build with its path:line:col. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromRuleBundle } from '../../lambda/rules/bundle.js';
import { buildRuleBundle, RuleBuildError, shellQuote } from '../../infra/rules-asset.js';
import { PROJECT_ROOT } from '../../infra/stack.js';
import { build } from './helpers.js';

const rule = (id: string, fields: string) => `[rule]
rule_id = "${id}"
name = "Test rule ${id}"
type = "eql"
risk_score = 47
${fields}
`;

const dirs: string[] = [];
function rulesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'eqlambda-rules-test-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('buildRuleBundle', () => {
  it('bundles the repository rules with paths relative to the project', () => {
    const { path, ruleCount } = buildRuleBundle(join(PROJECT_ROOT, 'rules'), PROJECT_ROOT);
    const json = readFileSync(path, 'utf8');
    const bundle = JSON.parse(json) as { format: string; rules: { path: string; compiled?: unknown }[] };
    expect(bundle.format).toBe('eqlambda-rules/1');
    expect(bundle.rules).toHaveLength(ruleCount);
    expect(ruleCount).toBeGreaterThan(0);
    for (const r of bundle.rules) {
      expect(r.path).toMatch(/^rules\/[^/]+\.toml$/);
      expect(r.compiled).toBeUndefined();
    }
    expect(fromRuleBundle(json)).toHaveLength(ruleCount); // the handler can compile it again
  });

  it('lists every broken rule as path:line:col', () => {
    const dir = rulesDir({
      'good.toml': rule('good', `severity = "low"\nquery = 'process where process.name == "sshd"'`),
      'bad-query.toml': rule('bad-query', `severity = "high"\nquery = '''\nprocess where process.name ==\n'''`),
      'bad-severity.toml': rule('bad-severity', `severity = "severe"\nquery = 'process where true'`),
    });
    let error: unknown;
    try {
      buildRuleBundle(dir, PROJECT_ROOT);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RuleBuildError);
    const messages = (error as RuleBuildError).messages;
    expect(messages).toHaveLength(2);
    expect(messages[0]).toMatch(new RegExp(`^${join(dir, 'bad-query.toml')}:\\d+:\\d+: `));
    expect(messages[1]).toMatch(new RegExp(`^${join(dir, 'bad-severity.toml')}:6:1: rule.severity must be low, medium, high or critical`));
    expect((error as Error).message).toContain('2 broken detection rule file(s):');
  });

  it('refuses a folder without rules', () => {
    const dir = rulesDir({ 'README.md': 'no rules here' });
    expect(() => buildRuleBundle(dir, PROJECT_ROOT)).toThrow('no *.toml detection rules found');
  });
});

describe('synth with a broken rule', () => {
  it('fails with the rule position, even with bundling skipped', () => {
    const dir = rulesDir({ 'broken.toml': rule('broken', `severity = "high"\nquery = 'process where process.name = = "x"'`) });
    expect(() => build({ rulesDir: dir })).toThrow(new RegExp(`${join(dir, 'broken.toml')}:7:37: `));
  });
});

describe('shellQuote', () => {
  it('quotes paths for bash', () => {
    expect(shellQuote('/tmp/a b/rules.json')).toBe(`'/tmp/a b/rules.json'`);
    expect(shellQuote(`/tmp/it's`)).toBe(`'/tmp/it'\\''s'`);
  });
});
