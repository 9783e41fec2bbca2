/** The synthesized template, resource by resource (bundling skipped: see bundle.test.ts). */
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../infra/config.js';
import { build, joinToText, logicalId, resource } from './helpers.js';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const FULL = {
  logBucketName: 'corp-endpoint-logs',
  logBucketKeyArn: KEY_ARN,
  prefix: 'edr/',
  suffix: '.json.gz',
  alertEmails: 'soc@example.com,lead@example.com',
  alertMinSeverity: 'high',
  opsEmail: 'ops@example.com',
  slackWorkspaceId: 'T0123ABCD',
  slackChannelId: 'C0456EFGH',
  memorySize: '3008',
  timeoutSeconds: '600',
  logRetentionDays: '90',
  logLevel: 'DEBUG',
  defaultIndex: 'logs-endpoint.events.process-default',
  indexByPrefix: '{"edr/":"logs-endpoint.events.process-default","audit/":"auditbeat-8"}',
  maxAlertsPerRule: '25',
  maxDecompressedBytes: '8589934592',
  reservedConcurrency: '20',
};

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

/** Statements of the role's inline (default) policy, sorted by Sid then first action. */
function roleStatements(template: Template, roleId: string): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } }));
  expect(policies).toHaveLength(1);
  const statements = (policies[0] as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement;
  const key = (s: Statement) => `${s.Sid ?? ''}|${([] as string[]).concat(s.Action)[0]}`;
  return [...statements].sort((a, b) => key(a).localeCompare(key(b)));
}

const getAtt = (id: string, attr = 'Arn') => ({ 'Fn::GetAtt': [id, attr] });
const objectsOf = (bucketArn: unknown, key: string) => ({ 'Fn::Join': ['', [bucketArn, `/${key}`]] });
const importedObjects = (bucket: string, key: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${bucket}/${key}`]],
});

describe('default deployment (bucket created by the stack)', () => {
  let t: Template;
  let ids: Record<'bucket' | 'fn' | 'role' | 'topic' | 'alertsKey' | 'opsTopic' | 'dlq' | 'logs' | 'batchRole', string>;
  beforeAll(() => {
    t = build().template;
    ids = {
      bucket: logicalId(t, 'AWS::S3::Bucket', 'LogBucket'),
      fn: logicalId(t, 'AWS::Lambda::Function', 'DetectorFunction'),
      role: logicalId(t, 'AWS::IAM::Role', 'DetectorRole'),
      topic: logicalId(t, 'AWS::SNS::Topic', 'AlertingAlertsTopic'),
      alertsKey: logicalId(t, 'AWS::KMS::Key', 'AlertingAlertsKey'),
      opsTopic: logicalId(t, 'AWS::SNS::Topic', 'AlertingOpsTopic'),
      dlq: logicalId(t, 'AWS::SQS::Queue', 'DeadLetterQueue'),
      logs: logicalId(t, 'AWS::Logs::LogGroup', 'DetectorLogs'),
      batchRole: logicalId(t, 'AWS::IAM::Role', 'BatchOperationsRole'),
    };
  });

  it('creates a private, encrypted, versioned log bucket with expiry, kept on stack deletion', () => {
    t.resourceCountIs('AWS::S3::Bucket', 1);
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        VersioningConfiguration: { Status: 'Enabled' },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LifecycleConfiguration: {
          Rules: [
            { Id: 'AbortIncompleteUploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } },
            { Id: 'ExpireLogs', Status: 'Enabled', ExpirationInDays: 90, NoncurrentVersionExpiration: { NoncurrentDays: 90 } },
          ],
        },
      },
    });
  });

  it('denies non-TLS (and TLS < 1.2) access to the bucket', () => {
    const bucketArn = getAtt(ids.bucket);
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: ids.bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: [bucketArn, objectsOf(bucketArn, '*')],
          },
          Match.objectLike({ Effect: 'Deny', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      },
    });
  });

  it('sends every OBJECT_CREATED event to the function', () => {
    t.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: ids.bucket },
      Managed: true,
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [{ Events: ['s3:ObjectCreated:*'], LambdaFunctionArn: getAtt(ids.fn), Filter: Match.absent() }],
      },
    });
    t.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: getAtt(ids.fn),
      Principal: 's3.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: getAtt(ids.bucket),
    });
  });

  it('runs the handler on Node.js 24, arm64, with the default memory, timeout, logging and environment', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 1769,
      Timeout: 300,
      Role: getAtt(ids.role),
      LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', LogGroup: { Ref: ids.logs } },
      Environment: {
        Variables: {
          ALERTS_TOPIC_ARN: { Ref: ids.topic },
          LOG_LEVEL: 'INFO',
          POWERTOOLS_SERVICE_NAME: 'Eqlambda', // the stack's name
          POWERTOOLS_METRICS_NAMESPACE: 'eqlambda',
          NODE_OPTIONS: '--enable-source-maps --expose-gc',
          MALLOC_ARENA_MAX: '2',
          SAFETY_MARGIN_MS: '15000',
        },
      },
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('stops reading a fifth of the timeout early when the timeout is short (else every object would stop at once)', () => {
    for (const [timeout, margin] of [['10', '2000'], ['60', '12000'], ['900', '15000']]) {
      build({ timeoutSeconds: timeout }).template.hasResourceProperties('AWS::Lambda::Function', {
        Timeout: Number(timeout),
        Environment: { Variables: Match.objectLike({ SAFETY_MARGIN_MS: margin }) },
      });
    }
  });

  it('retries async invocations twice, then sends them to the dead-letter queue', () => {
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ids.fn },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: getAtt(ids.dlq) } },
    });
  });

  it('keeps failed events 14 days in an encrypted, SSL-only queue', () => {
    t.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: ids.dlq }],
      PolicyDocument: {
        Statement: [Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } })],
      },
    });
  });

  it('encrypts the alerts topic with a rotating CMK and denies non-SSL publishers', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: getAtt(ids.alertsKey) });
    t.hasResourceProperties('AWS::KMS::Key', { Description: 'eqlambda detection alerts topic', EnableKeyRotation: true });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: ids.topic }],
      PolicyDocument: {
        Statement: [
          {
            Sid: 'AllowPublishThroughSSLOnly',
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Resource: { Ref: ids.topic },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      },
    });
    t.resourceCountIs('AWS::SNS::Subscription', 0);
    t.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);
  });

  it('gives the function exactly: its log group, the DLQ, sns:Publish on the topic, its key, object reads and bucket listing', () => {
    expect(roleStatements(t, ids.role)).toEqual([
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: getAtt(ids.logs) },
      { Effect: 'Allow', Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], Resource: getAtt(ids.dlq) },
      { Sid: 'PublishAlerts', Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: ids.topic } },
      { Sid: 'ReadLogObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: objectsOf(getAtt(ids.bucket), '*') },
      // So that S3 answers 404, not 403, for an object deleted before it was read.
      { Sid: 'TellMissingObjects', Effect: 'Allow', Action: 's3:ListBucket', Resource: getAtt(ids.bucket) },
      { Sid: 'UseAlertsTopicKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: getAtt(ids.alertsKey) },
    ]);
    const role = resource(t, 'AWS::IAM::Role', 'DetectorRole');
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    });
  });

  it('lets S3 Batch Operations invoke the function and read manifests / write reports in the bucket only', () => {
    const role = resource(t, 'AWS::IAM::Role', 'BatchOperationsRole');
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'batchoperations.s3.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    });
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(roleStatements(t, ids.batchRole)).toEqual([
      { Sid: 'InvokeDetector', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: getAtt(ids.fn) },
      { Sid: 'LocateBucket', Effect: 'Allow', Action: 's3:GetBucketLocation', Resource: getAtt(ids.bucket) },
      { Sid: 'ReadManifestsAndObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: objectsOf(getAtt(ids.bucket), '*') },
      { Sid: 'WriteReports', Effect: 'Allow', Action: 's3:PutObject', Resource: objectsOf(getAtt(ids.bucket), 'eqlambda-batch-reports/*') },
    ]);
  });

  it('has no wildcard action and no `*` resource in any inline policy', () => {
    for (const [id, policy] of Object.entries(t.findResources('AWS::IAM::Policy'))) {
      for (const s of (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement) {
        for (const action of ([] as string[]).concat(s.Action)) expect(action, `${id} ${action}`).not.toContain('*');
        expect(([] as unknown[]).concat(s.Resource), id).not.toContain('*');
      }
    }
    // No managed policy: CDK gives its notification custom resource AWSLambdaBasicExecutionRole
    // (log writes on `*`), replaced by writes to its own log group.
    const managed = Object.values(t.findResources('AWS::IAM::Role')).flatMap((r) => (r as { Properties: { ManagedPolicyArns?: unknown[] } }).Properties.ManagedPolicyArns ?? []);
    expect(managed).toEqual([]);
  });

  it('alarms on errors, throttles, DLQ depth, duration near timeout, publish failures, objects not fully scanned and lost events, notifying the ops topic', () => {
    t.resourceCountIs('AWS::CloudWatch::Alarm', 7);
    const alarm = (props: Record<string, unknown>) =>
      t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: ids.opsTopic }], EvaluationPeriods: 1, ...props });
    const fnDims = [{ Name: 'FunctionName', Value: { Ref: ids.fn } }];
    alarm({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: fnDims, Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    alarm({ Namespace: 'AWS/Lambda', MetricName: 'Throttles', Dimensions: fnDims, Statistic: 'Sum', Threshold: 1 });
    alarm({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(ids.dlq, 'QueueName') }],
      Statistic: 'Maximum',
      Threshold: 1,
      TreatMissingData: 'ignore',
    });
    alarm({ Namespace: 'AWS/Lambda', MetricName: 'Duration', Dimensions: fnDims, Statistic: 'Maximum', Threshold: 240_000 });
    alarm({
      Namespace: 'eqlambda',
      MetricName: 'PublishFailures',
      Dimensions: [{ Name: 'service', Value: 'Eqlambda' }],
      Statistic: 'Sum',
      Threshold: 1,
    });
    alarm({ Namespace: 'eqlambda', MetricName: 'ObjectErrors', Dimensions: [{ Name: 'service', Value: 'Eqlambda' }], Statistic: 'Sum', Threshold: 1 });
    alarm({ Namespace: 'AWS/Lambda', MetricName: 'DestinationDeliveryFailures', Dimensions: fnDims, Statistic: 'Sum', Threshold: 1 });
  });

  it('reserves no concurrency unless asked (reservedConcurrency)', () => {
    t.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', ReservedConcurrentExecutions: Match.absent() });
  });

  it('lets only this account’s CloudWatch alarms publish to the CMK-encrypted ops topic', () => {
    const condition = {
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: { 'aws:SourceArn': Match.anyValue() },
    };
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: ids.opsTopic }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'AllowPublishThroughSSLOnly', Effect: 'Deny' }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Condition: condition }),
        ]),
      },
    });
    t.hasResourceProperties('AWS::KMS::Key', {
      Description: 'eqlambda operational alarms topic',
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Condition: condition }),
        ]),
      },
    });
  });

  it('has a dashboard with throughput, alerts per rule, skipped lines by reason, errors, duration and concurrency', () => {
    const body = JSON.parse(joinToText(resource(t, 'AWS::CloudWatch::Dashboard', 'MonitoringDashboard').Properties.DashboardBody)) as {
      widgets: { properties: { title: string; metrics?: unknown[][] } }[];
    };
    const widgets = new Map(body.widgets.map((w) => [w.properties.title, JSON.stringify(w.properties.metrics ?? w.properties)]));
    expect([...widgets.keys()]).toEqual(['Bytes scanned', 'Lines scanned', 'Alerts per rule', 'Skipped lines by reason', 'Errors', 'Duration (ms)', 'Concurrency', 'Alarms']);
    expect(widgets.get('Bytes scanned')).toContain('"eqlambda","BytesScanned","service","Eqlambda"');
    expect(widgets.get('Lines scanned')).toContain('"eqlambda","LinesScanned","service","Eqlambda"');
    expect(widgets.get('Alerts per rule')).toContain(`SEARCH('{eqlambda,rule,service} MetricName=\\"AlertsPublished\\" service=\\"Eqlambda\\"', 'Sum', 300)`);
    expect(widgets.get('Skipped lines by reason')).toContain(`SEARCH('{eqlambda,reason,service} MetricName=\\"LinesSkipped\\" service=\\"Eqlambda\\"', 'Sum', 300)`);
    expect(widgets.get('Errors')).toMatch(/"AWS\/Lambda","Errors".*"ObjectErrors".*"PublishFailures".*"ApproximateNumberOfMessagesVisible"/);
    expect(widgets.get('Duration (ms)')).toMatch(/"AWS\/Lambda","Duration".*"ScanDurationMs"/);
    expect(widgets.get('Concurrency')).toMatch(/"ConcurrentExecutions".*"Invocations".*"Throttles"/);
  });

  it('outputs the backfill role, the dead-letter queue URL and the other names operators need', () => {
    t.hasOutput('BatchOperationsRoleArn', { Value: getAtt(ids.batchRole) });
    t.hasOutput('DeadLetterQueueUrl', { Value: { Ref: ids.dlq } });
    t.hasOutput('DeadLetterQueueArn', { Value: getAtt(ids.dlq) });
    t.hasOutput('FunctionName', { Value: { Ref: ids.fn } });
    t.hasOutput('FunctionArn', { Value: getAtt(ids.fn) });
    t.hasOutput('AlertsTopicArn', { Value: { Ref: ids.topic } });
    t.hasOutput('OpsTopicArn', { Value: { Ref: ids.opsTopic } });
    t.hasOutput('LogBucketName', { Value: { Ref: ids.bucket } });
    t.hasOutput('BatchReportPrefix', Match.anyValue());
    t.hasOutput('DashboardName', Match.anyValue());
  });
});

describe('existing bucket, filters, subscriptions and Slack from context', () => {
  let t: Template;
  beforeAll(() => {
    t = build(FULL).template;
  });

  it('creates no bucket and only adds the filtered notification to the existing one', () => {
    t.resourceCountIs('AWS::S3::Bucket', 0);
    t.resourceCountIs('AWS::S3::BucketPolicy', 0);
    const fn = logicalId(t, 'AWS::Lambda::Function', 'DetectorFunction');
    t.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: 'corp-endpoint-logs',
      Managed: false, // keeps the bucket's other notifications
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            LambdaFunctionArn: getAtt(fn),
            Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: '.json.gz' }, { Name: 'prefix', Value: 'edr/' }] } },
          },
        ],
      },
    });
    t.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 's3.amazonaws.com',
      SourceArn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::corp-endpoint-logs']] },
    });
  });

  it('reads objects under the prefix only, and decrypts with the bucket key only through S3', () => {
    const statements = roleStatements(t, logicalId(t, 'AWS::IAM::Role', 'DetectorRole'));
    expect(statements.find((s) => s.Sid === 'ReadLogObjects')).toEqual({
      Sid: 'ReadLogObjects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:GetObjectVersion'],
      Resource: importedObjects('corp-endpoint-logs', 'edr/*'),
    });
    expect(statements.find((s) => s.Sid === 'UseLogBucketKeyThroughS3')).toEqual({
      Sid: 'UseLogBucketKeyThroughS3',
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: KEY_ARN,
      // The partition's domain from CloudFormation: s3.cn-north-1.amazonaws.com.cn in China.
      Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]] } } },
    });
    expect(statements.find((s) => s.Sid === 'TellMissingObjects')).toEqual({
      Sid: 'TellMissingObjects',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::corp-endpoint-logs']] },
    });
    expect(statements).toHaveLength(7);
    const batch = roleStatements(t, logicalId(t, 'AWS::IAM::Role', 'BatchOperationsRole'));
    expect(batch.map((s) => [s.Sid, s.Action])).toEqual([
      ['InvokeDetector', 'lambda:InvokeFunction'],
      ['LocateBucket', 's3:GetBucketLocation'],
      ['ReadManifestsAndObjects', ['s3:GetObject', 's3:GetObjectVersion']],
      ['UseLogBucketKeyThroughS3', ['kms:Decrypt', 'kms:GenerateDataKey']],
      ['WriteReports', 's3:PutObject'],
    ]);
    expect(batch.find((s) => s.Sid === 'ReadManifestsAndObjects')?.Resource).toEqual(importedObjects('corp-endpoint-logs', '*'));
  });

  it('applies memory, timeout, reserved concurrency, retention, log level and the routing settings', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      MemorySize: 3008,
      Timeout: 600,
      ReservedConcurrentExecutions: 20,
      LoggingConfig: Match.objectLike({ ApplicationLogLevel: 'DEBUG' }),
      Environment: {
        Variables: Match.objectLike({
          LOG_LEVEL: 'DEBUG',
          DEFAULT_INDEX: 'logs-endpoint.events.process-default',
          INDEX_BY_PREFIX: '{"edr/":"logs-endpoint.events.process-default","audit/":"auditbeat-8"}',
          MAX_ALERTS_PER_RULE: '25',
          MAX_DECOMPRESSED_BYTES: '8589934592',
        }),
      },
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Duration', Threshold: 480_000 });
  });

  it('subscribes each email with a severity filter, and the ops email without one', () => {
    const alerts = logicalId(t, 'AWS::SNS::Topic', 'AlertingAlertsTopic');
    const ops = logicalId(t, 'AWS::SNS::Topic', 'AlertingOpsTopic');
    t.resourceCountIs('AWS::SNS::Subscription', 3);
    for (const email of ['soc@example.com', 'lead@example.com']) {
      t.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: email,
        TopicArn: { Ref: alerts },
        FilterPolicy: { severity: ['high', 'critical'] },
      });
    }
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: { Ref: ops }, FilterPolicy: Match.absent() });
  });

  it('adds a notification-only Slack channel for both topics', () => {
    t.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SlackWorkspaceId: 'T0123ABCD',
      SlackChannelId: 'C0456EFGH',
      SnsTopicArns: [{ Ref: logicalId(t, 'AWS::SNS::Topic', 'AlertingAlertsTopic') }, { Ref: logicalId(t, 'AWS::SNS::Topic', 'AlertingOpsTopic') }],
      GuardrailPolicies: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AWSDenyAll']] }],
    });
    const slackRole = resource(t, 'AWS::IAM::Role', 'AlertingSlackConfigurationRole');
    expect(slackRole.Properties.ManagedPolicyArns).toBeUndefined();
    expect(t.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: slackRole.id }] } })).toEqual({});
  });
});

describe('an alert address given twice', () => {
  it('synthesizes one subscription for it', () => {
    const { template: t } = build({ alertEmails: 'soc@example.com,SOC@example.com' });
    t.resourcePropertiesCountIs('AWS::SNS::Subscription', { Protocol: 'email' }, 1);
  });
});

describe('alert subscriptions without a minimum severity, and no expiry', () => {
  it('subscribes without a filter policy and keeps objects forever', () => {
    const { template: t } = build({ alertEmails: 'soc@example.com', logExpirationDays: '0' });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'soc@example.com', FilterPolicy: Match.absent() });
    t.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ Id: 'AbortIncompleteUploads' })] }, // and no ExpireLogs
    });
  });
});

describe('the KMS key of an existing bucket (logBucketKeyArn) against the stack region', () => {
  const existing = { logBucketName: 'corp-endpoint-logs', logBucketKeyArn: KEY_ARN }; // key in eu-west-1

  it('refuses a key in another region than the stack, at synth, naming both regions', () => {
    const run = () => build(existing, { env: { account: '123456789012', region: 'us-east-1' } });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(
      "context logBucketKeyArn: the key is in eu-west-1 but the stack deploys to us-east-1: an SSE-KMS bucket's key is in the bucket's region, and the function reads the bucket in the stack's region (S3 notifies functions in its own region only). Deploy to eu-west-1 (AWS_REGION or your profile's region), or give the bucket's own key",
    );
  });

  it("refuses a key ARN whose partition is not the stack region's (an ARN that names no key)", () => {
    const chinaKey = 'arn:aws:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const run = () => build({ ...existing, logBucketKeyArn: chinaKey }, { env: { account: '123456789012', region: 'cn-north-1' } });
    expect(run).toThrow("context logBucketKeyArn: the key ARN's partition is aws but cn-north-1 is in aws-cn: write it arn:aws-cn:kms:...");
    expect(() => build({ ...existing, logBucketKeyArn: chinaKey.replace('arn:aws:', 'arn:aws-cn:') }, { env: { account: '123456789012', region: 'cn-north-1' } })).not.toThrow();
  });

  it('accepts a key in the stack region, and leaves an env-agnostic stack (unresolved region) alone', () => {
    expect(() => build(existing, { env: { region: 'eu-west-1' } })).not.toThrow();
    expect(() => build(existing)).not.toThrow();
    expect(() => build(existing, { env: { account: '123456789012' } })).not.toThrow();
  });
});

describe('copies of the stack in one account and region (stackName)', () => {
  it("logs and counts under the stack's own name, and its alarms and dashboard read only its own metrics", () => {
    const { template: t } = build({}, { stackName: 'EqlambdaStaging' });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'EqlambdaStaging' }) } });
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')) as { Properties: { Namespace?: string; Dimensions?: unknown } }[];
    const ours = alarms.filter((a) => a.Properties.Namespace === 'eqlambda');
    expect(ours).toHaveLength(2);
    for (const a of ours) expect(a.Properties.Dimensions).toEqual([{ Name: 'service', Value: 'EqlambdaStaging' }]);
    const body = joinToText(resource(t, 'AWS::CloudWatch::Dashboard', 'MonitoringDashboard').Properties.DashboardBody);
    expect(body).toContain('"service","EqlambdaStaging"');
    expect(body).toContain('service=\\"EqlambdaStaging\\"');
    expect(body).not.toMatch(/"service","Eqlambda"|service=\\"Eqlambda\\"/);
  });
});

describe('routing settings that select no rule', () => {
  it('warn at synth, naming the index (a slip would send objects to no rule at all)', () => {
    const { stack } = build({ defaultIndex: 'Logs-endpoint.events.process-default', indexByPrefix: '{"edr/":"logs-endpoint.events.process-default","win/":"winlogbeat"}' });
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('selects none'));
    expect(warnings.map((w) => String(w.entry.data)).sort()).toEqual([
      expect.stringMatching(/^index Logs-endpoint\.events\.process-default \(defaultIndex or indexByPrefix\) selects none of the 2 rule\(s\): events routed to it are not evaluated/),
      expect.stringMatching(/^index winlogbeat \(defaultIndex or indexByPrefix\) selects none of the 2 rule\(s\)/),
    ]);
  });
});

describe("the function's environment against Lambda's 4 KB limit", () => {
  const prefixes = (n: number) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`tenant-${String(i).padStart(3, '0')}/edr/`, 'logs-endpoint.events.process-default'])));

  it('refuses at synth a prefix map Lambda would refuse at deploy time, naming the key', () => {
    const run = () => build({ indexByPrefix: prefixes(80) });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/^context indexByPrefix: the function's environment would take about \d+ bytes, and Lambda allows 4096 in all/);
  });

  it('measures as Lambda does, the JSON of the whole map, with room for the longest topic ARN', () => {
    const sizeWithLongestArn = (n: number): number | undefined => {
      let vars: Record<string, unknown>;
      try {
        const { template: t } = build({ indexByPrefix: prefixes(n) });
        vars = (resource(t, 'AWS::Lambda::Function', 'DetectorFunction').Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return undefined;
      }
      const arn = `arn:aws-us-gov:sns:us-gov-west-1:123456789012:${'t'.repeat(256)}`;
      return Buffer.byteLength(JSON.stringify(Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? v : arn]))));
    };
    // The largest map synth accepts fits Lambda's measure; one more prefix is refused.
    let n = 40;
    while (sizeWithLongestArn(n + 1) !== undefined) n++;
    expect(sizeWithLongestArn(n)).toBeLessThanOrEqual(4096);
    expect(sizeWithLongestArn(n)! + 60).toBeGreaterThan(4096); // and it is refused only near the limit
  });
});

describe('log levels above INFO (logLevel WARN or ERROR)', () => {
  it.each(['WARN', 'ERROR'])(
    "%s: Powertools applies it, and Lambda's filter is left off (it would drop the EMF metric lines, which carry no level, and the alarms on them)",
    (level) => {
      const { template: t } = build({ logLevel: level });
      const fn = resource(t, 'AWS::Lambda::Function', 'DetectorFunction').Properties as { LoggingConfig: Record<string, unknown>; Environment: { Variables: Record<string, unknown> } };
      expect(fn.LoggingConfig.LogFormat).toBe('Text');
      expect(fn.LoggingConfig.ApplicationLogLevel).toBeUndefined();
      expect(fn.LoggingConfig.SystemLogLevel).toBeUndefined();
      expect(fn.Environment.Variables.LOG_LEVEL).toBe(level);
    },
  );

  it.each(['TRACE', 'DEBUG', 'INFO'])('%s: JSON logs with Lambda filtering at the same level', (level) => {
    const { template: t } = build({ logLevel: level });
    const fn = resource(t, 'AWS::Lambda::Function', 'DetectorFunction').Properties as { LoggingConfig: Record<string, unknown> };
    expect(fn.LoggingConfig).toMatchObject({ LogFormat: 'JSON', ApplicationLogLevel: level });
  });
});

describe('logs of the S3 notifications custom resource handler (CDK singleton)', () => {
  const HANDLER = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

  it.each([
    ['bucket created by the stack', {}, 30],
    ['existing bucket', FULL, 90],
    ['existing bucket, one day', { logBucketName: 'corp-endpoint-logs', logRetentionDays: '1' }, 1],
  ])('%s: it logs to a log group of the stack, with the stack retention', (_name, context, days) => {
    const { template: t } = build(context);
    const handlerId = logicalId(t, 'AWS::Lambda::Function', HANDLER);
    const handler = t.toJSON().Resources[handlerId] as { Properties: { LoggingConfig?: { LogGroup?: unknown } } };
    const groupRef = handler.Properties.LoggingConfig?.LogGroup as { Ref: string } | undefined;
    expect(groupRef).toEqual({ Ref: expect.any(String) });
    const group = t.toJSON().Resources[groupRef!.Ref] as { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
    expect(group.Type).toBe('AWS::Logs::LogGroup');
    // Same settings as the detector's own log group: retention, no CMK, kept on stack deletion.
    const own = resource(t, 'AWS::Logs::LogGroup', 'DetectorLogs');
    expect(group.Properties).toEqual(own.Properties);
    expect(group.Properties.RetentionInDays).toBe(days);
    expect(group.DeletionPolicy).toBe(t.toJSON().Resources[own.id].DeletionPolicy);
    // A name of its own: a group Lambda made for the handler before (/aws/lambda/<name>) must not clash on update.
    expect(group.Properties.LogGroupName).toBeUndefined();
    // Its role may write that group's logs and nothing else (no AWSLambdaBasicExecutionRole: writes on `*`).
    const role = (handler as unknown as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } }).Properties.Role['Fn::GetAtt'][0];
    expect((t.toJSON().Resources[role] as { Properties: { ManagedPolicyArns?: unknown } }).Properties.ManagedPolicyArns).toBeUndefined();
    const statements = Object.values(t.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes(role))
      .flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement);
    const logStatements = statements.filter((st) => ([] as string[]).concat(st.Action).some((a) => a.startsWith('logs:')));
    expect(logStatements).toEqual([{ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [groupRef!.Ref, 'Arn'] } }]);
  });
});
