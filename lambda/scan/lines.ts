/**
 * Splits decompressed bytes into lines on raw Buffers, without decoding text. Lines
 * are 1-based physical lines; `\r\n` endings lose their `\r`. A line longer than the
 * cap is dropped while it streams past (never buffered beyond the cap) and reported.
 * A UTF-8 byte order mark at the start of the stream is not part of line 1.
 */

export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

export interface LineSink {
  /** A complete line: bytes [start, end) of `buf`. `buf` is only valid during the call. */
  line(buf: Buffer, start: number, end: number, lineNumber: number): void;
  /** A line over the cap was skipped. */
  tooLong(lineNumber: number, length: number): void;
  /**
   * Optional fast path: from `from`, the start of line `lineNumber` in `buf`, passes over
   * lines the sink has no use for (and accounts for them itself), and returns the start
   * of the next line to give it (where it stopped), or `buf.length`; or -1 to be asked no
   * more about this buffer. `passedOver` says how many lines it passed over.
   */
  pass?(buf: Buffer, from: number, lineNumber: number, maxLineBytes: number): number;
  readonly passedOver?: number;
  /**
   * Optional: true when the sink holds as much as it should before handing it on. push()
   * then returns after the line, with where to resume in the chunk (see push).
   */
  full?(): boolean;
}

export class LineSplitter {
  /** The number of the line being read (1-based). */
  lineNumber = 1;
  /**
   * The start of a line that continues in the next chunk, copied (the caller may reuse a
   * chunk's memory) into one buffer grown by doubling: a line arriving a few bytes at a time
   * (a socket, a slow pipe) would otherwise keep a Buffer per piece, some 100 bytes each.
   */
  private pending: Buffer = EMPTY;
  private pendingLength = 0;
  private skipping = false;

  constructor(
    private readonly sink: LineSink,
    private readonly maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
  ) {}

  /**
   * Gives the sink the lines of `chunk`, from `from` (0, or where the last call on this chunk
   * said to resume). Returns -1 when the chunk is done; or, where the sink says it is full
   * after a line, the start of the next line, to call again with once the sink is emptied.
   */
  push(chunk: Buffer, from = 0): number {
    let pos = from;
    const n = chunk.length;
    const sink = this.sink;
    // (skipping first: both are then read on every call, so V8 has seen both before it optimizes.)
    if (from === 0 && (this.skipping || this.pendingLength > 0)) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.carry(chunk, 0, n);
        return -1;
      }
      this.carry(chunk, 0, nl);
      this.finishPending();
      pos = nl + 1;
      if (pos < n && sink.full?.() === true) return pos;
    }
    const max = this.maxLineBytes;
    let passes = sink.pass !== undefined;
    for (;;) {
      if (pos >= n) return -1;
      if (passes) {
        const at = sink.pass!(chunk, pos, this.lineNumber, max);
        if (at < 0) passes = false;
        else {
          pos = at;
          this.lineNumber += sink.passedOver!;
        }
      }
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) break;
      const end = nl > pos && chunk[nl - 1] === 13 ? nl - 1 : nl;
      if (end - pos > max) sink.tooLong(this.lineNumber, end - pos);
      else sink.line(chunk, pos, end, this.lineNumber);
      this.lineNumber++;
      pos = nl + 1;
      if (pos < n && sink.full?.() === true) return pos;
    }
    if (pos < n) this.carry(chunk, pos, n);
    return -1;
  }

  /** Flushes a last line that has no trailing newline. */
  end(): void {
    if (this.pendingLength > 0 || this.skipping) this.finishPending();
  }

  private carry(chunk: Buffer, start: number, end: number): void {
    if (this.skipping) {
      this.pendingLength += end - start;
      return;
    }
    const length = this.pendingLength + (end - start);
    if (length > this.maxLineBytes + 1) {
      this.pending = EMPTY;
      this.pendingLength = length;
      this.skipping = true;
      return;
    }
    if (length > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(length, 2 * this.pending.length, 256), this.maxLineBytes + 1));
      this.pending.copy(grown, 0, 0, this.pendingLength);
      this.pending = grown;
    }
    chunk.copy(this.pending, this.pendingLength, start, end);
    this.pendingLength = length;
  }

  private finishPending(): void {
    const number = this.lineNumber++;
    if (this.skipping) {
      this.sink.tooLong(number, this.pendingLength);
    } else {
      const line = this.pending.subarray(0, this.pendingLength);
      const end = line.length > 0 && line[line.length - 1] === 13 ? line.length - 1 : line.length;
      if (end > this.maxLineBytes) this.sink.tooLong(number, end);
      else this.sink.line(line, 0, end, number);
    }
    this.pending = EMPTY; // a fresh buffer for the next line: a sink may tell buffers apart by identity
    this.pendingLength = 0;
    this.skipping = false;
  }
}

const EMPTY = Buffer.alloc(0);

const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf];

/**
 * The bytes without a UTF-8 byte order mark at the very start (Windows tools write one):
 * it is not part of line 1. Dropped from the stream rather than tested in the per-line
 * code, where a branch taken once per scan would throw away V8's optimized code at the
 * start of every second scan.
 */
export async function* withoutByteOrderMark(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let head: Buffer | undefined = Buffer.alloc(0);
  try {
    for await (const chunk of chunks) {
      if (head === undefined) {
        yield chunk;
        continue;
      }
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      // Too short to tell yet, and still a possible mark: kept as a copy (a source may reuse its buffer).
      if (head.length < BYTE_ORDER_MARK.length && head.every((b, i) => b === BYTE_ORDER_MARK[i])) {
        head = Buffer.from(head);
        continue;
      }
      const rest = BYTE_ORDER_MARK.every((b, i) => head![i] === b) ? head.subarray(BYTE_ORDER_MARK.length) : head;
      head = undefined;
      if (rest.length > 0) yield rest;
    }
  } catch (err) {
    // The bytes held back still count (a final partial line) before the error is reported.
    if (head !== undefined && head.length > 0) yield head;
    throw err;
  }
  if (head !== undefined && head.length > 0) yield head;
}
