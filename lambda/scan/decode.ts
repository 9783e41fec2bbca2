/**
 * Decode stage: raw bytes in, decompressed bytes out. Compression is sniffed from the
 * first bytes (gzip magic 1f 8b; multi-member gzip included), never from a name.
 * Errors are classified (errors.ts) so callers can decide what a retry could fix.
 */
import { constants, createGunzip } from 'node:zlib';
import { asBuffer, ContentError, crc32After, gzipCorrupt, SourceError, zlibError } from './errors.js';
import { gunzipExactly } from './gzip-members.js';
import { readAll } from './readable.js';

export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 ** 3;

export { ContentError, SourceError };

export interface DecodeOptions {
  /** Stop with a ContentError after this many decompressed bytes (gzip bomb guard). */
  maxDecompressedBytes?: number;
  /** zlib output chunk size. */
  chunkSize?: number;
  /**
   * Reads the same bytes again from the start (the same file, the same S3 version or ETag).
   * Given, gzip damage is decoded again member by member (gzip-members.ts), to deliver
   * the lines Node's gunzip dropped with the zlib call that failed.
   */
  reopen?: () => Promise<AsyncIterable<Buffer>>;
  /**
   * Aborted by a reader that has stopped (out of time): reading the rest of the input and
   * reading it again end at the next chunk. An abandoned generator only sees its return()
   * at its next yield, and those reads yield nothing for a long while.
   */
  signal?: AbortSignal;
}

export interface DecodeStats {
  compressed: boolean;
  bytesIn: number;
  bytesOut: number;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
const SNIFF_BYTES = 6;

/** Signatures of inputs that would otherwise be read as lines of garbage: every line invalid JSON, exit 0. */
const OTHER_FORMATS: [string, (b: Buffer) => boolean][] = [
  ['bzip2', (b) => b.length >= 4 && b.toString('latin1', 0, 3) === 'BZh' && b[3]! >= 0x31 && b[3]! <= 0x39],
  ['xz', (b) => b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))],
  ['zstd', (b) => b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528],
  ['lz4', (b) => b.length >= 4 && b.readUInt32LE(0) === 0x184d2204],
  ['zip', (b) => b.length >= 4 && b.readUInt32LE(0) === 0x04034b50],
  // A byte order mark and then a character of the Latin-1 range, as `{` is in UTF-16; or,
  // without a mark, two such characters (JSON text never holds a NUL byte).
  [
    'UTF-16 text',
    (b) =>
      b.length >= 4 &&
      ((b[0] === 0xff && b[1] === 0xfe && b[3] === 0) ||
        (b[0] === 0xfe && b[1] === 0xff && b[2] === 0) ||
        (b[0] !== 0 && b[1] === 0 && b[2] !== 0 && b[3] === 0) ||
        (b[0] === 0 && b[1] !== 0 && b[2] === 0 && b[3] !== 0)),
  ],
];

const unsupported = (format: string, inGzip: boolean): ContentError =>
  new ContentError(`${format} input${inGzip ? ' inside gzip' : ''} is not supported: eqlambda reads NDJSON, plain or gzip (decompress or convert it first)`);

function otherFormat(head: Buffer): string | undefined {
  return OTHER_FORMATS.find(([, matches]) => matches(head))?.[0];
}

/**
 * Yields the decompressed bytes of `source`. Everything that could be decoded before an
 * error is yielded before the error is thrown, so no alert from the readable part is lost.
 */
export async function* decode(source: AsyncIterable<Buffer>, stats: DecodeStats, options: DecodeOptions = {}): AsyncGenerator<Buffer> {
  const max = options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  const input = counted(source, stats)[Symbol.asyncIterator]();

  // Sniff: gather the first few bytes (or the whole input if shorter).
  let head: Buffer = Buffer.alloc(0);
  /** A read error while sniffing: thrown after the bytes before it have been delivered. */
  let sniffError: unknown;
  while (head.length < SNIFF_BYTES) {
    let next;
    try {
      next = await input.next();
    } catch (err) {
      sniffError = err;
      break;
    }
    if (next.done) break;
    head = head.length === 0 ? next.value : Buffer.concat([head, next.value]);
    // Reading on: a source may reuse the memory of the chunk just read.
    if (head.length < SNIFF_BYTES && head === next.value) head = Buffer.from(head);
  }
  stats.compressed = head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
  if (!stats.compressed && sniffError === undefined) {
    const format = otherFormat(head);
    if (format !== undefined) {
      await input.return?.(undefined);
      throw unsupported(format, false);
    }
  }

  const rest: AsyncIterable<Buffer> = {
    async *[Symbol.asyncIterator]() {
      if (head.length > 0) yield head;
      if (sniffError !== undefined) throw sniffError;
      for (;;) {
        const next = await input.next();
        if (next.done) return;
        yield next.value;
      }
    },
  };

  /** The part of a chunk within the decompressed-size cap; the caller then throws `overLimit`. */
  const withinLimit = (chunk: Buffer): Buffer => {
    const room = max - stats.bytesOut;
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, Math.max(room, 0));
    stats.bytesOut += kept.length;
    return kept;
  };
  const overLimit = (): ContentError => new ContentError(`decompressed size exceeds the limit of ${max} bytes (gzip bomb?)`);

  if (!stats.compressed) {
    try {
      for await (const chunk of rest) {
        // The bytes up to the cap are still scanned: results do not depend on chunk sizes.
        const kept = withinLimit(chunk);
        if (kept.length > 0) yield kept;
        if (kept.length < chunk.length) throw overLimit();
      }
    } finally {
      await input.return?.(undefined);
    }
    return;
  }

  const chunkSize = options.chunkSize ?? 64 * 1024;
  const gunzip = createGunzip({ chunkSize });
  let sourceFailure: SourceError | undefined;
  /** Resolves once zlib has taken everything written so far (or is gone). */
  const flushed = (): Promise<void> =>
    new Promise<void>((resolve) => {
      // 'close' too: after destroy() (an error, or the consumer stopping) the flush never completes.
      const done = (): void => {
        gunzip.off('close', done);
        resolve();
      };
      gunzip.once('close', done);
      gunzip.flush(constants.Z_SYNC_FLUSH, done);
    });
  // Backpressure by a window of compressed bytes written but not yet taken by zlib,
  // tracked with write callbacks: 'drain' only comes once the queue is empty, which would
  // leave zlib idle while the next write is gathered.
  let queued = 0;
  let resume: (() => void) | undefined;
  const wake = (): void => {
    const r = resume;
    resume = undefined;
    r?.();
  };
  gunzip.once('close', wake);
  const abandon = (): void => {
    gunzip.destroy();
  };
  options.signal?.addEventListener('abort', abandon, { once: true });
  // Stopped while the first bytes were awaited: the listener came too late to hear it.
  if (options.signal?.aborted === true) abandon();
  /** Bytes of completed writes, and where gunzip stopped taking them (zero padding). */
  let taken = 0;
  let stoppedAt: number | undefined;
  /** The largest write: a zlib call that fails had at most this much input. */
  let largestWrite = 0;
  const write = async (bytes: Buffer): Promise<boolean> => {
    if (bytes.length === 0 || gunzip.destroyed) return !gunzip.destroyed;
    largestWrite = Math.max(largestWrite, bytes.length);
    queued += bytes.length;
    // The callback also runs (with an error) for writes still queued when the stream is destroyed.
    gunzip.write(bytes, (err) => {
      queued -= bytes.length;
      if (queued <= MAX_QUEUED_BYTES / 2) wake();
      if (err !== null && err !== undefined) return;
      // zlib took less than it was given: gunzip stopped at zero padding (later writes it
      // may still be handed start mid-member, and fail: that is not damage).
      taken += bytes.length;
      if (gunzip.bytesWritten < taken) stoppedAt ??= gunzip.bytesWritten;
    });
    if (queued > MAX_QUEUED_BYTES && !gunzip.destroyed) await new Promise<void>((r) => (resume = r));
    return !gunzip.destroyed;
  };
  /**
   * Node's gunzip ends quietly at a zero byte after a member (padding), leaving whatever
   * follows unread: a member after the zeros would be lost without a word. So the feeder
   * notes where the last non-zero byte of the input ends, and after such an end reads the
   * rest of the input to find it.
   */
  let read = 0;
  let nonZeroEnd = 0;
  /**
   * A second read must match the first up to where the damage was, or its bytes are not these
   * (a file rewritten in place with the same size and time), and splicing them in would be
   * silently wrong.
   */
  const checkpoints = new ReadCheckpoints();
  const noteRead = (chunk: Buffer): void => {
    if (options.reopen !== undefined) checkpoints.add(chunk);
    read += chunk.length;
    let end = chunk.length;
    while (end > 0 && chunk[end - 1] === 0) end--;
    if (end > 0) nonZeroEnd = read - chunk.length + end;
  };
  /** Set when gunzip has ended before the input: the feeder then reads on without writing. */
  let readRest = false;
  // Feed the compressed bytes in the background, honouring backpressure. The last 8 bytes
  // (the gzip trailer, whose CRC check may fail) are held back until everything before
  // them has been flushed out, so a bad trailer or a truncated stream loses no lines.
  const feeding = (async () => {
    // Reads are gathered into large writes (see WRITE_BYTES).
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    let writing = true;
    /** Writes what is pending but its last 8 bytes, and returns those (undefined once zlib is gone). */
    const writeHoldingTrailer = async (): Promise<Buffer | undefined> => {
      const joined = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      const cut = Math.max(joined.length - TRAILER_BYTES, 0);
      pending.length = 0;
      pendingBytes = 0;
      return (await write(joined.subarray(0, cut))) ? joined.subarray(cut) : undefined;
    };
    try {
      for await (const chunk of rest) {
        if (options.signal?.aborted === true) return;
        noteRead(chunk);
        if (!writing) continue;
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes < WRITE_BYTES + TRAILER_BYTES) continue;
        const trailer = await writeHoldingTrailer();
        if (trailer === undefined) {
          if (!readRest) return;
          writing = false;
          continue;
        }
        pending.push(Buffer.from(trailer)); // a copy: the rest of its buffer can go
        pendingBytes = trailer.length;
      }
      if (!writing) return;
      const trailer = await writeHoldingTrailer();
      if (trailer === undefined) return;
      await flushed();
      if (!gunzip.destroyed) gunzip.end(trailer);
    } catch (err) {
      sourceFailure = err instanceof SourceError ? err : new SourceError(`read failed: ${(err as Error).message}`, err);
      if (!writing) return;
      // Deliver what was read and decoded before reporting the read failure.
      if ((await writeHoldingTrailer()) !== undefined) await flushed();
      gunzip.destroy(sourceFailure);
    }
  })();
  // The decompressed bytes are sniffed too: bzip2 or UTF-16 gzipped would otherwise be read
  // as lines of garbage, every one invalid JSON, and the object reported as scanned.
  let sniffed = false;
  async function* delivered(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      if (!sniffed && chunk.length > 0) {
        sniffed = true;
        const inner = otherFormat(chunk);
        if (inner !== undefined) throw unsupported(inner, true);
      }
      const kept = withinLimit(chunk);
      if (kept.length > 0) yield kept;
      if (kept.length < chunk.length) throw overLimit();
    }
  }
  /**
   * Damage zlib found (the zlib call that failed dropped its output, which began at compressed
   * offset `at`), or input gunzip left unread (`unread`: only an error if it is not gzip).
   */
  let damage: { error: ContentError; at: number; unread?: true } | undefined;
  let finished = false;
  try {
    yield* delivered(readAll(gunzip));
    finished = true;
    readRest = true;
    // Reading on to the end of the input to find a member after padding: a second read is
    // checked only to a little past where gunzip stopped, so only that much is noted (on a
    // long input, later checkpoints would thin out the ones near it).
    checkpoints.noteUntil(gunzip.bytesWritten + VERIFY_AHEAD_BYTES);
  } catch (err) {
    finished = true;
    if (sourceFailure !== undefined) throw sourceFailure;
    if (err instanceof ContentError) throw err;
    if (stoppedAt !== undefined) {
      // Handed the bytes after zero padding, gunzip fails on them: the unread case below.
      const error = notRead(stoppedAt);
      if (options.reopen === undefined) throw error;
      damage = { error, at: stoppedAt, unread: true };
    } else {
      const error = zlibError(err as NodeJS.ErrnoException);
      // A truncated stream loses nothing (all but its last 8 bytes are flushed out first, and
      // those decode to nothing more); other damage may have.
      if ((err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') throw error;
      // The output of the zlib call that failed is gone, unless a second read recovers it:
      // the report says so where none does (standard input, a pipe, a second read that differs).
      const lossy = new ContentError(`${error.message}; up to ${chunkSize} bytes decoded just before it were lost with it, as the input could not be read again to recover them`);
      if (options.reopen === undefined) throw lossy;
      damage = { error: lossy, at: gunzip.bytesWritten };
    }
  } finally {
    gunzip.destroy();
    options.signal?.removeEventListener('abort', abandon);
    if (finished) {
      await feeding;
      await input.return?.(undefined);
    } else {
      // Stopped early (time budget): return now. The feeder may be waiting on a stalled
      // source read; it ends on its own when that read completes, and then releases the
      // source (closes the S3 response).
      void feeding.then(() => input.return?.(undefined)).catch(() => undefined);
    }
  }
  options.signal?.throwIfAborted();
  if (damage === undefined && readRest) {
    if (sourceFailure !== undefined) throw sourceFailure;
    if (nonZeroEnd > gunzip.bytesWritten) {
      const error = notRead(gunzip.bytesWritten);
      if (options.reopen === undefined) throw error;
      damage = { error, at: gunzip.bytesWritten, unread: true };
    }
  }
  if (damage !== undefined) yield* redecode(damage, options.reopen!);

  /**
   * The chunks of a second read, checked against the first read's CRC past the damage, as far
   * as the first read went (up to VERIFY_AHEAD_BYTES beyond `at`): a file rewritten only after
   * the damage (a valid member where the first read had junk) would otherwise be spliced in.
   * Chunks from the last checkpoint before the damage on are held until that check, so the
   * decoder sees nothing there unchecked; `checked.same` is set once it has passed.
   */
  async function* sameAsRead(again: AsyncIterable<Buffer>, at: number, checked: { same: boolean }): AsyncGenerator<Buffer> {
    const holdFrom = checkpoints.atOrBefore(at);
    const check = checkpoints.lastWithin(holdFrom.offset, at + VERIFY_AHEAD_BYTES) ?? holdFrom;
    checked.same = check.offset === 0;
    let offset = 0;
    let crc = 0;
    const held: Buffer[] = [];
    for await (const raw of again) {
      // Stopped: the for-await releases the second read (closes the file, the S3 response).
      options.signal?.throwIfAborted();
      const chunk = asBuffer(raw);
      if (offset < check.offset) {
        const part = chunk.subarray(0, check.offset - offset);
        crc = crc32After(part, crc);
        if (offset + part.length === check.offset) {
          if (crc !== check.crc) throw new ReadDifferently();
          checked.same = true;
        }
      }
      offset += chunk.length;
      if (!checked.same && offset > holdFrom.offset) {
        held.push(Buffer.from(chunk)); // a copy: a source may reuse its buffer
        continue;
      }
      yield* held.splice(0);
      yield chunk;
    }
    if (offset < check.offset) throw new ReadDifferently();
    yield* held;
  }

  /**
   * Reads the input again and decodes it member by member, yielding what follows the bytes
   * already delivered, in small zlib calls from where the damage was found; then the damage
   * as that decoder reports it (a bad member after good ones: where the good ones end). If it
   * finds none, there is none: gunzip also fails on valid input, when it has stopped at zero
   * padding and is given the bytes after it. If the input cannot be read again, or reads
   * differently, the first report stands.
   *
   * Reading differently is only known at the check (sameAsRead), and the decoder runs ahead
   * of it: so nothing it finds before the check counts. The same bytes decode to nothing new
   * there (everything before `at` was delivered), and their damage was found by gunzip.
   */
  async function* redecode(found: { error: ContentError; at: number; unread?: true }, reopen: () => Promise<AsyncIterable<Buffer>>): AsyncGenerator<Buffer> {
    let again: AsyncIterable<Buffer>;
    options.signal?.throwIfAborted();
    try {
      again = await reopen();
    } catch {
      throw found.error;
    }
    const checked = { same: false };
    const decoded = gunzipExactly(sameAsRead(again, found.at, checked), {
      skipBytes: stats.bytesOut,
      fineFrom: found.unread === true ? Infinity : found.at,
      fineUntil: found.at + largestWrite + TRAILER_BYTES,
      chunkSize: EXACT_CHUNK_BYTES,
    });
    async function* checkedFirst(): AsyncGenerator<Buffer> {
      for await (const chunk of decoded) {
        if (!checked.same) throw new ReadDifferently();
        yield chunk;
      }
    }
    try {
      yield* delivered(checkedFirst());
    } catch (err) {
      options.signal?.throwIfAborted();
      if (err instanceof ContentError && checked.same) throw err;
      throw found.error;
    }
  }
}

/**
 * The CRC32 of the input read so far at offsets a second read is checked at. Damage is found
 * near where reading has got to (zlib runs at most a few MiB behind the reads), so the last
 * 4 MiB keep a checkpoint every 4 KiB; the first 4 KiB are kept as bytes, so damage there
 * (NDJSON compresses 16:1, so zlib's first output chunk takes under 4 KiB of it) is checked at
 * its exact offset; older ones are thinned, every other one going past 512, so memory is
 * bounded however long the input (one per 16 KiB socket read would be millions at 64 GiB).
 */
export class ReadCheckpoints {
  private read = 0;
  private crc = 0;
  private readonly head = Buffer.alloc(CHECKPOINT_SPACING);
  private recent: number[] = [];
  private recentCrcs: number[] = [];
  private coarseSpacing = CHECKPOINT_SPACING;
  private coarse: number[] = [];
  private coarseCrcs: number[] = [];

  private limit = Infinity;

  /** Bytes read past `offset` are not noted (the end of what was read is then `offset`). */
  noteUntil(offset: number): void {
    this.limit = Math.max(offset, this.read);
  }

  add(whole: Buffer): void {
    const chunk = whole.length <= this.limit - this.read ? whole : whole.subarray(0, this.limit - this.read);
    if (this.read < this.head.length) chunk.copy(this.head, this.read, 0, Math.min(chunk.length, this.head.length - this.read));
    for (let at = 0; at < chunk.length; ) {
      const mark = (Math.floor(this.read / CHECKPOINT_SPACING) + 1) * CHECKPOINT_SPACING;
      const take = Math.min(chunk.length - at, mark - this.read);
      this.crc = crc32After(chunk.subarray(at, at + take), this.crc);
      this.read += take;
      at += take;
      if (this.read === mark) this.mark();
    }
  }

  /** The last checkpoint at or before `offset`: exactly there within the first 4 KiB. */
  atOrBefore(offset: number): { offset: number; crc: number } {
    if (offset <= Math.min(this.read, this.head.length)) return { offset, crc: crc32After(this.head.subarray(0, offset), 0) };
    for (const [offsets, crcs] of [[this.recent, this.recentCrcs], [this.coarse, this.coarseCrcs]] as const) {
      for (let i = offsets.length - 1; i >= 0; i--) if (offsets[i]! <= offset) return { offset: offsets[i]!, crc: crcs[i]! };
    }
    return { offset: 0, crc: 0 };
  }

  /**
   * The furthest checkpoint, the end of what was read among them, after `from` and at or
   * before `to` (undefined if none).
   */
  lastWithin(from: number, to: number): { offset: number; crc: number } | undefined {
    if (this.read > from && this.read <= to) return { offset: this.read, crc: this.crc };
    const last = this.atOrBefore(to);
    return last.offset > from ? last : undefined;
  }

  /** How many are kept (for tests). */
  get size(): number {
    return this.recent.length + this.coarse.length;
  }

  private mark(): void {
    this.recent.push(this.read);
    this.recentCrcs.push(this.crc);
    if (this.recent.length > 2 * RECENT_CHECKPOINTS) {
      this.recent = this.recent.slice(-RECENT_CHECKPOINTS);
      this.recentCrcs = this.recentCrcs.slice(-RECENT_CHECKPOINTS);
    }
    if (this.read % this.coarseSpacing !== 0) return;
    this.coarse.push(this.read);
    this.coarseCrcs.push(this.crc);
    if (this.coarse.length <= MAX_COARSE_CHECKPOINTS) return;
    this.coarseSpacing *= 2;
    const keep = this.coarse.map((o, i) => (o % this.coarseSpacing === 0 ? i : -1)).filter((i) => i >= 0);
    this.coarse = keep.map((i) => this.coarse[i]!);
    this.coarseCrcs = keep.map((i) => this.coarseCrcs[i]!);
  }
}

const CHECKPOINT_SPACING = 4096;
/** How far past the damage a second read is checked (and held, compressed, until it is). */
const VERIFY_AHEAD_BYTES = 4 * 1024 * 1024;
/** 4 MiB of fine checkpoints (at most twice as many between trims). */
const RECENT_CHECKPOINTS = 1024;
const MAX_COARSE_CHECKPOINTS = 512;

/** The second read of an input is not the bytes the first read gave. */
class ReadDifferently extends Error {
  constructor() {
    super('the input reads differently the second time');
    this.name = 'ReadDifferently';
  }
}

/** zlib output chunk of the exact decoder: a raw inflater is made per member, and members can be small. */
const EXACT_CHUNK_BYTES = 64 * 1024;

/**
 * Compressed bytes gathered per zlib write. Every write is at least one round trip to
 * the thread pool, and the thread pool idles until the main thread, busy with the
 * previous chunk, takes the result: small writes (a socket's 16 KiB reads) leave zlib
 * waiting, large ones let it run ahead. Damage loses at most one output chunk either way.
 */
const WRITE_BYTES = 256 * 1024;
/** Compressed bytes written ahead of zlib at most (the reading pauses beyond). */
const MAX_QUEUED_BYTES = 2 * 1024 * 1024;
/** A gzip member ends with CRC32 and ISIZE. */
const TRAILER_BYTES = 8;

const notRead = (at: number): ContentError => gzipCorrupt(`the bytes after zero padding at byte ${at} were not read`);

async function* counted(source: AsyncIterable<Buffer>, stats: DecodeStats): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of source) {
      const buf = asBuffer(chunk);
      stats.bytesIn += buf.length;
      yield buf;
    }
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError(`read failed: ${(err as Error).message}`, err);
  }
}
