/**
 * The decode stage through the pipeline: gzip sniffed from bytes (never names),
 * multi-member gzip, truncated and corrupt gzip (the alerts from the readable part are
 * delivered, then a content error with its line), the gzip bomb guard, and read errors.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DetectionRecord } from '../../lambda/alerts/document.js';
import { decode } from '../../lambda/scan/decode.js';
import { SourceError } from '../../lambda/scan/errors.js';
import { gunzipExactly } from '../../lambda/scan/gzip-members.js';
import { PreparedRules, scan } from '../../lambda/scan/pipeline.js';
import {
  alertLines,
  BENIGN,
  chunked,
  cutAt,
  EXAMPLES_DIR,
  fileRef,
  fixedNow,
  gzip,
  HANG_MS,
  line,
  ndjson,
  newCorpus,
  OPENSSL_RULE_ID,
  OPENSSL_TP,
  scanAll,
  settlesWithin,
  shippedRules,
  source,
  SSH_RULE_ID,
  SSH_TP,
  type Scanned,
} from './helpers.js';

const rules = shippedRules();
const prepared = new PreparedRules(rules);

/** Corpus NDJSON with true positives spread through it. */
function corpusText(seed: number, count: number, truePositive: number): string {
  return [...newCorpus(seed).lines(count, { nearMiss: 0.05, truePositive })].map((l) => l.line + '\n').join('');
}

/** The bytes a gunzip can read from damaged input before it fails (to within 1 KiB: its output granularity). */
async function readablePrefix(damaged: Buffer): Promise<Buffer> {
  const gunzip = createGunzip({ chunkSize: 1024 });
  const out: Buffer[] = [];
  gunzip.end(damaged);
  try {
    for await (const chunk of gunzip) out.push(chunk as Buffer);
  } catch {
    // expected: the damage
  }
  return Buffer.concat(out);
}

/** Number of complete (newline-terminated) lines in `text`. */
const completeLines = (text: Buffer): number => text.toString('latin1').split('\n').length - 1;

/** The records of `full` on lines 1..lastLine. */
const recordsUpTo = (full: DetectionRecord[], lastLine: number): DetectionRecord[] => full.filter((r) => r.kind === 'alert' && r.source.line <= lastLine);

describe('scan: compression is sniffed from the bytes', () => {
  const text = ndjson([BENIGN(1), OPENSSL_TP(), BENIGN(2), SSH_TP()]);

  it('gives the same records for plain and gzip input', async () => {
    const plain = await scanAll(text, { rules });
    const gz = await scanAll(gzip(text), { rules });
    expect(plain.result.stats.decode).toEqual({ compressed: false, bytesIn: text.length, bytesOut: text.length });
    expect(gz.result.stats.decode).toEqual({ compressed: true, bytesIn: gzip(text).length, bytesOut: text.length });
    expect(alertLines(gz.records)).toEqual([
      [OPENSSL_RULE_ID, 2],
      [SSH_RULE_ID, 4],
    ]);
    expect(gz.records).toEqual(plain.records);
  });

  it('sniffs the magic number even when it arrives split across chunks, after empty chunks', async () => {
    const bytes = gzip(text);
    for (const input of [cutAt(bytes, [1]), cutAt(bytes, [1, 2, 3]), source(Buffer.alloc(0), bytes.subarray(0, 1), Buffer.alloc(0), bytes.subarray(1)), chunked(bytes, 1)]) {
      const { result, records } = await scanAll(input, { rules });
      expect(result.stats.decode.compressed).toBe(true);
      expect(alertLines(records)).toHaveLength(2);
    }
  });

  it('reads plain text that starts with 0x1f (but not 0x1f 0x8b) or is one byte long as plain', async () => {
    const odd = await scanAll(Buffer.concat([Buffer.from([0x1f, 0x41, 0x0a]), Buffer.from(text)]), { rules });
    expect(odd.result.stats.decode.compressed).toBe(false);
    expect(odd.result.stats.skipped.firstLines.invalid_json).toEqual([1]);
    expect(alertLines(odd.records)).toEqual([
      [OPENSSL_RULE_ID, 3],
      [SSH_RULE_ID, 5],
    ]);
    const one = await scanAll(Buffer.from([0x1f]), { rules });
    expect(one.result.stats.decode.compressed).toBe(false);
    expect(one.result.stats.skipped.counts.invalid_json).toBe(1);
  });

  it('refuses other compressions and UTF-16 with a content error at line 1, instead of reading garbage lines', async () => {
    const cases: [string, Buffer][] = [
      ['bzip2', Buffer.concat([Buffer.from('BZh9'), Buffer.from([0x31, 0x41, 0x59, 0x26, 0x53, 0x59]), Buffer.from(text)])],
      ['xz', Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.from(text)])],
      ['zstd', Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from(text)])],
      ['lz4', Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18]), Buffer.from(text)])],
      ['zip', Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.from(text)])],
      ['UTF-16 text', Buffer.from(`\ufeff${text}`, 'utf16le')],
      ['UTF-16 text', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()])],
      // Without a byte order mark: `{` and `"` each followed (or preceded) by a NUL.
      ['UTF-16 text', Buffer.from(text, 'utf16le')],
      ['UTF-16 text', Buffer.from(text, 'utf16le').swap16()],
    ];
    for (const [format, bytes] of cases) {
      for (const input of [bytes, chunked(bytes, 1)]) {
        const { result, records } = await scanAll(input, { rules });
        expect(result.error).toEqual({ kind: 'content', line: 1, message: `${format} input is not supported: eqlambda reads NDJSON, plain or gzip (decompress or convert it first)` });
        expect(records).toEqual([]);
      }
      // The same inside gzip: the decompressed bytes are sniffed too.
      const { result, records } = await scanAll(gzipSync(bytes), { rules });
      expect(result.error).toEqual({ kind: 'content', line: 1, message: `${format} input inside gzip is not supported: eqlambda reads NDJSON, plain or gzip (decompress or convert it first)` });
      expect(records).toEqual([]);
    }
    // Text that merely starts like one of them is still read.
    const near = await scanAll(`BZh\n${text}`, { rules });
    expect(near.result.error).toBeUndefined();
    expect(alertLines(near.records)).toHaveLength(2);
  });

  it('decodes the bundled plain example and the gzip ones alike', async () => {
    for (const [file, compressed] of [
      ['endgame-linux.ndjson', false],
      ['auditbeat-fim.ndjson.gz', true],
    ] as const) {
      const { result } = await scanAll(readFileSync(join(EXAMPLES_DIR, file)), { rules, prepared });
      expect(result.stats.decode.compressed).toBe(compressed);
      expect(result.stats.perRule.size).toBe(1);
    }
  });
});

describe('scan: multi-member gzip', () => {
  it('scans every member, numbering lines continuously', async () => {
    const part1 = ndjson([BENIGN(1), OPENSSL_TP(), BENIGN(2)]);
    const part2 = ndjson([SSH_TP(), BENIGN(3)]);
    const part3 = ndjson([BENIGN(4), BENIGN(5), OPENSSL_TP()]);
    const members = Buffer.concat([gzip(part1), gzip(''), gzip(part2), gzip(part3)]);
    for (const input of [source(members), chunked(members, 97)]) {
      const { result, records } = await scanAll(input, { rules });
      expect(result.error).toBeUndefined();
      expect(result.stats.lines).toBe(8);
      expect(result.stats.decode.bytesOut).toBe(part1.length + part2.length + part3.length);
      expect(alertLines(records)).toEqual([
        [OPENSSL_RULE_ID, 2],
        [SSH_RULE_ID, 4],
        [OPENSSL_RULE_ID, 8],
      ]);
    }
  });

  it('joins a line split across two members, as the concatenated bytes are', async () => {
    const text = ndjson([BENIGN(1), SSH_TP(), OPENSSL_TP()]);
    const mid = text.indexOf('openssl');
    const { result, records } = await scanAll(Buffer.concat([gzip(text.slice(0, mid)), gzip(text.slice(mid))]), { rules });
    expect(result.stats.lines).toBe(3);
    expect(result.stats.skipped.total).toBe(0);
    expect(alertLines(records)).toEqual([
      [SSH_RULE_ID, 2],
      [OPENSSL_RULE_ID, 3],
    ]);
  });

  it('scans an empty member as no lines, and reports a lone gzip magic number as truncated', async () => {
    const empty = await scanAll(gzip(''), { rules });
    expect(empty.result.error).toBeUndefined();
    expect(empty.result.stats.lines).toBe(0);
    const magic = await scanAll(Buffer.from([0x1f, 0x8b]), { rules });
    expect(magic.result.stats.decode.compressed).toBe(true);
    expect(magic.result.error).toEqual({ kind: 'content', message: 'gzip stream is truncated (unexpected end of file)', line: 1 });
  });

  it('scans many one-line members', async () => {
    const events = Array.from({ length: 200 }, (_, i) => (i % 50 === 7 ? OPENSSL_TP() : BENIGN(i)));
    const members = Buffer.concat(events.map((e) => gzip(line(e) + '\n')));
    const { result, records } = await scanAll(members, { rules });
    expect(result.stats.lines).toBe(200);
    expect(alertLines(records).map(([, l]) => l)).toEqual([8, 58, 108, 158]);
  });
});

describe('scan: truncated gzip', () => {
  const text = corpusText(11, 3000, 0.01);
  const full = gzip(text);
  let reference: Scanned;
  beforeAll(async () => {
    reference = await scanAll(full, { rules, prepared });
  });

  it('the reference input holds alerts of both rules throughout', () => {
    const lines = alertLines(reference.records);
    expect(lines.length).toBeGreaterThanOrEqual(20);
    expect(new Set(lines.map(([rule]) => rule))).toEqual(new Set([OPENSSL_RULE_ID, SSH_RULE_ID]));
    expect(reference.result.stats.lines).toBe(3000);
  });

  it('delivers every alert before the cut, then a content error (cuts across the whole file, 64 KiB reads)', async () => {
    for (const fraction of [0.05, 0.25, 0.5, 0.75, 0.95]) {
      const cut = full.subarray(0, Math.floor(full.length * fraction));
      const complete = completeLines(gunzipSync(cut, { finishFlush: constants.Z_SYNC_FLUSH }));
      const { result, records } = await scanAll(chunked(cut, 64 * 1024), { rules, prepared });
      expect(records, `cut at ${fraction}`).toEqual(recordsUpTo(reference.records, complete));
      expect(result.error).toMatchObject({ kind: 'content', message: 'gzip stream is truncated (unexpected end of file)' });
      expect(result.error!.line).toBeGreaterThan(complete);
      // The readable lines, plus the partial line before the cut, were all read.
      expect(result.stats.lines).toBe(complete + 1);
    }
  });

  it('without its 8-byte trailer: every line is scanned and the error is at the line after the last', async () => {
    const { result, records } = await scanAll(full.subarray(0, full.length - 8), { rules, prepared });
    expect(records).toEqual(reference.records);
    expect(result.stats.lines).toBe(3000);
    expect(result.error).toEqual({ kind: 'content', message: 'gzip stream is truncated (unexpected end of file)', line: 3001 });
  });

  it('cut at a line boundary (inside the header of a second member): the error is at the first unread line', async () => {
    const head = ndjson([OPENSSL_TP(), BENIGN(1), SSH_TP()]);
    const tail = gzip(ndjson([OPENSSL_TP()]));
    const { result, records } = await scanAll(Buffer.concat([gzip(head), tail.subarray(0, 6)]), { rules });
    expect(alertLines(records)).toEqual([
      [OPENSSL_RULE_ID, 1],
      [SSH_RULE_ID, 3],
    ]);
    expect(result.stats.lines).toBe(3);
    expect(result.error).toEqual({ kind: 'content', message: 'gzip stream is truncated (unexpected end of file)', line: 4 });
  });

  // ScanError.line is "the line being read when the error happened": read before splitter.end()
  // flushes the partial line (which advances the line number).
  it('cut inside a line: the error names that line', async () => {
    const text2 = ndjson([OPENSSL_TP(), BENIGN(1), BENIGN(2)]);
    const members = Buffer.concat([gzip(text2.slice(0, text2.length - 20)), gzip(text2.slice(text2.length - 20)).subarray(0, 6)]);
    const { result } = await scanAll(members, { rules });
    expect(result.stats.lines).toBe(3); // line 3 was partly read
    expect(result.error?.line).toBe(3);
  });
});

describe('scan: corrupt gzip', () => {
  /** Flips 8 bytes of the compressed data at `at` (a fraction of its length). */
  const corrupt = (bytes: Buffer, at: number): Buffer => {
    const out = Buffer.from(bytes);
    const from = Math.floor(out.length * at);
    for (let i = from; i < from + 8; i++) out[i] = out[i]! ^ 0x55;
    return out;
  };

  /**
   * The first damaged line: the line holding the first byte where what gunzip reads from the
   * damaged input differs from the original text (or where its output stops). Inflate may
   * produce garbage for a while before it detects the damage, so this is not where it fails.
   */
  async function damageLine(original: string, damaged: Buffer): Promise<number> {
    const prefix = await readablePrefix(damaged);
    const text = Buffer.from(original);
    let at = 0;
    while (at < prefix.length && prefix[at] === text[at]) at++;
    return completeLines(text.subarray(0, at)) + 1;
  }

  const cases = [
    { name: 'small (one read)', text: corpusText(5, 200, 0.05), at: 0.5, chunk: 1 << 30 },
    { name: 'small, damaged early', text: corpusText(6, 200, 0.05), at: 0.3, chunk: 1 << 30 },
    { name: 'the bundled Defend example (1 MiB reads)', text: gunzipSync(readFileSync(join(EXAMPLES_DIR, 'defend-linux-2026-11-20.ndjson.gz'))).toString('utf8'), at: 0.5, chunk: 1 << 20 },
    { name: 'corpus, damaged late (64 KiB reads)', text: corpusText(7, 3000, 0.01), at: 0.8, chunk: 64 * 1024 },
  ];

  for (const c of cases) {
    it(`delivers every alert from the lines before the damage, then a content error: ${c.name}`, async () => {
      const full = gzip(c.text);
      const damaged = corrupt(full, c.at);
      const reference = await scanAll(full, { rules, prepared });
      const damage = await damageLine(c.text, damaged);
      const before = (records: DetectionRecord[]): DetectionRecord[] => records.filter((r) => r.kind === 'alert' && r.source.line < damage);
      expect(before(reference.records).length, 'true positives before the damage').toBeGreaterThan(0);

      const outcome = await settlesWithin(scanAll(chunked(damaged, c.chunk), { rules, prepared }), 5000);
      expect(outcome).not.toBe('timeout');
      const { result, records } = outcome as Scanned;
      expect(before(records)).toEqual(before(reference.records));
      expect(result.error?.kind).toBe('content');
      // Read once: the report says what the failing zlib call may have taken with it.
      expect(result.error?.message).toMatch(/^gzip stream is corrupt \(.+\); up to 2097152 bytes decoded just before it were lost with it, as the input could not be read again to recover them$/);
      expect(result.error!.line).toBeGreaterThanOrEqual(damage);
    });
  }
});

describe('scan: gzip bomb guard (maxDecompressedBytes)', () => {
  const limit = 2 * 1024 * 1024;
  // A true positive on line 1 and one ~300 kB in, then 4 MB of "{}" lines: about 5 kB compressed.
  const events = [OPENSSL_TP(), ...Array.from({ length: 200 }, (_, i) => BENIGN(i)), SSH_TP()];
  const head = ndjson(events);
  const bomb = gzip(head + '{}\n'.repeat(1_400_000));

  it('stops with a content error past the limit and delivers the alerts before it', async () => {
    expect(bomb.length).toBeLessThan(16 * 1024);
    const { result, records } = await scanAll(bomb, { rules, maxDecompressedBytes: limit });
    expect(alertLines(records)).toEqual([
      [OPENSSL_RULE_ID, 1],
      [SSH_RULE_ID, 202],
    ]);
    expect(result.error).toMatchObject({ kind: 'content', message: `decompressed size exceeds the limit of ${limit} bytes (gzip bomb?)` });
    // Exactly the first 2 MiB were scanned, whatever zlib's chunking: every line within the cap,
    // and the line the cap cuts (counted, not parsed whole), where the error is reported.
    expect(result.stats.decode.bytesOut).toBe(limit);
    const prefix = (head + '{}\n'.repeat(1_400_000)).slice(0, limit);
    const complete = prefix.split('\n').length - 1;
    expect(result.stats.lines).toBe(complete + (prefix.endsWith('\n') ? 0 : 1));
    expect(result.error!.line).toBe(complete + 1);
  });

  it('scans plain input up to the cap exactly, the same in one chunk or many', async () => {
    const text = ndjson([SSH_TP(), ...Array.from({ length: 100 }, (_, i) => BENIGN(i)), OPENSSL_TP()]);
    const cap = text.indexOf(line(OPENSSL_TP())) + 5; // inside the last line
    const runs = [];
    for (const input of [text, chunked(Buffer.from(text), 13), chunked(Buffer.from(text), 4096)]) {
      const { result, records } = await scanAll(input, { rules, maxDecompressedBytes: cap });
      expect(result.error).toMatchObject({ kind: 'content', line: 102 });
      expect(result.stats.decode.bytesOut).toBe(cap);
      runs.push({ lines: result.stats.lines, alerts: alertLines(records) });
    }
    expect(runs[0]).toEqual({ lines: 102, alerts: [[SSH_RULE_ID, 1]] });
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
  });

  it('scans the same input fully without a limit', async () => {
    const { result } = await scanAll(bomb, { rules });
    expect(result.error).toBeUndefined();
    expect(result.stats.lines).toBe(202 + 1_400_000);
  });

  it('applies the limit to plain input too', async () => {
    const text = head + '{}\n'.repeat(1_000_000);
    const { result, records } = await scanAll(chunked(text, 64 * 1024), { rules, maxDecompressedBytes: limit });
    expect(result.error).toMatchObject({ kind: 'content' });
    expect(result.stats.decode.compressed).toBe(false);
    expect(alertLines(records)).toHaveLength(2);
  });

  // Regression: the limit error used to destroy the gunzip while decode()'s feeder waited for
  // 'drain' (compressed reads of 16 KiB or more), so scan() never settled.
  it('returns for a bomb whose compressed form is 16 KiB or more', async () => {
    // Less compressible lines: 1.5 MB of corpus text is ~50 kB of gzip; the limit is hit in the first chunk.
    const bigger = gzip(corpusText(3, 1000, 0.01));
    expect(bigger.length).toBeGreaterThan(16 * 1024);
    const outcome = await settlesWithin(scanAll(bigger, { rules, prepared, maxDecompressedBytes: 256 * 1024 }), HANG_MS);
    expect(outcome).not.toBe('timeout');
  });
});

describe('scan: read errors', () => {
  const text = ndjson([OPENSSL_TP(), BENIGN(1), SSH_TP(), BENIGN(2)]);
  async function* failing(bytes: Buffer, upTo: number): AsyncGenerator<Buffer> {
    yield* chunked(bytes.subarray(0, upTo), 50);
    throw new Error('connection reset');
  }

  it('reports a source error with its line after delivering the alerts before it (plain)', async () => {
    const upTo = text.indexOf(line(SSH_TP())) + line(SSH_TP()).length + 1;
    const { result, records } = await scanAll(failing(Buffer.from(text), upTo), { rules });
    expect(alertLines(records)).toEqual([
      [OPENSSL_RULE_ID, 1],
      [SSH_RULE_ID, 3],
    ]);
    expect(result.error).toEqual({ kind: 'source', message: 'read failed: connection reset', line: 4 });
  });

  it('reports a source error for gzip input', async () => {
    const bytes = gzip(text);
    const { result } = await scanAll(failing(bytes, bytes.length - 10), { rules });
    expect(result.error).toMatchObject({ kind: 'source', message: 'read failed: connection reset' });
  });

  it('delivers every alert before the reported line when a large gzip read fails', async () => {
    const big = corpusText(9, 6000, 0.01);
    const bytes = gzip(big);
    const reference = await scanAll(bytes, { rules, prepared });
    async function* failingLarge(): AsyncGenerator<Buffer> {
      yield* chunked(bytes.subarray(0, bytes.length >> 1), 64 * 1024);
      throw new Error('connection reset');
    }
    const { result, records } = await scanAll(failingLarge(), { rules, prepared });
    expect(result.error).toMatchObject({ kind: 'source', message: 'read failed: connection reset' });
    expect(result.error!.line).toBeGreaterThan(1000);
    // error.line is the line being read when the read failed; that partial line is counted.
    expect(result.stats.lines).toBe(result.error!.line);
    expect(records.length).toBeGreaterThan(5);
    expect(records).toEqual(recordsUpTo(reference.records, result.error!.line - 1));
  });
});

describe('scan: output decoded before damage is never dropped', () => {
  it('delivers every line before a bad checksum even when the sink is slow (zlib output still buffered)', async () => {
    // 3 MiB and a few hundred bytes, a true positive last: the final, short piece of
    // output is still buffered in the stream when the checksum fails.
    const tp = `${line(OPENSSL_TP())}\n`;
    const lines: string[] = [];
    let size = 0;
    for (let i = 0; size < 3 * 1024 * 1024 + 4000 - 2 * tp.length - 2000; i++) {
      lines.push(i % 500 === 499 ? tp : `${line(BENIGN(i))}\n`);
      size += lines.at(-1)!.length;
    }
    lines.push(tp);
    const text = lines.join('');
    const damaged = gzip(text);
    damaged[damaged.length - 5] = damaged[damaged.length - 5]! ^ 0x55; // the trailer
    const records: DetectionRecord[] = [];
    const result = await scan(chunked(damaged, 16 * 1024), fileRef('slow.ndjson.gz'), { rules, prepared, now: fixedNow }, async (batch) => {
      records.push(...batch);
      await new Promise((resolve) => setTimeout(resolve, 5)); // a sink waiting on SNS
    });
    expect(result.error?.kind).toBe('content');
    expect(result.stats.decode.bytesOut).toBe(Buffer.byteLength(text));
    expect(alertLines(records).at(-1)).toEqual([OPENSSL_RULE_ID, lines.length]);
  });

  it('releases the source when the sink fails (a CLI whose stdout broke, a publisher that threw)', async () => {
    for (const compressed of [false, true]) {
      const text = ndjson([OPENSSL_TP(), ...Array.from({ length: 3000 }, (_, i) => BENIGN(i)), SSH_TP()]);
      const bytes = compressed ? gzip(text) : Buffer.from(text);
      let released = false;
      async function* source(): AsyncGenerator<Buffer> {
        try {
          for (let at = 0; at < bytes.length; at += 4096) yield bytes.subarray(at, at + 4096);
        } finally {
          released = true;
        }
      }
      await expect(
        scan(source(), fileRef('sink.ndjson'), { rules, prepared }, () => {
          throw new Error('sink broke');
        }),
      ).rejects.toThrow('sink broke');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(released).toBe(true);
    }
  });

  it('returns at once when stopped early, even while the source is stalled', async () => {
    // Poorly compressible lines, so the first half holds more than one zlib write (256 KiB).
    const text = Array.from({ length: 1500 }, (_, i) => `{"n":${i},"pad":"${randomBytes(500).toString('hex')}"}\n`).join('');
    const compressed = gzip(text);
    expect(compressed.length >> 1).toBeGreaterThan(300 * 1024);
    let released = false;
    async function* stalling(): AsyncGenerator<Buffer> {
      try {
        yield compressed.subarray(0, compressed.length >> 1);
        await new Promise((resolve) => setTimeout(resolve, 3000)); // a socket that stops sending
        yield compressed.subarray(compressed.length >> 1);
      } finally {
        released = true;
      }
    }
    const started = performance.now();
    // Stop after the first chunk, as a time budget would, while more output is still coming.
    const result = await scan(stalling(), fileRef('stall.ndjson.gz'), { rules, prepared, shouldStop: () => true }, () => {});
    expect(performance.now() - started).toBeLessThan(1000);
    expect(result.stoppedAtLine).toBeGreaterThan(1);
    expect(released).toBe(false); // released later, when the stalled read completes
    await new Promise((resolve) => setTimeout(resolve, 3200));
    expect(released).toBe(true);
  });
});

describe('scan: bytes after a gzip member that are not gzip', () => {
  // Node's gunzip starts the next member inside the zlib call that ended the previous one;
  // when that fails, the call's output (the end of a good member) is dropped. Reading the
  // input again (reopen) decodes it member by member and delivers all of it.
  const text = corpusText(12, 3000, 0.01);
  const lines = text.split('\n').length - 1;
  const member = gzip(Buffer.concat([Buffer.from(text), Buffer.from(ndjson([OPENSSL_TP()]))]));
  const reopenOf = (bytes: Buffer, calls: { n: number }) => async (): Promise<AsyncIterable<Buffer>> => {
    calls.n++;
    return chunked(bytes, 64 * 1024);
  };

  for (const tail of ['xy', 'some text appended by mistake\n', '\x1f\x8b\x08 but not a member']) {
    it(`delivers every line of the member, its last alert too, then the damage at the next line: ${JSON.stringify(tail)}`, async () => {
      const bytes = Buffer.concat([member, Buffer.from(tail, 'latin1')]);
      const reference = await scanAll(member, { rules, prepared });
      const calls = { n: 0 };
      const { result, records } = await scanAll(chunked(bytes, 64 * 1024), { rules, prepared, reopen: reopenOf(bytes, calls) });
      expect(calls.n).toBe(1);
      expect(result.stats.lines).toBe(lines + 1);
      expect(alertLines(records)).toEqual(alertLines(reference.records));
      expect(alertLines(records).at(-1)).toEqual([OPENSSL_RULE_ID, lines + 1]);
      expect(result.error).toEqual({ kind: 'content', message: expect.stringMatching(new RegExp(`^gzip stream is corrupt \\(the bytes after member 1 \\(from byte ${member.length}\\) are not a gzip member: .+\\)$`)), line: lines + 2 });
    });
  }

  it('reads one byte after a member as a truncated next member, with every line delivered', async () => {
    const { result } = await scanAll(Buffer.concat([member, Buffer.from('x')]), { rules, prepared });
    expect(result.stats.lines).toBe(lines + 1);
    expect(result.error).toEqual({ kind: 'content', message: 'gzip stream is truncated (unexpected end of file)', line: lines + 2 });
  });

  it('delivers a small file whole (Node drops all of it), and without reopen still reports the damage', async () => {
    const small = Buffer.concat([gzip(ndjson([BENIGN(1), SSH_TP(), OPENSSL_TP()])), Buffer.from('trailing text\n')]);
    const recovered = await scanAll(small, { rules, prepared, reopen: async () => source(small) });
    expect(alertLines(recovered.records)).toEqual([
      [SSH_RULE_ID, 2],
      [OPENSSL_RULE_ID, 3],
    ]);
    expect(recovered.result.error).toMatchObject({ kind: 'content', line: 4 });
    // Standard input cannot be read again: the damage is reported, at the line decoding stopped.
    const unrecovered = await scanAll(small, { rules, prepared });
    expect(unrecovered.result.error).toEqual({
      kind: 'content',
      message: 'gzip stream is corrupt (incorrect header check); up to 2097152 bytes decoded just before it were lost with it, as the input could not be read again to recover them',
      line: 1,
    });
  });

  it('delivers all that inflate can decode of a truncated stream, without reading it again', async () => {
    const calls = { n: 0 };
    for (let k = 1; k < 20; k++) {
      const cut = member.subarray(0, Math.floor((member.length * k) / 20));
      let decodable = 0;
      try {
        for await (const out of gunzipExactly(source(cut))) decodable += out.length;
      } catch {
        // the truncation
      }
      const { result } = await scanAll(chunked(cut, 64 * 1024), { rules, prepared, reopen: reopenOf(cut, calls) });
      expect(result.stats.decode.bytesOut).toBe(decodable);
      expect(result.error).toMatchObject({ kind: 'content', message: 'gzip stream is truncated (unexpected end of file)' });
    }
    expect(calls.n).toBe(0);
  });

  it('keeps the first report when the input cannot be read again, or reads differently', async () => {
    const bytes = Buffer.concat([member, Buffer.from('junk')]);
    const without = await scanAll(bytes, { rules, prepared });
    const failing = await scanAll(bytes, {
      rules,
      prepared,
      reopen: async () => {
        throw new SourceError('gone', undefined);
      },
    });
    expect(failing.result.error).toEqual(without.result.error);
    expect(failing.result.stats.lines).toBe(without.result.stats.lines);
    const changed = await scanAll(bytes, { rules, prepared, reopen: async () => source(gzip('{"other":1}\n')) });
    expect(changed.result.error).toEqual(without.result.error);
    expect(changed.result.stats.lines).toBe(without.result.stats.lines);
  });

  // Regression: Node's zlib.crc32 returns 0 for an empty subarray instead of the running
  // value, so a second read with an empty chunk (S3 and stream sources yield them) failed
  // its check against the first read, and the lines before the damage stayed lost.
  it('recovers when the second read has empty chunks', async () => {
    const bytes = Buffer.concat([member, Buffer.from('junk after the member')]);
    async function* withEmptyChunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < bytes.length; i += 4096) {
        yield Buffer.alloc(0);
        yield bytes.subarray(i, i + 4096);
      }
    }
    const { result } = await scanAll(withEmptyChunks(), { rules, prepared, reopen: async () => withEmptyChunks() });
    expect(result.stats.lines).toBe(lines + 1);
    expect(result.error).toMatchObject({ kind: 'content', line: lines + 2 });
  });

  // Regression: a file rewritten in place with the same size and time passes openFileAgain's
  // check; its lines were spliced in after the first read's, and with no error.
  it('keeps the first report when the second read has other bytes of the same length', async () => {
    const bytes = Buffer.concat([member, Buffer.from('junk')]);
    const other = Buffer.from(bytes);
    for (let i = 100; i < 200; i++) other[i] = other[i]! ^ 0x01; // same length, other content
    const without = await scanAll(chunked(bytes, 65536), { rules, prepared });
    const { result, records } = await scanAll(chunked(bytes, 65536), { rules, prepared, reopen: async () => chunked(other, 4096) });
    expect(result.error).toEqual(without.result.error);
    expect(result.stats.lines).toBe(without.result.stats.lines);
    expect(alertLines(records)).toEqual(alertLines(without.records));
  });

  // Regression: the exact decoder runs ahead of the second read's check, so a rewritten file that
  // decodes to more before the check had its lines delivered (and a damage of its own reported).
  it('delivers nothing from a second read that differs before its check, however it decodes', async () => {
    // Over 1 MiB of compressed input before the damage: the exact decoder reads its first
    // 256 KiB piece and decodes it before the second read reaches the checkpoint (the first
    // read's last one before the damage). Read in 64 KiB chunks, and in one chunk holding
    // the damage (where a checkpoint per chunk boundary left nothing to check against).
    const noise = Array.from({ length: 30_000 }, (_, i) => JSON.stringify({ i, noise: randomBytes(40).toString('hex') })).join('\n') + '\n';
    const bytes = Buffer.concat([gzip(noise), Buffer.from('junk')]);
    expect(bytes.length).toBeGreaterThan(4 * 256 * 1024);
    // Compresses far better: its first piece decodes past what was delivered, long before the check.
    const rewritten = gzip(ndjson(Array.from({ length: 40_000 }, (_, i) => (i % 1000 === 999 ? OPENSSL_TP() : BENIGN(1)))));
    const corrupt = Buffer.from(bytes);
    corrupt[2000] = corrupt[2000]! ^ 0xff; // damage the second read finds before the check
    for (const readSize of [65536, bytes.length]) {
      const without = await scanAll(chunked(bytes, readSize), { rules, prepared });
      for (const other of [rewritten, corrupt]) {
        const { result, records } = await scanAll(chunked(bytes, readSize), { rules, prepared, reopen: async () => chunked(other, 4096) });
        expect(result.error).toEqual(without.result.error);
        expect(result.stats.lines).toBe(without.result.stats.lines);
        expect(alertLines(records)).toEqual(alertLines(without.records));
      }
    }
  });

  /** `n` short process events tagged `tag`, numbered from `from`. */
  const taggedLines = (tag: string, from: number, n: number): string => Array.from({ length: n }, (_, i) => JSON.stringify({ tag, event: { category: 'process' }, i: from + i })).join('\n') + '\n';
  type Decoded = { text: string; error?: string };
  /** What decode() delivers of `source` (read again through `reopen`), and the error it ends with. */
  async function decodedText(source: AsyncIterable<Buffer>, reopen?: () => Promise<AsyncIterable<Buffer>>): Promise<Decoded> {
    let text = '';
    try {
      for await (const c of decode(source, { compressed: false, bytesIn: 0, bytesOut: 0 }, reopen === undefined ? {} : { reopen })) text += c.toString();
    } catch (err) {
      return { text, error: (err as Error).message };
    }
    return { text };
  }

  it('checks a second read at the damage itself when it is within the first 4 KiB of the input', async () => {
    // NDJSON compresses well: a 64 KiB output chunk takes under 4 KiB of compressed input, so
    // the zlib call that fails on a damaged second member starts there, after lines were delivered.
    const first = gzip(taggedLines('original', 0, 1700));
    const damagedMember = gzip(taggedLines('original', 3000, 3000));
    damagedMember[10] = 0x07; // an invalid block type
    const bytes = Buffer.concat([first, damagedMember]);
    const rewritten = Buffer.concat([gzip(taggedLines('rewritten', 0, 1700)), gzip(taggedLines('rewritten', 3000, 3000))]);
    const decoded = (reopen?: () => Promise<AsyncIterable<Buffer>>): Promise<Decoded> => decodedText(chunked(bytes, 65536), reopen);
    const without = await decoded();
    expect(without.text.length).toBeGreaterThan(0);
    expect(without.text.length).toBeLessThan(taggedLines('original', 0, 1700).length); // the failing call's output lost
    expect((await decoded(async () => chunked(bytes, 65536))).text).toBe(taggedLines('original', 0, 1700)); // recovered
    // A rewritten file is not spliced in after the lines delivered: the first report stands.
    expect(await decoded(async () => chunked(rewritten, 65536))).toEqual(without);
  });

  it('refuses a second read that differs only after the damage, as far as the first read went', async () => {
    // A file rewritten where the first read had junk or a member after padding: the bytes up
    // to the damage match, and what follows would be spliced in as if it were this file's.
    const head = gzip(taggedLines('original', 0, 3000));
    const cases: [string, Buffer, Buffer][] = [
      ['junk appended', Buffer.concat([head, Buffer.from('appended junk, not gzip\n')]), Buffer.concat([head, gzip(taggedLines('rewritten', 0, 3000))])],
      ['a member after zero padding', Buffer.concat([head, Buffer.alloc(16), gzip(taggedLines('original', 3000, 3000))]), Buffer.concat([head, Buffer.alloc(16), gzip(taggedLines('rewritten', 0, 3000))])],
    ];
    for (const [name, bytes, rewritten] of cases) {
      const decoded = (reopen?: () => Promise<AsyncIterable<Buffer>>): Promise<Decoded> => decodedText(chunked(bytes, 4096), reopen);
      const without = await decoded();
      expect(without.error, name).toBeDefined();
      const again = await decoded(async () => chunked(bytes, 4096));
      expect(again.text.startsWith(taggedLines('original', 0, 3000)), name).toBe(true); // recovered
      expect(await decoded(async () => chunked(rewritten, 4096)), name).toEqual(without);
    }
  });

  it('recovers the lines before corrupt deflate data that the failing zlib call dropped', async () => {
    // Damage zlib notices at once (an invalid block type), mid-member, far from a read boundary.
    const original = Buffer.from(text);
    const good = gzip(original);
    let damaged: Buffer | undefined;
    let without: Scanned | undefined;
    for (let at = 0.55; at < 0.95 && damaged === undefined; at += 0.01) {
      const candidate = Buffer.from(good);
      const from = Math.floor(candidate.length * at);
      for (let i = from; i < from + 64; i++) candidate[i] = 0xff;
      const scanned = await scanAll(chunked(candidate, 1 << 20), { rules, prepared });
      if (completeLines(await readablePrefix(candidate)) - scanned.result.stats.lines > 100) [damaged, without] = [candidate, scanned];
    }
    expect(damaged, 'a damage that loses lines without reopen').toBeDefined();
    const readable = completeLines(await readablePrefix(damaged!));
    const { result } = await scanAll(chunked(damaged!, 1 << 20), { rules, prepared, reopen: async () => chunked(damaged!, 1 << 20) });
    expect(result.stats.lines).toBeGreaterThan(without!.result.stats.lines + 100);
    expect(result.stats.lines).toBeGreaterThanOrEqual(readable - 5);
    expect(result.error).toMatchObject({ kind: 'content', message: expect.stringMatching(/^gzip stream is corrupt/) });
  });
});

describe('scan: zero padding after a gzip member', () => {
  const first = ndjson([BENIGN(1), OPENSSL_TP()]);
  const second = ndjson([SSH_TP(), BENIGN(2)]);

  it('reads trailing zeros as padding, without reading the input again', async () => {
    const calls = { n: 0 };
    for (const zeros of [1, 3, 8, 300_000]) {
      const bytes = Buffer.concat([gzip(first), Buffer.alloc(zeros)]);
      const reopen = async (): Promise<AsyncIterable<Buffer>> => {
        calls.n++;
        return source(bytes);
      };
      const { result, records } = await scanAll(chunked(bytes, 64 * 1024), { rules, prepared, reopen });
      expect(result.error).toBeUndefined();
      expect(alertLines(records)).toEqual([[OPENSSL_RULE_ID, 2]]);
    }
    expect(calls.n).toBe(0);
  });

  // Regression: with a slow sink, gunzip, stopped at the padding, is handed the bytes after it
  // and fails on them ("incorrect header check"); the second read decoded every member, yet
  // the scan reported the first error. A clean second read now means no damage.
  it('reports no damage for a member after zeros when gunzip fails on it behind a slow sink', async () => {
    const many = (n: number): string => ndjson(Array.from({ length: n }, (_, i) => (i % 500 === 0 ? OPENSSL_TP() : BENIGN(i))));
    const bytes = Buffer.concat([gzip(many(3000)), Buffer.alloc(3), gzip(many(30000))]);
    const batches: DetectionRecord[][] = [];
    const result = await scan(chunked(bytes, 65536), fileRef('padded.ndjson.gz'), { rules, prepared, now: fixedNow, reopen: async () => chunked(bytes, 65536) }, async (records) => {
      batches.push(records);
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    expect(result.error).toBeUndefined();
    expect(result.stats.lines).toBe(33000);
    expect(alertLines(batches.flat())).toHaveLength(66);
    // Without a second read (standard input): what was not read is said, not zlib's complaint.
    const unread = await scan(chunked(bytes, 65536), fileRef('padded.ndjson.gz'), { rules, prepared, now: fixedNow }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    expect(unread.error).toEqual({ kind: 'content', message: `gzip stream is corrupt (the bytes after zero padding at byte ${gzip(many(3000)).length} were not read)`, line: 3001 });
  });

  it('finds a member after zeros, where Node stops quietly; without reopen it reports what it could not read', async () => {
    const bytes = Buffer.concat([gzip(first), Buffer.alloc(5), gzip(second), Buffer.alloc(2)]);
    const recovered = await scanAll(chunked(bytes, 7), { rules, prepared, reopen: async () => source(bytes) });
    expect(recovered.result.error).toBeUndefined();
    expect(alertLines(recovered.records)).toEqual([
      [OPENSSL_RULE_ID, 2],
      [SSH_RULE_ID, 3],
    ]);
    const unrecovered = await scanAll(bytes, { rules, prepared });
    expect(alertLines(unrecovered.records)).toEqual([[OPENSSL_RULE_ID, 2]]);
    expect(unrecovered.result.error).toEqual({ kind: 'content', message: `gzip stream is corrupt (the bytes after zero padding at byte ${gzip(first).length} were not read)`, line: 3 });
  });
});

describe('scan: stopped while the input is read again', () => {
  // A scan stopped by its time budget returns at once; the decode it abandons must not go on
  // reading in the background (in the Lambda: a GetObject running on into a later invocation).
  const text = corpusText(21, 20_000, 0.001);
  const damaged = Buffer.concat([gzip(text), Buffer.from('appended text\n')]);

  /** A slow source that counts its reads and notes when it is released. */
  function slowSource(bytes: Buffer, log: { reads: number; released?: number }): AsyncIterable<Buffer> {
    return (async function* () {
      try {
        for (let at = 0; at < bytes.length; at += 4096) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          log.reads++;
          yield bytes.subarray(at, at + 4096);
        }
      } finally {
        log.released = performance.now();
      }
    })();
  }

  it('releases the second read within a chunk of the stop, and reads no further', async () => {
    const second = { reads: 0 } as { reads: number; released?: number };
    let reopened = false;
    const reopen = async (): Promise<AsyncIterable<Buffer>> => {
      reopened = true;
      return slowSource(damaged, second);
    };
    const result = await scan(chunked(damaged, 65536), fileRef('stopped.ndjson.gz'), { rules, prepared, reopen, shouldStop: () => reopened && second.reads >= 10 }, () => {});
    const returned = performance.now();
    const readsAtReturn = second.reads;
    expect(result.stoppedAtLine).toBeDefined();
    expect(readsAtReturn).toBeLessThan(damaged.length / 4096 / 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(second.reads - readsAtReturn).toBeLessThanOrEqual(1);
    expect(second.released).toBeDefined();
    expect(second.released! - returned).toBeLessThan(100);
  });

  it('releases a gzip source whose first read outlasts the budget', async () => {
    // Stopped before decode had its first bytes: the abort came before decode listened for it.
    const compressed = gzip(text);
    const log = { reads: 0 } as { reads: number; released?: number };
    async function* stalling(): AsyncGenerator<Buffer> {
      try {
        await new Promise((resolve) => setTimeout(resolve, 300));
        for (let at = 0; at < compressed.length; at += 4096) {
          log.reads++;
          yield compressed.subarray(at, at + 4096);
        }
      } finally {
        log.released = performance.now();
      }
    }
    let stop = false;
    setTimeout(() => (stop = true), 50);
    const result = await scan(stalling(), fileRef('stalled.ndjson.gz'), { rules, prepared, shouldStop: () => stop }, () => {});
    expect(result.stoppedAtLine).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(log.released).toBeDefined();
    expect(log.reads).toBeLessThanOrEqual(1);
  });

  it('does not read the input again once stopped', async () => {
    // Stopped while the feeder reads on after zero padding (looking for another member).
    const padded = Buffer.concat([gzip(ndjson([OPENSSL_TP()])), Buffer.alloc(2), randomBytes(400 * 1024)]);
    const first = { reads: 0 } as { reads: number; released?: number };
    let reopened = 0;
    const reopen = async (): Promise<AsyncIterable<Buffer>> => {
      reopened++;
      return source(padded);
    };
    const result = await scan(slowSource(padded, first), fileRef('padded.ndjson.gz'), { rules, prepared, reopen, shouldStop: () => first.reads >= 10 }, () => {});
    const returned = performance.now();
    const readsAtReturn = first.reads;
    expect(result.stoppedAtLine).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(first.reads - readsAtReturn).toBeLessThanOrEqual(1);
    expect(first.released! - returned).toBeLessThan(100);
    expect(reopened).toBe(0);
  });
});
