/** Helpers for the CLI tests: run `eqlambda` in-process and capture its output. */
import { main } from '../../lambda/cli/main.js';
import type { DetectionRecord } from '../../lambda/alerts/document.js';

export interface CliRun {
  code: number;
  /** Each io.out call: one stdout line. */
  out: string[];
  /** Each io.err call: one stderr line (the summary may be several lines in one call). */
  err: string[];
  stderr: string;
}

export async function runCli(argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), isTty: false });
  return { code, out, err, stderr: err.join('\n') };
}

/** stdout parsed as NDJSON records (each io.out call must be exactly one JSON line). */
export function records(run: { out: string[] }): DetectionRecord[] {
  return run.out.map((l) => {
    if (l.includes('\n')) throw new Error(`not one line: ${l.slice(0, 80)}`);
    return JSON.parse(l) as DetectionRecord;
  });
}

/** [file basename, line, rule id] of each alert. */
export function alertKeys(recs: DetectionRecord[]): [string, number, string][] {
  return recs.flatMap((r) => (r.kind === 'alert' && 'file' in r.source ? [[r.source.file.split(/[\\/]/).pop()!, r.source.line, r.rule.id] as [string, number, string]] : []));
}

/** Records without their @timestamp (for comparing two runs). */
export function withoutTimestamps(recs: DetectionRecord[]): unknown[] {
  return recs.map((r) => {
    if (r.kind !== 'alert') return r;
    const { '@timestamp': _ts, ...rest } = r;
    return rest;
  });
}
