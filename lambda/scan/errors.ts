/**
 * The two kinds of failure a scan reports, so callers can decide what a retry could fix:
 * SourceError (the bytes could not be read) vs ContentError (the bytes are damaged).
 */
import { crc32 } from 'node:zlib';

/** Reading the input failed (I/O, network, permissions): retrying may help. */
export class SourceError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'SourceError';
  }
}

/** The input itself is damaged or hostile (corrupt or truncated gzip, bomb): retrying cannot help. */
export class ContentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContentError';
  }
}

/** gzip damage, in zlib's words where zlib has some. */
export const gzipCorrupt = (what: string): ContentError => new ContentError(`gzip stream is corrupt (${what})`);
export const gzipTruncated = (): ContentError => new ContentError('gzip stream is truncated (unexpected end of file)');

/** A zlib stream's error as the content damage it reports. */
export function zlibError(err: NodeJS.ErrnoException): ContentError {
  if (err.code === 'Z_BUF_ERROR') return gzipTruncated();
  if (err.code === 'Z_DATA_ERROR') return gzipCorrupt(err.message);
  return new ContentError(`gzip stream could not be decoded (${err.message})`);
}

/**
 * CRC32 of `bytes` continuing from `crc`. Node's zlib.crc32 returns 0, not `crc`, for an
 * empty subarray (seen on Node 20.20), and sources do yield empty chunks.
 */
export const crc32After = (bytes: Uint8Array, crc: number): number => (bytes.length === 0 ? crc : crc32(bytes, crc));

/** A chunk as a Buffer: sources may yield plain Uint8Arrays (copied, as a source may reuse their memory). */
export const asBuffer = (chunk: Uint8Array): Buffer => (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
