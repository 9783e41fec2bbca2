/**
 * The value of the `rule` dimension of per-rule metrics (AlertsPublished; the dashboard's
 * "Alerts per rule" labels each series with it).
 *
 * CloudWatch takes a dimension value of 1 to 1024 ASCII characters, without control characters
 * and not blank; an EMF record breaking that loses its metrics, and alarms take at most 255
 * characters. Rule names (free text from TOML) may be longer, accented, in any script, and two
 * rules may share one. So the value is the rule's name made to fit (accents dropped, other
 * non-ASCII characters `?`, line breaks and control characters a space, at most 255 characters),
 * readable on the dashboard; rules whose fitted names collide get their id appended in brackets
 * (`Name [0c3b1b6e]`: the first 8 characters, or the whole id, or a hash of it, whichever first
 * tells them apart). The value depends only on the rule set: every invocation of a deployment
 * emits the same value for the same rule, whatever the order of the rules.
 */
import { createHash } from 'node:crypto';
import { printableAscii } from '../publish/format.js';

/** The longest value alarms accept (PutMetricData and EMF accept 1024). */
export const MAX_RULE_DIMENSION_LENGTH = 255;
const SHORT_ID_LENGTH = 8;
const MAX_ID_LENGTH = 64;
const HASH_LENGTH = 16;
/** Stands in for a name of which nothing printable is left. */
const NAMELESS = 'rule';

/** `text` in printable ASCII on one line, trimmed, at most `max` characters (possibly empty). */
export function fitDimensionText(text: string, max = MAX_RULE_DIMENSION_LENGTH): string {
  return printableAscii(text, max);
}

interface RuleNaming {
  id: string;
  name: string;
}

/** The id tag at `level` 1 (short), 2 (whole) or 3 (hash): each tells apart more ids than the one before. */
function idTag(id: string, level: number): string {
  const ascii = fitDimensionText(id, MAX_ID_LENGTH).replace(/ /g, '_');
  if (level >= 3 || ascii === '') return createHash('sha256').update(id, 'utf8').digest('hex').slice(0, HASH_LENGTH);
  return level === 1 ? ascii.slice(0, SHORT_ID_LENGTH) : ascii;
}

function valueAt(name: string, id: string, level: number): string {
  if (level === 0) return name;
  const tag = ` [${idTag(id, level)}]`;
  return `${fitDimensionText(name || NAMELESS, MAX_RULE_DIMENSION_LENGTH - tag.length)}${tag}`;
}

/** Rule id → dimension value, distinct for every rule (ids are unique: the loader refuses duplicates). */
export function ruleDimensionValues(rules: readonly RuleNaming[]): Map<string, string> {
  const entries = [...new Map(rules.map((r) => [r.id, r])).values()].map((r) => {
    const name = fitDimensionText(r.name);
    return { id: r.id, name, level: name === '' ? 1 : 0, value: '' };
  });
  // Rules whose values collide move to the next level together, until none collide. At level 3
  // the values end in distinct hashes, so the loop ends with every value distinct.
  for (;;) {
    for (const e of entries) e.value = valueAt(e.name, e.id, e.level);
    const counts = new Map<string, number>();
    for (const e of entries) counts.set(e.value, (counts.get(e.value) ?? 0) + 1);
    const colliding = entries.filter((e) => counts.get(e.value)! > 1 && e.level < 3);
    if (colliding.length === 0) break;
    for (const e of colliding) e.level++;
  }
  return new Map(entries.map((e) => [e.id, e.value]));
}
