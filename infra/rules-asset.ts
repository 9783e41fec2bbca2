/**
 * Compiles the detection rules at synth time, so a broken rule fails `cdk synth`
 * with its `path:line:col`, and writes the bundle the handler reads at cold start.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { loadRules } from '../lambda/rules/load.js';
import { toRuleBundle } from '../lambda/rules/bundle.js';
import { RuleRouter } from '../lambda/rules/routing.js';

export interface RuleBundleFile {
  /** Absolute path of the rules.json written for this synth. */
  path: string;
  ruleCount: number;
  /** The indexes (of those given) that select none of the rules. */
  unselected: string[];
}

export class RuleBuildError extends Error {
  constructor(readonly messages: string[]) {
    super(`${messages.length} broken detection rule file(s):\n${messages.map((m) => `  ${m}`).join('\n')}`);
    this.name = 'RuleBuildError';
  }
}

/** Loads every rule under `rulesDir`; throws RuleBuildError listing each problem. */
export function buildRuleBundle(rulesDir: string, projectRoot: string, indexes: string[] = []): RuleBundleFile {
  const { rules, errors } = loadRules([rulesDir]);
  if (errors.length > 0) throw new RuleBuildError(errors.map((e) => e.message));
  if (rules.length === 0) throw new RuleBuildError([`${rulesDir}: no *.toml detection rules found`]);
  // Paths relative to the project keep the bundle (and so the asset hash) independent of the checkout location.
  const portable = rules.map((r) => ({ ...r, path: relative(projectRoot, r.path).split(sep).join('/') }));
  const dir = mkdtempSync(join(tmpdir(), 'eqlambda-rules-'));
  // Bundling runs inside this process during synth, so the file is only needed until exit.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'rules.json');
  writeFileSync(path, toRuleBundle(portable));
  const router = new RuleRouter(rules);
  return { path, ruleCount: rules.length, unselected: [...new Set(indexes)].filter((index) => router.rulesFor(index).length === 0) };
}

/** Single-quotes a path for the bash command hooks. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
