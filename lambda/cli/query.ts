/**
 * `eqlambda query [--category-field F] [--index PATTERN] '<EQL>' FILE...`
 * Prints every matching event (its original line) in input order. FILE is plain or
 * gzipped NDJSON, sniffed from its bytes, or `-` for standard input.
 */
import { compileQuery, EqlError } from '../engine/index.js';
import { compileIndexPatterns, eventIndex, includesAnyIndex } from '../rules/routing.js';
import { ContentError, decode, SourceError, type DecodeStats } from '../scan/decode.js';
import { evaluateCounted, parseLine, SkipCounter } from '../scan/events.js';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter, withoutByteOrderMark } from '../scan/lines.js';
import { statSync } from 'node:fs';
import { fieldNameProblem } from '../engine/fields.js';
import { openLocalInput } from '../sources/file.js';
import { MAX_LINE_BYTES_LIMIT, parse, positiveInteger, UsageError, type Output } from './args.js';

export const QUERY_USAGE = `usage: eqlambda query [--category-field FIELD] [--index PATTERN[,PATTERN]] [--max-line-bytes N] '<EQL>' FILE...
  Prints each event matching the EQL query as one JSON line, in input order.
  FILE: NDJSON, plain or gzip (detected from the bytes), or - for standard input.
  --category-field  field that \`<category> where\` tests (default event.category)
  --index           only events whose index matches one of the patterns: from data_stream,
                    logs-<event.dataset>-default for Elastic Defend, or agent.type-agent.version
                    (README, "Adding or updating a rule"); events with no index are kept
  --max-line-bytes  longer lines are skipped and counted (default ${DEFAULT_MAX_LINE_BYTES})`;

export async function queryCommand(argv: string[], io: Output): Promise<number> {
  const { values, positionals } = parse(argv, {
    'category-field': { type: 'string' },
    index: { type: 'string' },
    'max-line-bytes': { type: 'string' },
  });
  const maxLineBytes = positiveInteger(values['max-line-bytes'], '--max-line-bytes', MAX_LINE_BYTES_LIMIT);
  const [text, ...files] = positionals;
  if (text === undefined || files.length === 0) throw new UsageError('expected a query and at least one FILE');
  if (values['category-field'] === '') throw new UsageError('--category-field must name a field');
  if (values.index !== undefined && values.index.split(',').some((p) => p === '')) throw new UsageError('--index must list index patterns');
  // Read as a rule's index is (rules/load.ts): only exclusions would keep no indexed event at all.
  if (values.index !== undefined && !includesAnyIndex(values.index.split(','))) {
    throw new UsageError('--index names no index pattern to search (only exclusions, or selectors of no data such as ::failures): add one, e.g. logs-*,-logs-test-*');
  }
  const badField = values['category-field'] === undefined ? undefined : fieldNameProblem(values['category-field']);
  if (badField !== undefined) throw new UsageError(`--category-field: ${badField}`);
  let compiled;
  try {
    compiled = compileQuery(text, { categoryField: values['category-field'] });
  } catch (err) {
    if (err instanceof EqlError) {
      io.err(`query:${err.line}:${err.col}: ${err.reason}`);
      return 2;
    }
    throw err;
  }
  const indexFilter = values.index === undefined ? undefined : compileIndexPatterns(values.index.split(','));
  let failed = false;
  for (const file of files) {
    const skips = new SkipCounter();
    const stats: DecodeStats = { compressed: false, bytesIn: 0, bytesOut: 0 };
    const lines = new LineSplitter({
      line(buf, start, end, number) {
        const event = parseLine(buf, start, end);
        if (typeof event === 'string') return skips.add(event, number);
        if (indexFilter !== undefined) {
          const index = eventIndex(event);
          if (index !== undefined && !indexFilter(index)) return;
        }
        // As the scan does: what cut the evaluation short is counted, and a match found all the same is printed.
        if (evaluateCounted(event, number, skips, () => compiled.matches(event)) === true) io.out(buf.toString('utf8', start, end));
      },
      tooLong: (number) => skips.add('too_long', number),
    }, maxLineBytes);
    try {
      const { stream, reopen } = await openLocalInput(file, isRegularFile(file));
      for await (const chunk of withoutByteOrderMark(decode(stream, stats, reopen === undefined ? {} : { reopen }))) {
        lines.push(chunk);
        await io.drain?.(); // matches appear as the input streams in; a slow reader holds us back
      }
      lines.end();
    } catch (err) {
      const line = lines.lineNumber;
      lines.end();
      if (err instanceof SourceError) {
        io.err(`${file}: ${err.message}`);
        failed = true;
        io.inputFailed?.();
        continue;
      }
      if (!(err instanceof ContentError)) throw err;
      io.err(`${file}:${line}: ${err.message}; events before it were searched`);
      failed = true;
      io.inputFailed?.();
    }
    if (skips.total > 0) io.err(`${file}: skipped ${skips.total} line(s): ${skips.describe()}`);
  }
  return failed ? 1 : 0;
}


/** A regular file (it can be read again, as scan does); not `-`, a pipe, or a path openLocalInput will report. */
function isRegularFile(file: string): boolean {
  try {
    return file !== '-' && statSync(file).isFile();
  } catch {
    return false;
  }
}
