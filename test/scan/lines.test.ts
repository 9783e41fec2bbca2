/**
 * Lines and skips: every skip reason counted with its first line numbers, the line cap
 * (default and configured, at its exact boundary), a 10 MB line, CRLF, a last line
 * without a newline, and invalid UTF-8.
 */
import { describe, expect, it } from 'vitest';
import { MAX_DOCUMENT_DEPTH, TOO_DEEP, withinDepth, type Alert } from '../../lambda/alerts/document.js';
import { KEPT_LINE_NUMBERS } from '../../lambda/scan/events.js';
import { PreparedRules } from '../../lambda/scan/pipeline.js';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter } from '../../lambda/scan/lines.js';
import { alertLines, BENIGN, chunked, cutAt, gzip, line, ndjson, OPENSSL_RULE_ID, OPENSSL_TP, scanAll, shippedRules, source, SSH_RULE_ID, SSH_TP } from './helpers.js';

const rules = shippedRules();

/** An object line of exactly `bytes` bytes: {"pad":"xxx…"}. */
function paddedLine(bytes: number): string {
  const overhead = '{"pad":""}'.length;
  return `{"pad":"${'x'.repeat(bytes - overhead)}"}`;
}

/** The openssl true positive with its data_stream.type nested `depth` arrays deep (evaluation recurses into arrays). */
function deeplyNestedTruePositive(depth: number): string {
  const event = OPENSSL_TP();
  event.data_stream = { type: '__DEEP__', dataset: 'endpoint.events.process', namespace: 'default' };
  return line(event).replace('"__DEEP__"', `${'['.repeat(depth)}"logs"${']'.repeat(depth)}`);
}
const DEEP = deeplyNestedTruePositive(100_000);

describe('scan: skipped lines', () => {
  // One line of each kind; the too-long line is 400 kB and the cap is set between it and the 200 kB nested line.
  const lines = [
    line(OPENSSL_TP()), // 1
    '', // 2 empty
    ' \t ', // 3 empty (blanks only)
    'not json', // 4 invalid_json
    '{"a": 1', // 5 invalid_json (starts like an object)
    '[1, 2, 3]', // 6 not_object: array
    '"a string"', // 7 not_object: string
    '42', // 8 not_object: number
    'null', // 9 not_object: null
    'true', // 10 not_object: boolean
    paddedLine(400_000), // 11 too_long
    DEEP, // 12 nested 100,000 deep: evaluated, and its alert's document trimmed
    line(SSH_TP()), // 13
  ];
  const input = lines.join('\n') + '\n';
  const maxLineBytes = 300_000;

  it('counts every reason with its first line numbers (prefilter off)', async () => {
    const { result, records } = await scanAll(input, { rules, maxLineBytes, prefilter: false });
    const { skipped } = result.stats;
    expect(skipped.counts).toEqual({ empty: 2, invalid_json: 2, not_object: 5, too_long: 1, too_deep: 0, too_costly: 0 });
    expect(skipped.firstLines).toEqual({ empty: [2, 3], invalid_json: [4, 5], not_object: [6, 7, 8, 9, 10], too_long: [11], too_deep: [], too_costly: [] });
    expect(skipped.total).toBe(10);
    expect(skipped.describe()).toBe('empty 2 (lines 2, 3), invalid_json 2 (lines 4, 5), not_object 5 (lines 6, 7, 8, 9, 10), too_long 1 (line 11)');
    expect(result.stats.lines).toBe(13);
    // The nested line is an event like any other: field lookups do not recurse.
    expect(result.stats.events).toBe(3);
    expect(result.error).toBeUndefined();
    expect(alertLines(records)).toEqual([
      [OPENSSL_RULE_ID, 1],
      [OPENSSL_RULE_ID, 12],
      [SSH_RULE_ID, 13],
    ]);
  });

  it('with the prefilter on, classifies the same lines: a line cut short is invalid JSON without being parsed', async () => {
    const { result, records } = await scanAll(input, { rules, maxLineBytes });
    const { skipped } = result.stats;
    expect(skipped.counts).toEqual({ empty: 2, invalid_json: 2, not_object: 5, too_long: 1, too_deep: 0, too_costly: 0 });
    expect(skipped.firstLines.invalid_json).toEqual([4, 5]);
    expect(result.stats.prefiltered).toBe(0);
    expect(alertLines(records)).toEqual([
      [OPENSSL_RULE_ID, 1],
      [OPENSSL_RULE_ID, 12],
      [SSH_RULE_ID, 13],
    ]);
  });

  it('counts lines cut short among plain ones alike, screened in WebAssembly or searched line by line', async () => {
    // Lines that end in `}` are passed over unparsed (broken ones inside, `{"a": 1,}` and
    // `{"a": "}`, too: the README says so); one that does not cannot be an object.
    const plain = '{"event":{"category":"process"},"n":1}';
    const text = [plain, '{"a": 1', `${plain}\r`, '{"a": 1,}', '{"a": "}', '{', `${plain}  `, '{"a": "x"} \t\r', plain].join('\n') + '\n{"cut":';
    for (const prepared of [new PreparedRules(rules, true), new PreparedRules(rules, true, { wasm: false })]) {
      for (const size of [1, 7, 64 * 1024]) {
        const { result } = await scanAll(chunked(Buffer.from(text), size), { rules, prepared });
        expect(result.stats.skipped.firstLines.invalid_json, `${prepared.prefilter.engine}, chunks of ${size}`).toEqual([2, 6, 10]);
        expect(result.stats.prefiltered).toBe(7);
        expect(result.stats.events).toBe(0);
      }
    }
  });

  it(`keeps the first ${KEPT_LINE_NUMBERS} line numbers per reason and counts the rest`, async () => {
    const { result } = await scanAll('\n\n\n\n\n\n\n[]\n{}\n', { rules });
    expect(result.stats.skipped.counts.empty).toBe(7);
    expect(result.stats.skipped.firstLines.empty).toEqual([1, 2, 3, 4, 5]);
    expect(result.stats.skipped.describe()).toBe('empty 7 (lines 1, 2, 3, 4, 5, ...), not_object 1 (line 8)');
  });

  it('alerts on documents nested deeper than any call stack, with the deep parts of the document trimmed', async () => {
    const { result, records } = await scanAll(ndjson([DEEP, OPENSSL_TP(), DEEP]), { rules });
    expect(result.stats.skipped.total).toBe(0);
    expect(alertLines(records)).toEqual([
      [OPENSSL_RULE_ID, 1],
      [OPENSSL_RULE_ID, 2],
      [OPENSSL_RULE_ID, 3],
    ]);
    const alerts = records.filter((r): r is Alert => r.kind === 'alert');
    expect(alerts.map((a) => a.truncated)).toEqual([true, undefined, true]);
    // The trimmed document keeps everything down to MAX_DOCUMENT_DEPTH, in order, and serializes.
    const trimmed = alerts[0]!.document;
    expect(Object.keys(trimmed)).toEqual(Object.keys(alerts[1]!.document));
    expect(trimmed.process).toEqual(alerts[1]!.document.process);
    let node: unknown = (trimmed.data_stream as Record<string, unknown>).type;
    let depth = 2;
    while (Array.isArray(node)) {
      node = node[0];
      depth++;
    }
    expect([node, depth]).toEqual([TOO_DEEP, MAX_DOCUMENT_DEPTH]);
    expect(() => JSON.stringify(records)).not.toThrow();
  });

  it('suppresses such a document past the alert limit on standard input too (its overflow id hashes the trimmed event)', async () => {
    const stdin = { kind: 'file', file: '-', identity: 'stdin', hashEvents: true } as const;
    const { result, records } = await scanAll(ndjson([OPENSSL_TP(), DEEP, OPENSSL_TP()]), { rules, maxAlertsPerRule: 1 }, stdin);
    expect(result.stats.skipped.total).toBe(0);
    expect(alertLines(records)).toEqual([[OPENSSL_RULE_ID, 1]]);
    expect(records.at(-1)).toMatchObject({ kind: 'overflow', source: { first_suppressed_line: 2 }, count: 2 });
  });

  it('keeps "__proto__" keys as data when trimming a document', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100; i++) deep = [deep];
    const event = JSON.parse(`{"__proto__": {"polluted": true}, "deep": ${JSON.stringify(deep)}}`) as Record<string, unknown>;
    const trimmed = withinDepth(event, 8);
    expect(Object.keys(trimmed)).toEqual(['__proto__', 'deep']);
    expect(Object.getPrototypeOf(trimmed)).toBe(Object.prototype);
    expect(JSON.stringify(trimmed)).toContain('"__proto__":{"polluted":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('scan: the line cap', () => {
  it('accepts a line of exactly maxLineBytes and skips one byte more, also when the line spans chunks', async () => {
    const exact = paddedLine(100);
    const over = paddedLine(101);
    const text = Buffer.from(`${exact}\n${over}\n${exact}\r\n${over}\r\n`);
    for (const input of [source(text), chunked(text, 7), chunked(text, 100), chunked(text, 101)]) {
      const { result } = await scanAll(input, { rules, maxLineBytes: 100, prefilter: false });
      // The \r of a CRLF ending does not count towards the cap.
      expect(result.stats.events).toBe(2);
      expect(result.stats.skipped.counts.too_long).toBe(2);
      expect(result.stats.skipped.firstLines.too_long).toEqual([2, 4]);
      expect(result.stats.lines).toBe(4);
    }
  });

  it(`defaults to ${DEFAULT_MAX_LINE_BYTES} bytes (1 MiB)`, async () => {
    expect(DEFAULT_MAX_LINE_BYTES).toBe(1024 * 1024);
    const text = ndjson([paddedLine(DEFAULT_MAX_LINE_BYTES), paddedLine(DEFAULT_MAX_LINE_BYTES + 1), OPENSSL_TP()]);
    const { result, records } = await scanAll(chunked(text, 64 * 1024), { rules, prefilter: false });
    expect(result.stats.events).toBe(2);
    expect(result.stats.skipped.firstLines.too_long).toEqual([2]);
    expect(alertLines(records)).toEqual([[OPENSSL_RULE_ID, 3]]);
  });

  it('skips a 10 MB line with the default cap, streaming it in chunks, and keeps scanning', async () => {
    const huge = Buffer.from(paddedLine(10 * 1024 * 1024));
    async function* input(): AsyncGenerator<Buffer> {
      yield Buffer.from(line(BENIGN()) + '\n');
      yield* chunked(huge, 64 * 1024);
      yield Buffer.from('\n' + line(OPENSSL_TP()) + '\n');
    }
    const { result, records } = await scanAll(input(), { rules });
    expect(result.error).toBeUndefined();
    expect(result.stats.lines).toBe(3);
    expect(result.stats.skipped.counts).toMatchObject({ too_long: 1 });
    expect(result.stats.skipped.firstLines.too_long).toEqual([2]);
    expect(result.stats.decode.bytesOut).toBeGreaterThan(10 * 1024 * 1024);
    expect(alertLines(records)).toEqual([[OPENSSL_RULE_ID, 3]]);
  });

  it('never buffers more of an over-long line than the cap and one chunk', () => {
    const seen: string[] = [];
    const splitter = new LineSplitter({
      line: (buf, start, end, n) => seen.push(`line ${n}: ${end - start}`),
      tooLong: (n, length) => seen.push(`too long ${n}: ${length}`),
    });
    // White-box: the splitter's carried bytes, to show the 10 MB line is dropped while it streams past.
    const carried = (): number => (splitter as unknown as { pending: Buffer }).pending.length;
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    let most = 0;
    splitter.push(Buffer.from('{}\n'));
    for (let i = 0; i < 160; i++) {
      splitter.push(chunk);
      most = Math.max(most, carried());
    }
    splitter.push(Buffer.from('\n{}'));
    splitter.end();
    expect(most).toBeLessThanOrEqual(DEFAULT_MAX_LINE_BYTES + chunk.length);
    expect(carried()).toBe(0);
    expect(seen).toEqual(['line 1: 2', `too long 2: ${160 * chunk.length}`, 'line 3: 2']);
  });

  it('stops after a line when the sink is full and resumes where it said, giving the same lines under any chunking', () => {
    const text = ['{"a":1}', '', 'x'.repeat(40), '{"b":2}\r', 'yy', '{"c":3}', 'z'.repeat(30), ''].join('\n') + 'tail';
    const run = (size: number, fullEvery: number): string[] => {
      const seen: string[] = [];
      let sinceFull = 0;
      const splitter = new LineSplitter(
        {
          line: (buf, start, end, n) => seen.push(`${n}:${buf.toString('latin1', start, end)}`),
          tooLong: (n, length) => seen.push(`${n}:too long ${length}`),
          full: () => ++sinceFull % fullEvery === 0,
        },
        32,
      );
      const bytes = Buffer.from(text, 'latin1');
      for (let at = 0; at < bytes.length; at += size) {
        const chunk = bytes.subarray(at, at + size);
        let resumes = 0;
        for (let from = splitter.push(chunk); from >= 0; from = splitter.push(chunk, from)) {
          expect(from === 0 || chunk[from - 1] === 0x0a).toBe(true); // always at a line start
          resumes++;
        }
        expect(resumes).toBeLessThanOrEqual(chunk.length);
      }
      splitter.end();
      return seen;
    };
    const expected = run(text.length, Infinity);
    expect(expected).toEqual(['1:{"a":1}', '2:', '3:too long 40', '4:{"b":2}', '5:yy', '6:{"c":3}', `7:${'z'.repeat(30)}`, '8:tail']);
    for (const size of [1, 2, 3, 7, 16, 64, text.length]) {
      for (const every of [1, 2, 3]) expect(run(size, every), `chunks of ${size}, full every ${every}`).toEqual(expected);
    }
  });

  it('carries a line arriving a byte at a time in one buffer: at most twice the line held', () => {
    const seen: string[] = [];
    const splitter = new LineSplitter({ line: (buf, start, end, n) => seen.push(`line ${n}: ${buf.toString('latin1', start, end)}`), tooLong: () => {} });
    const text = `{"a":"${'x'.repeat(5000)}"}`;
    let most = 0;
    for (const byte of Buffer.from(text)) {
      splitter.push(Buffer.from([byte]));
      most = Math.max(most, (splitter as unknown as { pending: Buffer }).pending.length);
    }
    splitter.push(Buffer.from('\n'));
    expect(seen).toEqual([`line 1: ${text}`]);
    expect(most).toBeLessThanOrEqual(2 * text.length);
  });

  it('parses and matches a 10 MB line when maxLineBytes is 16 MiB', async () => {
    const event = OPENSSL_TP();
    event.padding = 'p'.repeat(10 * 1024 * 1024);
    const { result, records } = await scanAll(chunked(ndjson([BENIGN(), event]), 1024 * 1024), { rules, maxLineBytes: 16 * 1024 * 1024 });
    expect(result.stats.skipped.total).toBe(0);
    expect(alertLines(records)).toEqual([[OPENSSL_RULE_ID, 2]]);
    expect(((records[0] as Alert).document.padding as string).length).toBe(10 * 1024 * 1024);
  });
});

describe('scan: line endings', () => {
  const events = [BENIGN(1), OPENSSL_TP(), BENIGN(2), SSH_TP()];

  it('handles CRLF endings: the \\r is not part of the line', async () => {
    const text = ndjson(events, '\r\n');
    for (const input of [source(text), chunked(text, 13), cutAt(Buffer.from(text), [text.indexOf('\r\n') + 1])]) {
      const { result, records } = await scanAll(input, { rules });
      expect(result.stats.skipped.total).toBe(0);
      expect(result.stats.lines).toBe(4);
      expect(alertLines(records)).toEqual([
        [OPENSSL_RULE_ID, 2],
        [SSH_RULE_ID, 4],
      ]);
      expect((records[0] as Alert).document).toEqual(OPENSSL_TP());
    }
  });

  it('handles mixed LF and CRLF endings and blank CRLF lines', async () => {
    const text = `${line(BENIGN())}\r\n\r\n${line(OPENSSL_TP())}\n\r\n${line(SSH_TP())}\r\n`;
    const { result, records } = await scanAll(text, { rules });
    expect(result.stats.skipped.firstLines.empty).toEqual([2, 4]);
    expect(alertLines(records)).toEqual([
      [OPENSSL_RULE_ID, 3],
      [SSH_RULE_ID, 5],
    ]);
  });

  it('scans a final line without a newline (plain, chunked and gzip; LF and CRLF)', async () => {
    for (const eol of ['\n', '\r\n']) {
      const text = ndjson(events, eol).slice(0, -eol.length);
      for (const input of [source(text), chunked(text, 10), source(gzip(text))]) {
        const { result, records } = await scanAll(input, { rules });
        expect(result.stats.lines).toBe(4);
        expect(result.stats.skipped.total).toBe(0);
        expect(alertLines(records)).toEqual([
          [OPENSSL_RULE_ID, 2],
          [SSH_RULE_ID, 4],
        ]);
      }
    }
  });

  it('scans an empty input and a lone newline', async () => {
    expect((await scanAll('', { rules })).result.stats.lines).toBe(0);
    const lone = await scanAll('\n', { rules });
    expect(lone.result.stats.lines).toBe(1);
    expect(lone.result.stats.skipped.counts.empty).toBe(1);
  });
});

describe('scan: invalid UTF-8', () => {
  const INVALID = [
    [0xff],
    [0xfe, 0xff],
    [0x80], // lone continuation byte
    [0xc3], // truncated two-byte sequence
    [0xe2, 0x82], // truncated three-byte sequence
    [0xc0, 0xaf], // overlong "/"
    [0xed, 0xa0, 0x80], // UTF-16 surrogate
    [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
  ];

  it('decodes invalid bytes inside strings to U+FFFD: the event still matches', async () => {
    const lines = INVALID.map((bytes) => {
      const text = line({ ...OPENSSL_TP(), message: '@@' });
      const [before, after] = text.split('@@') as [string, string];
      return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after), Buffer.from('\n')]);
    });
    const { result, records } = await scanAll(Buffer.concat(lines), { rules });
    expect(result.stats.skipped.total).toBe(0);
    expect(alertLines(records)).toEqual(INVALID.map((_, i) => [OPENSSL_RULE_ID, i + 1]));
    for (const r of records) expect((r as Alert).document.message).toMatch(/^\uFFFD+$/);
  });

  it('skips lines with invalid bytes outside strings as invalid JSON, and never throws on random bytes', async () => {
    const bad = Buffer.concat([Buffer.from([0xff, 0xfe, 0x7b, 0x7d, 0x0a]), Buffer.from('{"a":'), Buffer.from([0xc3, 0x0a])]);
    const first = await scanAll(Buffer.concat([bad, Buffer.from(line(SSH_TP()) + '\n')]), { rules, prefilter: false });
    expect(first.result.stats.skipped.counts.invalid_json).toBe(2);
    expect(alertLines(first.records)).toEqual([[SSH_RULE_ID, 3]]);

    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const noise = Buffer.alloc(256 * 1024);
    for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(random() * 256);
    for (const prefilter of [true, false]) {
      const { result } = await scanAll(chunked(Buffer.concat([noise, Buffer.from('\n' + line(OPENSSL_TP()) + '\n')]), 4096), { rules, prefilter });
      expect(result.error).toBeUndefined();
      expect(result.stats.perRule.get(OPENSSL_RULE_ID)?.alerts).toBe(1);
    }
  });

  it('decodes a multi-byte character split across chunks', async () => {
    const event = { ...OPENSSL_TP(), user: { name: 'jürgen 🦊' } };
    const text = Buffer.from(line(event) + '\n');
    const at = text.indexOf(Buffer.from('🦊')) + 2;
    const { records } = await scanAll(cutAt(text, [at - 1, at]), { rules });
    expect((records[0] as Alert).document.user).toEqual({ name: 'jürgen 🦊' });
    expect((records[0] as Alert).reason).toContain('by jürgen 🦊 on');
  });
});

describe('scan: a UTF-8 byte order mark', () => {
  it('is not part of the first line (Windows tools write one), with the prefilter on or off', async () => {
    const input = `\uFEFF${line(OPENSSL_TP())}\n${line(SSH_TP())}\n`;
    for (const prefilter of [true, false]) {
      const { result, records } = await scanAll(input, { rules, prefilter });
      expect(result.stats.skipped.total).toBe(0);
      expect(alertLines(records)).toEqual([
        [OPENSSL_RULE_ID, 1],
        [SSH_RULE_ID, 2],
      ]);
    }
  });

  it('split across chunks (one byte per chunk), or inside gzip, it is still dropped', async () => {
    const input = Buffer.from(`\uFEFF${line(OPENSSL_TP())}\n`);
    for (const data of [chunked(input, 1), cutAt(input, [1, 2]), cutAt(input, [2]), source(gzip(input))]) {
      const { result, records } = await scanAll(data, { rules });
      expect(result.stats.skipped.total).toBe(0);
      expect(alertLines(records)).toEqual([[OPENSSL_RULE_ID, 1]]);
    }
  });

  it('a stream shorter than a mark, or one that only starts like one, keeps its bytes', async () => {
    // EF BB alone, and EF BB followed by something else: classified as lines, not dropped.
    for (const bytes of [[0xef, 0xbb], [0xef, 0xbb, 0x7b, 0x7d]]) {
      const { result } = await scanAll(chunked(Buffer.from(bytes), 1), { rules, prefilter: false });
      expect(result.stats.lines).toBe(1);
      expect(result.stats.skipped.counts.invalid_json).toBe(1);
    }
    const empty = await scanAll(Buffer.from([0xef, 0xbb, 0xbf]), { rules });
    expect(empty.result.stats.lines).toBe(0);
    expect(empty.result.stats.skipped.total).toBe(0);
  });

  it('bytes held back as a possible mark still count when the input fails after them', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from([0xef, 0xbb]);
      throw new Error('connection reset');
    }
    const read = await scanAll(failing(), { rules });
    expect(read.result.error).toMatchObject({ kind: 'source', line: 1 });
    expect(read.result.stats.lines).toBe(1);
    expect(read.result.stats.skipped.firstLines.invalid_json).toEqual([1]);
    // A one-byte gzip member whose checksum is wrong.
    const damaged = gzip(Buffer.from([0xef]));
    damaged[damaged.length - 8]! ^= 0xff;
    const gz = await scanAll(damaged, { rules });
    expect(gz.result.error).toMatchObject({ kind: 'content', line: 1 });
    expect(gz.result.stats.skipped.firstLines.invalid_json).toEqual([1]);
  });

  it('bytes held back are copied: a source may reuse its buffer for the next read', async () => {
    const text = `${line(OPENSSL_TP())}\n`;
    async function* reusing(): AsyncGenerator<Buffer> {
      const buffer = Buffer.alloc(text.length + 3);
      buffer.set([0xef, 0xbb]);
      yield buffer.subarray(0, 2);
      buffer.set([0xbf]); // the next read lands in the same memory
      buffer.write(text, 1);
      yield buffer.subarray(0, text.length + 1);
    }
    const { result, records } = await scanAll(reusing(), { rules });
    expect(result.stats.skipped.total).toBe(0);
    expect(alertLines(records)).toEqual([[OPENSSL_RULE_ID, 1]]);
  });

  it('only at the start of the stream: elsewhere it makes the line invalid JSON', async () => {
    const { result, records } = await scanAll(`${line(BENIGN(1))}\n\uFEFF${line(OPENSSL_TP())}\n`, { rules, prefilter: false });
    expect(result.stats.skipped.firstLines.invalid_json).toEqual([2]);
    expect(records).toEqual([]);
  });
});
