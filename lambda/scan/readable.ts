/** Reading a Node readable stream as chunks, without losing what it decoded before failing. */
import type { Readable } from 'node:stream';

/**
 * The chunks of a readable stream, like its async iterator, except that output already
 * decoded when the stream fails (a damaged member after good ones, a bad trailer) is
 * still delivered before the error: the iterator drops what the stream had buffered.
 * Reading with read() also keeps zlib's next call starting as each chunk is taken.
 * With `until`, it also returns once that has settled and nothing is left to read (a
 * transform's write callback: the output of that write has all been pushed).
 */
export async function* readAll(stream: Readable, until?: Promise<unknown>): AsyncGenerator<Buffer> {
  let failure: { error: unknown } | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (error: unknown): void => {
    failure = { error };
    notify();
  };
  stream.on('readable', notify);
  stream.on('end', onEnd);
  stream.on('close', onEnd);
  stream.on('error', onError);
  void until?.then(onEnd, onEnd);
  try {
    for (;;) {
      const chunk = stream.read() as Buffer | null;
      if (chunk !== null) {
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure.error;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    stream.off('readable', notify);
    stream.off('end', onEnd);
    stream.off('close', onEnd);
    stream.off('error', onError);
  }
}
