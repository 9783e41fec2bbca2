/** Source stage for local inputs: files and standard input as streams of Buffers. */
import { fstatSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { SourceError } from '../scan/decode.js';

export const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Opens a file (or `-`, standard input) for reading. The open happens here, so a file that
 * cannot be read (no permission, gone) is reported as unreadable before any scanning, not
 * as damage found at line 1.
 */
export async function openFileSource(path: string): Promise<AsyncGenerator<Buffer>> {
  if (path === '-') {
    // Node reads a directory on standard input (`< folder/`) as an empty stream.
    if (standardInputIsDirectory()) throw new SourceError('cannot read standard input: it is a directory', undefined);
    return chunksOf(process.stdin, 'standard input');
  }
  return (await openFile(path)).stream;
}

/**
 * What tells one version of a file from another: the inode, and its size, modification and
 * change times. A program can set the modification time back (`cp -p`, `tar -x`, `touch -r`),
 * but any write or change of times moves the change time on.
 */
export type FileVersion = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>;

/** Opens a regular file for reading, with the version of it that is read. */
export async function openFile(path: string): Promise<{ stream: AsyncGenerator<Buffer>; version: FileVersion }> {
  const { handle, version } = await openVersion(path, `cannot read ${path}`);
  return { stream: notShorterThan(chunksOf(handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES }), path), version.size, path), version };
}

/**
 * A local input as scan and query read it. A regular file is read as the version opened and
 * can be read again while it is that version (to recover the lines before gzip damage); a
 * pipe (`<(zcat …)`) or standard input cannot.
 */
export async function openLocalInput(path: string, regular: boolean): Promise<{ stream: AsyncGenerator<Buffer>; version?: FileVersion; reopen?: () => Promise<AsyncGenerator<Buffer>> }> {
  if (!regular) return { stream: await openFileSource(path) };
  const { stream, version } = await openFile(path);
  return { stream, version, reopen: () => openFileAgain(path, version) };
}

/**
 * The file's bytes, failing if they end before the size it had when opened: a file truncated
 * while it is read (logrotate's copytruncate) was not scanned whole, and must not pass for it.
 */
async function* notShorterThan(chunks: AsyncIterable<Buffer>, size: number, path: string): AsyncGenerator<Buffer> {
  let read = 0;
  for await (const chunk of chunks) {
    read += chunk.length;
    yield chunk;
  }
  if (read < size) throw new SourceError(`cannot read ${path} whole: it ended after ${read} of its ${size} bytes (truncated while it was read?)`, undefined);
}

/**
 * Opens a file again, if it is still the version read (else the bytes may differ). The
 * version is that of the file opened, not of the path looked up, so a file replaced in
 * between is refused too.
 */
export async function openFileAgain(path: string, was: FileVersion): Promise<AsyncGenerator<Buffer>> {
  const { handle, version: now } = await openVersion(path, `cannot read ${path} again`);
  if (now.dev !== was.dev || now.ino !== was.ino || now.size !== was.size || now.mtimeMs !== was.mtimeMs || now.ctimeMs !== was.ctimeMs) {
    await handle.close().catch(() => undefined);
    throw new SourceError(`${path} changed while it was scanned`, undefined);
  }
  return notShorterThan(chunksOf(handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES }), path), now.size, path);
}

async function openVersion(path: string, failure: string): Promise<{ handle: FileHandle; version: FileVersion }> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    return { handle, version: await handle.stat() };
  } catch (err) {
    await handle?.close().catch(() => undefined);
    throw new SourceError(`${failure}: ${(err as Error).message}`, err);
  }
}

async function* chunksOf(stream: AsyncIterable<unknown>, name: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    throw new SourceError(`cannot read ${name}: ${(err as Error).message}`, err);
  }
}

function standardInputIsDirectory(): boolean {
  try {
    return fstatSync(0).isDirectory();
  } catch {
    return false; // fd 0 closed: read what Node makes of it (it reopens it on /dev/null)
  }
}
