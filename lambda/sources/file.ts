/** Source stage for local inputs: files and standard input as streams of Buffers. */
import { createReadStream } from 'node:fs';
import { SourceError } from '../scan/decode.js';

export const READ_CHUNK_BYTES = 1024 * 1024;

export async function* readFileSource(path: string): AsyncGenerator<Buffer> {
  const stream = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    throw new SourceError(`cannot read ${path === '-' ? 'standard input' : path}: ${(err as Error).message}`, err);
  }
}
