/**
 * `eqlambda rules check [PATH...]`: loads and compiles rule files (default: rules/),
 * prints one `path:line:col: message` line per problem and a summary.
 */
import { loadRules } from '../rules/load.js';
import { parse, type Output } from './args.js';

export const RULES_USAGE = `usage: eqlambda rules check [PATH...]
  Loads every rule file (*.toml, recursively in folders; default: rules/) and compiles
  its query as scan and the Lambda do. Prints path:line:col: message for each problem,
  each entry skipped in folders, and a summary; exit 1 if any rule fails, or none is found.`;

export function rulesCheckCommand(argv: string[], io: Output): number {
  const { positionals } = parse(argv, {});
  const paths = positionals.length > 0 ? positionals : ['rules'];
  const result = loadRules(paths);
  for (const err of result.errors) io.err(err.message);
  for (const entry of result.skipped) io.err(`skipped ${entry}`);
  const ok = result.rules.length;
  const bad = result.errors.length;
  const skipped = result.skipped.length === 0 ? '' : `; skipped ${result.skipped.length} other entr${result.skipped.length === 1 ? 'y' : 'ies'}`;
  io.err(`${result.files.length} file(s): ${ok} rule(s) OK, ${bad} with errors${skipped}`);
  // As scan and the deploy do: a rule set with no rule could never alert.
  if (ok === 0 && bad === 0) io.err(`eqlambda: ${result.skipped.length === 0 ? noRulesFound(paths, []) : `no rules found in ${paths.join(', ')}: every entry was skipped (above)`}`);
  return bad > 0 || ok === 0 ? 1 : 0;
}

/** Why no rule loaded from `paths` (no error either): what was skipped, or where rules go. */
export function noRulesFound(paths: string[], skipped: string[]): string {
  const where = `no rules found in ${paths.join(', ')}`;
  if (skipped.length === 0) return `${where} (rule files end in .toml)`;
  const named = skipped.slice(0, NAMED_IN_MESSAGE).join(', ');
  const more = skipped.length - NAMED_IN_MESSAGE;
  return `${where}; skipped ${named}${more > 0 ? ` and ${more} more ('eqlambda rules check' names them all)` : ''}`;
}

const NAMED_IN_MESSAGE = 3;
