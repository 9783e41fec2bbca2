/**
 * Wiring for the over-HTTP tests: the handler with real SDK clients pointed at a local
 * S3 (s3rver) and the fake SNS, and helpers to run with AWS_* environment variables set.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { expect } from 'vitest';
import type { HandlerConfig } from '../../lambda/handler/config.js';
import { createHandler } from '../../lambda/handler/create.js';
import type { PublisherOptions } from '../../lambda/publish/sns.js';
import { SNS_MAX_BATCH_ENTRIES, SNS_MAX_PAYLOAD_BYTES, snsPayloadBytes, subjectProblem, type FakeSns } from './fake-sns.js';
import { shippedRules } from './logs.js';
import { RecordingLogger, RecordingMetrics } from './observability.js';
import { S3RVER_CREDENTIALS, type LocalS3 } from './s3-local.js';
import { expectWellFormed } from './sns-messages.js';

export const TOPIC = 'arn:aws:sns:us-east-1:123456789012:eqlambda-alerts';
export const DUMMY_CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

export interface Wired {
  handler: ReturnType<typeof createHandler>;
  logger: RecordingLogger;
  metrics: RecordingMetrics;
}

/** The handler with explicit clients for the local S3 and the fake SNS. */
export function wiredHandler(s3: LocalS3, sns: FakeSns, options: { config?: Partial<HandlerConfig>; publisher?: PublisherOptions; s3Credentials?: { accessKeyId: string; secretAccessKey: string } } = {}): Wired {
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  const handler = createHandler({
    rules: shippedRules(),
    config: { topicArn: TOPIC, indexByPrefix: [], safetyMarginMs: 15_000, serviceName: 'eqlambda', ...options.config },
    s3: new S3Client({ forcePathStyle: true, endpoint: s3.endpoint, region: 'us-east-1', credentials: options.s3Credentials ?? S3RVER_CREDENTIALS }),
    sns: new SNSClient({ endpoint: sns.endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS }),
    logger: logger.asLogger(),
    metrics: metrics.asMetrics(),
    publisher: { baseDelayMs: 5, ...options.publisher },
  });
  return { handler, logger, metrics };
}

/** Sets environment variables, returning a function that puts the old values back. */
export function setEnv(vars: Record<string, string | undefined>): () => void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>): void => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  return () => apply(saved);
}

/** The environment of a deployed function, pointed at the local servers. */
export function deployedEnv(s3: LocalS3, sns: FakeSns, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_CONFIG_FILE: '/nonexistent/eqlambda-test/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/eqlambda-test/credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL: undefined,
    ALERTS_TOPIC_ARN: TOPIC,
    ...extra,
  };
}

/** What every test over the wire checks: SNS limits respected, every accepted message well formed. */
export function expectCleanWire(sns: FakeSns): void {
  expect(sns.violations).toEqual([]);
  for (const r of sns.requests) {
    expect(r.action).toBe('PublishBatch');
    expect(r.topicArn).toBe(TOPIC);
    expect(r.entries.length).toBeGreaterThan(0);
    expect(r.entries.length).toBeLessThanOrEqual(SNS_MAX_BATCH_ENTRIES);
    expect(r.entries.reduce((n, e) => n + snsPayloadBytes(e), 0)).toBeLessThanOrEqual(SNS_MAX_PAYLOAD_BYTES);
    for (const e of r.entries) expect(subjectProblem(e.subject ?? '')).toBeUndefined();
  }
  for (const e of sns.delivered) expectWellFormed(e);
}
