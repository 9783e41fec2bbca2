/**
 * Recording stand-ins for the Powertools Logger and Metrics the handler uses, so tests
 * can assert what was logged and counted (and keep the test output quiet).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  attributes: Record<string, unknown>;
  keys: Record<string, unknown>;
}

export interface MetricEntry {
  name: string;
  unit: string;
  value: number;
  dimensions: Record<string, string>;
}

export class RecordingLogger {
  readonly entries: LogEntry[] = [];
  private keys: Record<string, unknown> = {};

  addContext(): void {}
  appendKeys(keys: Record<string, unknown>): void {
    this.keys = { ...this.keys, ...keys };
  }
  removeKeys(names: string[]): void {
    for (const n of names) delete this.keys[n];
  }
  resetKeys(): void {
    this.keys = {};
  }
  debug(message: string, attributes: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'debug', message, attributes, keys: { ...this.keys } });
  }
  info(message: string, attributes: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'info', message, attributes, keys: { ...this.keys } });
  }
  warn(message: string, attributes: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'warn', message, attributes, keys: { ...this.keys } });
  }
  error(message: string, attributes: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'error', message, attributes, keys: { ...this.keys } });
  }
  at(level: LogEntry['level']): LogEntry[] {
    return this.entries.filter((e) => e.level === level);
  }
  asLogger(): Logger {
    return this as unknown as Logger;
  }
}

export class RecordingMetrics {
  readonly entries: MetricEntry[] = [];
  published = 0;

  addMetric(name: string, unit: string, value: number): void {
    this.entries.push({ name, unit, value, dimensions: {} });
  }
  singleMetric(): { addDimension: (name: string, value: string) => void; addMetric: (name: string, unit: string, value: number) => void } {
    const dimensions: Record<string, string> = {};
    return {
      addDimension: (name, value) => {
        dimensions[name] = value;
      },
      addMetric: (name, unit, value) => {
        this.entries.push({ name, unit, value, dimensions: { ...dimensions } });
      },
    };
  }
  publishStoredMetrics(): void {
    this.published++;
  }
  total(name: string): number {
    return this.entries.filter((e) => e.name === name).reduce((n, e) => n + e.value, 0);
  }
  asMetrics(): Metrics {
    return this as unknown as Metrics;
  }
}
