/** Sample logs and rules for handler tests: the bundled examples and the seeded corpus generator. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { loadRules } from '../../lambda/rules/load.js';
import type { Rule } from '../../lambda/rules/model.js';

export type Doc = Record<string, unknown> & {
  host?: { name?: unknown };
  process?: Record<string, unknown>;
  data_stream?: unknown;
  agent?: unknown;
};

export interface CorpusApi {
  openssl(): Doc;
  sshBackdoor(): Doc;
  benign(): Doc;
  nearMiss(): Doc;
  lines(count: number, options?: { nearMiss?: number; truePositive?: number }): Iterable<{ line: string; kind: string }>;
}

// scripts/corpus.mjs is plain JS without declarations: import it by URL and type it here.
const corpusModule = (await import(new URL('../../scripts/corpus.mjs', import.meta.url).href)) as { Corpus: new (seed?: number) => CorpusApi };

export function corpus(seed: number): CorpusApi {
  return new corpusModule.Corpus(seed);
}

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

let rulesCache: Rule[] | undefined;
/** The shipped rules (rules/): the ssh backdoor rule and the openssl rule. */
export function shippedRules(): Rule[] {
  if (rulesCache === undefined) {
    const loaded = loadRules([root('rules')]);
    if (loaded.errors.length > 0) throw new Error(loaded.errors.map((e) => e.message).join('\n'));
    rulesCache = loaded.rules;
  }
  return rulesCache;
}

export const OPENSSL_RULE = 'Openssl Client or Server Activity';
export const SSH_RULE = 'Potential OpenSSH Backdoor Logging Activity';

/** The bundled examples and how many true positives each holds (6 in all). */
export const EXAMPLES = [
  { file: 'defend-linux-2026-11-20.ndjson.gz', alerts: 3 },
  { file: 'auditbeat-fim.ndjson.gz', alerts: 1 },
  { file: 'sentinelone-cloud-funnel.ndjson.gz', alerts: 1 },
  { file: 'endgame-linux.ndjson', alerts: 1 },
] as const;

export function example(file: string): Buffer {
  return readFileSync(root(`examples/${file}`));
}

export function ndjson(docs: unknown[]): Buffer {
  return Buffer.from(docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
}

export function gz(data: Buffer): Buffer {
  return gzipSync(data, { level: 6 });
}

/** Removes the fields that route an event to an index (data_stream.*, agent.*). */
export function unrouted(doc: Doc): Doc {
  const out = structuredClone(doc);
  delete out.data_stream;
  delete out.agent;
  return out;
}

/** `count` benign events then the given documents, interleaved with more benign ones. */
export function logWith(seed: number, hits: Doc[], benignBetween = 20): Doc[] {
  const c = corpus(seed);
  const docs: Doc[] = [];
  for (const hit of hits) {
    for (let i = 0; i < benignBetween; i++) docs.push(c.benign());
    docs.push(hit);
  }
  for (let i = 0; i < benignBetween; i++) docs.push(c.benign());
  return docs;
}
