/** Shared helpers for the scan pipeline tests: sources, scanning into an array, fixture lines, the corpus. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { DetectionRecord, SourceRef } from '../../lambda/alerts/document.js';
import type { Event } from '../../lambda/engine/index.js';
import { loadRules } from '../../lambda/rules/load.js';
import type { Rule } from '../../lambda/rules/model.js';
import type { Needle } from '../../lambda/scan/needle-search.js';
import { scan, type ScanOptions, type ScanResult } from '../../lambda/scan/pipeline.js';
import { fixture, REPO_ROOT, RULES_DIR, variant, type FixtureName } from '../rules/helpers.js';

export { fixture, REPO_ROOT, RULES_DIR, variant, type FixtureName };
export { OPENSSL_RULE_ID, SSH_RULE_ID } from '../rules/helpers.js';

export const EXAMPLES_DIR = join(REPO_ROOT, 'examples');

/** The shipped rules (rules/), loaded once per test file. */
export function shippedRules(): Rule[] {
  const loaded = loadRules([RULES_DIR]);
  if (loaded.errors.length > 0) throw new Error(loaded.errors.map((e) => e.message).join('\n'));
  return loaded.rules;
}

/** A fixed clock, so two scans give byte-identical records. */
export const FIXED_NOW = new Date('2026-11-21T00:00:00.000Z');
export const fixedNow = (): Date => FIXED_NOW;

export const fileRef = (file: string, identity = `file:${file}`): SourceRef => ({ kind: 'file', file, identity });

/** A source yielding the given pieces as Buffers, in order. */
export async function* source(...pieces: (Buffer | string)[]): AsyncGenerator<Buffer> {
  for (const p of pieces) yield typeof p === 'string' ? Buffer.from(p) : p;
}

/** A source yielding `data` in chunks of `size` bytes (the last one shorter). */
export async function* chunked(data: Buffer | string, size: number): AsyncGenerator<Buffer> {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, Math.min(i + size, buf.length));
}

/** A source yielding `data` cut at the given offsets. */
export async function* cutAt(data: Buffer, offsets: number[]): AsyncGenerator<Buffer> {
  let from = 0;
  for (const at of [...offsets].sort((a, b) => a - b)) {
    yield data.subarray(from, at);
    from = at;
  }
  yield data.subarray(from);
}

export interface Scanned {
  result: ScanResult;
  records: DetectionRecord[];
  /** The record batches, as the sink received them. */
  batches: DetectionRecord[][];
}

/** Runs the pipeline and collects every record the sink receives. */
export async function scanAll(input: AsyncIterable<Buffer> | Buffer | string, options: Partial<ScanOptions> & { rules: Rule[] }, ref: SourceRef = fileRef('test.ndjson')): Promise<Scanned> {
  const batches: DetectionRecord[][] = [];
  const stream = typeof input === 'string' || Buffer.isBuffer(input) ? source(input) : input;
  const result = await scan(stream, ref, { now: fixedNow, ...options }, (records) => {
    batches.push(records);
  });
  return { result, records: batches.flat(), batches };
}

/** `[rule id, line]` of every alert record, in order. */
export function alertLines(records: DetectionRecord[]): [string, number][] {
  return records.flatMap((r) => (r.kind === 'alert' ? [[r.rule.id, r.source.line] as [string, number]] : []));
}

/** A fixture event as one NDJSON line (the `_fixture` note stripped). */
export function fixtureEvent(name: FixtureName, changes: Record<string, unknown> = {}): Event {
  const event = variant(fixture(name), changes);
  delete event._fixture;
  return event;
}

export const line = (event: Event): string => JSON.stringify(event);

/** True positives of each shipped rule, and a line neither matches. */
export const OPENSSL_TP = (): Event => fixtureEvent('defend-linux-process-exec-openssl');
export const SSH_TP = (): Event => fixtureEvent('defend-linux-file-rename-sshd');
export const BENIGN = (n = 0): Event =>
  fixtureEvent('defend-linux-process-exec-openssl', {
    'process.name': 'bash',
    'process.executable': '/usr/bin/bash',
    'process.args': ['bash', '-c', `echo ${n}`],
    'process.args_count': 3,
    'process.command_line': `bash -c echo ${n}`,
  });

/** NDJSON text of the given events (each line ends with \n). */
export const ndjson = (events: (Event | string)[], eol = '\n'): string => events.map((e) => (typeof e === 'string' ? e : line(e)) + eol).join('');

export const gzip = (text: string | Buffer): Buffer => gzipSync(typeof text === 'string' ? Buffer.from(text) : text);

/** A temp folder removed by the returned cleanup. */
export function tempDir(prefix = 'eqlambda-scan-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** How long the hang-regression tests wait: a scan of those inputs takes well under 100 ms when it returns. */
export const HANG_MS = 600;

/** Resolves to 'timeout' if `promise` has not settled after `ms` (to turn a hang into a failed assertion). */
export async function settlesWithin<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The deterministic generator in scripts/corpus.mjs (plain JS, typed here). */
export interface CorpusLine {
  line: string;
  kind: 'benign' | 'near_miss' | 'openssl' | 'ssh';
}
export interface Corpus {
  lines(count: number, shares?: { nearMiss?: number; truePositive?: number }): Iterable<CorpusLine>;
  openssl(): Event;
  sshBackdoor(): Event;
  benign(): Event;
  nearMiss(): Event;
}
interface CorpusModule {
  Corpus: new (seed?: number) => Corpus;
  rng: (seed: number) => () => number;
}

const corpusModule = (await import(new URL('../../scripts/corpus.mjs', import.meta.url).href)) as CorpusModule;
export const newCorpus = (seed: number): Corpus => new corpusModule.Corpus(seed);
/** mulberry32, as the corpus uses: a seeded generator of floats in [0, 1). */
export const seededRandom = (seed: number): (() => number) => corpusModule.rng(seed);

/** Does needle `n` occur at `at` in `data` (ASCII case folded where it is case-insensitive)? The slow way, for reference searches. */
export function needleAt(data: Uint8Array, at: number, n: Needle): boolean {
  if (at + n.bytes.length > data.length) return false;
  for (let j = 0; j < n.bytes.length; j++) {
    const d = data[at + j]!;
    const b = n.bytes[j]!;
    if (n.caseInsensitive ? (d & 0xdf) !== (b & 0xdf) : d !== b) return false;
  }
  return true;
}
