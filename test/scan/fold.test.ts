/** Case folding for the case-insensitive needle search: against a byte-by-byte reference. */
import { describe, expect, it } from 'vitest';
import { CaseFolder } from '../../lambda/scan/fold.js';
import { seededRandom } from './helpers.js';

const reference = (bytes: Uint8Array): Buffer => Buffer.from(bytes.map((b) => b & 0xdf));

describe('CaseFolder', () => {
  it('folds buffers of every length from 0 to 100, and leaves the input alone', () => {
    const folder = new CaseFolder();
    const random = seededRandom(7);
    for (let n = 0; n <= 100; n++) {
      const input = Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
      const before = Buffer.from(input);
      expect(folder.fold(input)).toEqual(reference(input));
      expect(input).toEqual(before);
    }
  });

  it('maps ASCII letters of either case together', () => {
    const folder = new CaseFolder();
    expect(folder.fold(Buffer.from('/usr/SBIN/sshd')).toString('latin1')).toBe(folder.fold(Buffer.from('/USR/sbin/SSHD')).toString('latin1'));
    expect(folder.fold(Buffer.from('openssl')).toString('latin1')).toBe('OPENSSL');
  });

  it('grows for large buffers (a 3 MB line) and still folds the small ones after', () => {
    const folder = new CaseFolder();
    const big = Buffer.alloc(3_000_001, 'aZ/x');
    // Buffer.equals: a deep toEqual over 3 MB is slow.
    expect(folder.fold(big).equals(reference(big))).toBe(true);
    expect(folder.capacity).toBeGreaterThanOrEqual(big.length);
    expect(folder.fold(Buffer.from('abc'))).toEqual(Buffer.from('ABC'));
  });
});
