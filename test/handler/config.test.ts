import { describe, expect, it } from 'vitest';
import { ConfigError, indexForKey, readConfig } from '../../lambda/handler/config.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:eqlambda-alerts';

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    readConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('readConfig accepted the environment');
}

describe('readConfig', () => {
  it('needs only the topic and has defaults for the rest', () => {
    expect(readConfig({ ALERTS_TOPIC_ARN: TOPIC })).toEqual({ topicArn: TOPIC, indexByPrefix: [], safetyMarginMs: 15_000, serviceName: 'eqlambda' });
  });

  it('reads every setting', () => {
    const config = readConfig({
      ALERTS_TOPIC_ARN: 'arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts_1',
      MAX_ALERTS_PER_RULE: '25',
      MAX_DECOMPRESSED_BYTES: '10737418240',
      DEFAULT_INDEX: 'logs-endpoint.events.process-default',
      INDEX_BY_PREFIX: JSON.stringify({ 'auditbeat/': 'auditbeat-8.11.1', 'auditbeat/s1/': 'logs-sentinel_one_cloud_funnel.event-default', 'endgame/': 'endgame-8.0.0' }),
      SAFETY_MARGIN_MS: '5000',
      POWERTOOLS_SERVICE_NAME: 'EqlambdaStaging',
    });
    expect(config).toEqual({
      topicArn: 'arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts_1',
      maxAlertsPerRule: 25,
      maxDecompressedBytes: 10 * 1024 ** 3,
      defaultIndex: 'logs-endpoint.events.process-default',
      // longest prefix first
      indexByPrefix: [
        ['auditbeat/s1/', 'logs-sentinel_one_cloud_funnel.event-default'],
        ['auditbeat/', 'auditbeat-8.11.1'],
        ['endgame/', 'endgame-8.0.0'],
      ],
      safetyMarginMs: 5000,
      serviceName: 'EqlambdaStaging',
    });
    expect(indexForKey(config, 'auditbeat/s1/x.gz')).toBe('logs-sentinel_one_cloud_funnel.event-default');
    expect(indexForKey(config, 'auditbeat/x.gz')).toBe('auditbeat-8.11.1');
    expect(indexForKey(config, 'other/x.gz')).toBe('logs-endpoint.events.process-default');
    expect(indexForKey(readConfig({ ALERTS_TOPIC_ARN: TOPIC }), 'other/x.gz')).toBeUndefined();
  });

  it('treats empty values as unset', () => {
    expect(readConfig({ ALERTS_TOPIC_ARN: TOPIC, MAX_ALERTS_PER_RULE: '', MAX_DECOMPRESSED_BYTES: '', DEFAULT_INDEX: '', INDEX_BY_PREFIX: '', SAFETY_MARGIN_MS: '', POWERTOOLS_SERVICE_NAME: '' })).toEqual({
      topicArn: TOPIC,
      indexByPrefix: [],
      safetyMarginMs: 15_000,
      serviceName: 'eqlambda',
    });
  });

  it('requires ALERTS_TOPIC_ARN', () => {
    expect(configError({}).message).toBe('eqlambda configuration: ALERTS_TOPIC_ARN is required (the SNS topic alerts are published to)');
    expect(configError({ ALERTS_TOPIC_ARN: '' }).message).toContain('ALERTS_TOPIC_ARN is required');
  });

  it.each([
    'eqlambda-alerts',
    'arn:aws:sqs:us-east-1:123456789012:queue',
    'arn:aws:sns:us-east-1:12345:alerts',
    'arn:aws:sns:us-east-1:123456789012:alerts with space',
    'arn:aws:sns:us-east-1:123456789012:alerts/x',
    'arn:aws:sns:us-east-1:123456789012:',
    ` ${TOPIC}`,
  ])('rejects ALERTS_TOPIC_ARN %j with a clear message', (arn) => {
    const err = configError({ ALERTS_TOPIC_ARN: arn });
    expect(err.name).toBe('ConfigError');
    expect(err.message).toBe(`eqlambda configuration: ALERTS_TOPIC_ARN is not an SNS topic ARN: "${arn}"`);
  });

  it.each(['0', '-1', '1.5', 'ten', '1e3', ' 5'])('rejects MAX_ALERTS_PER_RULE %j', (value) => {
    expect(configError({ ALERTS_TOPIC_ARN: TOPIC, MAX_ALERTS_PER_RULE: value }).message).toBe(`eqlambda configuration: MAX_ALERTS_PER_RULE must be a positive whole number, not "${value}"`);
  });

  it.each(['0', '-1', '1.5', '64GiB', '1e9', '99999999999999999999'])('rejects MAX_DECOMPRESSED_BYTES %j', (value) => {
    expect(configError({ ALERTS_TOPIC_ARN: TOPIC, MAX_DECOMPRESSED_BYTES: value }).message).toBe(
      `eqlambda configuration: MAX_DECOMPRESSED_BYTES must be a positive whole number of bytes, not "${value}"`,
    );
  });

  it('rejects INDEX_BY_PREFIX that is not JSON', () => {
    expect(configError({ ALERTS_TOPIC_ARN: TOPIC, INDEX_BY_PREFIX: 'auditbeat/=auditbeat-8' }).message).toBe(
      'eqlambda configuration: INDEX_BY_PREFIX must be a JSON object of key prefix to index name, not auditbeat/=auditbeat-8',
    );
  });

  it.each(['[["a/","b"]]', '"auditbeat-8"', 'null', '{"a/": 1}', '{"a/": {"index": "x"}}'])('rejects INDEX_BY_PREFIX %s that is not an object of strings', (value) => {
    expect(configError({ ALERTS_TOPIC_ARN: TOPIC, INDEX_BY_PREFIX: value }).message).toBe(
      'eqlambda configuration: INDEX_BY_PREFIX must be a JSON object whose values are index names (strings)',
    );
  });

  it('rejects a SAFETY_MARGIN_MS that is not whole milliseconds', () => {
    expect(configError({ ALERTS_TOPIC_ARN: TOPIC, SAFETY_MARGIN_MS: '15s' }).message).toBe('eqlambda configuration: SAFETY_MARGIN_MS must be a whole number of milliseconds, not "15s"');
  });

  it('accepts the log levels the stack sets (any case) and rejects the rest, SILENT included', () => {
    for (const level of ['TRACE', 'debug', 'Info', 'WARN', 'error']) expect(() => readConfig({ ALERTS_TOPIC_ARN: TOPIC, LOG_LEVEL: level })).not.toThrow();
    for (const level of ['SILENT', 'VERBOSE', 'CRITICAL']) {
      expect(configError({ ALERTS_TOPIC_ARN: TOPIC, LOG_LEVEL: level }).message).toBe(`eqlambda configuration: LOG_LEVEL must be one of TRACE, DEBUG, INFO, WARN, ERROR, not "${level}"`);
    }
  });
});
