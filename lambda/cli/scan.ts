/**
 * `eqlambda scan [--rules DIR] [--index NAME] [--max-alerts-per-rule N] INPUT...`
 * Runs the same pipeline as the Lambda over local files, folders, standard input or
 * S3 objects and prefixes. Alerts go to stdout as NDJSON; a summary (and, on a
 * terminal, a progress line) goes to stderr.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { readdirSync, statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SourceRef } from '../alerts/document.js';
import { loadRules } from '../rules/load.js';
import { DEFAULT_MAX_LINE_BYTES } from '../scan/lines.js';
import { PreparedRules, scan, type ScanResult, type ScanStats } from '../scan/pipeline.js';
import { openFileSource, openLocalInput } from '../sources/file.js';
import { createS3Client, listS3Keys, ObjectMissingError, openS3Object, parseS3Url, untilIdle, type OpenedObject, type S3ObjectRef } from '../sources/s3.js';
import { DEFAULT_MAX_DECOMPRESSED_BYTES, SourceError } from '../scan/decode.js';
import { MAX_LINE_BYTES_LIMIT, parse, positiveInteger, type Output, UsageError } from './args.js';
import { Summary } from './summary.js';
import { noRulesFound } from './rules-check.js';

export const SCAN_USAGE = `usage: eqlambda scan [options] INPUT...
  Scans NDJSON logs (plain or gzip, detected from the bytes) with detection rules and
  prints one alert per line (NDJSON) on stdout; a summary goes to stderr.
  INPUT: a file, a folder (every file below it), - for standard input,
         s3://bucket/key, or s3://bucket/prefix/ (every object under the prefix)
  --rules PATH                rule file or folder (default rules/); repeat it for several
  --index NAME                index for events with no data_stream/agent fields
  --max-alerts-per-rule N     alerts per rule per input before an overflow record
                              (default: each rule's max_signals)
  --max-line-bytes N          longer lines are skipped and counted (default ${DEFAULT_MAX_LINE_BYTES})
  --max-decompressed-bytes N  an input that decompresses to more is cut there and
                              reported as damaged (gzip bomb guard;
                              default ${DEFAULT_MAX_DECOMPRESSED_BYTES}, 64 GiB)
  --no-prefilter              parse every line (slower; the same alerts, and JSON
                              errors counted on lines the prefilter would skip)
  --quiet                     no summary or progress on stderr
exit status: 0 when every input was scanned, 1 if an input could not be read or was
damaged (the others are still scanned), 2 on usage errors and when a rule fails to load.`;

/** Output the scan waits to see taken by the reader before it goes on. */
const OUTPUT_WAIT_CHARS = 1024 * 1024;
/** How long the CLI waits on S3 before reporting the input as unreadable. */
export const S3_TIMEOUTS = { connectMs: 10_000, idleMs: 60_000 };

/**
 * Opens an object for the CLI: no response for `idleMs` fails it, over all the SDK's
 * attempts (a socket timeout is per attempt: three of them, three minutes), and so does a
 * body that sends nothing for `idleMs` while it is being read (untilIdle: not while the
 * reader of the alerts holds the scan back).
 */
export async function openS3Input(client: S3Client, ref: S3ObjectRef, timeouts: { idleMs: number } = S3_TIMEOUTS): Promise<OpenedObject> {
  const opened = await openS3Object(client, ref, { openTimeoutMs: timeouts.idleMs });
  return { ...opened, stream: untilIdle(opened.stream, timeouts.idleMs, `s3://${ref.bucket}/${ref.key}`) };
}

interface Input {
  label: string;
  open: () => Promise<{ stream: AsyncIterable<Buffer>; ref: SourceRef; size?: number; reopen?: () => Promise<AsyncIterable<Buffer>> }>;
}

export async function scanCommand(argv: string[], io: Output, isTty = false): Promise<number> {
  const { values, positionals } = parse(argv, {
    rules: { type: 'string', multiple: true },
    index: { type: 'string' },
    'max-alerts-per-rule': { type: 'string' },
    'max-line-bytes': { type: 'string' },
    'max-decompressed-bytes': { type: 'string' },
    'no-prefilter': { type: 'boolean' },
    quiet: { type: 'boolean' },
  });
  if (positionals.length === 0) throw new UsageError('expected at least one INPUT');
  for (const arg of positionals) {
    if (!arg.startsWith('s3://')) continue;
    const url = parseS3Url(arg);
    if (url === undefined || url.bucket === '') throw new UsageError(`${arg}: expected s3://bucket/key or s3://bucket/prefix/`);
  }
  if (values.index === '') throw new UsageError('--index must name an index');
  const maxAlertsPerRule = positiveInteger(values['max-alerts-per-rule'], '--max-alerts-per-rule');
  // A line is parsed as one string: no longer than the longest string V8 can make.
  const maxLineBytes = positiveInteger(values['max-line-bytes'], '--max-line-bytes', MAX_LINE_BYTES_LIMIT);
  const maxDecompressedBytes = positiveInteger(values['max-decompressed-bytes'], '--max-decompressed-bytes');

  const rulePaths = values.rules ?? ['rules'];
  const loaded = loadRules(rulePaths);
  if (loaded.errors.length > 0) {
    for (const err of loaded.errors) io.err(err.message);
    io.err(`eqlambda: ${loaded.errors.length} rule file(s) failed to load; fix them or run 'eqlambda rules check'`);
    return 2;
  }
  // A scan without rules could never alert: a mistyped folder would pass for a clean scan.
  if (loaded.rules.length === 0) throw new UsageError(noRulesFound(rulePaths, loaded.skipped));
  const prepared = new PreparedRules(loaded.rules, values['no-prefilter'] !== true);
  // A slip (`Logs-…`, a missing version) would route the events to no rule at all, without a word.
  if (values.index !== undefined && prepared.router.rulesFor(values.index).length === 0) {
    io.err(`eqlambda: warning: --index ${values.index} selects none of the ${loaded.rules.length} rule(s) (no rule's index patterns match it): events with no index fields of their own will not be evaluated`);
  }
  // --quiet drops the summary and progress, never the errors.
  const summary = new Summary(values.quiet === true ? () => {} : io.err, isTty && values.quiet !== true, io.err);
  summary.start(loaded.rules.length, prepared.prefilter.enabled ? undefined : (prepared.prefilter.disabledBecause ?? 'off'));

  let s3: S3Client | undefined;
  // A stalled endpoint must not hang the command: S3 answers in well under these. No socket
  // timeout: it would also fire while a slow reader of the alerts holds the scan back.
  const s3Client = (): S3Client => (s3 ??= createS3Client(process.env, { connectMs: S3_TIMEOUTS.connectMs }));
  let failed = false;
  /** An input that could not be read: reported, counted, and the exit status is 1. */
  const unreadable = (message: string): void => {
    io.err(`eqlambda: ${message}`);
    summary.unreadable();
    failed = true;
    io.inputFailed?.();
  };

  for (const arg of positionals) {
    let inputs: AsyncIterable<Input> | Iterable<Input>;
    try {
      inputs = expandInput(arg, s3Client);
    } catch (err) {
      unreadable(`${arg}: ${(err as Error).message}`);
      continue;
    }
    let found = 0;
    try {
      for await (const input of inputs) {
        found++;
        let opened;
        try {
          opened = await input.open();
        } catch (err) {
          if (!(err instanceof SourceError || err instanceof ObjectMissingError)) throw err;
          unreadable(err.message);
          continue;
        }
        summary.beginObject(input.label, opened.size);
        const result: ScanResult = await scan(
          opened.stream,
          opened.ref,
          {
            rules: loaded.rules,
            prepared,
            defaultIndex: values.index,
            maxAlertsPerRule,
            maxLineBytes,
            maxDecompressedBytes,
            reopen: opened.reopen,
            onProgress: (stats: ScanStats) => summary.progress(stats),
          },
          async (records) => {
            // One alert's document may be most of a MiB, and a line may alert for hundreds of
            // rules: wait for the reader every MiB, not once for all of them.
            let unwritten = 0;
            for (const r of records) {
              const text = JSON.stringify(r);
              io.out(text);
              unwritten += text.length;
              if (unwritten >= OUTPUT_WAIT_CHARS) {
                unwritten = 0;
                await io.drain?.();
              }
            }
            await io.drain?.();
          },
        );
        summary.endObject(input.label, result);
        if (result.error !== undefined) {
          failed = true;
          io.inputFailed?.();
        }
      }
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      unreadable(err.message);
      continue;
    }
    // Not an error (a prefix can be empty today), but not silence either: it may be a typo.
    if (found === 0) io.err(`eqlambda: warning: ${arg}: ${arg.startsWith('s3://') ? 'no objects under this prefix' : 'no files in this folder'}`);
  }
  summary.finish();
  return failed ? 1 : 0;
}

/**
 * The files an argument names: itself, or a folder's files (recursively, in name order,
 * hidden ones skipped). Inside a folder an entry that cannot be read (a dangling or
 * looping symlink, no permission) or is not a regular file (a FIFO would block) becomes
 * an input that fails to open, so it is reported and the rest is still scanned; a folder
 * reached again through a symlink is not scanned twice. An argument itself may be a pipe
 * (`<(zcat …)`); if it cannot be read at all, this throws and the caller reports it.
 */
function* fileInputs(path: string, seen = new Set<string>(), inFolder = false): Generator<Input> {
  if (path === '-') {
    yield { label: 'stdin', open: async () => ({ stream: await openFileSource('-'), ref: { kind: 'file', file: '-', identity: 'stdin', hashEvents: true } }) };
    return;
  }
  const unreadable = (reason: string, cause?: unknown): Input => ({
    label: path,
    open: async () => {
      throw new SourceError(`${path}: ${reason}`, cause);
    },
  });
  let stat: Stats;
  let names: string[] = [];
  try {
    stat = statSync(path);
    if (stat.isDirectory()) {
      const id = `${stat.dev}:${stat.ino}`;
      if (seen.has(id)) return;
      seen.add(id);
      names = readdirSync(path).sort();
    }
  } catch (err) {
    if (!inFolder) throw new SourceError(`${path}: ${(err as Error).message}`, err);
    yield unreadable((err as Error).message, err);
    return;
  }
  if (stat.isDirectory()) {
    for (const name of names) {
      if (!name.startsWith('.')) yield* fileInputs(join(path, name), seen, true);
    }
    return;
  }
  if (inFolder && !stat.isFile()) {
    yield unreadable('not a regular file');
    return;
  }
  yield {
    label: path,
    // The size and modification time of the file opened are its version: a rewritten file gets
    // new alert ids (those of the file as opened, not as listed: it may change in between).
    open: async () => {
      const { stream, version = stat, reopen } = await openLocalInput(path, stat.isFile());
      const ref: SourceRef = { kind: 'file', file: path, identity: `file:${resolve(path)}?size=${version.size}&mtime=${version.mtimeMs}` };
      return reopen === undefined ? { stream, ref, size: version.size } : { stream, ref, size: version.size, reopen };
    },
  };
}

function expandInput(arg: string, client: () => S3Client): AsyncIterable<Input> | Iterable<Input> {
  // A folder is walked as it is scanned: a listing held whole would grow with the number of files.
  if (!arg.startsWith('s3://')) return fileInputs(arg);
  const url = parseS3Url(arg)!; // checked by scanCommand before any input is scanned
  const objectInput = (key: string, size?: number): Input => ({
    label: `s3://${url.bucket}/${key}`,
    open: async () => {
      const o = await openS3Input(client(), { bucket: url.bucket, key });
      const ref: SourceRef = { kind: 's3', bucket: url.bucket, key };
      if (o.versionId !== undefined) ref.versionId = o.versionId;
      if (o.etag !== undefined) ref.etag = o.etag;
      const size2 = o.size ?? size;
      // The version or ETag just read, so a second read gets the same bytes or fails.
      const reopen = async (): Promise<AsyncIterable<Buffer>> => (await openS3Input(client(), { bucket: url.bucket, key, versionId: o.versionId, etag: o.etag })).stream;
      return size2 === undefined ? { stream: o.stream, ref, reopen } : { stream: o.stream, ref, size: size2, reopen };
    },
  });
  if (url.key !== '' && !url.key.endsWith('/')) return [objectInput(url.key)];
  return (async function* () {
    for await (const { key, size } of listS3Keys(client(), url.bucket, url.key, { pageTimeoutMs: S3_TIMEOUTS.idleMs })) yield objectInput(key, size);
  })();
}
