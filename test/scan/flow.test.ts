/**
 * Flow control: the sink's promise is awaited (backpressure), shouldStop ends a scan
 * after a chunk with stoppedAtLine, and startLine resumes it so that the parts add up
 * to a full scan. Also progress callbacks and reuse of PreparedRules.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DetectionRecord } from '../../lambda/alerts/document.js';
import { PreparedRules, scan, type ScanStats } from '../../lambda/scan/pipeline.js';
import { alertLines, BENIGN, chunked, cutAt, EXAMPLES_DIR, fileRef, fixedNow, gzip, HANG_MS, line, ndjson, OPENSSL_RULE_ID, OPENSSL_TP, scanAll, settlesWithin, shippedRules, source, SSH_RULE_ID, SSH_TP } from './helpers.js';

const rules = shippedRules();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** 60 lines with a true positive every 5 lines (openssl and ssh in turn), and some junk. */
const events = Array.from({ length: 60 }, (_, i) => (i % 5 === 4 ? (i % 10 === 4 ? OPENSSL_TP() : SSH_TP()) : i === 7 ? 'not json' : BENIGN(i)));
const text = ndjson(events);
const expectedLines = events.flatMap((e, i) => (i % 5 === 4 ? [i + 1] : []));

describe('scan: the sink is awaited (backpressure)', () => {
  it('does not read the next chunk until the sink’s promise resolves, and delivers every record in order', async () => {
    const log: string[] = [];
    async function* input(): AsyncGenerator<Buffer> {
      let n = 0;
      for await (const chunk of chunked(text, 4000)) {
        log.push(`read ${++n}`);
        yield chunk;
      }
    }
    let inFlight = 0;
    const received: DetectionRecord[] = [];
    const result = await scan(input(), fileRef('slow.ndjson'), { rules, now: fixedNow }, async (records) => {
      inFlight++;
      expect(inFlight).toBe(1);
      log.push(`sink ${records.length}`);
      await sleep(15);
      received.push(...records);
      log.push('sink done');
      inFlight--;
    });
    // Every sink call completes before the next chunk is read.
    for (let i = 0; i < log.length; i++) {
      if (log[i]!.startsWith('sink ') && log[i] !== 'sink done') expect(log[i + 1]).toBe('sink done');
    }
    const reads = log.filter((l) => l.startsWith('read')).length;
    expect(reads).toBe(Math.ceil(text.length / 4000));
    expect(log.filter((l) => l === 'sink done').length).toBeGreaterThan(3);
    expect(received.map((r) => (r.kind === 'alert' ? r.source.line : -1))).toEqual(expectedLines);
    expect(result.stats.perRule.get(OPENSSL_RULE_ID)!.alerts + result.stats.perRule.get(SSH_RULE_ID)!.alerts).toBe(12);
  });

  it('resolves only after the last sink call has finished (gzip input, slow sink)', async () => {
    const received: number[] = [];
    let pending = 0;
    const result = await scan(chunked(gzip(text), 500), fileRef('slow.ndjson.gz'), { rules, now: fixedNow }, async (records) => {
      pending++;
      await sleep(25);
      for (const r of records) if (r.kind === 'alert') received.push(r.source.line);
      pending--;
    });
    expect(pending).toBe(0);
    expect(result.error).toBeUndefined();
    expect(received).toEqual(expectedLines);
  });

  it('delivers the overflow record after the alerts, also to a slow sink', async () => {
    const batches: string[][] = [];
    await scan(chunked(text, 1000), fileRef('x'), { rules, maxAlertsPerRule: 2, now: fixedNow }, async (records) => {
      await sleep(5);
      batches.push(records.map((r) => r.kind));
    });
    expect(batches.flat()).toEqual(['alert', 'alert', 'alert', 'alert', 'overflow', 'overflow']);
  });

  it('rejects with the sink’s error', async () => {
    const failing = scan(chunked(text, 1000), fileRef('x'), { rules }, async () => {
      throw new Error('SNS is down');
    });
    await expect(failing).rejects.toThrow('SNS is down');
  });

  // Regression: a throwing sink ended the for-await over decode() while its feeder waited for
  // 'drain' on the gunzip (compressed reads of 16 KiB or more), and scan() never settled.
  it('rejects with the sink’s error for a gzip input of 16 KiB or more', async () => {
    const bytes = readFileSync(join(EXAMPLES_DIR, 'defend-linux-2026-11-20.ndjson.gz'));
    const failing = scan(source(bytes), fileRef('x'), { rules }, () => {
      throw new Error('SNS is down');
    });
    const outcome = await settlesWithin(
      failing.then(
        () => 'resolved',
        (err: Error) => err.message,
      ),
      HANG_MS,
    );
    expect(outcome).toBe('SNS is down');
  });
});

describe('scan: records are handed on in bounded batches', () => {
  it('hands alerts on mid-chunk when a chunk holds many alerting lines, in order, none lost', async () => {
    // 3,000 true positives (about 4.5 MB, so within two or three 2 MiB chunks) and no cap on alerts.
    const lines = Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? OPENSSL_TP() : SSH_TP()));
    const input = ndjson(lines);
    const sizes: number[] = [];
    const received: number[] = [];
    await scan(source(input), fileRef('dense.ndjson'), { rules, now: fixedNow, maxAlertsPerRule: 100_000 }, (records) => {
      sizes.push(records.length);
      for (const r of records) if (r.kind === 'alert') received.push(r.source.line);
    });
    expect(received).toEqual(lines.map((_, i) => i + 1));
    // About 1 MiB of alerting lines a batch: a few hundred here, never the chunk's thousand or more.
    expect(Math.max(...sizes)).toBeLessThan(600);
    expect(sizes.length).toBeGreaterThan(5);
    // The same records as without the prefilter (the screen resumes mid-chunk), and with a shared PreparedRules.
    const off = await scanAll(input, { rules, prefilter: false, maxAlertsPerRule: 100_000 });
    const shared = await scanAll(input, { rules, prepared: new PreparedRules(rules), maxAlertsPerRule: 100_000 });
    expect(alertLines(off.records).map(([, l]) => l)).toEqual(received);
    expect(alertLines(shared.records).map(([, l]) => l)).toEqual(received);
  });

  it('stops mid-chunk, at a line, when the time runs out while handing alerts on; resuming there gives the rest', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? OPENSSL_TP() : SSH_TP()));
    const input = ndjson(lines);
    const options = { rules, now: fixedNow, maxAlertsPerRule: 100_000 };
    const firstRecords: DetectionRecord[] = [];
    let batches = 0;
    const first = await scan(source(input), fileRef('dense.ndjson'), { ...options, shouldStop: () => batches >= 2 }, (records) => {
      batches++;
      firstRecords.push(...records);
    });
    const stoppedAt = first.stoppedAtLine!;
    expect(stoppedAt).toBeGreaterThan(1);
    expect(stoppedAt).toBeLessThan(1500); // well inside the first 2 MiB chunk
    const second = await scanAll(source(input), { ...options, startLine: stoppedAt });
    expect(second.result.stoppedAtLine).toBeUndefined();
    const lineOf = (r: DetectionRecord): number => (r.kind === 'alert' ? r.source.line : -1);
    expect([...firstRecords, ...second.records].map(lineOf)).toEqual(lines.map((_, i) => i + 1));
  });

  it('asks to reclaim memory after each MiB of alerting lines handed on, not only every 16 MiB of input', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? OPENSSL_TP() : SSH_TP()));
    let reclaims = 0;
    const { records } = await scanAll(source(ndjson(lines)), { rules, maxAlertsPerRule: 100_000, reclaimMemory: () => reclaims++ });
    expect(alertLines(records)).toHaveLength(3000);
    // About 4.5 MB of lines, each with its alert's 2 KB: a reclaim per MiB handed on, and none for the input's bytes.
    expect(reclaims).toBeGreaterThanOrEqual(8);
    expect(reclaims).toBeLessThan(16);
  });

  it('gives each of two concurrent scans of the same Buffer, sharing one PreparedRules, all its alerts across mid-chunk hand-offs', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? OPENSSL_TP() : i % 3 === 1 ? SSH_TP() : BENIGN(i)));
    const buffer = Buffer.from(ndjson(lines));
    for (const wasm of [true, false]) {
      const prepared = new PreparedRules(rules, true, { wasm });
      const run = async (pauses: number): Promise<number[]> => {
        const seen: number[] = [];
        async function* input(): AsyncGenerator<Buffer> {
          yield buffer; // the very same Buffer object for both scans
        }
        await scan(input(), fileRef('shared.ndjson'), { rules, prepared, now: fixedNow, maxAlertsPerRule: 100_000 }, async (records) => {
          for (const r of records) if (r.kind === 'alert') seen.push(r.source.line);
          for (let i = 0; i < pauses; i++) await new Promise((resolve) => setImmediate(resolve));
        });
        return seen;
      };
      const expected = lines.flatMap((_, i) => (i % 3 === 2 ? [] : [i + 1]));
      const [a, b] = await Promise.all([run(1), run(3)]);
      expect(a, wasm ? 'wasm' : 'indexOf').toEqual(expected);
      expect(b, wasm ? 'wasm' : 'indexOf').toEqual(expected);
    }
  });

  it('keeps each reason clause to 1,000 characters, whatever the field holds', async () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `proc-${i}`);
    const tp = OPENSSL_TP() as Record<string, Record<string, unknown>>;
    const event = { ...tp, process: { ...tp.process, parent: { name: names } } };
    const { records } = await scanAll(ndjson([event]), { rules });
    const reason = (records[0] as { reason: string }).reason;
    expect(reason).toMatch(/parent process proc-0, proc-1, .*…, /);
    expect(reason.length).toBeLessThan(1400);
  });
});

describe('scan: shouldStop and startLine', () => {
  const full = async (): Promise<DetectionRecord[]> => (await scanAll(text, { rules })).records;

  it('stops after the first chunk, at the line that chunk cut (not scanned)', async () => {
    const cut = text.indexOf(line(SSH_TP())) + 10; // inside line 10, the first ssh true positive
    const { result, records } = await scanAll(cutAt(Buffer.from(text), [cut]), { rules, shouldStop: () => true });
    expect(result.stoppedAtLine).toBe(10);
    expect(result.error).toBeUndefined();
    expect(result.stats.lines).toBe(9);
    expect(alertLines(records)).toEqual([[OPENSSL_RULE_ID, 5]]);
  });

  it('stops at the next line when the chunk ends with a newline', async () => {
    const cut = text.indexOf(line(SSH_TP())) + line(SSH_TP()).length + 1; // just after line 10
    const { result, records } = await scanAll(cutAt(Buffer.from(text), [cut]), { rules, shouldStop: () => true });
    expect(result.stoppedAtLine).toBe(11);
    expect(alertLines(records)).toEqual([
      [OPENSSL_RULE_ID, 5],
      [SSH_RULE_ID, 10],
    ]);
  });

  it('never stops when shouldStop stays false, nor when it turns true after the last chunk', async () => {
    const going = await scanAll(chunked(text, 1000), { rules, shouldStop: () => false });
    expect(going.result.stoppedAtLine).toBeUndefined();
    const last = await scanAll(text, { rules, shouldStop: () => true });
    expect(last.result.stoppedAtLine).toBeUndefined();
    expect(last.records).toEqual(await full());
    // The unterminated last line of a finished input is still scanned.
    const unterminated = `${text}${line(SSH_TP())}`;
    const tail = await scanAll(unterminated, { rules, shouldStop: () => true });
    expect(tail.result.stoppedAtLine).toBeUndefined();
    expect(tail.result.stats.lines).toBe(61);
    expect(tail.records.at(-1)).toMatchObject({ kind: 'alert', source: { line: 61 } });
  });

  it('stops while waiting on a stalled source once shouldStop turns true, first chunk or later', async () => {
    const cut = text.indexOf(line(SSH_TP())) + line(SSH_TP()).length + 1; // just after line 10
    async function* stallsAfter(chunks: number): AsyncGenerator<Buffer> {
      let n = 0;
      for await (const chunk of cutAt(Buffer.from(text), [cut])) {
        if (n++ === chunks) await new Promise(() => {}); // this read never completes
        yield chunk;
      }
    }
    for (const [chunks, stoppedAt, alerts] of [
      [0, 1, []],
      [1, 11, [[OPENSSL_RULE_ID, 5], [SSH_RULE_ID, 10]]],
    ] as const) {
      const deadline = performance.now() + 300;
      const started = performance.now();
      const outcome = await settlesWithin(scanAll(stallsAfter(chunks), { rules, shouldStop: () => performance.now() >= deadline }), 3_000);
      expect(outcome).not.toBe('timeout');
      const { result, records } = outcome as Awaited<ReturnType<typeof scanAll>>;
      expect(result.stoppedAtLine).toBe(stoppedAt);
      expect(alertLines(records)).toEqual(alerts);
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    }
  });

  it('resumes from stoppedAtLine: the two parts give exactly the full scan’s records', async () => {
    const bytes = Buffer.from(text);
    const cut = text.indexOf(line(SSH_TP())) + 10;
    const first = await scanAll(cutAt(bytes, [cut]), { rules, shouldStop: () => true });
    const second = await scanAll(cutAt(bytes, [cut]), { rules, startLine: first.result.stoppedAtLine! });
    expect(second.result.stoppedAtLine).toBeUndefined();
    expect([...first.records, ...second.records]).toEqual(await full());
    // Lines before startLine are read (counted) but neither parsed nor classified.
    expect(second.result.stats.lines).toBe(60);
    expect(second.result.stats.skipped.total).toBe(0); // line 8 ("not json") was before the start
    expect(first.result.stats.skipped.firstLines.invalid_json).toEqual([8]);
  });

  it('adds up over many resumptions, stopping at a time budget of one more chunk each round', async () => {
    const collected: DetectionRecord[] = [];
    let startLine = 1;
    let rounds = 0;
    for (;;) {
      rounds++;
      let chunks = 0;
      const { result, records } = await scanAll(chunked(text, 3000), { rules, startLine, shouldStop: () => ++chunks >= rounds });
      collected.push(...records);
      if (result.stoppedAtLine === undefined) break;
      expect(result.stoppedAtLine).toBeGreaterThan(startLine);
      startLine = result.stoppedAtLine;
    }
    expect(rounds).toBeGreaterThan(3);
    expect(collected).toEqual(await full());
  });

  it('resumes a gzip input the same way', async () => {
    // Repetitive lines: 4.9 MB decompressed (three decode chunks), about 25 kB compressed.
    const big = ndjson([OPENSSL_TP(), ...Array.from({ length: 1500 }, () => BENIGN(1)), SSH_TP(), ...Array.from({ length: 1500 }, () => BENIGN(2)), OPENSSL_TP()]);
    expect(big.length).toBeGreaterThan(2 * 2 * 1024 * 1024);
    const bytes = gzip(big);
    expect(bytes.length).toBeLessThan(32 * 1024);
    const first = await scanAll(bytes, { rules, shouldStop: () => true });
    expect(first.result.stoppedAtLine).toBeGreaterThan(1);
    expect(first.result.stoppedAtLine).toBeLessThan(3003);
    const second = await scanAll(bytes, { rules, startLine: first.result.stoppedAtLine! });
    expect(alertLines([...first.records, ...second.records])).toEqual([
      [OPENSSL_RULE_ID, 1],
      [SSH_RULE_ID, 1502],
      [OPENSSL_RULE_ID, 3003],
    ]);
  });

  // Regression: stopping early broke out of decode() while its feeder waited for 'drain' on the
  // gunzip (compressed reads of 16 KiB or more) and scan() never settled, so a Lambda hitting its
  // time budget on a real gzip object would have hung until the function timeout.
  it('returns stoppedAtLine for a gzip input of 16 KiB or more', async () => {
    const bytes = gzip(Buffer.concat(Array.from({ length: 400 }, (_, i) => Buffer.from(ndjson([BENIGN(i), OPENSSL_TP(), SSH_TP()])))));
    expect(bytes.length).toBeGreaterThan(16 * 1024);
    const outcome = await settlesWithin(scanAll(bytes, { rules, shouldStop: () => true }), HANG_MS);
    expect(outcome).not.toBe('timeout');
  });

  it('skips everything when startLine is past the end', async () => {
    const { result, records } = await scanAll(text, { rules, startLine: 1000 });
    expect(records).toEqual([]);
    expect(result.stats.lines).toBe(60);
    expect(result.stats.events + result.stats.prefiltered).toBe(0);
  });
});

describe('scan: gzip read-ahead is bounded', () => {
  it('reads at most a few MiB of compressed input ahead of what it has decompressed', async () => {
    // Hex of a xorshift stream: about 2:1 under gzip, so the compressed input is large.
    let x = 2463534242;
    const hex = (): string => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0).toString(16).padStart(8, '0');
    };
    const rows: string[] = [];
    for (let i = 0; i < 100_000; i++) rows.push(JSON.stringify({ i, v: Array.from({ length: 20 }, hex).join('') }));
    const text = Buffer.from(rows.join('\n') + '\n');
    const compressed = gzip(text);
    const ratio = compressed.length / text.length;
    expect(compressed.length).toBeGreaterThan(6 * 1024 * 1024);
    let pulled = 0;
    async function* fast(): AsyncGenerator<Buffer> {
      for (let i = 0; i < compressed.length; i += 64 * 1024) {
        const piece = compressed.subarray(i, i + 64 * 1024);
        pulled += piece.length;
        yield piece;
      }
    }
    let worst = 0;
    const result = await scan(fast(), fileRef('big.ndjson.gz'), {
      rules,
      onProgress: (stats) => {
        worst = Math.max(worst, pulled - stats.decode.bytesOut * ratio);
      },
    }, () => undefined);
    expect(result.stats.decode.bytesOut).toBe(text.length);
    expect(worst).toBeGreaterThan(0);
    // The window (2 MiB) plus the write being gathered (256 KiB) and one read.
    expect(worst).toBeLessThan(3 * 1024 * 1024);
  });
});

describe('scan: reclaimMemory', () => {
  it('is called once per reclaimEveryBytes of decompressed input, and changes no record', async () => {
    const big = Buffer.from(text.repeat(40)); // ~ 900 kB
    const every = 100_000;
    let calls = 0;
    const withReclaim = await scanAll(chunked(big, 10_000), { rules, reclaimMemory: () => calls++, reclaimEveryBytes: every });
    const without = await scanAll(chunked(big, 10_000), { rules });
    // Checked after each 10 kB chunk: a call every 100 kB exactly.
    expect(calls).toBe(Math.floor(big.length / every));
    expect(withReclaim.records).toEqual(without.records);
  });

  it('counts decompressed bytes for gzip input', async () => {
    let calls = 0;
    const lines = Buffer.from('{"a":1}\n'.repeat(3_000_000)); // 24 MB, a few hundred kB gzip
    const { result } = await scanAll(gzip(lines), { rules, reclaimMemory: () => calls++, reclaimEveryBytes: 10_000_000 });
    expect(result.stats.decode.bytesOut).toBe(lines.length);
    expect(calls).toBe(2);
  });
});

describe('scan: progress and reuse', () => {
  it('reports progress after each chunk with growing byte counts', async () => {
    const seen: number[] = [];
    await scanAll(chunked(text, 5000), { rules, onProgress: (stats: ScanStats) => seen.push(stats.decode.bytesOut) });
    expect(seen).toHaveLength(Math.ceil(text.length / 5000));
    expect(seen.at(-1)).toBe(text.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it('gives the same records with a PreparedRules reused across objects as with fresh ones', async () => {
    const prepared = new PreparedRules(rules);
    const inputs = [text, ndjson([SSH_TP(), 'garbage', OPENSSL_TP()]), gzip(text)];
    for (const input of inputs) {
      const reused = await scanAll(input, { rules, prepared });
      const fresh = await scanAll(input, { rules });
      expect(reused.records).toEqual(fresh.records);
    }
  });

  it('scans interleaved objects concurrently with one PreparedRules', async () => {
    const prepared = new PreparedRules(rules);
    const slow = async function* (data: string): AsyncGenerator<Buffer> {
      for await (const chunk of chunked(data, 700)) {
        await sleep(1);
        yield chunk;
      }
    };
    const [a, b] = await Promise.all([scanAll(slow(text), { rules, prepared }), scanAll(slow(ndjson([SSH_TP(), BENIGN(), OPENSSL_TP()])), { rules, prepared })]);
    expect(alertLines(a.records).map(([, l]) => l)).toEqual(expectedLines);
    expect(alertLines(b.records)).toEqual([
      [SSH_RULE_ID, 1],
      [OPENSSL_RULE_ID, 3],
    ]);
  });

  it('reads a source that yields nothing', async () => {
    const { result } = await scanAll(source(), { rules });
    expect(result.stats.lines).toBe(0);
    expect(result.stats.decode).toEqual({ compressed: false, bytesIn: 0, bytesOut: 0 });
  });
});
