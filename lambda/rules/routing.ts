/**
 * Rule applicability by index, as Elastic decides which rules see which data:
 * an event's index is `<data_stream.type>-<data_stream.dataset>-<data_stream.namespace>`
 * (Fleet data streams), else `<agent.type>-<agent.version>` (standalone Beats,
 * Endgame), else a default the caller gives, else the event is unrouted and every
 * rule applies. A rule applies when one of its index patterns matches (`*` wildcard,
 * case-sensitive); a pattern starting with `-` excludes.
 */
import { FieldPath, type Event } from '../engine/fields.js';
import { compileWildcard } from '../engine/wildcard.js';
import type { Rule } from './model.js';

const DS_TYPE = FieldPath.of('data_stream.type');
const DS_DATASET = FieldPath.of('data_stream.dataset');
const DS_NAMESPACE = FieldPath.of('data_stream.namespace');
const AGENT_TYPE = FieldPath.of('agent.type');
const AGENT_VERSION = FieldPath.of('agent.version');

function firstText(path: FieldPath, event: Event): string | undefined {
  let out: string | undefined;
  path.some(event, (v) => {
    out = String(v);
    return true;
  });
  return out === '' ? undefined : out;
}

export function eventIndex(event: Event, defaultIndex?: string): string | undefined {
  const type = firstText(DS_TYPE, event);
  const dataset = firstText(DS_DATASET, event);
  const namespace = firstText(DS_NAMESPACE, event);
  if (type !== undefined && dataset !== undefined && namespace !== undefined) return `${type}-${dataset}-${namespace}`;
  const agentType = firstText(AGENT_TYPE, event);
  const agentVersion = firstText(AGENT_VERSION, event);
  if (agentType !== undefined && agentVersion !== undefined) return `${agentType}-${agentVersion}`;
  return defaultIndex;
}

export type IndexMatcher = (index: string) => boolean;

export function compileIndexPatterns(patterns: string[]): IndexMatcher {
  const include = patterns.filter((p) => !p.startsWith('-')).map((p) => compileWildcard(p, false));
  const exclude = patterns.filter((p) => p.startsWith('-')).map((p) => compileWildcard(p.slice(1), false));
  return (index) => include.some((m) => m(index)) && !exclude.some((m) => m(index));
}

/** Picks the rules that apply to an index, caching the answer per index name. */
export class RuleRouter {
  private readonly cache = new Map<string, Rule[]>();
  private readonly matchers: (IndexMatcher | null)[];

  constructor(readonly rules: Rule[]) {
    this.matchers = rules.map((r) => (r.index === null ? null : compileIndexPatterns(r.index)));
  }

  rulesFor(index: string | undefined): Rule[] {
    if (index === undefined) return this.rules;
    let hit = this.cache.get(index);
    if (hit === undefined) {
      hit = this.rules.filter((_, i) => this.matchers[i] === null || this.matchers[i]!(index));
      if (this.cache.size >= 10_000) this.cache.clear(); // attacker-chosen index names must not grow memory
      this.cache.set(index, hit);
    }
    return hit;
  }
}
