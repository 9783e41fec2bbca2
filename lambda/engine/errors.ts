/** A position inside query text: 0-based offset, 1-based line and column. */
export interface Position {
  offset: number;
  line: number;
  col: number;
}

/**
 * Every problem with a query (syntax, unsupported construct, bad argument) is an
 * EqlError carrying the 1-based line and column where it was found, so callers can
 * print `file:line:col: message` without re-parsing.
 */
export class EqlError extends Error {
  readonly line: number;
  readonly col: number;
  readonly offset: number;
  /** The message without the position prefix. */
  readonly reason: string;

  constructor(reason: string, pos: Position) {
    super(`${pos.line}:${pos.col}: ${reason}`);
    this.name = 'EqlError';
    this.reason = reason;
    this.line = pos.line;
    this.col = pos.col;
    this.offset = pos.offset;
  }
}

/** Maps offsets of a source text to line/column positions. */
export class SourceMap {
  private readonly lineStarts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    }
  }

  position(offset: number): Position {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { offset, line: lo + 1, col: offset - this.lineStarts[lo]! + 1 };
  }
}
