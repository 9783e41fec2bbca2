/**
 * Rule applicability by index, as Elastic decides which rules see which data:
 * an event's index is `<data_stream.type>-<data_stream.dataset>-<data_stream.namespace>`
 * (Fleet data streams), else for Elastic Defend (agent.type endpoint)
 * `logs-<event.dataset>-default`, else `<agent.type>-<agent.version>` (standalone Beats,
 * Endgame), else a default the caller gives, else the event is unrouted and every
 * rule applies. A rule applies when its index patterns select the index, read in order as
 * Elasticsearch reads them (`*` wildcard, case-sensitive; `-pattern` after a wildcard removes
 * what the patterns before it selected).
 */
import { FieldPath, type Event } from '../engine/fields.js';
import { compileGlob, STAR, type GlobToken } from '../engine/wildcard.js';
import type { Rule } from './model.js';

const DS_TYPE = FieldPath.of('data_stream.type');
const DS_DATASET = FieldPath.of('data_stream.dataset');
const DS_NAMESPACE = FieldPath.of('data_stream.namespace');
const AGENT_TYPE = FieldPath.of('agent.type');
const AGENT_VERSION = FieldPath.of('agent.version');
const EVENT_DATASET = FieldPath.of('event.dataset');

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
  if (agentType === 'endpoint') {
    // Elastic Defend writes to logs-<event.dataset>-<namespace> data streams, never to an
    // endpoint-<version> index: without data_stream, its dataset names the stream.
    const eventDataset = firstText(EVENT_DATASET, event);
    return eventDataset === undefined ? defaultIndex : `logs-${eventDataset}-default`;
  }
  if (agentType !== undefined && agentVersion !== undefined) return `${agentType}-${agentVersion}`;
  return defaultIndex;
}

export type IndexMatcher = (index: string) => boolean;

/**
 * A rule's `index` patterns, read as Elasticsearch reads an index expression: entries may
 * hold several patterns separated by commas, `-pattern` excludes, and a `cluster:` prefix
 * (cross-cluster search: `remote:logs-*`, `*:logs-*`) names where the index lives, which
 * does not matter here (index names cannot contain `:`): the pattern applies to the index.
 */
export function compileIndexPatterns(patterns: string[]): IndexMatcher {
  const steps = parseIndexPatterns(patterns).map(({ pattern, exclude }) => ({ exclude, matches: indexPatternMatcher(pattern) }));
  // In order, as Elasticsearch builds the set: an exclusion removes what came before it, and
  // a later pattern adds back.
  return (index) => {
    let selected = false;
    for (const { exclude, matches } of steps) {
      if (exclude) selected &&= !matches(index);
      else selected ||= matches(index);
    }
    return selected;
  };
}

/**
 * An index pattern as Elasticsearch matches one (Regex.simpleMatch): `*` is the only
 * wildcard; `?` and `\` are characters (which index names cannot hold, so they match nothing).
 */
function indexPatternMatcher(pattern: string): IndexMatcher {
  const tokens: GlobToken[] = [];
  pattern.split('*').forEach((text, i) => {
    if (i > 0) tokens.push(STAR);
    if (text !== '') tokens.push(text);
  });
  return compileGlob(tokens, false);
}

/**
 * The patterns of an index expression, in order (see compileIndexPatterns), read as
 * Elasticsearch reads one: date math (`<logs-{now/d}>`) stands for any date, so `logs-*`;
 * `::data` and `::*` selectors select the data, while `::failures` (ingest failures, not
 * events) selects nothing here; `-cluster:*` excludes a remote cluster, which does not
 * apply here; `_all` is `*`.
 */
export function parseIndexPatterns(patterns: string[]): IndexStep[] {
  const steps: IndexStep[] = [];
  // As Elasticsearch's resolver: `-pattern` excludes only after a wildcard pattern; before one
  // it names an index `-pattern`, which cannot exist (index names do not start with `-`).
  let wildcardSeen = false;
  for (const entry of patterns) {
    for (const written of splitIndexExpression(entry)) {
      let pattern = written.trim();
      const wildcard = pattern.includes('*');
      // Date math first: its braces may hold ':' (a time zone). Index names cannot hold '<' or '>'.
      if (pattern.includes('<')) pattern = pattern.replace(DATE_MATH, '*').replace(/[<>]/g, '');
      const selector = pattern.indexOf('::');
      if (selector >= 0) {
        const which = pattern.slice(selector + 2);
        if (which !== 'data' && which !== '*') continue;
        pattern = pattern.slice(0, selector);
      }
      let excluded = pattern.startsWith('-');
      if (excluded) pattern = pattern.slice(1);
      const cluster = pattern.lastIndexOf(':'); // neither clusters nor indexes have ':' in their names
      if (excluded && cluster >= 0 && pattern.slice(cluster + 1) === '*') continue; // a whole cluster left out
      pattern = pattern.slice(cluster + 1);
      if (pattern.startsWith('-')) {
        excluded = true;
        pattern = pattern.slice(1);
      }
      if (pattern === '_all') pattern = '*';
      const seen = wildcardSeen;
      if (wildcard || pattern === '*') wildcardSeen = true;
      if (pattern === '' || (excluded && !seen)) continue;
      steps.push({ pattern, exclude: excluded });
    }
  }
  return steps;
}

/** A pattern of an index expression, in order: one that adds the indexes it matches, or removes them. */
export interface IndexStep {
  pattern: string;
  exclude: boolean;
}

/** Whether index patterns include anything: exclusions alone select no index. */
export const includesAnyIndex = (patterns: string[]): boolean => parseIndexPatterns(patterns).some((step) => !step.exclude);

/** A date math expression, `{now/d}` or `{now/d{yyyy.MM.dd|+12:00}}` (after splitIndexExpression, whole). */
const DATE_MATH = /\{(?:[^{}]|\{[^{}]*\})*\}/g;

/**
 * An index expression's comma-separated parts; commas inside date math (`<...{...}>`) braces do
 * not split. Elsewhere a brace is a character of an index name.
 */
function splitIndexExpression(entry: string): string[] {
  const parts: string[] = [];
  let inDateMath = false;
  let depth = 0;
  let start = 0;
  for (let i = 0; i < entry.length; i++) {
    const ch = entry[i];
    if (ch === '<' && depth === 0) inDateMath = true;
    else if (ch === '>' && depth === 0) inDateMath = false;
    else if (ch === '{' && inDateMath) depth++;
    else if (ch === '}' && inDateMath) depth = Math.max(depth - 1, 0);
    else if (ch === ',' && depth === 0) {
      parts.push(entry.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(entry.slice(start));
  return parts;
}

const MAX_CACHED_INDEXES = 10_000;
const MAX_CACHED_INDEX_LENGTH = 256;

/** Picks the rules that apply to an index, caching the answer per index name. */
export class RuleRouter {
  private readonly cache = new Map<string, Rule[]>();
  /** The distinct rule lists handed out, by the positions of their rules. */
  private readonly lists = new Map<string, Rule[]>();
  private readonly matchers: (IndexMatcher | null)[];

  constructor(readonly rules: Rule[]) {
    this.matchers = rules.map((r) => (r.index === null ? null : compileIndexPatterns(r.index)));
  }

  rulesFor(index: string | undefined): Rule[] {
    if (index === undefined) return this.rules;
    let hit = this.cache.get(index);
    if (hit === undefined) {
      hit = this.route(index);
      // Index names come from the events (data_stream.namespace...): attacker-chosen, so
      // neither their number nor their length may grow memory.
      if (index.length > MAX_CACHED_INDEX_LENGTH) return hit;
      if (this.cache.size >= MAX_CACHED_INDEXES) this.cache.clear();
      this.cache.set(index, hit);
    }
    return hit;
  }

  /**
   * The rules for an index, as one shared array per distinct set of rules: the many
   * indexes that pick the same rules (every namespace of a dataset) share the caches
   * keyed on it (RuleDispatch), so those stay as few as the rule sets are.
   */
  private route(index: string): Rule[] {
    const picked: number[] = [];
    this.matchers.forEach((m, i) => {
      if (m === null || m(index)) picked.push(i);
    });
    const key = picked.join(',');
    let list = this.lists.get(key);
    if (list === undefined) {
      list = picked.map((i) => this.rules[i]!);
      this.lists.set(key, list);
    }
    return list;
  }
}
