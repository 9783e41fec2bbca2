/**
 * When to hand memory back during a scan. zlib allocates a fresh output buffer per
 * chunk, and a prefiltered scan makes so little JavaScript garbage that V8 collects
 * rarely: dead buffers pile up to its external-memory trigger (~64 MB) and the malloc
 * heap grows with them, which a 128 MB function cannot afford. A full collection fixes
 * that but costs throughput (the next buffers fault their pages in again), so it runs
 * only when resident memory passes a share of the function's memory. Before that, a
 * young-generation collection (a scavenge, well under a millisecond) frees the buffers
 * that died young, which are most of them: on 2 GB in a 128 MB function it halved the
 * full collections and gained about 20 % of throughput at the same peak.
 */

/** Resident memory, as a share of the function's memory, still above which after a scavenge a scan collects fully (85 %: a 2 GB object peaks near 116 MB of 128). */
export const RECLAIM_AT_SHARE = 0.85;
/** Above this share, a scan collects the young generation (in a 128 MB function: nearly always; in a large one: never). */
export const SCAVENGE_AT_SHARE = 0.6;

/**
 * V8's gc as --expose-gc provides it: a full collection, or with `{ type: 'minor' }` a
 * scavenge. (Pass the options through: a wrapper that drops them collects fully.)
 */
export type Gc = (options?: { type: 'minor' }) => void;

export interface ReclaimOptions {
  /** V8's gc, present when Node runs with --expose-gc (the stack sets it in NODE_OPTIONS). */
  gc: Gc | undefined;
  /** The function's memory in MB (AWS_LAMBDA_FUNCTION_MEMORY_SIZE). */
  memoryMb: number;
  rss?: () => number;
}

/** The scan's reclaimMemory hook, or undefined when gc is not exposed. */
export function memoryReclaimer({ gc, memoryMb, rss = () => process.memoryUsage.rss() }: ReclaimOptions): (() => void) | undefined {
  if (gc === undefined) return undefined;
  const memory = memoryMb * 1024 * 1024;
  return () => {
    if (rss() <= memory * SCAVENGE_AT_SHARE) return;
    gc({ type: 'minor' });
    if (rss() > memory * RECLAIM_AT_SHARE) gc();
  };
}

/** The function's memory from the Lambda environment (128 MB, the smallest, if unknown). */
export function functionMemoryMb(env: Record<string, string | undefined>): number {
  const mb = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  return Number.isFinite(mb) && mb > 0 ? mb : 128;
}
