/** When a scan hands memory back: a scavenge above 60 % of the function's memory, a full gc above 85 %, never without --expose-gc. */
import { describe, expect, it } from 'vitest';
import { functionMemoryMb, memoryReclaimer, RECLAIM_AT_SHARE, SCAVENGE_AT_SHARE } from '../../lambda/handler/memory.js';

const MB = 1024 * 1024;

describe('memoryReclaimer', () => {
  /** A reclaimer over a fake gc and resident size; `done` lists the collections made. */
  const setUp = (memoryMb: number) => {
    const done: string[] = [];
    const state = { resident: 0 };
    const reclaim = memoryReclaimer({ gc: (options) => done.push(options?.type ?? 'full'), memoryMb, rss: () => state.resident })!;
    return { done, state, reclaim };
  };

  it('scavenges above 60 % of the function’s memory, and collects fully only above 85 %', () => {
    const { done, state, reclaim } = setUp(128);
    state.resident = 128 * MB * SCAVENGE_AT_SHARE;
    reclaim();
    expect(done).toEqual([]);
    state.resident = 100 * MB;
    reclaim();
    expect(done).toEqual(['minor']);
    state.resident = 128 * MB * RECLAIM_AT_SHARE + 1;
    reclaim();
    reclaim();
    expect(done).toEqual(['minor', 'minor', 'full', 'minor', 'full']);
    state.resident = 60 * MB;
    reclaim();
    expect(done).toHaveLength(5);
  });

  it('skips the full collection when the scavenge brought memory back under 85 %', () => {
    const done: string[] = [];
    let resident = 120 * MB;
    const reclaim = memoryReclaimer({
      gc: (options) => {
        done.push(options?.type ?? 'full');
        resident = 90 * MB; // the scavenge freed zlib's dead buffers
      },
      memoryMb: 128,
      rss: () => resident,
    })!;
    reclaim();
    expect(done).toEqual(['minor']);
  });

  it('scales with the function: a 1769 MB function never collects at 200 MB', () => {
    const { done, state, reclaim } = setUp(1769);
    state.resident = 200 * MB;
    reclaim();
    expect(done).toEqual([]);
  });

  it('is absent without an exposed gc', () => {
    expect(memoryReclaimer({ gc: undefined, memoryMb: 128 })).toBeUndefined();
  });

  it('reads the function memory from the Lambda environment, 128 MB when unknown', () => {
    expect(functionMemoryMb({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1769' })).toBe(1769);
    expect(functionMemoryMb({})).toBe(128);
    expect(functionMemoryMb({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: 'lots' })).toBe(128);
  });
});
