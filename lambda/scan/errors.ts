/**
 * The two kinds of failure a scan reports, so callers can decide what a retry could fix:
 * SourceError (the bytes could not be read) vs ContentError (the bytes are damaged).
 */

/** Reading the input failed (I/O, network, permissions): retrying may help. */
export class SourceError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'SourceError';
  }
}

/** The input itself is damaged or hostile (corrupt or truncated gzip, bomb): retrying cannot help. */
export class ContentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContentError';
  }
}
