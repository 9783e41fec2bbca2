/**
 * The exact gzip decoder: member by member, with raw inflate and our own header and
 * trailer checks, so that it knows where each member ends. Node's gunzip does not: it
 * starts the next member inside the zlib call that ended the previous one, and when the
 * bytes there are not gzip, the call fails and its output (the end of a good member, up
 * to a whole output chunk) is dropped. decode() keeps Node's gunzip for speed (zlib's CRC
 * then runs on the thread pool) and reads the object again with this decoder when the
 * gunzip reports damage, to deliver every line it could not.
 */
import { crc32, createInflateRaw, inflateRawSync, type InflateRaw } from 'node:zlib';
import { ContentError, crc32After, gzipCorrupt as corrupt, gzipTruncated as truncated, zlibError } from './errors.js';
import { readAll } from './readable.js';

export interface ExactGunzipOptions {
  /** Decompressed bytes already delivered: decoded again, but not yielded. */
  skipBytes?: number;
  /**
   * Compressed offset from which input goes to zlib in FINE_WRITE_BYTES pieces: a zlib call
   * that fails drops its output, so near known damage each call is kept small.
   */
  fineFrom?: number;
  /** Compressed offset where the small writes end (the end of the input the failing call had). */
  fineUntil?: number;
  /** zlib output chunk size. */
  chunkSize?: number;
}

/** Input per zlib write before `fineFrom`. */
const WRITE_BYTES = 256 * 1024;
/** Input per zlib write from `fineFrom` to `fineUntil`: a failing call then drops a few KiB of output at most, typically (a thousand calls per 256 KiB). */
const FINE_WRITE_BYTES = 256;
/** A gzip header longer than this (a file name or comment without end) is refused; a full extra field is 64 KiB. */
const MAX_HEADER_BYTES = 1024 * 1024;
const FTEXT_FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const RESERVED_FLAGS = 0xe0;
/** Output of a member inflated at once at most (it runs on the main thread); larger members stream. */
const WHOLE_OUTPUT_BYTES = 1024 * 1024;

/** The input decoded to fewer bytes than were to be skipped: it is not the input read before. */
export class ShorterThanSkipped extends Error {
  constructor() {
    super('the input decodes to fewer bytes than were delivered from it before');
    this.name = 'ShorterThanSkipped';
  }
}

/** Compressed input with a put-back buffer, counting the offset of what has been taken. */
class Input {
  private readonly chunks: AsyncIterator<Buffer>;
  private held: Buffer[] = [];
  /** Compressed bytes taken (handed out and not put back). */
  offset = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  /** The next bytes (at most `max`), or undefined at the end of the input. */
  async take(max = Infinity): Promise<Buffer | undefined> {
    let chunk = this.held.pop();
    while (chunk === undefined || chunk.length === 0) {
      if (chunk !== undefined) chunk = this.held.pop();
      if (chunk !== undefined) continue;
      const next = await this.chunks.next();
      if (next.done === true) return undefined;
      chunk = next.value;
    }
    if (chunk.length > max) {
      this.held.push(chunk.subarray(max));
      chunk = chunk.subarray(0, max);
    }
    this.offset += chunk.length;
    return chunk;
  }

  /** `max` bytes, gathered from small reads (fewer if the input ends first), or undefined at the end. */
  async gather(max: number): Promise<Buffer | undefined> {
    const first = await this.take(max);
    if (first === undefined || first.length >= max) return first;
    const parts = [first];
    let have = first.length;
    while (have < max) {
      const more = await this.take(max - have);
      if (more === undefined) break;
      parts.push(more);
      have += more.length;
    }
    return Buffer.concat(parts, have);
  }

  putBack(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.held.push(bytes);
    this.offset -= bytes.length;
  }

  async close(): Promise<void> {
    await this.chunks.return?.(undefined);
  }
}

/**
 * The length of the gzip header at the start of `bytes`, 'more' if it does not hold the whole
 * header yet, or the damage found (in zlib's words, where zlib has some).
 */
export function gzipHeaderLength(bytes: Buffer): number | 'more' | ContentError {
  if (bytes.length < 10) return bytes.length >= 1 && bytes[0] !== 0x1f ? corrupt('incorrect header check') : 'more';
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return corrupt('incorrect header check');
  if (bytes[2] !== 8) return corrupt('unknown compression method');
  const flags = bytes[3]!;
  if ((flags & RESERVED_FLAGS) !== 0) return corrupt('unknown header flags set');
  let at = 10;
  if (flags & FEXTRA) {
    if (bytes.length < at + 2) return 'more';
    at += 2 + bytes.readUInt16LE(at);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if ((flags & flag) === 0) continue;
    const end = bytes.indexOf(0, at);
    if (end < 0) return 'more';
    at = end + 1;
  }
  if (flags & FTEXT_FHCRC) {
    at += 2;
    if (bytes.length >= at && (crc32(bytes.subarray(0, at - 2)) & 0xffff) !== bytes.readUInt16LE(at - 2)) return corrupt('header crc mismatch');
  }
  return bytes.length >= at ? at : 'more';
}

/**
 * Yields the decompressed bytes of gzip input, member by member. Empty input is no members;
 * zero bytes after a member are padding, as Node's gunzip takes them. Anything else after a
 * member is reported as damage after every byte of the members before it has been yielded.
 */
export async function* gunzipExactly(source: AsyncIterable<Buffer>, options: ExactGunzipOptions = {}): AsyncGenerator<Buffer> {
  const input = new Input(source);
  let skip = options.skipBytes ?? 0;
  const fine = { from: options.fineFrom ?? Infinity, until: options.fineUntil ?? Infinity };
  try {
    for (let member = 1; ; member++) {
      if (member > 1) {
        // Between members: padding zeros, then a member or the end.
        for (;;) {
          const next = await input.take();
          if (next === undefined) {
            if (skip > 0) throw new ShorterThanSkipped();
            return;
          }
          let zeros = 0;
          while (zeros < next.length && next[zeros] === 0) zeros++;
          if (zeros < next.length) {
            input.putBack(next.subarray(zeros));
            break;
          }
        }
      }
      const headerStart = input.offset;
      await readHeader(input, member, headerStart);
      for await (const out of inflateMember(input, fine, options.chunkSize)) {
        if (skip >= out.length) {
          skip -= out.length;
          continue;
        }
        const rest = skip > 0 ? out.subarray(skip) : out;
        skip = 0;
        yield rest;
      }
    }
  } finally {
    await input.close();
  }
}

async function readHeader(input: Input, member: number, headerStart: number): Promise<void> {
  let header: Buffer = Buffer.alloc(0);
  for (;;) {
    const parsed = gzipHeaderLength(header);
    if (typeof parsed === 'number') {
      input.putBack(header.subarray(parsed));
      return;
    }
    if (parsed instanceof ContentError) {
      if (member === 1) throw parsed;
      throw corrupt(`the bytes after member ${member - 1} (from byte ${headerStart}) are not a gzip member: ${parsed.message.replace(/^gzip stream is corrupt \((.*)\)$/, '$1')}`);
    }
    if (header.length >= MAX_HEADER_BYTES) throw corrupt(`gzip header of member ${member} is longer than ${MAX_HEADER_BYTES} bytes`);
    const more = await input.take(MAX_HEADER_BYTES - header.length);
    if (more === undefined) throw truncated();
    header = header.length === 0 ? more : Buffer.concat([header, more]);
  }
}

/**
 * One member's deflate data, then its trailer, checked. The raw inflater stops at the end of
 * the deflate data and leaves the rest of its input untaken; that is put back for the
 * trailer and what follows.
 */
async function* inflateMember(input: Input, fine: { from: number; until: number }, chunkSize: number | undefined): AsyncGenerator<Buffer> {
  let crc = 0;
  let size = 0;
  const output = (out: Buffer): Buffer => {
    crc = crc32After(out, crc);
    size = (size + out.length) >>> 0;
    return out;
  };
  // The input ended inside the deflate data (all that could be decoded has been delivered).
  const room = roomAt(input.offset, fine);
  let first = await input.take(room);
  if (first === undefined) throw truncated();
  let whole = inflateWhole(first);
  if (whole === undefined && first.length < room) {
    // The read may have ended inside a small member: once more with a full piece.
    const more = await input.gather(room - first.length);
    if (more !== undefined) {
      first = Buffer.concat([first, more]);
      whole = inflateWhole(first);
    }
  }
  if (whole !== undefined) {
    input.putBack(first.subarray(whole.taken));
    if (whole.output.length > 0) yield output(whole.output);
  } else {
    const inflater = createInflateRaw(chunkSize === undefined ? {} : { chunkSize });
    try {
      for (let piece: Buffer | undefined = first; ; piece = await input.gather(roomAt(input.offset, fine))) {
        if (piece === undefined) throw truncated();
        const before = inflater.bytesWritten;
        for await (const out of pump(inflater, piece)) yield output(out);
        const taken = inflater.bytesWritten - before;
        if (taken < piece.length) {
          input.putBack(piece.subarray(taken));
          break;
        }
      }
    } finally {
      inflater.destroy();
    }
  }
  const trailer = await input.gather(8);
  if (trailer === undefined || trailer.length < 8) throw truncated();
  if (trailer.readUInt32LE(0) !== crc >>> 0) throw corrupt('incorrect data check');
  if (trailer.readUInt32LE(4) !== size) throw corrupt('incorrect length check');
}

/** Compressed bytes to write to zlib next, from offset `at`: small pieces near the damage. */
function roomAt(at: number, fine: { from: number; until: number }): number {
  if (at >= fine.from && at < fine.until) return FINE_WRITE_BYTES;
  return at < fine.from ? Math.min(WRITE_BYTES, fine.from - at) : WRITE_BYTES;
}

/**
 * A whole small member, inflated at once when its deflate data ends within `piece`: an
 * inflater stream per member costs some 200 µs in round trips to the thread pool, and
 * shippers that gzip each batch make objects of thousands of members. Anything else (the
 * data goes on past the piece, more output than WHOLE_OUTPUT_BYTES, damage) is left to the
 * stream, which decodes it in pieces and so loses no output to a call that fails.
 */
function inflateWhole(piece: Buffer): { output: Buffer; taken: number } | undefined {
  try {
    const { buffer, engine } = inflateRawSync(piece, { info: true, maxOutputLength: WHOLE_OUTPUT_BYTES }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    return { output: buffer, taken: engine.bytesWritten };
  } catch {
    return undefined;
  }
}

/** Writes `piece` and yields the output until zlib is done with it. */
async function* pump(inflater: InflateRaw, piece: Buffer): AsyncGenerator<Buffer> {
  // The callback comes once zlib has taken what it will of the piece: all of it, or up to the member's end.
  const written = new Promise<void>((resolve) => inflater.write(piece, () => resolve()));
  try {
    yield* readAll(inflater, written);
  } catch (err) {
    throw zlibError(err as NodeJS.ErrnoException);
  }
}
