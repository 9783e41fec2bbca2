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
import { alertRule, buildAlert, buildOverflow, MAX_DOCUMENT_DEPTH, sourceIdentity, withinDepth, type AlertRule, type DetectionRecord, type SourceRef } from '../alerts/document.js';
import type { Event } from '../engine/index.js';
import type { Rule } from '../rules/model.js';
import { RuleDispatch } from '../rules/dispatch.js';
import { eventIndex, RuleRouter } from '../rules/routing.js';
import { ContentError, decode, SourceError, type DecodeStats } from './decode.js';
import { evaluateCounted, isBlank, parseLine, SkipCounter } from './events.js';
import { LineSplitter, withoutByteOrderMark, type LineSink } from './lines.js';
import { Prefilter, type PrefilterOptions } from './prefilter.js';

export interface ScanOptions {
  rules: Rule[];
  /** Index for events with neither data_stream nor agent fields (else they are unrouted). */
  defaultIndex?: string;
  /** Overrides each rule's max_signals: alerts per rule per object before an overflow record. */
  maxAlertsPerRule?: number;
  maxLineBytes?: number;
  maxDecompressedBytes?: number;
  /** Reads the same bytes again, to recover the lines before gzip damage (DecodeOptions.reopen). */
  reopen?: () => Promise<AsyncIterable<Buffer>>;
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
/**
 * Records held before they go to the sink, in ObjectScan.pendingBytes: 1 MiB of alerting lines
 * (as parsed events, several times that in the heap) or about 500 alerts on short lines. A
 * chunk is 2 MiB of text, and one line may match hundreds of rules: without a bound, 40
 * lines of 800 KB matching 30 rules held 141 MB of alerts at once.
 */
const MAX_PENDING_BYTES = 1024 * 1024;
/** What an alert record costs beyond its event (the record, its rule view and reason). */
const ALERT_BYTES = 2 * 1024;

/**
 * One object's scan: its counts and pending records, and the work done per line
 * (prefilter, parse, evaluate, alert). A class rather than closures made in scan(): V8's
 * optimized code for this hottest path then carries over from one scan (one Lambda
 * invocation) to the next, where closures made afresh are new call targets that throw it
 * away at the start of the second scan.
 */
class ObjectScan implements LineSink {
  readonly stats: ScanStats = {
    decode: { compressed: false, bytesIn: 0, bytesOut: 0 },
    lines: 0,
    events: 0,
    prefiltered: 0,
    skipped: new SkipCounter(),
    perRule: new Map(),
    durationMs: 0,
  };
  /** Records not yet handed to the sink. */
  pending: DetectionRecord[] = [];
  /** About what `pending` holds: each alerting line's bytes once, and ALERT_BYTES an alert. */
  pendingBytes = 0;
  private readonly limits = new Map<string, number>();
  /** Per rule, the line of its first suppressed match (and the event, where ids hash events: standard input). */
  private readonly firstSuppressed = new Map<string, { line: number; event?: string }>();
  private readonly identity: string;
  /** The source has nothing to pin its bytes (standard input): ids also hash the events. */
  private readonly hashEvents: boolean;
  private readonly startLine: number;
  private readonly now: () => Date;

  constructor(
    private readonly prepared: PreparedRules,
    private readonly ref: SourceRef,
    private readonly options: ScanOptions,
  ) {
    this.identity = sourceIdentity(ref);
    this.hashEvents = ref.kind === 'file' && ref.hashEvents === true;
    this.startLine = options.startLine ?? 1;
    this.now = options.now ?? (() => new Date());
  }

  line(buf: Buffer, start: number, end: number, number: number): void {
    if (number < this.startLine) return;
    // Skip leading blanks; anything not starting with '{' is parsed so it is classified.
    let s = start;
    while (s < end && (buf[s] === 32 || buf[s] === 9)) s++;
    if (s < end && buf[s] === 123 && !this.prepared.prefilter.isCandidate(buf, start, end)) {
      // An object ends with `}`: a line cut short is invalid JSON, counted without parsing it.
      let e = end;
      while (e > s && isBlank(buf[e - 1]!)) e--;
      if (buf[e - 1] === 125) this.stats.prefiltered++;
      else this.stats.skipped.add('invalid_json', number);
      return;
    }
    const event = parseLine(buf, start, end);
    if (typeof event === 'string') {
      this.stats.skipped.add(event, number);
      return;
    }
    this.stats.events++;
    const alertsBefore = this.pending.length;
    evaluateCounted(event, number, this.stats.skipped, () => this.evaluate(event, number));
    const alerts = this.pending.length - alertsBefore;
    if (alerts > 0) this.pendingBytes += end - start + alerts * ALERT_BYTES;
  }

  /** Enough records wait (a chunk may hold thousands of alerting lines): the scan hands them on first. */
  full(): boolean {
    return this.pendingBytes >= MAX_PENDING_BYTES;
  }

  /** Lines the last pass() passed over. */
  passedOver = 0;

  /** Passes over the lines the prefilter turns down unread (see Prefilter.screen). */
  pass(buf: Buffer, from: number, number: number, maxLineBytes: number): number {
    if (number < this.startLine) {
      this.passedOver = 0;
      return from;
    }
    const { prefilter } = this.prepared;
    const at = prefilter.screen(buf, from, maxLineBytes);
    this.passedOver = prefilter.passedOver;
    this.stats.prefiltered += prefilter.passedOver;
    return at; // -1: the prefilter will not screen this buffer
  }

  tooLong(number: number): void {
    if (number >= this.startLine) this.stats.skipped.add('too_long', number);
  }

  /** Overflow records for the rules whose alerts went over their limit (at the end). */
  overflows(): DetectionRecord[] {
    const out: DetectionRecord[] = [];
    for (const [ruleId, count] of this.stats.perRule) {
      if (count.suppressed > 0) {
        const first = this.firstSuppressed.get(ruleId)!;
        out.push(buildOverflow(count.rule, this.ref, first.line, count.suppressed, first.event));
      }
    }
    return out;
  }

  private evaluate(event: Event, line: number): void {
    const { router, dispatch } = this.prepared;
    const rules = dispatch.rulesFor(router.rulesFor(eventIndex(event, this.options.defaultIndex)), event);
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (!rule.compiled.matches(event)) continue;
      const count = this.countFor(rule);
      if (count.alerts < this.limits.get(rule.id)!) {
        count.alerts++;
        const now = this.now; // called on its own, as the caller's function always was
        this.pending.push(buildAlert(rule, count.rule, this.ref, this.identity, line, event, now()));
      } else {
        if (count.suppressed === 0) {
          // Cut as alert documents are: stringifying an event nested past the stack must not throw here.
          this.firstSuppressed.set(rule.id, this.hashEvents ? { line, event: JSON.stringify(withinDepth(event, MAX_DOCUMENT_DEPTH)) } : { line });
        }
        count.suppressed++;
      }
    }
  }

  private countFor(rule: Rule): RuleCount {
    let c = this.stats.perRule.get(rule.id);
    if (c === undefined) {
      c = { rule: this.prepared.views.get(rule.id)!, alerts: 0, suppressed: 0 };
      this.stats.perRule.set(rule.id, c);
      this.limits.set(rule.id, this.options.maxAlertsPerRule ?? rule.max_signals);
    }
    return c;
  }
}

/** How long a scan out of time waits to learn whether the input has ended. */
const STOP_GRACE_MS = 50;
/** How often a scan waiting on its source asks shouldStop (a stalled read must not outlast the budget). */
const STOP_POLL_MS = 250;
const delay = (ms: number): Promise<undefined> => new Promise((resolve) => setTimeout(resolve, ms, undefined));

/** The next chunk, or undefined if `shouldStop` says so while it is awaited. */
async function nextUnlessStopped<T>(next: Promise<T>, shouldStop: (() => boolean) | undefined): Promise<T | undefined> {
  if (shouldStop === undefined) return next;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, STOP_POLL_MS, undefined)));
    try {
      const settled = await Promise.race([next, tick]);
      if (settled !== undefined) return settled;
    } finally {
      clearTimeout(timer);
    }
    if (shouldStop()) return undefined;
  }
}

export async function scan(source: AsyncIterable<Buffer>, ref: SourceRef, options: ScanOptions, sink: RecordSink): Promise<ScanResult> {
  const started = performance.now();
  const prepared = options.prepared ?? new PreparedRules(options.rules, options.prefilter !== false);
  prepared.prefilter.reset();
  const objectScan = new ObjectScan(prepared, ref, options);
  const { stats } = objectScan;
  const splitter = new LineSplitter(objectScan, options.maxLineBytes);

  const reclaimEvery = options.reclaimEveryBytes ?? DEFAULT_RECLAIM_EVERY_BYTES;
  let sinceReclaim = 0;
  /** What the sink was handed since memory was last reclaimed: building messages from large alerts makes garbage too. */
  let handedSinceReclaim = 0;

  const flush = async (): Promise<void> => {
    if (objectScan.pending.length === 0) return;
    const batch = objectScan.pending;
    handedSinceReclaim += objectScan.pendingBytes;
    objectScan.pending = [];
    objectScan.pendingBytes = 0;
    await sink(batch);
    if (options.reclaimMemory !== undefined && handedSinceReclaim >= MAX_PENDING_BYTES) {
      handedSinceReclaim = 0;
      options.reclaimMemory();
    }
  };

  const result: ScanResult = { stats };
  /** Aborted when the scan stops reading before the end: the decode's reads then stop too. */
  const abandoned = new AbortController();
  try {
    const decoded = decode(source, stats.decode, { maxDecompressedBytes: options.maxDecompressedBytes, chunkSize: DECODE_CHUNK_BYTES, reopen: options.reopen, signal: abandoned.signal });
    const chunks = withoutByteOrderMark(decoded)[Symbol.asyncIterator]();
    let ended = false;
    try {
      let next = chunks.next();
      let stopped = false;
      for (;;) {
        // Undefined: the source stalled and the time ran out while waiting for it.
        const step = await nextUnlessStopped(next, options.shouldStop);
        if (step === undefined) {
          stopped = true;
          break;
        }
        if (step.done === true) break;
        const chunk = step.value;
        prepared.prefilter.newChunk();
        // Alert-dense input (every line matching many rules) hands records on mid-chunk, and
        // may run out of time there: it then stops at that line.
        let at = splitter.push(chunk);
        while (at >= 0) {
          await flush();
          if (options.shouldStop?.() === true) break;
          // Another scan sharing these rules may have searched meanwhile, even this same Buffer.
          prepared.prefilter.newChunk();
          at = splitter.push(chunk, at);
        }
        if (at >= 0) {
          stopped = true;
          break;
        }
        sinceReclaim += chunk.length;
        if (options.reclaimMemory !== undefined && sinceReclaim >= reclaimEvery) {
          sinceReclaim = 0;
          options.reclaimMemory();
        }
        await flush();
        options.onProgress?.(stats);
        next = chunks.next();
        if (options.shouldStop?.() === true) {
          // Out of time: stop now rather than wait on a source that may have stalled, unless
          // the input turns out to be finished already (a whole object is not "stopped", and
          // its unterminated last line is still scanned).
          const settled = await Promise.race([next, delay(STOP_GRACE_MS)]);
          if (settled === undefined || settled.done !== true) {
            stopped = true;
            break;
          }
        }
      }
      if (stopped) {
        result.stoppedAtLine = splitter.lineNumber;
        next.catch(() => {}); // whatever the abandoned read ends with, nobody waits for it
      }
      ended = !stopped;
    } finally {
      // Stopped, or the sink failed: release the source (S3 response, file) without waiting
      // on it (a stalled read finishes the release later).
      if (!ended) {
        abandoned.abort();
        void chunks.return?.(undefined).catch(() => {});
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
  objectScan.pending.push(...objectScan.overflows());
  await flush();
  stats.durationMs = performance.now() - started;
  return result;
}
