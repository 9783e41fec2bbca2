/**
 * ASCII case folding of raw bytes, for case-insensitive substring search: clearing bit
 * 0x20 maps `a`–`z` onto `A`–`Z`. It also maps a few other bytes together (`/` and 0x0F,
 * `{` and `[`), which can only add candidate lines, never lose one: if a line contains a
 * needle ignoring ASCII case, the folded line contains the folded needle.
 */
export const FOLD_MASK = 0xdf;

/** Folds buffers into a reused scratch area, a 32-bit word at a time. */
export class CaseFolder {
  private bytes = Buffer.alloc(0);
  private words = new Uint32Array(0);

  /** Bytes of scratch memory (for tests: it grows to the largest buffer folded). */
  get capacity(): number {
    return this.bytes.length;
  }

  /** A folded copy of `buf`, valid until the next call. */
  fold(buf: Uint8Array): Buffer {
    if (buf.length > this.bytes.length) this.grow(buf.length);
    this.bytes.set(buf);
    const words = this.words;
    const n = (buf.length + 3) >>> 2;
    for (let i = 0; i < n; i++) words[i]! &= 0xdfdfdfdf;
    return this.bytes.subarray(0, buf.length);
  }

  private grow(size: number): void {
    // A fresh ArrayBuffer, so the word view is aligned; room for the last word's overrun.
    const buffer = new ArrayBuffer(Math.ceil(Math.max(size, 2 * this.bytes.length, 64 * 1024) / 4) * 4 + 4);
    this.bytes = Buffer.from(buffer);
    this.words = new Uint32Array(buffer);
  }
}
