/** Small helpers shared by the CLI commands. */
import { constants as bufferConstants } from 'node:buffer';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A usage error: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    // Node's messages may run over several lines (`... ambiguous.\nDid you forget ...`): one
    // line here, as every other error is (its line breaks would be shown escaped).
    throw new UsageError((err as Error).message.replace(/\s*\n\s*/g, ' '));
  }
  // An option that takes one value, given twice, would silently keep the last (`--index a
  // --index b`, where --rules adds up): refused.
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    const option = options[token.name];
    if (option?.type !== 'string' || option.multiple === true) continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once`);
    seen.add(token.name);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/** The longest --max-line-bytes: a line is made a string to be parsed. */
export const MAX_LINE_BYTES_LIMIT = bufferConstants.MAX_STRING_LENGTH;

export function positiveInteger(value: string | undefined, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1) throw new UsageError(`${name} must be a positive whole number, not "${value}"`);
  if (Number(value) > max) throw new UsageError(`${name} must be at most ${max}, not ${value}`);
  return Number(value);
}

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
  /**
   * Writes what out() buffered and waits until the consumer has taken it: called after
   * each chunk, so results appear while a slow input streams in and a slow reader holds
   * the scan back instead of output piling up in memory.
   */
  drain?: () => Promise<void>;
  /** stderr is a terminal and stdout is not: a progress line may be drawn. */
  isTty?: boolean;
  /**
   * Notes that an input failed (the exit status will be 1), for an early exit to keep:
   * `eqlambda ... | head` ends the command when head closes the pipe.
   */
  inputFailed?: () => void;
}
