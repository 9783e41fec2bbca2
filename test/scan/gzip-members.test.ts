/**
 * The exact, member-by-member gzip decoder (the recovery path of decode): the same bytes as
 * zlib for valid input however it is chunked, every header field, and damage reported after
 * every byte before it, including the end of a good member that Node's gunzip drops.
 */
import { crc32, deflateRawSync, gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ContentError } from '../../lambda/scan/errors.js';
import { gunzipExactly, gzipHeaderLength } from '../../lambda/scan/gzip-members.js';
import { chunked, seededRandom } from './helpers.js';

async function decodeAll(input: AsyncIterable<Buffer>, options = {}): Promise<{ out: Buffer; error?: string }> {
  const parts: Buffer[] = [];
  try {
    for await (const chunk of gunzipExactly(input, options)) parts.push(Buffer.from(chunk));
    return { out: Buffer.concat(parts) };
  } catch (err) {
    expect(err).toBeInstanceOf(ContentError);
    return { out: Buffer.concat(parts), error: (err as Error).message };
  }
}

/** Text of `lines` numbered NDJSON lines, incompressible enough to span many zlib calls. */
function text(lines: number, seed = 1): Buffer {
  const random = seededRandom(seed);
  return Buffer.from(Array.from({ length: lines }, (_, i) => JSON.stringify({ i, r: random().toString(36).repeat(3) }) + '\n').join(''));
}

/** A gzip member with the given header flags and fields, written by hand. */
function member(body: Buffer, fields: { extra?: Buffer; name?: string; comment?: string; headerCrc?: boolean; reserved?: boolean } = {}): Buffer {
  let flags = 0;
  const parts: Buffer[] = [];
  if (fields.extra !== undefined) {
    flags |= 0x04;
    const len = Buffer.alloc(2);
    len.writeUInt16LE(fields.extra.length);
    parts.push(len, fields.extra);
  }
  if (fields.name !== undefined) {
    flags |= 0x08;
    parts.push(Buffer.from(fields.name + '\0', 'latin1'));
  }
  if (fields.comment !== undefined) {
    flags |= 0x10;
    parts.push(Buffer.from(fields.comment + '\0', 'latin1'));
  }
  if (fields.headerCrc === true) flags |= 0x02;
  if (fields.reserved === true) flags |= 0x20;
  let header = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3]), ...parts]);
  if (fields.headerCrc === true) {
    const hcrc = Buffer.alloc(2);
    hcrc.writeUInt16LE(crc32(header) & 0xffff);
    header = Buffer.concat([header, hcrc]);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(body), 0);
  trailer.writeUInt32LE(body.length >>> 0, 4);
  return Buffer.concat([header, deflateRawSync(body), trailer]);
}

describe('gunzipExactly: valid input', () => {
  it('decodes multi-member gzip with zero padding, also between members (where Node stops), however it is chunked', async () => {
    const texts = [text(3000, 1), Buffer.alloc(0), text(50, 2), text(4000, 3)];
    const input = Buffer.concat([gzipSync(texts[0]!), Buffer.alloc(3), gzipSync(texts[1]!), gzipSync(texts[2]!), gzipSync(texts[3]!), Buffer.alloc(17)]);
    const expected = Buffer.concat(texts);
    expect(gunzipSync(input).length).toBe(texts[0]!.length); // Node's gunzip ends at the padding
    for (const size of [1, 7, 8, 4096, 65536, 1 << 30]) {
      const { out, error } = await decodeAll(chunked(input, size), { chunkSize: 16 * 1024 });
      expect(error, `chunks of ${size}`).toBeUndefined();
      expect(out.equals(expected), `chunks of ${size}`).toBe(true);
    }
  });

  it('decodes thousands of small members (inflated at once) among large ones (inflated in pieces), however chunked', async () => {
    const random = seededRandom(9);
    const texts: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      if (i % 1000 === 500) texts.push(text(8000, i)); // more compressed bytes than a piece
      else if (i % 1000 === 700) texts.push(Buffer.alloc(3 << 20, '{"same":"line"}\n')); // more output than is inflated at once
      else texts.push(Buffer.from(`{"i":${i},"r":"${random().toString(36)}"}\n`));
    }
    const input = Buffer.concat(texts.map((t) => gzipSync(t)));
    const expected = Buffer.concat(texts);
    for (const size of [1, 100, 65536, 1 << 30]) {
      const { out, error } = await decodeAll(chunked(input, size));
      expect(error, `chunks of ${size}`).toBeUndefined();
      expect(out.equals(expected), `chunks of ${size}`).toBe(true);
    }
  });

  it('reads every optional header field (extra, name, comment, header CRC)', async () => {
    const body = text(100);
    const input = Buffer.concat([
      member(body, { extra: Buffer.from('xy\0z'), name: 'a.ndjson', comment: 'made by hand', headerCrc: true }),
      member(body, { name: '' }),
      member(body, { extra: Buffer.alloc(65535, 7), name: 'n'.repeat(100_000) }), // the largest extra field, a long name
    ]);
    expect(gunzipSync(input).equals(Buffer.concat([body, body, body]))).toBe(true); // zlib agrees the input is valid
    const { out, error } = await decodeAll(chunked(input, 3));
    expect(error).toBeUndefined();
    expect(out.equals(Buffer.concat([body, body, body]))).toBe(true);
  });

  it('skips what was delivered already, and small writes from fineFrom on change nothing', async () => {
    const input = Buffer.concat([gzipSync(text(2000, 4)), gzipSync(text(2000, 5))]);
    const full = gunzipSync(input);
    for (const skipBytes of [0, 1, 70_000, full.length - 1, full.length]) {
      const { out, error } = await decodeAll(chunked(input, 1 << 20), { skipBytes, fineFrom: Math.floor(input.length / 3) });
      expect(error).toBeUndefined();
      expect(out.equals(full.subarray(skipBytes))).toBe(true);
    }
  });
});

describe('gunzipExactly: damage', () => {
  const good = text(3000, 6);
  const goodGz = gzipSync(good);

  it('delivers a whole member before bytes that are not gzip, and names where they start', async () => {
    for (const tail of ['x', 'garbage after the member\n', '{"a":1}\n'.repeat(1000)]) {
      const { out, error } = await decodeAll(chunked(Buffer.concat([goodGz, Buffer.from(tail)]), 65536));
      expect(out.equals(good)).toBe(true);
      expect(error).toBe(`gzip stream is corrupt (the bytes after member 1 (from byte ${goodGz.length}) are not a gzip member: incorrect header check)`);
    }
  });

  it('delivers the members before a bad second header (method, reserved flags, header CRC)', async () => {
    const second = member(Buffer.from('{}\n'), { headerCrc: true });
    const badMethod = Buffer.from(second);
    badMethod[2] = 7;
    const badCrc = Buffer.from(second);
    badCrc[10] = badCrc[10]! ^ 1;
    const cases: [Buffer, string][] = [
      [badMethod, 'unknown compression method'],
      [member(Buffer.from('{}\n'), { reserved: true }), 'unknown header flags set'],
      [badCrc, 'header crc mismatch'],
    ];
    for (const [bad, reason] of cases) {
      const { out, error } = await decodeAll(chunked(Buffer.concat([goodGz, bad]), 1000));
      expect(out.equals(good)).toBe(true);
      expect(error).toMatch(new RegExp(`\\(the bytes after member 1 \\(from byte ${goodGz.length}\\) are not a gzip member: ${reason}\\)$`));
    }
  });

  it('checks the trailer: a wrong CRC or length is damage, after the member has been delivered', async () => {
    const badCrc = Buffer.from(goodGz);
    badCrc[badCrc.length - 8] = badCrc[badCrc.length - 8]! ^ 1;
    const badLength = Buffer.from(goodGz);
    badLength[badLength.length - 1] = badLength[badLength.length - 1]! ^ 1;
    expect(await decodeAll(chunked(badCrc, 4096))).toEqual({ out: good, error: 'gzip stream is corrupt (incorrect data check)' });
    expect(await decodeAll(chunked(badLength, 4096))).toEqual({ out: good, error: 'gzip stream is corrupt (incorrect length check)' });
  });

  it('reports truncation in the header, the data or the trailer, after everything before the cut', async () => {
    for (const cut of [1, 5, 12, Math.floor(goodGz.length / 2), goodGz.length - 8, goodGz.length - 1]) {
      const { out, error } = await decodeAll(chunked(goodGz.subarray(0, cut), 777));
      expect(error, `cut at ${cut}`).toBe('gzip stream is truncated (unexpected end of file)');
      expect(good.subarray(0, out.length).equals(out), `cut at ${cut}: a prefix of the text`).toBe(true);
      if (cut >= goodGz.length - 8) expect(out.length).toBe(good.length);
    }
  });

  it('refuses a header that never ends (a file name without its NUL) without holding it all', async () => {
    const endless = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3]), Buffer.alloc(2 << 20, 0x61)]);
    const { out, error } = await decodeAll(chunked(endless, 4096));
    expect(out.length).toBe(0);
    expect(error).toBe('gzip stream is corrupt (gzip header of member 1 is longer than 1048576 bytes)');
  });

  it('reports corrupt deflate data as zlib does, with the text before it delivered in small calls from fineFrom', async () => {
    const damaged = Buffer.from(goodGz);
    const at = Math.floor(damaged.length * 0.6);
    for (let i = at; i < at + 8; i++) damaged[i] = damaged[i]! ^ 0x55;
    const { out, error } = await decodeAll(chunked(damaged, 1 << 20), { fineFrom: 0 });
    expect(error).toMatch(/^gzip stream is corrupt \(.+\)$/);
    // Inflate reads a little garbage before it notices; what it wrote before `at` is the text.
    let same = 0;
    while (same < out.length && out[same] === good[same]) same++;
    const before = gunzipSync(goodGz.subarray(0, at), { finishFlush: 2 /* Z_SYNC_FLUSH */ }).length;
    expect(same).toBeGreaterThanOrEqual(before - 4096);
  });

  it('finds damage in a small member among many after delivering every member before it', async () => {
    const texts = Array.from({ length: 2000 }, (_, i) => Buffer.from(`{"i":${i}}\n`));
    const members = texts.map((t) => gzipSync(t));
    const badCrc = Buffer.from(members[1500]!);
    badCrc[badCrc.length - 8] = badCrc[badCrc.length - 8]! ^ 1;
    const badBlock = Buffer.from(members[1500]!);
    badBlock[10] = 0x07; // a final block of the reserved type 3
    const cases: [Buffer, string, Buffer][] = [
      [badCrc, 'gzip stream is corrupt (incorrect data check)', Buffer.concat(texts.slice(0, 1501))],
      [badBlock, 'gzip stream is corrupt (invalid block type)', Buffer.concat(texts.slice(0, 1500))],
    ];
    for (const [bad, message, before] of cases) {
      const input = Buffer.concat([...members.slice(0, 1500), bad, ...members.slice(1501)]);
      for (const size of [5, 65536]) expect(await decodeAll(chunked(input, size))).toEqual({ out: before, error: message });
    }
  });

  it('the header parser needs more bytes, or names the damage', () => {
    expect(gzipHeaderLength(Buffer.from([0x1f]))).toBe('more');
    expect(gzipHeaderLength(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]))).toBe(10);
    expect(gzipHeaderLength(Buffer.from([0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, 0, 3, 5, 0, 1]))).toBe('more');
    expect((gzipHeaderLength(Buffer.from('ab')) as ContentError).message).toBe('gzip stream is corrupt (incorrect header check)');
  });
});
