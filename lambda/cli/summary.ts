/** The scan report on stderr: a progress line on terminals, then totals. */
import type { ScanResult, ScanStats, RuleCount } from '../scan/pipeline.js';
import { printable } from './printable.js';

const MB = 1024 * 1024;

export class Summary {
  private objects = 0;
  private failedObjects = 0;
  private unreadableInputs = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private lines = 0;
  private events = 0;
  private prefiltered = 0;
  private readonly skipped = new Map<string, number>();
  private readonly perRule = new Map<string, RuleCount>();
  private readonly started = performance.now();
  private current: { label: string; size?: number } | undefined;
  private lastDraw = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
    /** Where an object's error goes: always shown, even when the summary is not. */
    private readonly report: (text: string) => void = write,
  ) {}

  start(ruleCount: number, prefilterOff: string | undefined): void {
    this.write(`eqlambda: ${ruleCount} rule(s)${prefilterOff === undefined ? '' : `; prefilter off (${prefilterOff})`}`);
  }

  beginObject(label: string, size?: number): void {
    this.current = size === undefined ? { label } : { label, size };
  }

  progress(stats: ScanStats): void {
    if (!this.tty || this.current === undefined) return;
    const now = performance.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const { size, label } = this.current;
    const done = stats.decode.bytesIn;
    const bar =
      size !== undefined && size > 0
        ? (() => {
            const f = Math.min(done / size, 1);
            const w = 20;
            return `[${'#'.repeat(Math.round(f * w)).padEnd(w, '.')}] ${(f * 100).toFixed(0).padStart(3)}% `;
          })()
        : '';
    const rate = stats.decode.bytesOut / MB / Math.max((now - this.started) / 1000, 0.001);
    process.stderr.write(`\r${bar}${(stats.decode.bytesOut / MB).toFixed(0)} MB ${rate.toFixed(0)} MB/s ${printable(label).slice(-40)}\x1b[K`);
  }

  endObject(label: string, result: ScanResult): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
    const s = result.stats;
    this.objects++;
    this.bytesIn += s.decode.bytesIn;
    this.bytesOut += s.decode.bytesOut;
    this.lines += s.lines;
    this.events += s.events;
    this.prefiltered += s.prefiltered;
    for (const [reason, n] of Object.entries(s.skipped.counts)) if (n > 0) this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + n);
    for (const [id, c] of s.perRule) {
      const t = this.perRule.get(id) ?? { rule: c.rule, alerts: 0, suppressed: 0 };
      t.alerts += c.alerts;
      t.suppressed += c.suppressed;
      this.perRule.set(id, t);
    }
    if (s.skipped.total > 0) this.write(`${label}: skipped ${s.skipped.total} line(s): ${s.skipped.describe()}`);
    if (result.error !== undefined) {
      this.failedObjects++;
      this.report(`${label}:${result.error.line}: ${result.error.message}; alerts from the lines before it were reported`);
    }
  }

  /** An input that could not be read at all (its error was reported where it happened). */
  unreadable(): void {
    this.unreadableInputs++;
  }

  finish(): void {
    const seconds = Math.max((performance.now() - this.started) / 1000, 0.001);
    const alerts = [...this.perRule.values()].reduce((n, c) => n + c.alerts, 0);
    const lines = [
      `scanned ${this.objects} object(s)${this.failedObjects > 0 ? ` (${this.failedObjects} with errors)` : ''}` +
        `${this.unreadableInputs > 0 ? `, ${this.unreadableInputs} unreadable` : ''}: ` +
        `${(this.bytesIn / MB).toFixed(1)} MB in, ${(this.bytesOut / MB).toFixed(1)} MB decompressed, ` +
        `${(this.bytesOut / MB / seconds).toFixed(0)} MB/s`,
      `lines ${this.lines}, parsed ${this.events}, prefiltered ${this.prefiltered}` +
        (this.skipped.size > 0 ? `, skipped ${[...this.skipped].map(([r, n]) => `${r} ${n}`).join(', ')}` : ''),
      `alerts ${alerts}`,
      ...[...this.perRule.values()].map((c) => `  ${c.alerts}${c.suppressed > 0 ? ` (+${c.suppressed} suppressed)` : ''}  ${c.rule.name}`),
    ];
    for (const l of lines) this.write(l);
  }
}
