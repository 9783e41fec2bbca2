/**
 * The prefilter must never change results: a property test comparing every record of
 * scans with the prefilter on and off over random and adversarial inputs (corpus events,
 * mutated spellings of the same events, garbage), read in random chunks, plain or gzip.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../lambda/engine/index.js';
import { PreparedRules } from '../../lambda/scan/pipeline.js';
import { chunked, fixtureEvent, gzip, line, newCorpus, OPENSSL_TP, scanAll, seededRandom, shippedRules, SSH_TP, type Scanned } from './helpers.js';

const rules = shippedRules();
const on = new PreparedRules(rules, true);
const onIndexOf = new PreparedRules(rules, true, { wasm: false });
const off = new PreparedRules(rules, false);

type Random = () => number;
const chance = (random: Random, p: number): boolean => random() < p;
const pick = <T>(random: Random, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

// ---- mutations of an event (same event, other spellings, or near variants) ----

/** Random case changes of string values: OPENSSL, /USR/SBIN/SSHD, OpEnSsL. */
function mutateCase(value: unknown, random: Random): unknown {
  if (typeof value === 'string') {
    if (!chance(random, 0.3)) return value;
    if (value.length > 1000) return value.toUpperCase();
    const how = random();
    if (how < 0.4) return value.toUpperCase();
    if (how < 0.6) return value.toLowerCase();
    return [...value].map((c) => (chance(random, 0.5) ? c.toUpperCase() : c.toLowerCase())).join('');
  }
  if (Array.isArray(value)) return value.map((v) => mutateCase(v, random));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mutateCase(v, random)]));
  return value;
}

/** Dotted keys: {"process":{"name":x}} → {"process.name":x}, fully or partly. */
function dotKeys(value: unknown, random: Random): unknown {
  if (Array.isArray(value)) return value.map((v) => dotKeys(v, random));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const inner = dotKeys(child, random);
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner) && chance(random, 0.35)) {
      for (const [k, v] of Object.entries(inner)) out[`${key}.${k}`] = v;
    } else {
      out[key] = inner;
    }
  }
  return out;
}

/** Arrays vs scalars: x → [x], [x] → x, [x, y] → [[x], y]. */
function reshapeArrays(value: unknown, random: Random): unknown {
  if (Array.isArray(value)) {
    if (value.length === 1 && chance(random, 0.3)) return reshapeArrays(value[0], random);
    const items = value.map((v) => reshapeArrays(v, random));
    if (items.length > 1 && chance(random, 0.15)) return [[items[0]], ...items.slice(1)];
    return items;
  }
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reshapeArrays(v, random)]));
  if (chance(random, 0.15)) return [value];
  return value;
}

/** Routing changes: drop or alter data_stream / agent. */
function reroute(event: Event, random: Random): Event {
  const copy = structuredClone(event);
  const r = random();
  if (r < 0.25) delete copy.data_stream;
  else if (r < 0.4) delete copy.agent;
  else if (r < 0.55) {
    delete copy.data_stream;
    delete copy.agent;
  } else if (r < 0.7 && typeof copy.data_stream === 'object' && copy.data_stream !== null) {
    (copy.data_stream as Record<string, unknown>).dataset = pick(random, ['endpoint.events.file', 'endpoint.events.process', 'fim.event', 'sentinel_one_cloud_funnel.event']);
  }
  return copy;
}

// ---- serialization with other spellings of the same JSON ----

interface Spelling {
  unicode: boolean;
  slash: boolean;
  whitespace: boolean;
}

function ws(random: Random, s: Spelling): string {
  if (!s.whitespace || !chance(random, 0.4)) return '';
  return pick(random, [' ', '  ', '\t', ' \t ']);
}

function stringLiteral(text: string, random: Random, s: Spelling): string {
  // Long strings (padding) only get their slashes escaped, to keep the test fast.
  if ((!s.unicode && !s.slash) || text.length > 300) return s.slash ? JSON.stringify(text).replaceAll('/', '\\/') : JSON.stringify(text);
  let out = '"';
  for (const c of text) {
    if (s.unicode && chance(random, 0.2) && c.length === 1) {
      const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
      out += `\\u${chance(random, 0.5) ? hex : hex.toUpperCase()}`;
    } else if (c === '/' && s.slash && chance(random, 0.7)) {
      out += '\\/';
    } else {
      out += c === '"' || c === '\\' || c < ' ' ? JSON.stringify(c).slice(1, -1) : c;
    }
  }
  return out + '"';
}

function serialize(value: unknown, random: Random, s: Spelling): string {
  if (typeof value === 'string') return stringLiteral(value, random, s);
  if (Array.isArray(value)) return `[${ws(random, s)}${value.map((v) => serialize(v, random, s)).join(`${ws(random, s)},${ws(random, s)}`)}${ws(random, s)}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value).map(([k, v]) => `${stringLiteral(k, random, s)}${ws(random, s)}:${ws(random, s)}${serialize(v, random, s)}`);
    return `{${ws(random, s)}${members.join(`${ws(random, s)},${ws(random, s)}`)}${ws(random, s)}}`;
  }
  return JSON.stringify(value);
}

// ---- lines ----

const MUTATIONS = ['case', 'unicode', 'slash', 'dotted', 'arrays', 'whitespace', 'routing'] as const;
type Mutation = (typeof MUTATIONS)[number];
const EVENT_KINDS = ['openssl', 'ssh', 'near_miss', 'benign', 'auditbeat', 'sentinelone', 'endgame', 'padded'] as const;
const GARBAGE_KINDS = ['truncated', 'bytes', 'not_object', 'needles', 'blank', 'duplicate_keys', 'nested'] as const;

interface LineSpec {
  kind: (typeof EVENT_KINDS)[number] | (typeof GARBAGE_KINDS)[number];
  seed: number;
  mutations: Mutation[];
  crlf: boolean;
}

const NEEDLE_WORDS = ['openssl', 'OpenSSL', 's_client', 's_server', '-connect', '-port', '/usr/sbin/sshd', '/usr/bin/ssh', 'bin/ssh', 'process', 'file', 'linux', 'start', 'exec', 'change', '\\u0073', '\\/', '\\\\u0073', '\\\\\\u0073', 'C:\\\\Users\\\\', '\\u00e9', '\\u004f', '"', ':', '{', '}'];

/** Corpus events, generated once: a line picks one by its seed. */
const corpus = newCorpus(20261121);
const POOL = {
  openssl: Array.from({ length: 64 }, () => corpus.openssl()),
  ssh: Array.from({ length: 64 }, () => corpus.sshBackdoor()),
  near_miss: Array.from({ length: 64 }, () => corpus.nearMiss()),
  benign: Array.from({ length: 64 }, () => corpus.benign()),
};
const fromPool = (list: Event[], seed: number): Event => structuredClone(list[seed % list.length]!);
const FIXTURES = {
  openssl: OPENSSL_TP(),
  ssh: SSH_TP(),
  auditbeat: fixtureEvent('auditbeat-fim-updated-sshd'),
  sentinelone: fixtureEvent('sentinel-one-linux-file-modification-ssh'),
  endgame: fixtureEvent('endgame-linux-exec-openssl'),
};
const fixtureCopy = (name: keyof typeof FIXTURES): Event => structuredClone(FIXTURES[name]);

function eventFor(kind: (typeof EVENT_KINDS)[number], seed: number, random: Random): Event {
  switch (kind) {
    case 'openssl':
    case 'ssh':
    case 'near_miss':
    case 'benign':
      return fromPool(POOL[kind], seed);
    case 'auditbeat':
    case 'sentinelone':
    case 'endgame':
      return fixtureCopy(kind);
    case 'padded': {
      // A long line (once longer than the prefilter's search window; now it spans read chunks).
      const event = fixtureCopy(chance(random, 0.5) ? 'openssl' : 'ssh');
      event.padding = 'x'.repeat(64 * 1024 + Math.floor(random() * 8192));
      return event;
    }
  }
}

function garbage(kind: (typeof GARBAGE_KINDS)[number], random: Random): Buffer {
  const tp = line(FIXTURES[chance(random, 0.5) ? 'openssl' : 'ssh']);
  switch (kind) {
    case 'truncated':
      return Buffer.from(tp.slice(0, Math.floor(random() * tp.length)));
    case 'bytes': {
      const bytes = Buffer.alloc(Math.floor(random() * 200));
      // Any byte but \n (which would start another line), so line numbers stay those of the specs.
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) bytes[i] = 0x0d;
      return bytes;
    }
    case 'not_object':
      return Buffer.from(pick(random, [`[${tp}]`, JSON.stringify(tp), '42', 'null', 'true', `[${tp}, 1]`]));
    case 'needles': {
      const words = Array.from({ length: 1 + Math.floor(random() * 12) }, () => pick(random, NEEDLE_WORDS));
      return Buffer.from(`{${words.join(pick(random, ['', ' ', '","', '":"']))}${chance(random, 0.5) ? '}' : ''}`);
    }
    case 'blank':
      return Buffer.from(pick(random, ['', ' ', '\t', '  \t']));
    case 'duplicate_keys':
      // The last duplicate wins in JSON.parse: whether it matches depends on which copy is last.
      return Buffer.from(chance(random, 0.5) ? `{"process":{"name":"bash"},${tp.slice(1)}` : `${tp.slice(0, -1)},"process":{"name":"bash"}}`);
    case 'nested':
      return Buffer.from(tp.replace('"linux"', `${'['.repeat(40)}"linux"${']'.repeat(40)}`));
  }
}

function render(spec: LineSpec): Buffer {
  const random = seededRandom(spec.seed);
  if ((GARBAGE_KINDS as readonly string[]).includes(spec.kind)) return garbage(spec.kind as (typeof GARBAGE_KINDS)[number], random);
  let value: unknown = eventFor(spec.kind as (typeof EVENT_KINDS)[number], spec.seed, random);
  const has = (m: Mutation): boolean => spec.mutations.includes(m);
  if (has('routing')) value = reroute(value as Event, random);
  if (has('case')) value = mutateCase(value, random);
  if (has('dotted')) value = dotKeys(value, random);
  if (has('arrays')) value = reshapeArrays(value, random);
  return Buffer.from(serialize(value, random, { unicode: has('unicode'), slash: has('slash'), whitespace: has('whitespace') }), 'utf8');
}

const lineSpec: fc.Arbitrary<LineSpec> = fc.record({
  kind: fc.oneof(
    { weight: 40, arbitrary: fc.constantFrom(...EVENT_KINDS.filter((k) => k !== 'padded')) },
    { weight: 16, arbitrary: fc.constantFrom(...GARBAGE_KINDS) },
    { weight: 1, arbitrary: fc.constant('padded' as const) },
  ),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  mutations: fc.subarray([...MUTATIONS]),
  crlf: fc.boolean(),
});

const inputSpec = fc.record({
  lines: fc.array(lineSpec, { minLength: 30, maxLength: 30 }),
  chunkSize: fc.oneof(fc.constant(1 << 30), fc.integer({ min: 64, max: 4096 }), fc.integer({ min: 4096, max: 200_000 })),
  gzip: fc.boolean(),
  finalNewline: fc.boolean(),
  maxAlertsPerRule: fc.constantFrom(undefined, 1, 2),
});

type InputSpec = typeof inputSpec extends fc.Arbitrary<infer T> ? T : never;

function bytesOf(spec: InputSpec): Buffer {
  const parts: Buffer[] = [];
  spec.lines.forEach((l, i) => {
    parts.push(render(l));
    if (i < spec.lines.length - 1 || spec.finalNewline) parts.push(Buffer.from(l.crlf ? '\r\n' : '\n'));
  });
  return Buffer.concat(parts);
}

/** Scans with the SIMD prefilter, the indexOf prefilter and no prefilter. */
async function scanAllWays(spec: InputSpec): Promise<[Scanned, Scanned, Scanned]> {
  const text = bytesOf(spec);
  const bytes = spec.gzip ? gzip(text) : text;
  const options = spec.maxAlertsPerRule === undefined ? {} : { maxAlertsPerRule: spec.maxAlertsPerRule };
  const withPrefilter = await scanAll(chunked(bytes, spec.chunkSize), { rules, prepared: on, ...options });
  const withIndexOf = await scanAll(chunked(bytes, spec.chunkSize), { rules, prepared: onIndexOf, ...options });
  const without = await scanAll(chunked(bytes, spec.chunkSize), { rules, prepared: off, ...options });
  return [withPrefilter, withIndexOf, without];
}

describe('prefilter equivalence', () => {
  it('is on for the shipped rules, with the expected anchors', () => {
    expect(on.prefilter.enabled).toBe(true);
    expect(on.prefilter.engine).toBe('wasm');
    expect(onIndexOf.prefilter.engine).toBe('indexOf');
    expect(onIndexOf.prefilter.anchors).toEqual(on.prefilter.anchors);
    expect(on.prefilter.anchors).toEqual(['~bin/ssh', 'penssl']);
    expect(off.prefilter.enabled).toBe(false);
    expect(off.prefilter.disabledBecause).toBe('turned off');
  });

  it('gives the same records with the prefilter on and off (200 random 30-line inputs)', async () => {
    const totals = { alerts: 0, mutatedAlerts: 0, overflows: 0, prefiltered: 0, lines: 0 };
    await fc.assert(
      fc.asyncProperty(inputSpec, async (spec) => {
        const [a, viaIndexOf, b] = await scanAllWays(spec);
        expect(a.records).toEqual(b.records);
        expect(viaIndexOf.records).toEqual(b.records);
        expect(viaIndexOf.result.stats.prefiltered).toBe(a.result.stats.prefiltered);
        expect(viaIndexOf.result.stats.skipped.counts).toEqual(a.result.stats.skipped.counts);
        expect(a.result.error).toBeUndefined();
        expect(a.result.stats.lines).toBe(b.result.stats.lines);
        expect([...a.result.stats.perRule]).toEqual([...b.result.stats.perRule]);
        totals.lines += a.result.stats.lines;
        totals.prefiltered += a.result.stats.prefiltered;
        for (const r of a.records) {
          if (r.kind === 'overflow') totals.overflows++;
          else {
            totals.alerts++;
            if (spec.lines[r.source.line - 1]!.mutations.length > 0) totals.mutatedAlerts++;
          }
        }
      }),
      { numRuns: 200 },
    );
    // The inputs exercised both paths: many lines were prefiltered, many matched, some in mutated spellings.
    // (About 1 line in 9; lines cut short count as invalid JSON, not as prefiltered.)
    expect(totals.prefiltered).toBeGreaterThan(totals.lines / 20);
    expect(totals.alerts).toBeGreaterThan(200);
    expect(totals.mutatedAlerts).toBeGreaterThan(50);
    expect(totals.overflows).toBeGreaterThan(10);
  });

  it('agrees on hand-picked adversarial lines', async () => {
    const tp = line(OPENSSL_TP());
    const ssh = line(SSH_TP());
    const lines = [
      tp.replace('"openssl"', '"open\\u0073sl"').replaceAll('openssl', 'open\\u0073sl'),
      tp.replace('"process"', '"proc\\u0065ss"'),
      tp.replaceAll('openssl', 'OPENSSL'),
      ssh.replaceAll('/', '\\/'),
      ssh.replace('/usr/sbin/sshd', '/USR/SBIN/SSHD'),
      ssh.replace('"process":{', '"process.executable":"/usr/sbin/sshd","process":{"x":1,'),
      `${' '.repeat(3)}\t${tp}`,
      `{"process.name":"openssl","process.args":["s_client","-connect","a:1"],"event.type":"start","event.action":"exec","event.category":"process","host.os.type":"linux"}`,
      `{"process":{"name":["openssl"],"args":"s_server","parent":{"executable":null}},"event":{"type":"start","action":["exec_event"],"category":"process"},"host":{"os":{"type":["linux"]}},"x":["-port"]}`,
      `{"process":{"name":"openssl","args":["s_server","-port"]},"event":{"type":"start","action":"exec_event","category":"process"},"host":{"os":{"type":"linux"}}}`,
      '{"a":"\\/usr\\/sbin\\/sshd"',
      // After an anchor ("openssl") whose formula fails on the raw text, a later escape
      // spells the missing literal; before it, an escaped backslash before a `u`, which does not.
      tp.replaceAll('s_client', 's_\\u0063lient'),
      tp.replaceAll('s_client', 's_\\u0063lient').replace('"s_\\u0063lient"', '"c:\\\\users","s_\\u0063lient"'),
      tp.replaceAll('s_client', 's_client_').replace('"s_client_"', '"c:\\\\users","s_client_"'),
    ];
    const text = lines.join('\r\n');
    const a = await scanAll(text, { rules, prepared: on });
    const b = await scanAll(text, { rules, prepared: off });
    expect(a.records).toEqual(b.records);
    expect((await scanAll(text, { rules, prepared: onIndexOf })).records).toEqual(b.records);
    expect(a.records.length).toBeGreaterThanOrEqual(9);
    expect(a.result.stats.prefiltered).toBeGreaterThan(0); // the last line, its formula failing
  });
});
