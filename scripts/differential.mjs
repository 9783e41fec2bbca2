// Differential check of the scan pipeline against naive evaluation, with a whole rule set
// (Elastic's, from ../shared/conformance/elastic-rules): `node scripts/differential.mjs DIR`.
//
// Events are built to satisfy one rule at a time (its plain conditions filled from its own
// literals: a branch of each `or`, wildcards expanded), then mutated (cases changed, fields
// dropped, values turned into arrays, JSON escapes such as `\/` and `\u0073` in the line).
// The pipeline (prefilter, rule dispatch, field cache) must report exactly the alerts of
// parsing every line and testing every rule routed to its index. Exit 1 on any difference.
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';

const root = fileURLToPath(new URL('..', import.meta.url));
const { loadRules, PreparedRules, RuleRouter, eventIndex, scan } = await import(`${root}dist/lib.mjs`);

const dir = process.argv[2];
const EVENTS = Number(process.env.DIFFERENTIAL_EVENTS ?? 20_000);
const { rules } = loadRules([dir]);

// A small deterministic PRNG (mulberry32), so a failure can be replayed.
let seed = Number(process.env.DIFFERENTIAL_SEED ?? 1);
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(random() * list.length)];
const chance = (p) => random() < p;

/** A value a pattern matches (`*` and `?` expanded), sometimes with its letters' case changed. */
function satisfying(value, caseInsensitive) {
  if (typeof value !== 'string') return value;
  let text = value.replace(/\*/g, () => pick(['', 'x', 'abc', '/tmp/', 'C:\\'])).replace(/\?/g, () => pick(['a', 'C', '1']));
  if (caseInsensitive && chance(0.3)) text = chance(0.5) ? text.toUpperCase() : text.toLowerCase();
  return text;
}

/** Field assignments that satisfy `expr`'s plain conditions (a random branch of each `or`). */
function assign(expr, out) {
  switch (expr.type) {
    case 'And':
      for (const o of expr.operands) assign(o, out);
      break;
    case 'Or':
      assign(pick(expr.operands), out);
      break;
    case 'Compare':
      if (expr.left.type === 'Field' && expr.right.type === 'Literal' && expr.op === '==' && expr.right.value !== null) out.push([expr.left.name, expr.right.value]);
      break;
    case 'In': {
      const literals = expr.list.filter((i) => i.type === 'Literal' && i.value !== null);
      if (expr.left.type === 'Field' && literals.length > 0) out.push([expr.left.name, satisfying(pick(literals).value, expr.caseInsensitive)]);
      break;
    }
    case 'Match':
      if (expr.left.type === 'Field' && expr.op !== 'regex') out.push([expr.left.name, satisfying(pick(expr.patterns).value, expr.caseInsensitive || expr.op === ':')]);
      break;
    default:
      break; // not, functions, regexes: left to chance
  }
}

/** The index fields that route an event to `pattern` (data stream or agent spelling). */
function indexFields(pattern) {
  const concrete = pattern.replace(/\*/g, 'default');
  const parts = concrete.split('-');
  if (parts.length >= 3) return { data_stream: { type: parts[0], dataset: parts.slice(1, -1).join('-'), namespace: parts.at(-1) } };
  return { agent: { type: parts[0], version: parts[1] || '8.15.0' } };
}

/** Sets a dotted field, nested or (sometimes) as a dotted key; repeated fields become arrays. */
function put(event, name, value) {
  if (chance(0.1)) {
    event[name] = value;
    return;
  }
  const path = name.split('.');
  let node = event;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null || Array.isArray(node[key])) node[key] = {};
    node = node[key];
  }
  const last = path.at(-1);
  if (node[last] !== undefined && !Array.isArray(node[last])) node[last] = [node[last], value];
  else if (Array.isArray(node[last])) node[last].push(value);
  else node[last] = chance(0.15) ? [value, pick(['x', 'other', 42])] : value;
}

/** A JSON line for `event`, with some characters escaped the other ways JSON allows. */
function line(event) {
  let text = JSON.stringify(event);
  if (chance(0.15)) text = text.replace(/\//g, '\\/');
  // Whole JSON string tokens, left to right; a letter in those without escapes becomes \u00XX.
  if (chance(0.15)) text = text.replace(/"(?:[^"\\]|\\.)*"/g, (token) => (token.includes('\\') ? token : token.replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`)));
  return text;
}

/** Builds `count` lines, most of them aimed at one of `aimed` (the rest at any rule). */
function buildLines(aimed, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const target = pick(chance(0.7) ? aimed : rules);
    const event = { '@timestamp': '2026-11-23T00:00:00Z' };
    const pattern = target.index?.find((p) => !p.startsWith('-'));
    if (pattern !== undefined) Object.assign(event, indexFields(pattern));
    const fields = [];
    if (target.compiled.query.category !== null) fields.push([target.compiled.categoryField, target.compiled.query.category]);
    assign(target.compiled.query.where, fields);
    for (const [name, value] of fields) if (!chance(0.05)) put(event, name, value);
    out.push(line(event));
  }
  return out;
}

/** Scans `lines` with `ruleSet` through the pipeline and naively; returns a summary and the differences. */
async function check(ruleSet, lines, prefilterOptions = {}) {
  const text = `${lines.join('\n')}\n`;
  // The pipeline, as the CLI and the Lambda run it.
  const found = new Set();
  const prepared = new PreparedRules(ruleSet, true, prefilterOptions);
  const result = await scan(Readable.from([Buffer.from(text)]), { kind: 'file', file: 'differential', identity: 'differential' }, { rules: ruleSet, prepared, maxAlertsPerRule: 1e9 }, (records) => {
    for (const r of records) if (r.kind === 'alert') found.add(`${r.rule.id} ${r.source.line}`);
  });
  if (result.error !== undefined) throw new Error(result.error.message);
  // Naive: parse every line, test every rule routed to its index; no prefilter, dispatch or cache.
  const router = new RuleRouter(ruleSet);
  const expected = new Set();
  lines.forEach((l, i) => {
    const event = JSON.parse(l);
    for (const rule of router.rulesFor(eventIndex(event))) if (rule.compiled.matches(event)) expected.add(`${rule.id} ${i + 1}`);
  });
  const missed = [...expected].filter((k) => !found.has(k));
  const extra = [...found].filter((k) => !expected.has(k));
  for (const k of missed.slice(0, 5)) console.error(`MISSED ${k}: ${lines[Number(k.split(' ')[1]) - 1]}`);
  for (const k of extra.slice(0, 5)) console.error(`EXTRA ${k}`);
  return { alerts: expected.size, parsed: result.stats.events, lines: lines.length, prefilter: prepared.prefilter.enabled, ok: missed.length === 0 && extra.length === 0, missed: missed.length, extra: extra.length };
}

const runs = [
  { name: `all ${rules.length} rules`, ruleSet: rules, events: EVENTS },
  // Short prefilter windows: it rests and resumes searching many times, mid-chunk.
  { name: `all ${rules.length} rules, prefilter resting every 256 lines`, ruleSet: rules, events: EVENTS / 2, prefilter: { sampleLines: 256, restLines: 1024 } },
];
for (const size of [40, 8]) {
  for (let k = 0; k < 5; k++) {
    const subset = [...rules].sort(() => random() - 0.5).slice(0, size);
    runs.push({ name: `${size} random rules (#${k + 1})`, ruleSet: subset, events: EVENTS / 5 });
  }
}
let failed = 0;
let alerts = 0;
for (const run of runs) {
  const r = await check(run.ruleSet, buildLines(run.ruleSet, run.events), run.prefilter);
  alerts += r.alerts;
  if (r.alerts === 0) {
    failed++;
    console.error(`differential: ${run.name}: no alerts at all, so nothing was compared`);
  } else if (!r.ok) {
    failed++;
    console.error(`differential: ${run.name}: missed ${r.missed}, extra ${r.extra} of ${r.alerts} alerts`);
  } else if (process.env.DIFFERENTIAL_VERBOSE) {
    console.log(`  ${run.name}: ${r.alerts} alerts, ${r.parsed} of ${r.lines} lines parsed (prefilter ${r.prefilter ? 'on' : 'off'})`);
  }
}
console.log(`differential: ${runs.length - failed}/${runs.length} rule sets give exactly the naive alerts (${alerts} alerts over ${runs.reduce((n, r) => n + r.events, 0)} events built from Elastic's rules)`);
process.exit(failed === 0 ? 0 : 1);
