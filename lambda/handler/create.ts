/**
 * The Lambda handler, as a factory so tests can inject rules, configuration and clients
 * (the deployed entry point, lambda/handler.ts, wires in the bundled rules and env).
 *
 * Failure semantics (at-least-once in, no alert lost, duplicates identifiable by id):
 * - missing object: logged and counted, not retried;
 * - damaged content (corrupt/truncated gzip, bomb): alerts from the readable part are
 *   delivered, the error is logged and counted, the invocation succeeds;
 * - unreadable object (access denied, network) or undeliverable alerts: the invocation
 *   throws after delivering what it can, so Lambda retries and then the failure
 *   destination keeps the event;
 * - time budget: reading stops a safety margin before the timeout, what was found is
 *   delivered, and the invocation fails with "stopped at line N of s3://...".
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context, S3Event } from 'aws-lambda';
import type { SourceRef } from '../alerts/document.js';
import type { Rule } from '../rules/model.js';
import { PreparedRules, scan, type ScanResult } from '../scan/pipeline.js';
import { createS3Client, ObjectChangedError, ObjectMissingError, openS3Object, type S3ObjectRef } from '../sources/s3.js';
import { SourceError } from '../scan/decode.js';
import { SnsPublisher, type PublisherOptions, type PublishReport } from '../publish/sns.js';
import { indexForKey, type HandlerConfig } from './config.js';
import { ruleDimensionValues } from './metrics.js';
import {
  describeEvent,
  isBatchEvent,
  isS3TestEvent,
  NOT_S3_RECORD,
  taskFromBatch,
  tasksFromS3Event,
  UNSUPPORTED,
  type BatchEvent,
  type BatchResponse,
  type ObjectTask,
} from './events.js';

export interface HandlerDeps {
  rules: Rule[];
  config: HandlerConfig;
  s3?: S3Client;
  sns?: SNSClient;
  logger?: Logger;
  metrics?: Metrics;
  publisher?: PublisherOptions;
  now?: () => Date;
  /** Returns memory during long scans (see ScanOptions.reclaimMemory); the entry point passes V8's gc when exposed. */
  reclaimMemory?: () => void;
}

export type Outcome =
  | { status: 'scanned'; alerts: number; result: ScanResult }
  | { status: 'content_error'; alerts: number; result: ScanResult; message: string }
  | { status: 'missing'; message: string }
  | { status: 'failed'; message: string; retryable: boolean };

export type HandlerResult = { objects: number; alerts: number; skipped: number } | BatchResponse;

/** Limits on one SNS request: connecting, and waiting for its answer. */
const SNS_CONNECT_TIMEOUT_MS = 5_000;
const SNS_IDLE_TIMEOUT_MS = 20_000;

/** The least time given to delivery, even when the budget is nearly spent. */
const MIN_DELIVERY_MS = 1000;

/** The least time given to GetObject to answer, even when the budget is nearly spent (the scan then stops after its first chunk). */
const MIN_OPEN_TIMEOUT_MS = 1000;

export function createHandler(deps: HandlerDeps): (event: unknown, context: Context) => Promise<HandlerResult> {
  const logger = deps.logger ?? new Logger({ serviceName: deps.config.serviceName });
  const metrics = deps.metrics ?? new Metrics({ namespace: 'eqlambda', serviceName: deps.config.serviceName });
  const s3 = deps.s3 ?? createS3Client();
  // A request SNS holds without answering is given up (and retried by the SDK) instead of
  // waiting out the function's time; the publisher's deadline bounds the whole delivery.
  const sns = deps.sns ?? new SNSClient({ requestHandler: { connectionTimeout: SNS_CONNECT_TIMEOUT_MS, socketTimeout: SNS_IDLE_TIMEOUT_MS } });
  const prepared = new PreparedRules(deps.rules);
  // Per-rule series: the rule's name made valid for CloudWatch, told apart by id when names collide.
  const ruleDimension = ruleDimensionValues(deps.rules);
  const { config } = deps;

  const objectUrl = (t: ObjectTask): string => `s3://${t.bucket}/${t.key}${t.versionId ? `?versionId=${t.versionId}` : ''}`;

  async function processObject(task: ObjectTask, context: Context): Promise<Outcome> {
    logger.appendKeys({ bucket: task.bucket, key: task.key, versionId: task.versionId });
    // Out of time before it was opened (an event of many records): opening it would still wait a
    // second or more for S3, and a few such objects would outlast the function.
    if (context.getRemainingTimeInMillis() < config.safetyMarginMs) {
      try {
        return fail(`not scanned: the time budget ran out before ${objectUrl(task)} was opened`, true);
      } finally {
        logger.removeKeys(['bucket', 'key', 'versionId']);
      }
    }
    // The scan stops reading safetyMarginMs before the function's timeout; delivery gets two
    // thirds of that margin, so a stalled SNS still leaves time to log, count and fail.
    const outOfTime = new AbortController();
    const deadline = setTimeout(() => outOfTime.abort(), Math.max(context.getRemainingTimeInMillis() - Math.floor(config.safetyMarginMs / 3), MIN_DELIVERY_MS));
    const publisher = new SnsPublisher(sns, config.topicArn, { ...deps.publisher, signal: outOfTime.signal });
    // A GetObject that never answers must not run the function into its timeout.
    const open = (ref: S3ObjectRef): ReturnType<typeof openS3Object> =>
      openS3Object(s3, ref, { openTimeoutMs: Math.max(context.getRemainingTimeInMillis() - config.safetyMarginMs, MIN_OPEN_TIMEOUT_MS) });
    try {
      let opened;
      try {
        // With the event's ETag, an unversioned object is read only if it still holds that content.
        const ref: S3ObjectRef = { bucket: task.bucket, key: task.key };
        if (task.versionId !== undefined) ref.versionId = task.versionId;
        if (task.etag !== undefined) ref.etag = task.etag;
        opened = await open(ref);
      } catch (err) {
        if (err instanceof ObjectMissingError) {
          logger.warn('object is gone; nothing to scan', { error: err.message });
          metrics.addMetric('ObjectErrors', MetricUnit.Count, 1);
          return { status: 'missing', message: err.message };
        }
        if (err instanceof ObjectChangedError) {
          // Its later content has an event of its own; this one cannot be read any more.
          logger.error('object was overwritten before it was scanned; its earlier content was not scanned', { error: err.message });
          metrics.addMetric('ObjectErrors', MetricUnit.Count, 1);
          return { status: 'missing', message: err.message };
        }
        if (err instanceof SourceError) return fail(err.message, true);
        throw err;
      }
      const ref: SourceRef = { kind: 's3', bucket: task.bucket, key: task.key };
      if (opened.versionId !== undefined) ref.versionId = opened.versionId;
      if (opened.etag !== undefined) ref.etag = opened.etag;

      const result = await scan(
        opened.stream,
        ref,
        {
          rules: deps.rules,
          prepared,
          defaultIndex: indexForKey(config, task.key),
          maxAlertsPerRule: config.maxAlertsPerRule,
          maxDecompressedBytes: config.maxDecompressedBytes,
          // The version or ETag just read, so a second read gets the same bytes or fails.
          reopen: async () => (await open({ bucket: task.bucket, key: task.key, versionId: opened.versionId, etag: opened.etag })).stream,
          shouldStop: () => context.getRemainingTimeInMillis() < config.safetyMarginMs,
          now: deps.now,
          reclaimMemory: deps.reclaimMemory,
        },
        (records) => publisher.publish(records),
      );
      const report = await publisher.flush();
      record(result, report);
      const alerts = [...result.stats.perRule.values()].reduce((n, c) => n + c.alerts, 0);
      if (report.failed.length > 0) {
        metrics.addMetric('PublishFailures', MetricUnit.Count, report.failed.length);
        logger.error('alerts could not be published', { failed: report.failed.length, published: report.published, firstError: `${report.failed[0]!.code}: ${report.failed[0]!.message}` });
        return fail(`${report.failed.length} of ${report.failed.length + report.published} alert message(s) for ${objectUrl(task)} could not be published (${report.failed[0]!.code})`, true);
      }
      if (result.stoppedAtLine !== undefined) {
        return fail(`stopped at line ${result.stoppedAtLine} of ${objectUrl(task)}: the time budget ran out; alerts up to there were delivered`, true);
      }
      if (result.error?.kind === 'source') return fail(`${result.error.message} (at line ${result.error.line} of ${objectUrl(task)})`, true);
      if (result.error?.kind === 'content') {
        metrics.addMetric('ObjectErrors', MetricUnit.Count, 1);
        const skipped = result.stats.skipped.total > 0 ? { skipped: result.stats.skipped.describe() } : {};
        logger.error('object content is damaged; alerts from the readable part were delivered', { error: result.error.message, line: result.error.line, ...skipped });
        return { status: 'content_error', alerts, result, message: `${result.error.message} at line ${result.error.line}` };
      }
      const scanned = { lines: result.stats.lines, events: result.stats.events, alerts, bytes: result.stats.decode.bytesOut, ms: Math.round(result.stats.durationMs) };
      // Skipped lines by reason with their first line numbers: a line padded past the length
      // cap escapes every rule, and the operator must be able to find it.
      if (result.stats.skipped.total > 0) logger.warn('object scanned; some lines were skipped', { ...scanned, skipped: result.stats.skipped.describe() });
      else logger.info('object scanned', scanned);
      return { status: 'scanned', alerts, result };
    } finally {
      clearTimeout(deadline);
      logger.removeKeys(['bucket', 'key', 'versionId']);
    }
  }

  function fail(message: string, retryable: boolean): Outcome {
    metrics.addMetric('ObjectErrors', MetricUnit.Count, 1);
    logger.error('object could not be fully processed', { error: message });
    return { status: 'failed', message, retryable };
  }

  function record(result: ScanResult, report: PublishReport): void {
    const s = result.stats;
    metrics.addMetric('ObjectsScanned', MetricUnit.Count, 1);
    metrics.addMetric('BytesScanned', MetricUnit.Bytes, s.decode.bytesOut);
    metrics.addMetric('LinesScanned', MetricUnit.Count, s.lines);
    metrics.addMetric('ScanDurationMs', MetricUnit.Milliseconds, s.durationMs);
    for (const [reason, n] of Object.entries(s.skipped.counts)) {
      if (n === 0) continue;
      const m = metrics.singleMetric();
      m.addDimension('reason', reason);
      m.addMetric('LinesSkipped', MetricUnit.Count, n);
    }
    // Alerts SNS accepted, per rule: those found less those that could not be delivered.
    const undelivered = new Map<string, number>();
    for (const f of report.failed) if (f.record.kind === 'alert') undelivered.set(f.record.ruleId, (undelivered.get(f.record.ruleId) ?? 0) + 1);
    let suppressed = 0;
    for (const [id, c] of s.perRule) {
      suppressed += c.suppressed;
      const delivered = c.alerts - (undelivered.get(id) ?? 0);
      if (delivered <= 0) continue;
      const m = metrics.singleMetric();
      m.addDimension('rule', ruleDimension.get(id) ?? ruleDimensionValues([c.rule]).get(id)!);
      m.addMetric('AlertsPublished', MetricUnit.Count, delivered);
    }
    if (suppressed > 0) metrics.addMetric('OverflowSuppressed', MetricUnit.Count, suppressed);
  }

  async function handleBatch(event: BatchEvent, context: Context): Promise<BatchResponse> {
    const results: BatchResponse['results'] = [];
    for (const t of event.tasks) {
      const taskId = String((t as { taskId?: unknown } | null)?.taskId ?? '');
      const task = taskFromBatch(t);
      if (typeof task === 'string') {
        results.push({ taskId, resultCode: 'PermanentFailure', resultString: task });
        continue;
      }
      const outcome = await processObject(task, context);
      results.push({ taskId, ...batchResult(outcome) });
    }
    return { invocationSchemaVersion: event.invocationSchemaVersion, treatMissingKeysAs: 'PermanentFailure', invocationId: event.invocationId, results };
  }

  return async (event, context) => {
    logger.addContext(context);
    try {
      if (isBatchEvent(event)) return await handleBatch(event, context);
      if (isS3TestEvent(event)) {
        logger.info('S3 test event: nothing to scan');
        return { objects: 0, alerts: 0, skipped: 0 };
      }
      // S3 never sends a notification without records: an empty list is not one of its events.
      const records = (event as Partial<S3Event> | null)?.Records;
      if (!Array.isArray(records) || records.length === 0) {
        const shape = describeEvent(event);
        logger.error('unsupported event', { shape });
        throw new Error(`${UNSUPPORTED}: ${shape}`);
      }
      const { tasks, skipped } = tasksFromS3Event(event as S3Event);
      let foreign = 0;
      for (const s of skipped) {
        if (s.reason !== NOT_S3_RECORD) logger.info('record skipped', { ...s });
        else {
          foreign++;
          logger.error('record skipped', { ...s });
        }
      }
      const failures: string[] = [];
      if (foreign > 0) failures.push(`${UNSUPPORTED}: ${foreign} record(s) are not S3 object records`);
      let alerts = 0;
      for (const task of tasks) {
        const outcome = await processObject(task, context);
        if (outcome.status === 'scanned' || outcome.status === 'content_error') alerts += outcome.alerts;
        if (outcome.status === 'failed') failures.push(outcome.message);
      }
      if (failures.length > 0) throw new Error(failures.join('; '));
      return { objects: tasks.length, alerts, skipped: skipped.length };
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

/** S3 Batch Operations keeps at most this many characters of a result string. */
const MAX_RESULT_STRING = 1024;

function batchResult(outcome: Outcome): { resultCode: 'Succeeded' | 'TemporaryFailure' | 'PermanentFailure'; resultString: string } {
  const result = (resultCode: 'Succeeded' | 'TemporaryFailure' | 'PermanentFailure', text: string) => ({ resultCode, resultString: text.slice(0, MAX_RESULT_STRING) });
  switch (outcome.status) {
    case 'scanned':
      return result('Succeeded', `${outcome.alerts} alert(s) from ${outcome.result.stats.lines} line(s)`);
    case 'content_error':
      return result('Succeeded', `${outcome.alerts} alert(s); content error: ${outcome.message}`);
    case 'missing':
      return result('PermanentFailure', outcome.message);
    case 'failed':
      return result(outcome.retryable ? 'TemporaryFailure' : 'PermanentFailure', outcome.message);
  }
}
