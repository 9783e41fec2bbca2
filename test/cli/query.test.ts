/**
 * `eqlambda query`: syntax errors exit 2 as `query:line:col: reason`; matching events are
 * printed as their original lines, in input order, across plain and gzip files.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { QUERY_USAGE } from '../../lambda/cli/query.js';
import { EXAMPLES_DIR, gzip, tempDir } from '../scan/helpers.js';
import { runCli } from './helpers.js';

const temp = tempDir('eqlambda-query-test-');
afterAll(temp.cleanup);
let n = 0;
function write(name: string, content: string | Buffer): string {
  const dir = join(temp.dir, `case-${++n}`);
  mkdirSync(dir);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const proc = (n: number, extra = ''): string => `{"event":{"category":"process"},"n":${n}${extra}}`;

describe('eqlambda query: syntax errors', () => {
  it('exits 2 with query:line:col: reason and prints nothing', async () => {
    const file = write('a.ndjson', proc(1) + '\n');
    const run = await runCli(['query', 'process where process.name = "x"', file]);
    expect(run.code).toBe(2);
    expect(run.out).toEqual([]);
    expect(run.err).toEqual(['query:1:28: use == to compare values, not =']);
  });

  it('positions errors on later lines of a multi-line query', async () => {
    const run = await runCli(['query', 'process where\n  process.name ==', join(temp.dir, 'never-read.ndjson')]);
    expect(run.code).toBe(2);
    expect(run.err).toEqual(['query:2:18: unexpected end of query: the condition is incomplete']);
  });

  it('exits 2 with the usage when the query or files are missing', async () => {
    for (const argv of [['query'], ['query', 'any where true']]) {
      const run = await runCli(argv);
      expect(run.code).toBe(2);
      expect(run.err).toEqual(['eqlambda: expected a query and at least one FILE', ...QUERY_USAGE.split('\n')]);
    }
  });
});

describe('eqlambda query: matches', () => {
  it('prints the original lines of matching events in input order, across files (plain and gzip)', async () => {
    const first = write('first.ndjson', [proc(1), `  ${proc(5, ', "spaced" : true')}`, proc(3), '{"event":{"category":"file"},"n":9}', proc(2), ''].join('\n'));
    const second = write('second.ndjson.gz', gzip([proc(7), proc(0), proc(4, ',"last":1')].join('\r\n')));
    const run = await runCli(['query', 'process where n >= 3', first, second]);
    expect(run.code).toBe(0);
    expect(run.out).toEqual([`  ${proc(5, ', "spaced" : true')}`, proc(3), proc(7), proc(4, ',"last":1')]);
    expect(run.err).toEqual([]);
  });

  it('exits 0 with no output when nothing matches', async () => {
    const file = write('none.ndjson', proc(1) + '\n');
    const run = await runCli(['query', 'process where n > 100', file]);
    expect(run.code).toBe(0);
    expect(run.out).toEqual([]);
  });

  it('finds the openssl client executions in the examples, endgame first then Defend, each in line order', async () => {
    const files = ['endgame-linux.ndjson', 'defend-linux-2026-11-20.ndjson.gz'].map((f) => join(EXAMPLES_DIR, f));
    const run = await runCli(['query', 'process where process.name == "openssl" and process.args == "s_client"', ...files]);
    expect(run.code).toBe(0);
    // The same selection, computed by hand over the raw lines.
    const expected = files.flatMap((file) => {
      const bytes = readFileSync(file);
      const text = (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
      return text.split('\n').filter((l) => {
        if (l === '') return false;
        const e = JSON.parse(l) as { event?: { category?: string[] }; process?: { name?: string; args?: string[] } };
        return e.event?.category?.includes('process') === true && e.process?.name === 'openssl' && e.process.args?.includes('s_client') === true;
      });
    });
    expect(expected.length).toBeGreaterThan(3);
    expect(run.out).toEqual(expected);
  });

  it('keeps only events of the --index patterns (and events with no index)', async () => {
    const file = write(
      'indexed.ndjson',
      [
        '{"event":{"category":"process"},"agent":{"type":"endgame","version":"3"},"n":1}',
        '{"event":{"category":"process"},"agent":{"type":"auditbeat","version":"8"},"n":2}',
        '{"event":{"category":"process"},"n":3}',
        '{"event":{"category":"process"},"data_stream":{"type":"logs","dataset":"endpoint.events.process","namespace":"default"},"n":4}',
      ].join('\n'),
    );
    const run = await runCli(['query', '--index', 'endgame-*,logs-endpoint.*', 'process where true', file]);
    expect(run.out.map((l) => (JSON.parse(l) as { n: number }).n)).toEqual([1, 3, 4]);
  });

  it('tests --category-field instead of event.category', async () => {
    const file = write('cat.ndjson', '{"kind":"process","n":1}\n{"event":{"category":"process"},"n":2}\n');
    const run = await runCli(['query', '--category-field', 'kind', 'process where true', file]);
    expect(run.out).toEqual(['{"kind":"process","n":1}']);
  });

  it('reports skipped lines on stderr', async () => {
    const file = write('skips.ndjson', [proc(1), 'oops', '', '[1]', proc(2)].join('\n'));
    const run = await runCli(['query', 'process where true', file]);
    expect(run.out).toEqual([proc(1), proc(2)]);
    expect(run.err).toEqual([`${file}: skipped 3 line(s): empty 1 (line 3), invalid_json 1 (line 2), not_object 1 (line 4)`]);
  });

  it('counts an event its search over many values gave up on (too_costly), as scan does, rather than dropping it unsaid', async () => {
    // 300 × 300 combinations, past the bound of 65,536: the only matching pair is the last.
    const parents = Array.from({ length: 300 }, (_, i) => `p${i}`);
    const names = [...Array.from({ length: 299 }, (_, i) => `q${i}`), 'p299x'];
    const costly = JSON.stringify({ event: { category: 'process' }, process: { name: names, parent: { name: parents } } });
    const file = write('costly.ndjson', `${proc(1)}\n${costly}\n`);
    const run = await runCli(['query', 'process where startsWith(process.name, process.parent.name) or n == 1', file]);
    expect(run.out).toEqual([proc(1)]);
    expect(run.err).toEqual([`${file}: skipped 1 line(s): too_costly 1 (line 2)`]);
    expect(run.code).toBe(0);
    // A match found all the same (another branch holds) is printed, and the cut-short search still counted.
    const both = JSON.stringify({ event: { category: 'process' }, n: 7, process: { name: names, parent: { name: parents } } });
    const file2 = write('costly2.ndjson', `${both}\n`);
    const run2 = await runCli(['query', 'process where startsWith(process.name, process.parent.name) or n == 7', file2]);
    expect(run2.out).toEqual([both]);
    expect(run2.err).toEqual([`${file2}: skipped 1 line(s): too_costly 1 (line 1)`]);
  });

  it('takes --max-line-bytes as scan does: longer lines are counted skips, and a larger cap reads them', async () => {
    const long = proc(2, `,"pad":"${'x'.repeat(2 * 1024 * 1024)}"`);
    const file = write('long.ndjson', `${proc(1)}\n${long}\n`);
    const capped = await runCli(['query', 'process where n > 0', file]);
    expect(capped.out).toEqual([proc(1)]);
    expect(capped.err).toEqual([`${file}: skipped 1 line(s): too_long 1 (line 2)`]);
    const raised = await runCli(['query', '--max-line-bytes', String(4 * 1024 * 1024), 'process where n > 0', file]);
    expect(raised.out).toEqual([proc(1), long]);
    expect(raised.err).toEqual([]);
    const bad = await runCli(['query', '--max-line-bytes', '0', 'process where true', file]);
    expect(bad.code).toBe(2);
    expect(bad.err[0]).toBe('eqlambda: --max-line-bytes must be a positive whole number, not "0"');
  });

  it('drops a UTF-8 byte order mark, as scan does (plain and gzip)', async () => {
    const text = `\ufeff${proc(1)}\n${proc(2)}\n`;
    for (const [name, bytes] of [['bom.ndjson', Buffer.from(text)], ['bom.ndjson.gz', gzip(text)]] as const) {
      const run = await runCli(['query', 'process where n == 1', write(name, bytes)]);
      expect(run.out).toEqual([proc(1)]);
      expect(run.err).toEqual([]);
    }
  });

  it('exits 2 for an empty --category-field or --index pattern', async () => {
    const file = write('flags.ndjson', proc(1) + '\n');
    for (const args of [['--category-field', ''], ['--index', ''], ['--index', 'logs-*,']]) {
      const run = await runCli(['query', ...args, 'process where true', file]);
      expect(run.code).toBe(2);
      expect(run.out).toEqual([]);
    }
  });

  it('exits 2, not with a stack trace, for a category field too deep or an --index of exclusions only', async () => {
    const file = write('flags2.ndjson', proc(1) + '\n');
    const deep = Array.from({ length: 65 }, () => 'a').join('.');
    const cases: [string[], string][] = [
      [['--category-field', deep], '--category-field: field name `a.a.a'],
      [['--index=-logs-*'], '--index names no index pattern to search (only exclusions, or selectors of no data such as ::failures)'],
      [['--index', 'logs-*::failures'], '--index names no index pattern to search'],
      [['--category-field', 'a..b'], '--category-field: invalid field name `a..b`: a dotted part is empty'],
      [['--category-field', 'event.'], '--category-field: invalid field name `event.`: a dotted part is empty'],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(['query', ...args, 'process where true', file]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.err[0]).toContain(message);
      expect(run.out).toEqual([]);
    }
  });

  it('finds what scan finds in damaged or padded gzip: a regular file is read again to recover what gunzip dropped', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => proc(i));
    const member = gzip(lines.join('\n') + '\n');
    const trailing = write('trailing-garbage.ndjson.gz', Buffer.concat([member, Buffer.from('garbage\n')]));
    const padded = write('padded.ndjson.gz', Buffer.concat([member, Buffer.alloc(100), member]));
    const garbage = await runCli(['query', 'process where true', trailing]);
    expect(garbage.out).toHaveLength(20_000);
    const twice = await runCli(['query', 'process where true', padded]);
    expect(twice.out).toHaveLength(40_000);
    expect(twice.out.slice(20_000)).toEqual(lines);
  });

  it('exits 1 for a missing file, after searching the others', async () => {
    const file = write('ok.ndjson', proc(3) + '\n');
    const missing = join(temp.dir, 'missing.ndjson');
    const run = await runCli(['query', 'process where n == 3', missing, file]);
    expect(run.code).toBe(1);
    expect(run.out).toEqual([proc(3)]);
    expect(run.err[0]).toMatch(new RegExp(`^${missing.replace(/[.\\]/g, '\\$&')}: cannot read ${missing.replace(/[.\\]/g, '\\$&')}: ENOENT`));
  });

  it('prints the matches before a truncated gzip’s damage and reports it', async () => {
    const lines = Array.from({ length: 400 }, (_, i) => proc(i, `,"pad":"${'abcdefgh'.repeat(i % 13)}"`));
    const bytes = gzip(lines.join('\n') + '\n');
    const file = write('cut.ndjson.gz', bytes.subarray(0, bytes.length - 8));
    const run = await runCli(['query', 'process where n % 100 == 0', file]);
    expect(run.out).toEqual([lines[0], lines[100], lines[200], lines[300]]);
    expect(run.err).toEqual([`${file}:401: gzip stream is truncated (unexpected end of file); events before it were searched`]);
  });
});
