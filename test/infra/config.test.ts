import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, readConfig, severitiesFrom, unknownContextKeys } from '../../infra/config.js';

const read = (context: Record<string, unknown>) => readConfig((k) => context[k]);

describe('readConfig', () => {
  it('has defaults for everything', () => {
    expect(read({})).toEqual({
      prefix: '',
      suffix: '',
      logExpirationDays: 90,
      alertEmails: [],
      memorySize: 1769,
      timeoutSeconds: 300,
      logRetentionDays: RetentionDays.ONE_MONTH,
      logLevel: 'INFO',
      rulesDir: 'rules',
    });
    expect(DEFAULTS.memorySize).toBe(1769);
  });

  it('reads -c strings and cdk.json values alike', () => {
    const fromCli = read({
      logBucketName: 'my-logs',
      logBucketKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      prefix: 'edr/',
      suffix: '.json.gz',
      alertEmails: ' a@x.io, b@y.io ,',
      alertMinSeverity: 'High',
      opsEmail: 'ops@x.io',
      slackWorkspaceId: 'T0123',
      slackChannelId: 'C0123',
      memorySize: '3008',
      timeoutSeconds: '900',
      logRetentionDays: '365',
      logLevel: 'debug',
      defaultIndex: 'logs-endpoint.events.process-default',
      indexByPrefix: '{"edr/":"logs-endpoint.events.process-default"}',
      maxAlertsPerRule: '50',
      maxDecompressedBytes: '17179869184',
      rulesDir: '/abs/rules',
      reservedConcurrency: '20',
    });
    expect(fromCli).toEqual({
      logBucketName: 'my-logs',
      logBucketKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      prefix: 'edr/',
      suffix: '.json.gz',
      logExpirationDays: 90,
      alertEmails: ['a@x.io', 'b@y.io'],
      alertMinSeverity: 'high',
      opsEmail: 'ops@x.io',
      slackWorkspaceId: 'T0123',
      slackChannelId: 'C0123',
      memorySize: 3008,
      timeoutSeconds: 900,
      logRetentionDays: RetentionDays.ONE_YEAR,
      logLevel: 'DEBUG',
      defaultIndex: 'logs-endpoint.events.process-default',
      indexByPrefix: { 'edr/': 'logs-endpoint.events.process-default' },
      maxAlertsPerRule: 50,
      maxDecompressedBytes: 16 * 1024 ** 3,
      rulesDir: '/abs/rules',
      reservedConcurrency: 20,
    });
    const fromJson = read({ alertEmails: ['a@x.io'], memorySize: 2048, indexByPrefix: { 'a/': 'x' } });
    expect(fromJson).toMatchObject({ alertEmails: ['a@x.io'], memorySize: 2048, indexByPrefix: { 'a/': 'x' } });
  });

  it('subscribes an address given twice once (a second subscription of it would fail synth), keeping the first spelling', () => {
    expect(read({ alertEmails: 'soc@example.com, b@x.io, SOC@Example.com, soc@example.com' }).alertEmails).toEqual(['soc@example.com', 'b@x.io']);
  });

  it.each([
    [{ prefix: 'edr/*' }, 'context prefix: S3 notification filters are literal, not patterns: "edr/*" would match no key (use edr/ rather than edr/*)'],
    [{ suffix: '*.gz' }, 'context suffix: S3 notification filters are literal, not patterns: "*.gz" would match no key (use edr/ rather than edr/*)'],
    [{ logBucketName: 'my-logs', logExpirationDays: '7' }, 'context logExpirationDays: only applies to the bucket the stack creates; set the lifecycle of an existing bucket (logBucketName) on that bucket'],
    [{ reservedConcurrency: '0' }, 'context reservedConcurrency: expected a whole number from 1 to 10000, got "0"'],
    [{ logRetentionDays: '9999' }, 'context logRetentionDays: expected a whole number from 1 to 3653, got "9999"'],
    [{ alertEmails: 'a@x.io,not-an-email' }, 'context alertEmails: "not-an-email" is not an email address'],
    [{ opsEmail: 'ops at x.io' }, 'context opsEmail: "ops at x.io" is not an email address'],
    [{ alertMinSeverity: 'severe' }, 'context alertMinSeverity: expected one of low, medium, high, critical, got "severe"'],
    [{ memorySize: '64' }, 'context memorySize: expected a whole number from 128 to 10240, got "64"'],
    [{ memorySize: '1.5k' }, 'context memorySize: expected a whole number from 128 to 10240, got "1.5k"'],
    [{ timeoutSeconds: '901' }, 'context timeoutSeconds: expected a whole number from 3 to 900, got "901"'],
    [{ timeoutSeconds: '2' }, 'context timeoutSeconds: expected a whole number from 3 to 900, got "2"'],
    [{ logRetentionDays: '31' }, 'context logRetentionDays: CloudWatch Logs accepts 1, 3, 5, 7, 14, 30, 60, 90'],
    [{ logExpirationDays: '-1' }, 'context logExpirationDays: expected a whole number'],
    [{ maxAlertsPerRule: '0' }, 'context maxAlertsPerRule: expected a whole number from 1 to 100000, got "0"'],
    [{ maxDecompressedBytes: '64GiB' }, 'context maxDecompressedBytes: expected a whole number from 1 to 1125899906842624, got "64GiB"'],
    [{ logLevel: 'loud' }, 'context logLevel: expected one of TRACE, DEBUG, INFO, WARN, ERROR, got "loud"'],
    [{ slackWorkspaceId: 'T0123' }, 'context slackChannelId: Slack needs both slackWorkspaceId and slackChannelId'],
    [{ slackChannelId: 'C0123' }, 'context slackWorkspaceId: Slack needs both slackWorkspaceId and slackChannelId'],
    [{ logBucketName: 'My_Logs' }, 'context logBucketName: "My_Logs" is not a valid S3 bucket name'],
    [{ logBucketName: 'my-logs', logBucketKeyArn: 'alias/aws/s3' }, 'context logBucketKeyArn: "alias/aws/s3" is not a KMS key ARN'],
    [
      { logBucketKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' },
      'context logBucketKeyArn: only applies with logBucketName',
    ],
    [{ indexByPrefix: '{edr/: x}' }, 'context indexByPrefix: not valid JSON'],
    [{ indexByPrefix: '["x"]' }, 'context indexByPrefix: expected a JSON object of key prefix to index name'],
    [{ indexByPrefix: '{"edr/": 1}' }, 'context indexByPrefix: index for prefix "edr/" must be a non-empty string'],
    [{ alertEmails: { a: 1 } }, 'context alertEmails: expected a comma-separated string or a list of strings'],
  ])('rejects %j', (context, message) => {
    const run = () => read(context);
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(message);
  });
});

describe('severitiesFrom', () => {
  it('lists the severity and everything above it', () => {
    expect(severitiesFrom('low')).toEqual(['low', 'medium', 'high', 'critical']);
    expect(severitiesFrom('high')).toEqual(['high', 'critical']);
    expect(severitiesFrom('critical')).toEqual(['critical']);
  });
});

describe('unknownContextKeys', () => {
  it('reports typos but not feature flags or CDK keys', () => {
    expect(
      unknownContextKeys({
        alertEmail: 'a@x.io',
        alertEmails: 'a@x.io',
        stackName: 'Eqlambda',
        '@aws-cdk/aws-lambda:recognizeLayerVersion': true,
        'aws:cdk:bundling-stacks': ['**'],
      }),
    ).toEqual(['alertEmail']);
  });
});
