/** Handler configuration from environment variables, validated once at cold start. */

export interface HandlerConfig {
  topicArn: string;
  maxAlertsPerRule?: number;
  /** Decompressed bytes per object before it is reported as a gzip bomb (default: the scan's). */
  maxDecompressedBytes?: number;
  defaultIndex?: string;
  /** Key prefix → index, longest prefix wins. */
  indexByPrefix: [string, string][];
  /** Stop reading this long before the Lambda timeout, to deliver what was found. */
  safetyMarginMs: number;
  /**
   * The `service` of logs and metrics (POWERTOOLS_SERVICE_NAME: the stack sets its own name,
   * so copies of the stack keep their metrics and alarms apart); `eqlambda` by default.
   */
  serviceName: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(`eqlambda configuration: ${message}`);
    this.name = 'ConfigError';
  }
}

const SNS_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

export function readConfig(env: Record<string, string | undefined>): HandlerConfig {
  const topicArn = env.ALERTS_TOPIC_ARN;
  if (topicArn === undefined || topicArn === '') throw new ConfigError('ALERTS_TOPIC_ARN is required (the SNS topic alerts are published to)');
  if (topicArn.endsWith('.fifo')) throw new ConfigError(`ALERTS_TOPIC_ARN names a FIFO topic, which is not supported (alerts need no ordering): "${topicArn}"`);
  if (!SNS_ARN.test(topicArn)) throw new ConfigError(`ALERTS_TOPIC_ARN is not an SNS topic ARN: "${topicArn}"`);
  const config: HandlerConfig = { topicArn, indexByPrefix: [], safetyMarginMs: 15_000, serviceName: env.POWERTOOLS_SERVICE_NAME || DEFAULT_SERVICE_NAME };

  const max = env.MAX_ALERTS_PER_RULE;
  if (max !== undefined && max !== '') {
    if (!/^[0-9]+$/.test(max) || Number(max) < 1) throw new ConfigError(`MAX_ALERTS_PER_RULE must be a positive whole number, not "${max}"`);
    config.maxAlertsPerRule = Number(max);
  }
  const cap = env.MAX_DECOMPRESSED_BYTES;
  if (cap !== undefined && cap !== '') {
    if (!/^[0-9]+$/.test(cap) || Number(cap) < 1 || !Number.isSafeInteger(Number(cap))) throw new ConfigError(`MAX_DECOMPRESSED_BYTES must be a positive whole number of bytes, not "${cap}"`);
    config.maxDecompressedBytes = Number(cap);
  }
  if (env.DEFAULT_INDEX !== undefined && env.DEFAULT_INDEX !== '') config.defaultIndex = env.DEFAULT_INDEX;

  const map = env.INDEX_BY_PREFIX;
  if (map !== undefined && map !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(map);
    } catch {
      throw new ConfigError(`INDEX_BY_PREFIX must be a JSON object of key prefix to index name, not ${map}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
      throw new ConfigError('INDEX_BY_PREFIX must be a JSON object whose values are index names (strings)');
    }
    config.indexByPrefix = Object.entries(parsed as Record<string, string>).sort((a, b) => b[0].length - a[0].length);
  }
  // Read by Powertools' Logger, which takes any value: SILENT would drop the error logs too.
  const level = env.LOG_LEVEL;
  if (level !== undefined && level !== '' && !LOG_LEVELS.includes(level.toUpperCase())) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not "${level}"`);
  }
  const margin = env.SAFETY_MARGIN_MS;
  if (margin !== undefined && margin !== '') {
    if (!/^[0-9]+$/.test(margin)) throw new ConfigError(`SAFETY_MARGIN_MS must be a whole number of milliseconds, not "${margin}"`);
    config.safetyMarginMs = Number(margin);
  }
  return config;
}

export const DEFAULT_SERVICE_NAME = 'eqlambda';

/** The log levels the stack sets (infra/config.ts); Powertools' own CRITICAL and SILENT are not among them. */
const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** The index for an object: the longest matching key prefix, else the default. */
export function indexForKey(config: HandlerConfig, key: string): string | undefined {
  for (const [prefix, index] of config.indexByPrefix) if (key.startsWith(prefix)) return index;
  return config.defaultIndex;
}
