/** The `eqlambda` command line: a thin adapter over the engine and the scan pipeline. */
import { UsageError, type Output } from './args.js';
import { printable } from './printable.js';
import { QUERY_USAGE, queryCommand } from './query.js';
import { REPLAY_USAGE, replayCommand } from './replay.js';
import { RULES_USAGE, rulesCheckCommand } from './rules-check.js';
import { SCAN_USAGE, scanCommand } from './scan.js';

const USAGE = `usage: eqlambda <command> [options]

commands:
  scan         scan log files, folders, stdin or S3 objects with the detection rules
  query        run an ad-hoc EQL query over NDJSON files
  rules check  load and compile detection rules, report problems
  replay       re-drive failed S3 events from the dead-letter queue to the function

run 'eqlambda <command> --help' for a command's options.`;

export async function main(argv: string[], io: Output): Promise<number> {
  const [command, ...rest] = argv;
  const wantsHelp = asksForHelp(rest);
  try {
    switch (command) {
      case 'scan':
        if (wantsHelp) return help(io, SCAN_USAGE);
        return await scanCommand(rest, io, io.isTty === true);
      case 'query':
        if (wantsHelp) return help(io, QUERY_USAGE);
        return await queryCommand(rest, io);
      case 'rules':
        if (rest[0] === '--help' || rest[0] === '-h') return help(io, RULES_USAGE);
        if (rest[0] !== 'check') throw new UsageError(`unknown rules subcommand ${rest[0] === undefined ? '(none)' : `"${rest[0]}"`}: expected "check"`);
        if (wantsHelp) return help(io, RULES_USAGE);
        return rulesCheckCommand(rest.slice(1), io);
      case 'replay':
        if (wantsHelp) return help(io, REPLAY_USAGE);
        return await replayCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        return help(io, USAGE);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`eqlambda: ${err.message}`);
      // One line per call: stderr escapes line breaks within a call (see processOutput).
      for (const line of usageFor(command).split('\n')) io.err(line);
      return 2;
    }
    throw err;
  }
}

/** --help or -h among the options, that is before any `--` (after it, `-h` may be a file's name). */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

function help(io: Output, text: string): number {
  io.out(text);
  return 0;
}

function usageFor(command: string | undefined): string {
  if (command === 'scan') return SCAN_USAGE;
  if (command === 'query') return QUERY_USAGE;
  if (command === 'rules') return RULES_USAGE;
  if (command === 'replay') return REPLAY_USAGE;
  return USAGE;
}

/**
 * Buffered stdout: lines collect into 64 KiB writes; drain() writes the rest and waits for
 * the pipe (backpressure), so memory stays bounded when the reader is slow.
 */
export function processOutput(): Output & { flush: () => Promise<void>; anyInputFailed: () => boolean } {
  // Progress redraws stderr in place: only when stdout goes elsewhere (else it would cut into the alerts).
  const isTty = process.stderr.isTTY === true && process.stdout.isTTY !== true;
  let buffer: string[] = [];
  let size = 0;
  let pending: Promise<void> = Promise.resolve();
  let inputFailed = false;
  const write = (): void => {
    const text = buffer.join('');
    buffer = [];
    size = 0;
    pending = pending.then(
      () =>
        new Promise<void>((resolve) => {
          if (process.stdout.write(text)) resolve();
          else process.stdout.once('drain', resolve);
        }),
    );
  };
  const drain = async (): Promise<void> => {
    if (size > 0) write();
    await pending;
  };
  return {
    isTty,
    out(text) {
      buffer.push(text, '\n');
      size += text.length + 1;
      if (size >= 64 * 1024) write();
    },
    // Each call is one line: what it quotes from outside (file names, S3 keys) cannot
    // start another line or reach the terminal as an escape sequence.
    err(text) {
      process.stderr.write(`${printable(text)}\n`);
    },
    drain,
    flush: drain,
    inputFailed: () => {
      inputFailed = true;
    },
    anyInputFailed: () => inputFailed,
  };
}
