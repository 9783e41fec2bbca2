/**
 * The scan pipeline, shared by the CLI and the Lambda handler:
 *
 *   bytes → decode (gzip sniffing) → lines → prefilter → JSON.parse → index routing
 *         → compiled rules → alert / overflow records → sink
 *
 * Streaming throughout: memory is bounded by the chunk size and the line cap, never
 * by the object. Records reach the sink after each chunk, and the sink's promise is
 * awaited (backpressure). Errors never lose what was found before them: the records
 * from the readable part are delivered and the error is reported with its line.
 */
import { alertRule, buildAlert, buildOverflow, sourceIdentity, type AlertRule, type DetectionRecord, type SourceRef } from '../alerts/document.js';
import { withFieldCache, type Event } from '../engine/index.js';
import type { Rule } from '../rules/model.js';
import { RuleDispatch } from '../rules/dispatch.js';
import { eventIndex, RuleRouter } from '../rules/routing.js';
import { ContentError, decode, SourceError, type DecodeStats } from './decode.js';
import { parseLine, SkipCounter } from './events.js';
import { LineSplitter } from './lines.js';
import { Prefilter, type PrefilterOptions } from './prefilter.js';

export interface ScanOptions {
  rules: Rule[];
  /** Index for events with neither data_stream nor agent fields (else they are unrouted). */
  defaultIndex?: string;
  /** Overrides each rule's max_signals: alerts per rule per object before an overflow record. */
  maxAlertsPerRule?: number;
  maxLineBytes?: number;
  maxDecompressedBytes?: number;
  /** Set false to parse every line (for comparison and debugging). */
  prefilter?: boolean;
  /** Lines before this one are skipped (resuming a scan that stopped). */
  startLine?: number;
  /** Checked after each chunk: return true to stop reading (time budget). */
  shouldStop?: () => boolean;
  /** Called after each chunk with the decompressed bytes so far (progress). */
  onProgress?: (stats: ScanStats) => void;
  now?: () => Date;
  /**
   * Called after every `reclaimEveryBytes` of decompressed input (default 16 MiB), to
   * return memory when it is tight: the Lambda passes a hook that runs V8's gc above a
   * share of the function's memory (handler/memory.ts).
   */
  reclaimMemory?: () => void;
  reclaimEveryBytes?: number;
  /** Reuse a prepared rule set across objects (routing cache, prefilter plan). */
  prepared?: PreparedRules;
}

export type RecordSink = (records: DetectionRecord[]) => void | Promise<void>;

export interface RuleCount {
  rule: AlertRule;
  alerts: number;
  suppressed: number;
}

export interface ScanStats {
  decode: DecodeStats;
  /** Physical lines read (including skipped ones). */
  lines: number;
  /** Lines parsed into events. */
  events: number;
  /** Lines the prefilter proved could not match, never parsed. */
  prefiltered: number;
  skipped: SkipCounter;
  perRule: Map<string, RuleCount>;
  durationMs: number;
}

export interface ScanError {
  kind: 'source' | 'content';
  message: string;
  /** The line being read when the error happened. */
  line: number;
}

export interface ScanResult {
  stats: ScanStats;
  error?: ScanError;
  /** Set when shouldStop() ended the scan early: the first line not scanned. */
  stoppedAtLine?: number;
}

/** Rules with their router and prefilter, built once and reused for every object. */
export class PreparedRules {
  readonly router: RuleRouter;
  readonly dispatch: RuleDispatch;
  readonly prefilter: Prefilter;
  readonly views: Map<string, AlertRule>;

  constructor(
    readonly rules: Rule[],
    prefilter = true,
    prefilterOptions: PrefilterOptions = {},
  ) {
    this.router = new RuleRouter(rules);
    this.dispatch = new RuleDispatch(rules);
    this.prefilter = new Prefilter(rules, prefilter, prefilterOptions);
    this.views = new Map(rules.map((r) => [r.id, alertRule(r)]));
  }
}

/**
 * zlib output chunk. Each chunk is a round trip to the thread pool, and a wake-up of
 * whichever thread waits for the other. Measured on two cores against 1 MiB: about 25 %
 * faster both in the steady state and on 2 GB as deployed, with the same peak RSS
 * (113 MB); 4 MiB was faster in the steady state but slower as deployed.
 */
const DECODE_CHUNK_BYTES = 2 * 1024 * 1024;
export const DEFAULT_RECLAIM_EVERY_BYTES = 16 * 1024 * 1024;

export async function scan(source: AsyncIterable<Buffer>, ref: SourceRef, options: ScanOptions, sink: RecordSink): Promise<ScanResult> {
  const started = performance.now();
  const prepared = options.prepared ?? new PreparedRules(options.rules, options.prefilter !== false);
  const { router, dispatch, prefilter, views } = prepared;
  prefilter.reset();
  const identity = sourceIdentity(ref);
  const now = options.now ?? (() => new Date());
  const startLine = options.startLine ?? 1;
  const stats: ScanStats = {
    decode: { compressed: false, bytesIn: 0, bytesOut: 0 },
    lines: 0,
    events: 0,
    prefiltered: 0,
    skipped: new SkipCounter(),
    perRule: new Map(),
    durationMs: 0,
  };
  const limits = new Map<string, number>();
  const firstSuppressed = new Map<string, number>();
  let pending: DetectionRecord[] = [];

  const countFor = (rule: Rule): RuleCount => {
    let c = stats.perRule.get(rule.id);
    if (c === undefined) {
      c = { rule: views.get(rule.id)!, alerts: 0, suppressed: 0 };
      stats.perRule.set(rule.id, c);
      limits.set(rule.id, options.maxAlertsPerRule ?? rule.max_signals);
    }
    return c;
  };

  const evaluate = (event: Event, line: number): void => withFieldCache(event, () => evaluateRules(event, line));
  const evaluateRules = (event: Event, line: number): void => {
    const rules = dispatch.rulesFor(router.rulesFor(eventIndex(event, options.defaultIndex)), event);
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (!rule.compiled.matches(event)) continue;
      const count = countFor(rule);
      if (count.alerts < limits.get(rule.id)!) {
        count.alerts++;
        pending.push(buildAlert(rule, count.rule, ref, identity, line, event, now()));
      } else {
        if (count.suppressed === 0) firstSuppressed.set(rule.id, line);
        count.suppressed++;
      }
    }
  };

  const splitter = new LineSplitter(
    {
      line(buf, lineStart, end, number) {
        if (number < startLine) return;
        // A UTF-8 byte order mark (Windows tools write one) is not part of the first line.
        const start = number === 1 && buf[lineStart] === 0xef && buf[lineStart + 1] === 0xbb && buf[lineStart + 2] === 0xbf ? lineStart + 3 : lineStart;
        // Skip leading blanks; anything not starting with '{' is parsed so it is classified.
        let s = start;
        while (s < end && (buf[s] === 32 || buf[s] === 9)) s++;
        if (s < end && buf[s] === 123 && !prefilter.isCandidate(buf, start, end)) {
          stats.prefiltered++;
          return;
        }
        const event = parseLine(buf, start, end);
        if (typeof event === 'string') {
          stats.skipped.add(event, number);
          return;
        }
        stats.events++;
        try {
          evaluate(event, number);
        } catch (err) {
          // A pathological document (e.g. arrays nested past the stack) skips, never aborts the object.
          if (!(err instanceof RangeError)) throw err;
          stats.skipped.add('too_deep', number);
        }
      },
      tooLong(number) {
        if (number >= startLine) stats.skipped.add('too_long', number);
      },
    },
    options.maxLineBytes,
  );

  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    await sink(batch);
  };

  const reclaimEvery = options.reclaimEveryBytes ?? DEFAULT_RECLAIM_EVERY_BYTES;
  let sinceReclaim = 0;

  const result: ScanResult = { stats };
  try {
    for await (const chunk of decode(source, stats.decode, { maxDecompressedBytes: options.maxDecompressedBytes, chunkSize: DECODE_CHUNK_BYTES })) {
      splitter.push(chunk);
      sinceReclaim += chunk.length;
      if (options.reclaimMemory !== undefined && sinceReclaim >= reclaimEvery) {
        sinceReclaim = 0;
        options.reclaimMemory();
      }
      await flush();
      options.onProgress?.(stats);
      if (options.shouldStop?.() === true) {
        result.stoppedAtLine = splitter.lineNumber;
        break;
      }
    }
    if (result.stoppedAtLine === undefined) splitter.end();
  } catch (err) {
    // The line being read when the error hit; lines decoded before it still count,
    // including a final partial line.
    const line = splitter.lineNumber;
    splitter.end();
    if (err instanceof ContentError) result.error = { kind: 'content', message: err.message, line };
    else if (err instanceof SourceError) result.error = { kind: 'source', message: err.message, line };
    else throw err;
  }
  stats.lines = splitter.lineNumber - 1;
  for (const [ruleId, count] of stats.perRule) {
    if (count.suppressed > 0) pending.push(buildOverflow(count.rule, ref, firstSuppressed.get(ruleId)!, count.suppressed));
  }
  await flush();
  stats.durationMs = performance.now() - started;
  return result;
}
