/** Reading a file again (to recover the lines before gzip damage) only while it is unchanged. */
import { statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../lambda/scan/errors.js';
import { openFileAgain } from '../../lambda/sources/file.js';
import { tempDir } from './helpers.js';

const temp = tempDir();
afterAll(() => temp.cleanup());

async function readAll(chunks: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts).toString();
}

describe('openFileAgain', () => {
  it('reads the same file again while its size and modification time are unchanged', async () => {
    const file = join(temp.dir, 'same.ndjson');
    writeFileSync(file, '{"a":1}\n');
    expect(await readAll(await openFileAgain(file, statSync(file)))).toBe('{"a":1}\n');
  });

  it('refuses a file that was rewritten, resized or removed since it was read', async () => {
    const file = join(temp.dir, 'changed.ndjson');
    writeFileSync(file, '{"a":1}\n');
    const was = statSync(file);
    writeFileSync(file, '{"b":2}\n');
    utimesSync(file, new Date(was.mtimeMs + 5000), new Date(was.mtimeMs + 5000));
    await expect(openFileAgain(file, was)).rejects.toThrow(new SourceError(`${file} changed while it was scanned`, undefined));
    writeFileSync(file, '{"a":1}\n{"c":3}\n');
    await expect(openFileAgain(file, { size: 8, mtimeMs: statSync(file).mtimeMs })).rejects.toBeInstanceOf(SourceError);
    await expect(openFileAgain(join(temp.dir, 'gone.ndjson'), was)).rejects.toThrow(/^cannot read .*gone\.ndjson again: ENOENT/);
  });
});
