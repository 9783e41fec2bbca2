/**
 * The built `eqlambda` binary (bin/eqlambda.mjs → dist/cli.mjs) as a child process:
 * standard input (`-`), exit codes and the stdout / stderr split.
 */
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../lambda/alerts/document.js';
import { BENIGN, EXAMPLES_DIR, gzip, ndjson, OPENSSL_RULE_ID, OPENSSL_TP, REPO_ROOT, SSH_RULE_ID, SSH_TP, tempDir, variant } from '../scan/helpers.js';
import { alertKeys, records } from './helpers.js';

const temp = tempDir('eqlambda-bin-test-');
afterAll(temp.cleanup);

beforeAll(() => {
  execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'pipe' });
});

function eqlambda(args: string[], input?: string | Buffer, nodeFlags: string[] = []): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...nodeFlags, 'bin/eqlambda.mjs', ...args], { cwd: REPO_ROOT, input, encoding: 'utf8', timeout: 30_000 });
}
const lines = (stdout: string): string[] => stdout.split('\n').filter((l) => l !== '');

describe('eqlambda (built binary)', () => {
  it('scans standard input with `scan -`', () => {
    const run = eqlambda(['scan', '-'], ndjson([BENIGN(), OPENSSL_TP(), SSH_TP()]));
    expect(run.status).toBe(0);
    const recs = records({ out: lines(run.stdout) });
    expect(alertKeys(recs)).toEqual([
      ['-', 2, OPENSSL_RULE_ID],
      ['-', 3, SSH_RULE_ID],
    ]);
    expect((recs[0] as Alert).document).toEqual(OPENSSL_TP());
    expect(run.stderr).toMatch(/^eqlambda: 2 rule\(s\)$/m);
    expect(run.stderr).toMatch(/^scanned 1 object\(s\)/m);
    expect(run.stderr).toMatch(/^alerts 2$/m);
  });

  it('gives ids that tell apart different events read from standard input, and the same ids for the same bytes', () => {
    const ids = (text: string): string[] => records({ out: lines(eqlambda(['scan', '--quiet', '-'], text).stdout) }).map((r) => (r as Alert).id);
    const a = ids(ndjson([OPENSSL_TP()]));
    const b = ids(ndjson([variant(OPENSSL_TP(), { 'host.name': 'other-host' })]));
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(1);
    expect(b[0]).not.toBe(a[0]);
    expect(ids(ndjson([OPENSSL_TP()]))).toEqual(a);
  });

  it('gives the same alerts without WebAssembly (node --jitless: case folding falls back to JavaScript)', () => {
    const withWasm = eqlambda(['scan', 'examples/']);
    const jitless = eqlambda(['scan', 'examples/'], undefined, ['--jitless']);
    expect(jitless.status).toBe(0);
    const keys = (stdout: string) => alertKeys(records({ out: lines(stdout) }));
    expect(keys(jitless.stdout)).toEqual(keys(withWasm.stdout));
    expect(keys(jitless.stdout)).toHaveLength(6);
  });

  it('sniffs gzip on standard input', () => {
    const run = eqlambda(['scan', '-'], gzip(ndjson([SSH_TP(), BENIGN(), OPENSSL_TP()])));
    expect(run.status).toBe(0);
    expect(alertKeys(records({ out: lines(run.stdout) })).map(([, l, rule]) => [l, rule])).toEqual([
      [1, SSH_RULE_ID],
      [3, OPENSSL_RULE_ID],
    ]);
  });

  it('exits 1 for a missing input (scanning the others, with the default rules/) and 2 for usage errors', () => {
    const missing = eqlambda(['scan', join(temp.dir, 'nope.ndjson'), 'examples/']);
    expect(missing.status).toBe(1);
    expect(lines(missing.stdout)).toHaveLength(6);
    expect(missing.stderr).toMatch(/^eqlambda: .*nope\.ndjson: ENOENT/m);
    expect(missing.stderr).toMatch(/^alerts 6$/m);
    const usage = eqlambda(['scan', '--max-alerts-per-rule', 'x', 'examples/']);
    expect(usage.status).toBe(2);
    expect(usage.stdout).toBe('');
    expect(usage.stderr).toMatch(/^eqlambda: --max-alerts-per-rule must be a positive whole number, not "x"\nusage: eqlambda scan/);
  });

  it('prints an alert while standard input is still open (tail -f | eqlambda scan -), and the same for query', async () => {
    for (const args of [['scan', '--quiet', '-'], ['query', 'process where process.name == "openssl"', '-']]) {
      const child = spawn(process.execPath, ['bin/eqlambda.mjs', ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin.write(ndjson([BENIGN(), OPENSSL_TP()]));
      // The input stays open: the alert must come out now, not when it ends.
      const first = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${args[0]}: nothing printed while the input was open`)), 10_000);
        child.stdout.once('data', (d: Buffer) => {
          clearTimeout(timer);
          resolve(d.toString('utf8'));
        });
      });
      expect(first).toContain('"openssl"');
      child.stdin.end();
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(0);
    }
  });

  it('reports a full disk on stdout as an error, exit 1, without a stack trace', () => {
    const full = openSync('/dev/full', 'w');
    try {
      const run = spawnSync(process.execPath, ['bin/eqlambda.mjs', 'query', 'any where true', 'examples/endgame-linux.ndjson'], {
        cwd: REPO_ROOT,
        stdio: ['ignore', full, 'pipe'],
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toBe('eqlambda: cannot write output: ENOSPC\n');
    } finally {
      closeSync(full);
    }
  });

  it('exits 1 when standard input is a directory (Node would read it as empty), still scanning the other inputs', () => {
    const folder = openSync(EXAMPLES_DIR, 'r');
    try {
      for (const args of [['scan', '-', 'examples/'], ['query', 'any where true', '-']]) {
        const run = spawnSync(process.execPath, ['bin/eqlambda.mjs', ...args], { cwd: REPO_ROOT, stdio: [folder, 'pipe', 'pipe'], encoding: 'utf8', timeout: 30_000 });
        expect(run.status, args.join(' ')).toBe(1);
        expect(run.stderr).toMatch(/^(eqlambda|-): cannot read standard input: it is a directory$/m);
        if (args[0] === 'scan') expect(lines(run.stdout)).toHaveLength(6);
      }
    } finally {
      closeSync(folder);
    }
  });

  it('runs `query -` over standard input, printing matches in order', () => {
    const input = ['{"event":{"category":"process"},"n":1}', '{"event":{"category":"process"},"n":2}', '{"event":{"category":"process"},"n":3}'].join('\n');
    const run = eqlambda(['query', 'process where n != 2', '-'], input);
    expect(run.status).toBe(0);
    expect(lines(run.stdout)).toEqual(['{"event":{"category":"process"},"n":1}', '{"event":{"category":"process"},"n":3}']);
  });

  it('reads a damaged gzip file again to report the alerts before the damage that gunzip dropped', () => {
    const file = join(temp.dir, 'appended.ndjson.gz');
    writeFileSync(file, Buffer.concat([gzip(ndjson([SSH_TP(), BENIGN(), OPENSSL_TP()])), Buffer.from('appended text\n')]));
    const run = eqlambda(['scan', file]);
    expect(run.status).toBe(1);
    expect(alertKeys(records({ out: lines(run.stdout) })).map(([, l, rule]) => [l, rule])).toEqual([
      [1, SSH_RULE_ID],
      [3, OPENSSL_RULE_ID],
    ]);
    expect(run.stderr).toContain(`${file}:4: gzip stream is corrupt (the bytes after member 1 (from byte `);
  });

  // Regression: a corrupt gzip file read in 1 MiB chunks made decode() wait forever for 'drain';
  // node then exited with code 13 (unsettled top-level await), without a summary and without
  // scanning the inputs after it.
  it('exits 1 for a corrupt gzip file of realistic size, still scanning the others', () => {
    const bytes = Buffer.from(readFileSync(join(EXAMPLES_DIR, 'defend-linux-2026-11-20.ndjson.gz')));
    const mid = bytes.length >> 1;
    for (let i = mid; i < mid + 8; i++) bytes[i] = bytes[i]! ^ 0x55;
    const corrupt = join(temp.dir, 'corrupt.ndjson.gz');
    writeFileSync(corrupt, bytes);
    const run = eqlambda(['scan', corrupt, 'examples/endgame-linux.ndjson']);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/corrupt\.ndjson\.gz:\d+: gzip stream is corrupt \(.+\); alerts from the lines before it were reported/);
    expect(run.stderr).toMatch(/^scanned 2 object\(s\) \(1 with errors\)/m);
    expect(alertKeys(records({ out: lines(run.stdout) }))).toContainEqual(['endgame-linux.ndjson', 124, OPENSSL_RULE_ID]);
  });

  it('prints hostile file names escaped on stderr: no forged summary line, no terminal escape sequence', () => {
    const dir = join(temp.dir, 'hostile-names');
    mkdirSync(dir);
    const name = 'evil\x1b[31mRED\x1b[0m\nscanned 0 object(s): fake.json';
    writeFileSync(join(dir, name), '{"event":{"category":"process"}}\nnot json\n');
    const run = eqlambda(['scan', dir]);
    expect(run.status).toBe(0);
    expect(run.stderr).not.toContain('\x1b');
    expect(run.stderr).toContain('evil\\x1b[31mRED\\x1b[0m\\x0ascanned 0 object(s): fake.json: skipped 1 line(s)');
    expect(run.stderr.split('\n').filter((l) => l.startsWith('scanned '))).toEqual([expect.stringMatching(/^scanned 1 object\(s\): /)]);
  });

  it('stops with exit 0 when its reader closes stdout (| head), and exit 1 if an input had failed before', async () => {
    const big = join(temp.dir, 'many-events.ndjson');
    writeFileSync(big, `${'{"event":{"category":"process"},"n":1}\n'.repeat(200_000)}`);
    const missing = join(temp.dir, 'no-such-file.ndjson');
    const closedAfterFirstOutput = async (args: string[]): Promise<{ code: number | null; stderr: string }> => {
      const child = spawn(process.execPath, ['bin/eqlambda.mjs', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout.once('data', () => child.stdout.destroy()); // as head -1 does
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      return { code, stderr };
    };
    expect((await closedAfterFirstOutput(['query', 'process where true', big])).code).toBe(0);
    const afterFailure = await closedAfterFirstOutput(['query', 'process where true', missing, big]);
    expect(afterFailure.code).toBe(1);
    expect(afterFailure.stderr).toContain('no-such-file.ndjson');
    expect(afterFailure.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('keeps scanning, with exit 0 and every alert on stdout, when stderr is closed by its reader', async () => {
    const child = spawn(process.execPath, ['bin/eqlambda.mjs', 'scan', 'examples/'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr.destroy(); // writes to stderr now fail with EPIPE
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(lines(stdout)).toHaveLength(6);
  });
});
