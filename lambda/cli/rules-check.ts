/**
 * `eqlambda rules check [PATH...]`: loads and compiles rule files (default: rules/),
 * prints one `path:line:col: message` line per problem and a summary.
 */
import { loadRules } from '../rules/load.js';
import { parse, type Output } from './args.js';

export const RULES_USAGE = `usage: eqlambda rules check [--category-field FIELD] [PATH...]
  Loads every rule file (*.toml, recursively in folders; default: rules/) and compiles
  its query. Prints path:line:col: message for each problem; exit 1 if any.`;

export function rulesCheckCommand(argv: string[], io: Output): number {
  const { values, positionals } = parse(argv, { 'category-field': { type: 'string' } });
  const paths = positionals.length > 0 ? positionals : ['rules'];
  const result = loadRules(paths, { categoryField: values['category-field'] });
  for (const err of result.errors) io.err(err.message);
  const ok = result.rules.length;
  const bad = result.errors.length;
  const skipped = result.skipped.length === 0 ? '' : `; skipped ${result.skipped.length} other entr${result.skipped.length === 1 ? 'y' : 'ies'}: ${result.skipped.slice(0, 5).join(', ')}${result.skipped.length > 5 ? ', ...' : ''}`;
  io.err(`${result.files.length} file(s): ${ok} rule(s) OK, ${bad} with errors${skipped}`);
  return bad > 0 ? 1 : 0;
}
