/**
 * `eqlambda scan`, run in-process through main(argv, io): exit codes (0 scanned, 1 an input
 * unreadable or damaged while the others are still scanned, 2 usage), alerts on stdout as
 * NDJSON, the summary on stderr, folder expansion, gzip sniffing and the options.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { constants } from 'node:buffer';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Alert, Overflow } from '../../lambda/alerts/document.js';
import { main, processOutput } from '../../lambda/cli/main.js';
import { SCAN_USAGE } from '../../lambda/cli/scan.js';
import { noRulesFound } from '../../lambda/cli/rules-check.js';
import { BENIGN, EXAMPLES_DIR, gzip, line, ndjson, OPENSSL_RULE_ID, OPENSSL_TP, RULES_DIR, settlesWithin, SSH_RULE_ID, SSH_TP, tempDir, variant } from '../scan/helpers.js';
import { alertKeys, records, runCli, withoutTimestamps, type CliRun } from './helpers.js';

const EXPECTED_EXAMPLE_ALERTS: [string, number, string][] = [
  ['auditbeat-fim.ndjson.gz', 418, SSH_RULE_ID],
  ['defend-linux-2026-11-20.ndjson.gz', 1235, OPENSSL_RULE_ID],
  ['defend-linux-2026-11-20.ndjson.gz', 3457, SSH_RULE_ID],
  ['defend-linux-2026-11-20.ndjson.gz', 5001, OPENSSL_RULE_ID],
  ['endgame-linux.ndjson', 124, OPENSSL_RULE_ID],
  ['sentinelone-cloud-funnel.ndjson.gz', 251, SSH_RULE_ID],
];

const scanCli = (...args: string[]): Promise<CliRun> => runCli(['scan', '--rules', RULES_DIR, ...args]);

const temp = tempDir('eqlambda-cli-test-');
afterAll(temp.cleanup);
let n = 0;
/** Writes a file in a fresh temp folder and returns its path. */
function write(name: string, content: string | Buffer): string {
  const dir = join(temp.dir, `case-${++n}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** A small gzip with 8 bytes flipped in the middle. */
function corruptGzip(): Buffer {
  const bytes = gzip(ndjson([OPENSSL_TP(), ...Array.from({ length: 30 }, (_, i) => BENIGN(i)), SSH_TP()]));
  const mid = bytes.length >> 1;
  for (let i = mid; i < mid + 8; i++) bytes[i] = bytes[i]! ^ 0x55;
  return bytes;
}

describe('eqlambda scan: the bundled examples', () => {
  let run: CliRun;
  beforeAll(async () => {
    run = await scanCli(EXAMPLES_DIR);
  });

  it('exits 0 and prints exactly the six alerts as NDJSON on stdout', () => {
    expect(run.code).toBe(0);
    expect(alertKeys(records(run))).toEqual(EXPECTED_EXAMPLE_ALERTS);
    expect(records(run).every((r) => r.kind === 'alert')).toBe(true);
  });

  it('names each file by the path it was found under, with ids from its absolute path, size and modification time', () => {
    for (const alert of records(run) as Alert[]) {
      const file = (alert.source as { file: string }).file;
      expect(file.startsWith(join(EXAMPLES_DIR, ''))).toBe(true);
      const { size, mtimeMs } = statSync(file);
      const identity = `file:${resolve(file)}?size=${size}&mtime=${mtimeMs}`;
      expect(alert.id).toBe(createHash('sha256').update(`${alert.rule.id}\n${identity}\n${alert.source.line}`).digest('hex'));
    }
  });

  it('gives new ids when a file is rewritten', async () => {
    const path = write('rewritten.ndjson', ndjson([OPENSSL_TP()]));
    const before = (records(await scanCli(path))[0] as Alert).id;
    expect((records(await scanCli(path))[0] as Alert).id).toBe(before);
    writeFileSync(path, ndjson([variant(OPENSSL_TP(), { 'host.name': 'other-host' })]));
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect((records(await scanCli(path))[0] as Alert).id).not.toBe(before);
  });

  it("gives a file in a folder the ids of the version it opened, even when it changed after the folder was listed", async () => {
    const folder = join(temp.dir, 'rewritten-in-folder');
    mkdirSync(folder);
    writeFileSync(join(folder, 'a.ndjson'), ndjson([OPENSSL_TP()]));
    const b = join(folder, 'b.ndjson');
    writeFileSync(b, ndjson([OPENSSL_TP()]));
    // b is rewritten while a is scanned (when a's alert is written), before b is opened.
    const out: string[] = [];
    const code = await main(['scan', '--rules', RULES_DIR, '--quiet', folder], {
      out: (text) => {
        if (out.length === 0) {
          writeFileSync(b, ndjson([BENIGN(), variant(OPENSSL_TP(), { 'host.name': 'rewritten-host' })]));
          utimesSync(b, new Date(), new Date(Date.now() + 5000));
        }
        out.push(text);
      },
      err: () => {},
      isTty: false,
    });
    expect(code).toBe(0);
    const alone = records(await scanCli('--quiet', b)) as Alert[];
    const inFolder = (records({ out }) as Alert[]).filter((r) => (r.source as { file: string }).file === b);
    expect(inFolder.map((r) => r.id)).toEqual(alone.map((r) => r.id));
    expect(inFolder[0]!.source.line).toBe(2);
  });

  it('reports a file that ends before the size it was opened with (truncated while read, as by copytruncate) as unreadable, not scanned', async () => {
    const path = write('copytruncate.ndjson', ndjson([OPENSSL_TP(), ...Array.from({ length: 30_000 }, () => BENIGN()), SSH_TP()]));
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['scan', '--rules', RULES_DIR, path], {
      out: (text) => {
        // After the first alert, the file is cut to a tenth of its size.
        if (out.length === 0) execFileSync('truncate', ['-s', String(Math.floor(statSync(path).size / 10)), path]);
        out.push(text);
      },
      err: (text) => err.push(text),
      isTty: false,
    });
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(new RegExp(`cannot read ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} whole: it ended after \\d+ of its \\d+ bytes \\(truncated while it was read\\?\\)`));
  });

  it('prints a summary on stderr', () => {
    expect(run.err[0]).toBe('eqlambda: 2 rule(s)');
    expect(run.stderr).toMatch(/^scanned 4 object\(s\): 0\.7 MB in, 10\.5 MB decompressed, \d+ MB\/s$/m);
    expect(run.stderr).toMatch(/^lines 7803, parsed \d+, prefiltered \d+$/m);
    expect(run.stderr).toContain('alerts 6\n  3  Potential OpenSSH Backdoor Logging Activity\n  3  Openssl Client or Server Activity');
  });

  it('gives the same alerts with --no-prefilter, and says the prefilter is off', async () => {
    const off = await scanCli('--no-prefilter', EXAMPLES_DIR);
    expect(off.code).toBe(0);
    expect(off.err[0]).toBe('eqlambda: 2 rule(s); prefilter off (turned off)');
    expect(off.stderr).toMatch(/^lines 7803, parsed 7803, prefiltered 0$/m);
    expect(withoutTimestamps(records(off))).toEqual(withoutTimestamps(records(run)));
  });

  it('gives the same ids on a second run', async () => {
    const again = await scanCli(EXAMPLES_DIR);
    expect(records(again).map((r) => (r as Alert).id)).toEqual(records(run).map((r) => (r as Alert).id));
  });

  it('prints overflow records with --max-alerts-per-rule', async () => {
    const limited = await scanCli('--max-alerts-per-rule', '1', join(EXAMPLES_DIR, 'defend-linux-2026-11-20.ndjson.gz'));
    expect(limited.code).toBe(0);
    const recs = records(limited);
    expect(alertKeys(recs)).toEqual([
      ['defend-linux-2026-11-20.ndjson.gz', 1235, OPENSSL_RULE_ID],
      ['defend-linux-2026-11-20.ndjson.gz', 3457, SSH_RULE_ID],
    ]);
    const overflow = recs[2] as Overflow;
    expect(recs).toHaveLength(3);
    expect(overflow).toMatchObject({ kind: 'overflow', count: 1, source: { first_suppressed_line: 5001 } });
    expect(overflow.rule.id).toBe(OPENSSL_RULE_ID);
    expect(limited.stderr).toContain('  1 (+1 suppressed)  Openssl Client or Server Activity');
  });

  it('prints nothing on stderr with --quiet', async () => {
    const quiet = await scanCli('--quiet', join(EXAMPLES_DIR, 'endgame-linux.ndjson'));
    expect(quiet.code).toBe(0);
    expect(quiet.err).toEqual([]);
    expect(alertKeys(records(quiet))).toEqual([['endgame-linux.ndjson', 124, OPENSSL_RULE_ID]]);
  });
});

describe('eqlambda scan: inputs', () => {
  it('exits 0 when every input was scanned, with or without alerts', async () => {
    const benign = write('benign.ndjson', ndjson([BENIGN(1), BENIGN(2)]));
    const run = await scanCli(benign);
    expect(run.code).toBe(0);
    expect(run.out).toEqual([]);
    expect(run.stderr).toMatch(/^alerts 0$/m);
  });

  it('still reports damage and unreadable inputs with --quiet (only the summary and progress go)', async () => {
    const bytes = gzip(ndjson([OPENSSL_TP(), BENIGN(1), BENIGN(2)]));
    const cut = write('quiet-cut.ndjson.gz', bytes.subarray(0, bytes.length - 8));
    const run = await runCli(['scan', '--rules', RULES_DIR, '--quiet', cut, join(temp.dir, 'quiet-missing.ndjson')]);
    expect(run.code).toBe(1);
    expect(records(run)).toHaveLength(1);
    expect(run.err).toHaveLength(2);
    expect(run.err[0]).toBe(`${cut}:4: gzip stream is truncated (unexpected end of file); alerts from the lines before it were reported`);
    expect(run.err[1]).toMatch(/^eqlambda: .*quiet-missing\.ndjson: ENOENT/);
  });

  it('reports an input that exists but cannot be opened as unreadable, not as damage at line 1', async () => {
    // A socket file: stat() works, open() fails (ENXIO), even for root.
    const path = join(temp.dir, 'listening.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const run = await scanCli(path, join(EXAMPLES_DIR, 'endgame-linux.ndjson'));
      expect(run.code).toBe(1);
      expect(run.err).toContainEqual(expect.stringMatching(new RegExp(`^eqlambda: cannot read ${path.replace(/[.\\/]/g, '\\$&')}: ENXIO`)));
      expect(run.stderr).toMatch(/^scanned 1 object\(s\), 1 unreadable:/m);
      expect(records(run)).toHaveLength(1);
    } finally {
      server.close();
    }
  });

  it('holds the scan while the output is not taken (backpressure: memory stays bounded)', async () => {
    // 40 alerts in a 4 MB input: several decoded chunks, each with alerts.
    const docs = Array.from({ length: 4000 }, (_, i) => (i % 100 === 0 ? OPENSSL_TP() : BENIGN(i)));
    const file = write('pressure.ndjson', ndjson(docs));
    const out: string[] = [];
    let release: () => void = () => {};
    let drains = 0;
    const running = main(['scan', '--rules', RULES_DIR, '--quiet', '--max-alerts-per-rule', '1000', file], {
      out: (t) => out.push(t),
      err: () => {},
      drain: () => {
        drains++;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Stuck in the first drain: only the first chunk's alerts were written.
    expect(drains).toBe(1);
    const firstChunk = out.length;
    expect(firstChunk).toBeGreaterThan(0);
    expect(firstChunk).toBeLessThan(40);
    for (let i = 0; i < 100 && drains < 1000; i++) {
      release();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await running).toBe(0);
    expect(out).toHaveLength(40);
    expect(drains).toBeGreaterThan(1);
  });

  it('expands folders recursively, in name order, skipping hidden files', async () => {
    const root = join(temp.dir, 'tree');
    mkdirSync(join(root, 'b-sub', 'deeper'), { recursive: true });
    mkdirSync(join(root, '.git'), { recursive: true });
    writeFileSync(join(root, 'a.log'), ndjson([OPENSSL_TP()]));
    writeFileSync(join(root, 'b-sub', 'deeper', 'x.ndjson.gz'), gzip(ndjson([BENIGN(), SSH_TP()])));
    writeFileSync(join(root, 'b-sub', 'empty.ndjson'), '');
    writeFileSync(join(root, 'c.json'), ndjson([BENIGN(), BENIGN(), OPENSSL_TP()]));
    writeFileSync(join(root, '.hidden.ndjson'), ndjson([OPENSSL_TP()]));
    writeFileSync(join(root, '.git', 'objects.ndjson'), ndjson([OPENSSL_TP()]));
    const run = await scanCli(root);
    expect(run.code).toBe(0);
    expect((records(run) as Alert[]).map((r) => [(r.source as { file: string }).file, r.source.line])).toEqual([
      [join(root, 'a.log'), 1],
      [join(root, 'b-sub', 'deeper', 'x.ndjson.gz'), 2],
      [join(root, 'c.json'), 3],
    ]);
    expect(run.stderr).toMatch(/^scanned 4 object\(s\)/m);
  });

  it('in a folder, reports entries it cannot read (dangling or looping links, FIFOs) and scans the rest', async () => {
    const root = join(temp.dir, 'messy');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'a.ndjson'), ndjson([OPENSSL_TP()]));
    writeFileSync(join(root, 'sub', 'c.ndjson'), ndjson([BENIGN(), SSH_TP()]));
    symlinkSync(join(root, 'missing.ndjson'), join(root, 'b-dangling.ndjson'));
    symlinkSync(join(root, 'loop-b'), join(root, 'loop-a'));
    symlinkSync(join(root, 'loop-a'), join(root, 'loop-b'));
    symlinkSync(root, join(root, 'sub', 'up')); // back to the folder being scanned
    execFileSync('mkfifo', [join(root, 'd-fifo')]);
    const outcome = await settlesWithin(scanCli(root), 5000);
    expect(outcome).not.toBe('timeout');
    const run = outcome as CliRun;
    expect(run.code).toBe(1);
    expect((records(run) as Alert[]).map((r) => [(r.source as { file: string }).file, r.source.line])).toEqual([
      [join(root, 'a.ndjson'), 1],
      [join(root, 'sub', 'c.ndjson'), 2],
    ]);
    expect(run.stderr).toContain(`${join(root, 'b-dangling.ndjson')}: ENOENT`);
    expect(run.stderr).toContain(`${join(root, 'd-fifo')}: not a regular file`);
    expect(run.stderr).toContain(`${join(root, 'loop-a')}: ELOOP`);
  });

  it('sniffs gzip from the bytes, not the name', async () => {
    const gzipNamedLog = write('events.log', gzip(ndjson([BENIGN(), OPENSSL_TP()])));
    const plainNamedGz = write('events.ndjson.gz', ndjson([SSH_TP()]));
    const run = await scanCli(gzipNamedLog, plainNamedGz);
    expect(run.code).toBe(0);
    expect(alertKeys(records(run))).toEqual([
      ['events.log', 2, OPENSSL_RULE_ID],
      ['events.ndjson.gz', 1, SSH_RULE_ID],
    ]);
  });

  it('exits 1 when an input is missing, after scanning the others and printing their alerts', async () => {
    const missing = join(temp.dir, 'no-such-file.ndjson');
    const run = await scanCli(missing, join(EXAMPLES_DIR, 'endgame-linux.ndjson'), join(temp.dir, 'also-missing'));
    expect(run.code).toBe(1);
    expect(alertKeys(records(run))).toEqual([['endgame-linux.ndjson', 124, OPENSSL_RULE_ID]]);
    expect(run.stderr).toContain(`eqlambda: ${missing}: ENOENT`);
    expect(run.stderr).toContain('also-missing: ENOENT');
    expect(run.stderr).toMatch(/^scanned 1 object\(s\), 2 unreadable:/m);
  });

  it('exits 1 for a corrupt gzip input, still scanning the others', async () => {
    const corrupt = write('corrupt.ndjson.gz', corruptGzip());
    const run = await scanCli(corrupt, join(EXAMPLES_DIR, 'endgame-linux.ndjson'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^${corrupt.replace(/[.\\]/g, '\\$&')}:\\d+: gzip stream is corrupt \\(.+\\); alerts from the lines before it were reported$`, 'm'));
    expect(run.stderr).toMatch(/^scanned 2 object\(s\) \(1 with errors\)/m);
    expect(alertKeys(records(run))).toContainEqual(['endgame-linux.ndjson', 124, OPENSSL_RULE_ID]);
  });

  it('exits 1 for a truncated gzip input, printing the alerts before the cut', async () => {
    const bytes = readFileSync(join(EXAMPLES_DIR, 'auditbeat-fim.ndjson.gz'));
    const truncated = write('auditbeat-cut.ndjson.gz', bytes.subarray(0, Math.floor(bytes.length * 0.75)));
    const run = await scanCli(truncated);
    expect(run.code).toBe(1);
    expect(alertKeys(records(run))).toEqual([['auditbeat-cut.ndjson.gz', 418, SSH_RULE_ID]]);
    expect(run.stderr).toMatch(/auditbeat-cut\.ndjson\.gz:\d+: gzip stream is truncated \(unexpected end of file\); alerts from the lines before it were reported/);
  });

  it('cuts an input at --max-decompressed-bytes, reporting it as damaged after the alerts before the cut', async () => {
    // A true positive, then 200 KB of benign lines, then another: a cap of 100 KB keeps the first only.
    const text = ndjson([OPENSSL_TP(), ...Array.from({ length: 400 }, (_, i) => BENIGN(i)), SSH_TP()]);
    expect(text.length).toBeGreaterThan(150_000);
    const bomb = write('capped.ndjson.gz', gzip(text));
    const run = await scanCli('--max-decompressed-bytes', '100000', bomb);
    expect(run.code).toBe(1);
    expect(alertKeys(records(run))).toEqual([['capped.ndjson.gz', 1, OPENSSL_RULE_ID]]);
    expect(run.stderr).toMatch(/capped\.ndjson\.gz:\d+: decompressed size exceeds the limit of 100000 bytes \(gzip bomb\?\); alerts from the lines before it were reported/);
    const uncapped = await scanCli(bomb);
    expect(uncapped.code).toBe(0);
    expect(alertKeys(records(uncapped))).toHaveLength(2);
  });

  it('uses --index for events with no routing fields', async () => {
    const unrouted = write('unrouted.ndjson', ndjson([variant(OPENSSL_TP(), { agent: undefined, data_stream: undefined })]));
    expect(alertKeys(records(await scanCli(unrouted)))).toHaveLength(1);
    expect(records(await scanCli('--index', 'auditbeat-default', unrouted))).toEqual([]);
    expect(alertKeys(records(await scanCli('--index', 'endgame-x', unrouted)))).toEqual([['unrouted.ndjson', 1, OPENSSL_RULE_ID]]);
  });

  it('skips lines over --max-line-bytes and reports them', async () => {
    const file = write('long.ndjson', ndjson([OPENSSL_TP(), { pad: 'x'.repeat(5000) }, SSH_TP(), '[]']));
    const run = await scanCli('--max-line-bytes', '4096', file);
    expect(run.code).toBe(0);
    expect(alertKeys(records(run)).map(([, l]) => l)).toEqual([1, 3]);
    expect(run.stderr).toContain(`${file}: skipped 2 line(s): not_object 1 (line 4), too_long 1 (line 2)`);
    expect(run.stderr).toMatch(/^lines 4, parsed 2, prefiltered 0, skipped not_object 1, too_long 1$/m);
  });

  it('reads CRLF files and a last line without a newline', async () => {
    const file = write('crlf.ndjson', ndjson([BENIGN(), OPENSSL_TP(), SSH_TP()], '\r\n').slice(0, -2));
    const run = await scanCli(file);
    expect(alertKeys(records(run))).toEqual([
      ['crlf.ndjson', 2, OPENSSL_RULE_ID],
      ['crlf.ndjson', 3, SSH_RULE_ID],
    ]);
  });
});

describe('eqlambda scan --index', () => {
  it('warns when the index selects none of the rules (a slip would route events to no rule, silently)', async () => {
    const file = write('unrouted-openssl.ndjson', ndjson([OPENSSL_TP()]));
    const slip = await scanCli('--index', 'Logs-endpoint.events.process-default', file);
    expect(slip.code).toBe(0);
    expect(slip.err).toContain(
      'eqlambda: warning: --index Logs-endpoint.events.process-default selects none of the 2 rule(s) (no rule\'s index patterns match it): events with no index fields of their own will not be evaluated',
    );
    const right = await scanCli('--index', 'logs-endpoint.events.process-default', file);
    expect(right.err.some((e) => e.includes('selects none'))).toBe(false);
  });
});

describe('eqlambda scan: usage errors exit 2', () => {
  const usage = async (args: string[], message: string): Promise<void> => {
    const run = await runCli(['scan', ...args]);
    expect(run.code).toBe(2);
    expect(run.out).toEqual([]);
    expect(run.err[0]).toBe(`eqlambda: ${message}`);
    expect(run.err.slice(1).join('\n')).toBe(SCAN_USAGE);
  };

  it('without inputs', async () => {
    await usage([], 'expected at least one INPUT');
    await usage(['--rules', RULES_DIR], 'expected at least one INPUT');
  });

  it('for a bad --max-alerts-per-rule or --max-line-bytes', async () => {
    for (const bad of ['0', 'abc', '1.5', '', '+3']) {
      await usage(['--max-alerts-per-rule', bad, EXAMPLES_DIR], `--max-alerts-per-rule must be a positive whole number, not "${bad}"`);
    }
    await usage(['--max-line-bytes', '1k', EXAMPLES_DIR], '--max-line-bytes must be a positive whole number, not "1k"');
    await usage(['--max-decompressed-bytes', '0', EXAMPLES_DIR], '--max-decompressed-bytes must be a positive whole number, not "0"');
  });

  it('for an option of one value given twice (it would silently keep the last); --rules adds up, a flag may repeat', async () => {
    await usage(['--index', 'a', '--index=b', EXAMPLES_DIR], '--index is given more than once');
    await usage(['--max-alerts-per-rule', '1', EXAMPLES_DIR, '--max-alerts-per-rule', '2'], '--max-alerts-per-rule is given more than once');
    const ok = await runCli(['scan', '--rules', RULES_DIR, '--rules', RULES_DIR, '--quiet', '--quiet', EXAMPLES_DIR]);
    expect(ok.code).toBe(0); // the same folder twice is read once
    expect(ok.out).toHaveLength(6);
  });

  it('for an unknown option or a missing option value', async () => {
    const unknown = await runCli(['scan', '--frobnicate', EXAMPLES_DIR]);
    expect(unknown.code).toBe(2);
    expect(unknown.err[0]).toMatch(/^eqlambda: .*--frobnicate/);
    const missing = await runCli(['scan', EXAMPLES_DIR, '--max-alerts-per-rule']);
    expect(missing.code).toBe(2);
    // Node's own message runs over two lines: printed as one, not with its line break escaped.
    const negative = await runCli(['scan', '--max-line-bytes', '-1', EXAMPLES_DIR]);
    expect(negative.code).toBe(2);
    expect(negative.err[0]).toMatch(/^eqlambda: Option '--max-line-bytes.* argument is ambiguous\. Did you forget /);
    expect(negative.err[0]).not.toMatch(/\n|\\x0a/);
  });

  it('for rule files that do not load', async () => {
    const rules = join(temp.dir, 'bad-rules');
    mkdirSync(rules);
    writeFileSync(join(rules, 'broken.toml'), '[rule]\ntype = "eql"\n');
    const run = await runCli(['scan', '--rules', rules, EXAMPLES_DIR]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('1 rule file(s) failed to load');
    expect(run.out).toEqual([]);
  });

  it('for a --max-line-bytes above the longest string a line can be parsed as', async () => {
    const max = constants.MAX_STRING_LENGTH;
    await usage(['--max-line-bytes', String(max + 1), EXAMPLES_DIR], `--max-line-bytes must be at most ${max}, not ${max + 1}`);
    await usage(['--max-line-bytes', '99999999999999999999999', EXAMPLES_DIR], `--max-line-bytes must be at most ${max}, not 99999999999999999999999`);
  });

  it('for rule folders holding no rule, which could never alert', async () => {
    const empty = join(temp.dir, 'no-rules-here');
    mkdirSync(empty);
    await usage(['--rules', empty, EXAMPLES_DIR], `no rules found in ${empty} (rule files end in .toml)`);
  });

  it('prints the usage with --help and exits 0', async () => {
    const run = await runCli(['scan', '--help']);
    expect(run.code).toBe(0);
    expect(run.out).toEqual([SCAN_USAGE]);
  });

  it('for a malformed s3:// input or an empty --index, before scanning anything', async () => {
    await usage(['s3://', EXAMPLES_DIR], 's3://: expected s3://bucket/key or s3://bucket/prefix/');
    await usage([EXAMPLES_DIR, 's3:///key'], 's3:///key: expected s3://bucket/key or s3://bucket/prefix/');
    await usage(['--index', '', EXAMPLES_DIR], '--index must name an index');
  });

  it('prints the rules usage with `rules --help`', async () => {
    for (const flag of ['--help', '-h']) {
      const run = await runCli(['rules', flag]);
      expect(run.code).toBe(0);
      expect(run.out[0]).toMatch(/^usage: eqlambda rules check/);
    }
  });

  it('rules check names what it skipped in a folder, and exits 0 when every rule loads', async () => {
    const { dir, cleanup } = tempDir();
    onTestFinished(cleanup);
    writeFileSync(join(dir, 'openssl.toml'), readFileSync(join(RULES_DIR, readdirSync(RULES_DIR).find((n) => n.includes('openssl'))!)));
    writeFileSync(join(dir, 'README.md'), '# rules\n');
    const run = await runCli(['rules', 'check', dir]);
    expect(run.code).toBe(0);
    expect(run.err).toEqual([`skipped ${join(dir, 'README.md')} (not *.toml)`, '1 file(s): 1 rule(s) OK, 0 with errors; skipped 1 other entry']);
  });

  it('rules check names every entry it skipped, however many', async () => {
    const { dir, cleanup } = tempDir();
    onTestFinished(cleanup);
    writeFileSync(join(dir, 'openssl.toml'), readFileSync(join(RULES_DIR, readdirSync(RULES_DIR).find((n) => n.includes('openssl'))!)));
    const notes = Array.from({ length: 7 }, (_, i) => `notes-${i}.md`);
    for (const name of notes) writeFileSync(join(dir, name), '# notes\n');
    const run = await runCli(['rules', 'check', dir]);
    expect(run.code).toBe(0);
    expect(run.err).toEqual([...notes.map((name) => `skipped ${join(dir, name)} (not *.toml)`), '1 file(s): 1 rule(s) OK, 0 with errors; skipped 7 other entries']);
  });

  it('names three skipped entries at most when no rule is found, and where to see them all', () => {
    expect(noRulesFound(['r'], ['a (hidden)', 'b (hidden)', 'c (hidden)'])).toBe('no rules found in r; skipped a (hidden), b (hidden), c (hidden)');
    expect(noRulesFound(['r', 's'], ['a (hidden)', 'b (hidden)', 'c (hidden)', 'd (hidden)', 'e (hidden)'])).toBe(
      "no rules found in r, s; skipped a (hidden), b (hidden), c (hidden) and 2 more ('eqlambda rules check' names them all)",
    );
  });

  it('rules check exits 1 when no rule is found, as scan and the deploy refuse such a rule set', async () => {
    const { dir, cleanup } = tempDir();
    onTestFinished(cleanup);
    const empty = await runCli(['rules', 'check', dir]);
    expect(empty.code).toBe(1);
    expect(empty.err).toEqual(['0 file(s): 0 rule(s) OK, 0 with errors', `eqlambda: no rules found in ${dir} (rule files end in .toml)`]);
    // Only a deprecated rule: the message says why, in check and in scan alike.
    const deprecated = join(dir, 'old.toml');
    writeFileSync(deprecated, readFileSync(join(RULES_DIR, readdirSync(RULES_DIR).find((n) => n.includes('openssl'))!), 'utf8').replace('maturity = "production"', 'maturity = "deprecated"'));
    const check = await runCli(['rules', 'check', dir]);
    expect(check.code).toBe(1);
    expect(check.err).toEqual([
      `skipped ${deprecated} (deprecated: Elastic no longer ships it)`,
      '1 file(s): 0 rule(s) OK, 0 with errors; skipped 1 other entry',
      `eqlambda: no rules found in ${dir}: every entry was skipped (above)`,
    ]);
    await usage(['--rules', dir, EXAMPLES_DIR], `no rules found in ${dir}; skipped ${deprecated} (deprecated: Elastic no longer ships it)`);
  });

  it('for unknown commands', async () => {
    expect((await runCli(['scna', EXAMPLES_DIR])).code).toBe(2);
  });
});

describe('eqlambda scan: arguments that look like options, repeated options, empty inputs', () => {
  it('scans files named -h or --help after --, instead of printing the help', async () => {
    const dir = join(temp.dir, 'dash-names');
    mkdirSync(dir);
    writeFileSync(join(dir, '-h'), ndjson([OPENSSL_TP()]));
    writeFileSync(join(dir, '--help'), ndjson([SSH_TP()]));
    const run = await scanCli('--', join(dir, '-h'), join(dir, '--help'));
    expect(run.code).toBe(0);
    expect(records(run).map((r) => r.kind === 'alert' && r.rule.id)).toEqual([OPENSSL_RULE_ID, SSH_RULE_ID]);
    // Before -- it is still the help.
    const help = await runCli(['scan', '-h', '--', 'x']);
    expect(help.out).toEqual([SCAN_USAGE]);
  });

  it('loads every --rules given, not only the last', async () => {
    const [openssl, ssh] = ['only-openssl', 'only-ssh'].map((name) => {
      const dir = join(temp.dir, name);
      mkdirSync(dir);
      return dir;
    });
    const ruleFiles = readdirSync(RULES_DIR).filter((f) => f.endsWith('.toml'));
    for (const f of ruleFiles) {
      const text = readFileSync(join(RULES_DIR, f), 'utf8');
      writeFileSync(join(text.includes(OPENSSL_RULE_ID) ? openssl! : ssh!, f), text);
    }
    const input = write('both.ndjson', ndjson([OPENSSL_TP(), SSH_TP()]));
    const run = await runCli(['scan', '--rules', openssl!, '--rules', ssh!, input]);
    expect(run.code).toBe(0);
    expect(run.err[0]).toBe('eqlambda: 2 rule(s)');
    expect(records(run)).toHaveLength(2);
  });

  it('counts unreadable inputs in the summary, beside the damaged ones', async () => {
    const run = await scanCli(join(temp.dir, 'nope-1.ndjson'), write('fine.ndjson', ndjson([BENIGN(1)])), join(temp.dir, 'nope-2.ndjson'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^scanned 1 object\(s\), 2 unreadable: /m);
  });

  it('warns about a folder with no files (a typo, or nothing to scan yet) and still exits 0', async () => {
    const empty = join(temp.dir, 'empty-input-folder');
    mkdirSync(join(empty, 'nested'), { recursive: true });
    writeFileSync(join(empty, '.hidden.ndjson'), ndjson([OPENSSL_TP()]));
    const run = await scanCli(empty);
    expect(run.code).toBe(0);
    expect(run.err).toContain(`eqlambda: warning: ${empty}: no files in this folder`);
  });
});

describe('eqlambda scan: terminal output', () => {
  it('draws progress only when stderr is a terminal and stdout is not (it would cut into alerts on the same screen)', () => {
    const saved = [process.stdout.isTTY, process.stderr.isTTY];
    try {
      for (const [outTty, errTty, progress] of [
        [false, true, true],
        [true, true, false],
        [false, false, false],
      ] as const) {
        process.stdout.isTTY = outTty;
        process.stderr.isTTY = errTty;
        expect(processOutput().isTty).toBe(progress);
      }
    } finally {
      [process.stdout.isTTY, process.stderr.isTTY] = saved as [true, true];
    }
  });
});

describe('eqlambda scan: NDJSON output', () => {
  it('prints one JSON object per line, with the alert shape', async () => {
    const file = write('one.ndjson', line(OPENSSL_TP()) + '\n');
    const run = await scanCli(file);
    expect(run.out).toHaveLength(1);
    const alert = JSON.parse(run.out[0]!) as Alert;
    expect(Object.keys(alert).sort()).toEqual(['@timestamp', 'document', 'id', 'kind', 'reason', 'rule', 'source']);
    expect(alert.document).toEqual(OPENSSL_TP());
    expect(alert.source).toEqual({ line: 1, file });
    expect(Number.isNaN(Date.parse(alert['@timestamp']))).toBe(false);
  });
});
