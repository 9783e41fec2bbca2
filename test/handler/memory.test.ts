/** When a scan hands memory back: V8's gc above 85 % of the function's memory, never without --expose-gc. */
import { describe, expect, it } from 'vitest';
import { functionMemoryMb, memoryReclaimer, RECLAIM_AT_SHARE } from '../../lambda/handler/memory.js';

const MB = 1024 * 1024;

describe('memoryReclaimer', () => {
  it('collects only while resident memory is above 85 % of the function’s memory', () => {
    let collections = 0;
    let resident = 0;
    const reclaim = memoryReclaimer({ gc: () => collections++, memoryMb: 128, rss: () => resident })!;
    resident = 100 * MB;
    reclaim();
    expect(collections).toBe(0);
    resident = 128 * MB * RECLAIM_AT_SHARE + 1;
    reclaim();
    reclaim();
    expect(collections).toBe(2);
    resident = 60 * MB;
    reclaim();
    expect(collections).toBe(2);
  });

  it('scales with the function: a 1769 MB function never collects at 200 MB', () => {
    let collections = 0;
    memoryReclaimer({ gc: () => collections++, memoryMb: 1769, rss: () => 200 * MB })!();
    expect(collections).toBe(0);
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
