/** The first read's CRC checkpoints, against which a second read of damaged input is checked. */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ReadCheckpoints } from '../../lambda/scan/decode.js';
import { seededRandom } from './helpers.js';

describe('ReadCheckpoints', () => {
  const input = randomBytes(3 * 1024 * 1024 + 777);

  /** Feeds `input` in chunks of random sizes up to `largest`. */
  function feed(largest: number, seed: number): ReadCheckpoints {
    const random = seededRandom(seed);
    const checkpoints = new ReadCheckpoints();
    for (let at = 0; at < input.length; ) {
      const size = 1 + Math.floor(random() * largest);
      checkpoints.add(input.subarray(at, at + size));
      at += size;
    }
    return checkpoints;
  }

  it('gives the CRC of the input up to a checkpoint at or before any offset, whatever the chunking', () => {
    for (const [largest, seed] of [[1, 1], [100, 2], [16 * 1024, 3], [1 << 20, 4], [input.length, 5]] as const) {
      const checkpoints = largest === 1 ? feedBytewise() : feed(largest, seed);
      for (const offset of [0, 4095, 4096, 70_000, 1 << 20, 2_500_001, input.length]) {
        const check = checkpoints.atOrBefore(offset);
        expect(check.offset).toBeLessThanOrEqual(offset);
        expect(check.crc).toBe(check.offset === 0 ? 0 : crc32(input.subarray(0, check.offset)));
      }
    }
  });

  it('is exact within the first 4 KiB, 4 KiB apart over the last 4 MiB read, and coarser before', () => {
    const first = new ReadCheckpoints();
    first.add(input.subarray(0, 1 << 20));
    for (const offset of [1, 1234, 4095, 4096]) expect(first.atOrBefore(offset)).toEqual({ offset, crc: crc32(input.subarray(0, offset)) });
    expect(first.atOrBefore(5000).offset).toBe(4096);
    const checkpoints = feed(input.length, 6);
    expect(checkpoints.atOrBefore(1000)).toEqual({ offset: 1000, crc: crc32(input.subarray(0, 1000)) });
    // Damage is found within a few MiB of where reading got to: a checkpoint within 4 KiB of it.
    for (const back of [0, 1, 5000, 3 << 20]) {
      const offset = input.length - back;
      expect(offset - checkpoints.atOrBefore(offset).offset).toBeLessThan(4096);
    }
  });

  it('keeps a bounded number, however long the input, with older ones a fraction of the input apart', () => {
    const checkpoints = new ReadCheckpoints();
    const chunk = Buffer.alloc(16 * 1024, 7);
    let read = 0;
    for (let i = 0; i < 64 * 1024; i++, read += chunk.length) checkpoints.add(chunk); // 1 GiB
    expect(checkpoints.size).toBeLessThanOrEqual(2 * 1024 + 512);
    expect(read - checkpoints.atOrBefore(read).offset).toBe(0);
    const old = read / 2;
    expect(old - checkpoints.atOrBefore(old).offset).toBeLessThanOrEqual(read / 256);
  });

  it('finds the furthest checkpoint in a range, the end of the read included', () => {
    const checkpoints = feed(100_000, 8);
    const end = input.length;
    expect(checkpoints.lastWithin(end - 10_000, end + 1)).toEqual({ offset: end, crc: crc32(input) });
    const inside = checkpoints.lastWithin(20_000, 1_000_000)!;
    expect(inside.offset).toBeGreaterThan(1_000_000 - 4096 * 512);
    expect(inside.offset).toBeLessThanOrEqual(1_000_000);
    expect(inside.crc).toBe(crc32(input.subarray(0, inside.offset)));
    expect(checkpoints.lastWithin(end, end + 100)).toBeUndefined();
    const short = new ReadCheckpoints();
    short.add(input.subarray(0, 3000));
    expect(short.lastWithin(1000, 4_000_000)).toEqual({ offset: 3000, crc: crc32(input.subarray(0, 3000)) });
    expect(short.lastWithin(0, 2000)).toEqual({ offset: 2000, crc: crc32(input.subarray(0, 2000)) });
  });

  it('notes nothing past a limit, so the checkpoints near it stay however far reading goes on', () => {
    // After zero padding the first read goes on to the end of the input: past 2 GiB the thinned
    // checkpoints were over 4 MiB apart, and the one before the damage could be at 0.
    const checkpoints = new ReadCheckpoints();
    const chunk = Buffer.alloc(1 << 20, 3);
    const at = 10 * (1 << 20) + 12_345;
    for (let i = 0; i < 12; i++) checkpoints.add(chunk);
    checkpoints.noteUntil(at + 4 * (1 << 20));
    for (let i = 0; i < 3000; i++) checkpoints.add(chunk); // 3 GiB more
    const prefix = (n: number): number => crc32(Buffer.alloc(n, 3));
    const before = checkpoints.atOrBefore(at);
    expect(at - before.offset).toBeLessThan(4096);
    expect(before.crc).toBe(prefix(before.offset));
    expect(checkpoints.lastWithin(before.offset, at + 4 * (1 << 20))).toEqual({ offset: at + 4 * (1 << 20), crc: prefix(at + 4 * (1 << 20)) });
    expect(checkpoints.size).toBeLessThanOrEqual(2 * 1024 + 512);
  });

  function feedBytewise(): ReadCheckpoints {
    const checkpoints = new ReadCheckpoints();
    const part = input.subarray(0, 300_000);
    for (let i = 0; i < part.length; i++) checkpoints.add(part.subarray(i, i + 1));
    checkpoints.add(input.subarray(part.length));
    return checkpoints;
  }
});
