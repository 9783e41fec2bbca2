/** Reading a file again (to recover the lines before gzip damage) only while it is unchanged. */
import { renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../lambda/scan/errors.js';
import { openFile, openFileAgain } from '../../lambda/sources/file.js';
import { tempDir } from './helpers.js';

const temp = tempDir();
afterAll(() => temp.cleanup());

async function readAll(chunks: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts).toString();
}

describe('openFileAgain', () => {
  it('reads the same file again while it is the version first opened', async () => {
    const file = join(temp.dir, 'same.ndjson');
    writeFileSync(file, '{"a":1}\n');
    const { stream, version } = await openFile(file);
    expect(await readAll(stream)).toBe('{"a":1}\n');
    expect(await readAll(await openFileAgain(file, version))).toBe('{"a":1}\n');
  });

  it('refuses a file that was rewritten, resized or removed since it was read', async () => {
    const file = join(temp.dir, 'changed.ndjson');
    writeFileSync(file, '{"a":1}\n');
    const { version: was } = await openFile(file);
    writeFileSync(file, '{"b":2}\n');
    utimesSync(file, new Date(was.mtimeMs + 5000), new Date(was.mtimeMs + 5000));
    await expect(openFileAgain(file, was)).rejects.toThrow(new SourceError(`${file} changed while it was scanned`, undefined));
    writeFileSync(file, '{"a":1}\n{"c":3}\n');
    await expect(openFileAgain(file, { ...was, mtimeMs: statSync(file).mtimeMs })).rejects.toBeInstanceOf(SourceError);
    await expect(openFileAgain(join(temp.dir, 'gone.ndjson'), was)).rejects.toThrow(/^cannot read .*gone\.ndjson again: ENOENT/);
  });

  it('refuses a same-size rewrite whose modification time was set back (cp -p, tar -x, touch -r)', async () => {
    const file = join(temp.dir, 'same-size.ndjson');
    const restored = 1_700_000_000; // whole seconds: set back exactly
    writeFileSync(file, '{"a":1}\n');
    utimesSync(file, restored, restored);
    const { version: was } = await openFile(file);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the change time moves on
    writeFileSync(file, '{"b":2}\n');
    utimesSync(file, restored, restored);
    const now = statSync(file);
    expect([now.size, now.mtimeMs]).toEqual([was.size, was.mtimeMs]); // what the check compared before
    await expect(openFileAgain(file, was)).rejects.toThrow(new SourceError(`${file} changed while it was scanned`, undefined));
  });

  it('refuses a file replaced by another of the same size and times (a rename over it)', async () => {
    const file = join(temp.dir, 'replaced.ndjson');
    const other = join(temp.dir, 'replacement.ndjson');
    writeFileSync(file, '{"a":1}\n');
    const { version: was } = await openFile(file);
    writeFileSync(other, '{"b":2}\n');
    renameSync(other, file);
    await expect(openFileAgain(file, { ...was, ...pickTimes(statSync(file)) })).rejects.toThrow(new SourceError(`${file} changed while it was scanned`, undefined));
  });
});

const pickTimes = (s: { mtimeMs: number; ctimeMs: number; size: number }): { mtimeMs: number; ctimeMs: number; size: number } => ({ mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, size: s.size });
