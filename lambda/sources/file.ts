/** Source stage for local inputs: files and standard input as streams of Buffers. */
import { fstatSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { open } from 'node:fs/promises';
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
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new SourceError(`cannot read ${path}: ${(err as Error).message}`, err);
  }
  return chunksOf(handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES }), path);
}

/** Opens a file again, if it still has the size and modification time it had (else the bytes may differ). */
export async function openFileAgain(path: string, was: Pick<Stats, 'size' | 'mtimeMs'>): Promise<AsyncGenerator<Buffer>> {
  const now = await stat(path).catch((err: Error) => {
    throw new SourceError(`cannot read ${path} again: ${err.message}`, err);
  });
  if (now.size !== was.size || now.mtimeMs !== was.mtimeMs) throw new SourceError(`${path} changed while it was scanned`, undefined);
  return openFileSource(path);
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
