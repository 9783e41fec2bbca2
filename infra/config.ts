/**
 * Deployment settings read from CDK context (`cdk.json` or `-c key=value`).
 * Values from `-c` arrive as strings, values from cdk.json may be numbers or
 * arrays, so every reader accepts both and fails with the key name in the message.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface EqlambdaConfig {
  /** Existing bucket that only gets the notification; unset: the stack creates the bucket. */
  logBucketName?: string;
  /** KMS key of an existing SSE-KMS bucket, so the function can decrypt its objects. */
  logBucketKeyArn?: string;
  /** Object key filters of the S3 notification (and the function's read scope). */
  prefix: string;
  suffix: string;
  /** Days before objects in the created bucket expire; 0 keeps them. */
  logExpirationDays: number;
  alertEmails: string[];
  /** Emails only receive alerts at or above this severity (SNS filter policy). */
  alertMinSeverity?: Severity;
  opsEmail?: string;
  slackWorkspaceId?: string;
  slackChannelId?: string;
  memorySize: number;
  timeoutSeconds: number;
  logRetentionDays: RetentionDays;
  logLevel: LogLevel;
  defaultIndex?: string;
  indexByPrefix?: Record<string, string>;
  maxAlertsPerRule?: number;
  /** Decompressed bytes per object before it counts as a gzip bomb (default 64 GiB). */
  maxDecompressedBytes?: number;
  /** Folder of detection-rule TOML files, absolute or relative to the project root. */
  rulesDir: string;
  /** Concurrent executions reserved for (and at most used by) the function; unset: the account's pool. */
  reservedConcurrency?: number;
}

/** Where S3 Batch Operations may write completion reports (in the log bucket); the handler never scans them. */
export { BATCH_REPORT_PREFIX } from '../lambda/handler/events.js';

export const DEFAULTS = {
  prefix: '',
  suffix: '',
  logExpirationDays: 90,
  memorySize: 1769, // 1769 MB is one full vCPU
  timeoutSeconds: 300,
  logRetentionDays: RetentionDays.ONE_MONTH,
  logLevel: 'INFO',
  rulesDir: 'rules',
} as const satisfies Partial<EqlambdaConfig>;

/** Context keys this app reads, for docs and for rejecting typos. */
export const CONTEXT_KEYS = [
  'logBucketName',
  'logBucketKeyArn',
  'prefix',
  'suffix',
  'logExpirationDays',
  'alertEmails',
  'alertMinSeverity',
  'opsEmail',
  'slackWorkspaceId',
  'slackChannelId',
  'memorySize',
  'timeoutSeconds',
  'logRetentionDays',
  'logLevel',
  'defaultIndex',
  'indexByPrefix',
  'maxAlertsPerRule',
  'maxDecompressedBytes',
  'rulesDir',
  'reservedConcurrency',
] as const;
export type ContextKey = (typeof CONTEXT_KEYS)[number];
/** Read by infra/app.ts itself rather than readConfig. */
export const APP_CONTEXT_KEYS = ['stackName'] as const;
export const KNOWN_CONTEXT_KEYS: readonly string[] = [...CONTEXT_KEYS, ...APP_CONTEXT_KEYS];

/** Context keys set that this app does not know (typos such as `alertEmail`); flags and CDK keys are skipped. */
export function unknownContextKeys(context: Record<string, unknown>): string[] {
  const known = new Set(KNOWN_CONTEXT_KEYS);
  return Object.keys(context).filter((k) => !k.startsWith('@') && !k.includes(':') && !known.has(k));
}

/**
 * The known key an unknown one is a slip for (case, or at most two letters off, as
 * `alertEmail` for `alertEmails`), if any. Other unknown keys may be the CDK CLI's own
 * (`acknowledged-issue-numbers`, `cli-telemetry`), and are only warned about.
 */
export function likelyTypoOf(key: string): string | undefined {
  // Spelled with separators (log-retention-days, log_retention_days) or in another case.
  const plain = (k: string): string => k.replace(/[-_.\s]/g, '').toLowerCase();
  return KNOWN_CONTEXT_KEYS.find((k) => plain(k) === plain(key) || editDistance(k, key) <= 2);
}

/**
 * Whether an unknown key could be meant for this app (alertMinSev, log_retention_days): a
 * setting it does not have, refused like a slip. Every key the CDK CLI and library set holds
 * `:`, `@` or `-` (feature flags, lookups, `acknowledged-issue-numbers`, `cli-telemetry`).
 */
export function looksLikeOurs(key: string): boolean {
  return !/[:@-]/.test(key);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = row;
  }
  return previous[b.length]!;
}

export class ConfigError extends Error {
  constructor(key: string, reason: string) {
    super(`context ${key}: ${reason}`);
    this.name = 'ConfigError';
  }
}

// Deliberately loose: catches the common slips (missing @, spaces, commas), SNS validates the rest.
const EMAIL = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/** Reads and validates every setting; `get` is usually `(k) => app.node.tryGetContext(k)`. */
export function readConfig(get: (key: ContextKey) => unknown): EqlambdaConfig {
  const str = (key: ContextKey): string | undefined => {
    const v = get(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(key, `expected a string, got ${JSON.stringify(v)}`);
    const s = String(v).trim();
    return s === '' ? undefined : s;
  };
  const int = (key: ContextKey, fallback: number, min: number, max: number): number => {
    const s = str(key);
    if (s === undefined) return fallback;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(key, `expected a whole number from ${min} to ${max}, got "${s}"`);
    return n;
  };
  const list = (key: ContextKey): string[] => {
    const v = get(key);
    if (v === undefined || v === null) return [];
    const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
    if (items === undefined || items.some((x) => typeof x !== 'string')) {
      throw new ConfigError(key, `expected a comma-separated string or a list of strings, got ${JSON.stringify(v)}`);
    }
    return (items as string[]).map((x) => x.trim()).filter((x) => x !== '');
  };
  const email = (key: ContextKey, value: string): string => {
    if (!EMAIL.test(value)) throw new ConfigError(key, `"${value}" is not an email address`);
    return value;
  };
  const oneOf = <T extends string>(key: ContextKey, allowed: readonly T[], normalize: (s: string) => string): T | undefined => {
    const s = str(key);
    if (s === undefined) return undefined;
    const n = normalize(s);
    if (!(allowed as readonly string[]).includes(n)) throw new ConfigError(key, `expected one of ${allowed.join(', ')}, got "${s}"`);
    return n as T;
  };

  const logBucketName = str('logBucketName');
  if (logBucketName !== undefined && !BUCKET_NAME.test(logBucketName)) {
    throw new ConfigError('logBucketName', `"${logBucketName}" is not a valid S3 bucket name`);
  }
  const logBucketKeyArn = str('logBucketKeyArn');
  if (logBucketKeyArn !== undefined) {
    if (!KMS_KEY_ARN.test(logBucketKeyArn)) throw new ConfigError('logBucketKeyArn', `"${logBucketKeyArn}" is not a KMS key ARN`);
    if (logBucketName === undefined) throw new ConfigError('logBucketKeyArn', 'only applies with logBucketName (the created bucket uses SSE-S3)');
  }

  const slackWorkspaceId = str('slackWorkspaceId');
  const slackChannelId = str('slackChannelId');
  if ((slackWorkspaceId === undefined) !== (slackChannelId === undefined)) {
    throw new ConfigError(slackWorkspaceId === undefined ? 'slackWorkspaceId' : 'slackChannelId', 'Slack needs both slackWorkspaceId and slackChannelId');
  }

  if (logBucketName !== undefined && str('logExpirationDays') !== undefined) {
    throw new ConfigError('logExpirationDays', 'only applies to the bucket the stack creates; set the lifecycle of an existing bucket (logBucketName) on that bucket');
  }
  // S3 key filters are literal: a wildcard in one matches no key, and the function would never run.
  for (const key of ['prefix', 'suffix'] as const) {
    const v = str(key);
    if (v !== undefined && /[*?]/.test(v)) throw new ConfigError(key, `S3 notification filters are literal, not patterns: "${v}" would match no key (use edr/ rather than edr/*)`);
  }

  const retention = int('logRetentionDays', DEFAULTS.logRetentionDays, 1, 3653);
  if (!Object.values(RetentionDays).includes(retention)) {
    const allowed = Object.values(RetentionDays).filter((d) => typeof d === 'number' && d > 0 && d <= 3653);
    throw new ConfigError('logRetentionDays', `CloudWatch Logs accepts ${allowed.join(', ')} days, got ${retention}`);
  }

  const opsEmail = str('opsEmail');
  const config: EqlambdaConfig = {
    prefix: str('prefix') ?? DEFAULTS.prefix,
    suffix: str('suffix') ?? DEFAULTS.suffix,
    logExpirationDays: int('logExpirationDays', DEFAULTS.logExpirationDays, 0, 36500),
    alertEmails: distinctIgnoringCase(list('alertEmails').map((e) => email('alertEmails', e))),
    memorySize: int('memorySize', DEFAULTS.memorySize, 128, 10240),
    // Below 3 s the handler's least waits for S3 and SNS (a second each) outlast the function.
    timeoutSeconds: int('timeoutSeconds', DEFAULTS.timeoutSeconds, 3, 900),
    logRetentionDays: retention as RetentionDays,
    logLevel: oneOf('logLevel', LOG_LEVELS, (s) => s.toUpperCase()) ?? DEFAULTS.logLevel,
    rulesDir: str('rulesDir') ?? DEFAULTS.rulesDir,
  };
  const optional: Partial<EqlambdaConfig> = {
    logBucketName,
    logBucketKeyArn,
    alertMinSeverity: oneOf('alertMinSeverity', SEVERITIES, (s) => s.toLowerCase()),
    opsEmail: opsEmail === undefined ? undefined : email('opsEmail', opsEmail),
    slackWorkspaceId,
    slackChannelId,
    defaultIndex: str('defaultIndex'),
    indexByPrefix: readIndexByPrefix(get('indexByPrefix')),
    maxAlertsPerRule: str('maxAlertsPerRule') === undefined ? undefined : int('maxAlertsPerRule', 0, 1, 100_000),
    maxDecompressedBytes: str('maxDecompressedBytes') === undefined ? undefined : int('maxDecompressedBytes', 0, 1, 2 ** 50),
    reservedConcurrency: str('reservedConcurrency') === undefined ? undefined : int('reservedConcurrency', 0, 1, 10_000),
  };
  for (const [k, v] of Object.entries(optional)) {
    if (v !== undefined) Object.assign(config, { [k]: v });
  }
  return config;
}

/** The first of each address written more than once (a second subscription of the same address would fail synth). */
function distinctIgnoringCase(values: string[]): string[] {
  const seen = new Set<string>();
  return values.filter((v) => !seen.has(v.toLowerCase()) && seen.add(v.toLowerCase()));
}

/** `indexByPrefix` is a JSON object (string from -c, object from cdk.json) of key prefix → index name. */
function readIndexByPrefix(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  let parsed = v;
  if (typeof v === 'string') {
    try {
      parsed = JSON.parse(v);
    } catch (err) {
      throw new ConfigError('indexByPrefix', `not valid JSON (${(err as Error).message})`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('indexByPrefix', 'expected a JSON object of key prefix to index name, e.g. {"edr/":"logs-endpoint.events.process-default"}');
  }
  for (const [prefix, index] of Object.entries(parsed)) {
    if (typeof index !== 'string' || index === '') throw new ConfigError('indexByPrefix', `index for prefix "${prefix}" must be a non-empty string`);
  }
  return parsed as Record<string, string>;
}

/** Severities at or above `min`, for the email filter policy. */
export function severitiesFrom(min: Severity): Severity[] {
  return SEVERITIES.slice(SEVERITIES.indexOf(min));
}
