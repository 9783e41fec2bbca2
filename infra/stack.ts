/**
 * eqlambda: S3 log bucket → detector function → SNS alerts, with a dead-letter queue
 * for replay, an S3 Batch Operations role for backfills, alarms and a dashboard.
 */
import { Arn, ArnFormat, CfnOutput, CfnResource, Duration, RemovalPolicy, Stack, Token, Validations, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { Alerting } from './alerting.js';
import { BATCH_REPORT_PREFIX, ConfigError, type EqlambdaConfig } from './config.js';
import { Detector, functionLogGroupProps } from './detector.js';
import { Monitoring } from './monitoring.js';
import { acknowledgeFindings, NOTIFICATIONS_HANDLER_ID } from './nag.js';

/** Repository root: lambda/, rules/ and package-lock.json live here. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Lambda's async queue keeps retrying throttled events this long before the dead-letter queue. */
export const MAX_EVENT_AGE = Duration.hours(6);
export const RETRY_ATTEMPTS = 2;

export interface EqlambdaStackProps extends StackProps {
  config: EqlambdaConfig;
  /** Defaults to this repository. */
  projectRoot?: string;
}

export class EqlambdaStack extends Stack {
  readonly bucket: s3.IBucket;
  readonly alerting: Alerting;
  readonly detector: Detector;
  readonly deadLetterQueue: sqs.Queue;
  readonly batchRole: iam.Role;
  readonly monitoring: Monitoring;
  /** Log group of CDK's bucket-notifications handler, which would otherwise keep its logs forever. */
  readonly notificationsHandlerLogGroup?: logs.LogGroup;

  constructor(scope: Construct, id: string, props: EqlambdaStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.checkBucketKeyRegion(config);

    this.bucket = config.logBucketName === undefined ? this.createLogBucket(config) : s3.Bucket.fromBucketName(this, 'LogBucket', config.logBucketName);
    this.alerting = new Alerting(this, 'Alerting', config);
    this.detector = new Detector(this, 'Detector', {
      config,
      projectRoot: props.projectRoot ?? PROJECT_ROOT,
      alertsTopicArn: this.alerting.alertsTopic.topicArn,
    });
    const { fn, role } = this.detector;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    fn.configureAsyncInvoke({
      retryAttempts: RETRY_ATTEMPTS,
      maxEventAge: MAX_EVENT_AGE,
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });

    // Least privilege, written out: the grant helpers would add wildcard actions (s3:GetObject*, kms:GenerateDataKey*).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PublishAlerts',
        actions: ['sns:Publish'],
        resources: [this.alerting.alertsTopic.topicArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'UseAlertsTopicKey',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.alerting.alertsKey.keyArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadLogObjects',
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [this.bucket.arnForObjects(`${config.prefix}*`)],
      }),
    );
    // Without s3:ListBucket, S3 answers GetObject on a deleted object with 403 AccessDenied
    // instead of 404: the handler could not tell "gone" (log, count, done) from a real
    // permission problem (retry, dead-letter queue). Bucket-level, it reveals key names only.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TellMissingObjects',
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
      }),
    );
    if (config.logBucketKeyArn !== undefined) role.addToPrincipalPolicy(this.bucketKeyStatement(config.logBucketKeyArn, ['kms:Decrypt']));

    const filter: s3.NotificationKeyFilter = {
      ...(config.prefix === '' ? {} : { prefix: config.prefix }),
      ...(config.suffix === '' ? {} : { suffix: config.suffix }),
    };
    const filters = filter.prefix === undefined && filter.suffix === undefined ? [] : [filter];
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(fn), ...filters);
    this.notificationsHandlerLogGroup = this.createNotificationsHandlerLogGroup(config);

    this.batchRole = this.createBatchOperationsRole(config);
    this.monitoring = new Monitoring(this, 'Monitoring', {
      fn,
      timeout: Duration.seconds(config.timeoutSeconds),
      deadLetterQueue: this.deadLetterQueue,
      opsTopic: this.alerting.opsTopic,
    });
    acknowledgeFindings(this, config);

    const output = (outputId: string, value: string, description: string): void => {
      new CfnOutput(this, outputId, { value, description });
    };
    output('LogBucketName', this.bucket.bucketName, 'Bucket whose new objects are scanned');
    output('FunctionName', fn.functionName, 'Detector function');
    output('FunctionArn', fn.functionArn, 'Detector function (S3 Batch Operations LambdaInvoke target)');
    output('AlertsTopicArn', this.alerting.alertsTopic.topicArn, 'Detections are published here');
    output('OpsTopicArn', this.alerting.opsTopic.topicArn, 'CloudWatch alarms are published here');
    output('DeadLetterQueueUrl', this.deadLetterQueue.queueUrl, 'Failed S3 events; `eqlambda replay` reads this queue');
    output('DeadLetterQueueArn', this.deadLetterQueue.queueArn, 'Failed S3 events');
    output('BatchOperationsRoleArn', this.batchRole.roleArn, 'Role for S3 Batch Operations backfill jobs');
    output('BatchReportPrefix', `s3://${this.bucket.bucketName}/${BATCH_REPORT_PREFIX}`, 'Where backfill job completion reports may be written');
    output('DashboardName', this.monitoring.dashboard.dashboardName, 'CloudWatch dashboard');
  }

  private createLogBucket(config: EqlambdaConfig): s3.Bucket {
    const bucket = new s3.Bucket(this, 'LogBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN, // logs are evidence: never deleted with the stack
      lifecycleRules: [
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
        ...(config.logExpirationDays === 0
          ? []
          : [
              {
                id: 'ExpireLogs',
                expiration: Duration.days(config.logExpirationDays),
                noncurrentVersionExpiration: Duration.days(config.logExpirationDays),
              },
            ]),
      ],
    });
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'The bucket holds endpoint logs written by log shippers and read only by the detector; an access-log bucket would itself need S1 acknowledged. Enable CloudTrail S3 data events for object-level audit.',
    });
    return bucket;
  }

  /**
   * CDK's singleton function behind Custom::S3BucketNotifications has no log group of its own:
   * Lambda would create /aws/lambda/<name> on its first run and keep its logs forever. It logs to
   * this one instead (LoggingConfig), with the detector's log settings, and may write nowhere else.
   * A group Lambda created for it before is left alone, so a stack deployed earlier updates
   * without a manual step.
   */
  private createNotificationsHandlerLogGroup(config: EqlambdaConfig): logs.LogGroup | undefined {
    const handler = this.node.tryFindChild(NOTIFICATIONS_HANDLER_ID)?.node.tryFindChild('Resource');
    if (!(handler instanceof CfnResource)) return undefined;
    const logGroup = new logs.LogGroup(this, 'BucketNotificationsHandlerLogs', functionLogGroupProps(config));
    handler.addPropertyOverride('LoggingConfig', { LogGroup: logGroup.logGroupName });
    // Its role gets AWSLambdaBasicExecutionRole (logs:CreateLogGroup and writes on `*`): it
    // writes to this group only, so that is all it may write to.
    const role = this.node.tryFindChild(NOTIFICATIONS_HANDLER_ID)?.node.tryFindChild('Role');
    if (role instanceof iam.Role) {
      (role.node.defaultChild as iam.CfnRole).managedPolicyArns = undefined;
      logGroup.grantWrite(role);
    }
    return logGroup;
  }

  /** S3 Batch Operations assumes this role to invoke the function on each manifest object (backfill). */
  private createBatchOperationsRole(config: EqlambdaConfig): iam.Role {
    const role = new iam.Role(this, 'BatchOperationsRole', {
      assumedBy: new iam.ServicePrincipal('batchoperations.s3.amazonaws.com'),
      description: 'S3 Batch Operations backfill jobs: invoke the eqlambda detector',
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'InvokeDetector', actions: ['lambda:InvokeFunction'], resources: [this.detector.fn.functionArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadManifestsAndObjects',
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'WriteReports', actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(`${BATCH_REPORT_PREFIX}*`)] }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'LocateBucket', actions: ['s3:GetBucketLocation'], resources: [this.bucket.bucketArn] }));
    if (config.logBucketKeyArn !== undefined) {
      role.addToPrincipalPolicy(this.bucketKeyStatement(config.logBucketKeyArn, ['kms:Decrypt', 'kms:GenerateDataKey']));
    }
    return role;
  }

  /**
   * An SSE-KMS bucket's key is in the bucket's region, and S3 notifies only functions in its own
   * region: a key from another region (or partition) than the stack's cannot be the right one. Checked only when
   * the stack's region is known (an env-agnostic stack has a token; the CLI always sets one).
   */
  private checkBucketKeyRegion(config: EqlambdaConfig): void {
    if (config.logBucketKeyArn === undefined || Token.isUnresolved(this.region)) return;
    const { region: keyRegion, partition: keyPartition } = Arn.split(config.logBucketKeyArn, ArnFormat.SLASH_RESOURCE_NAME);
    // The region's partition (aws, aws-cn, aws-us-gov...): a key ARN of another one names no key there.
    const partition = RegionInfo.get(this.region).partition;
    if (keyRegion === this.region && partition !== undefined && keyPartition !== partition) {
      throw new ConfigError('logBucketKeyArn', `the key ARN's partition is ${keyPartition} but ${this.region} is in ${partition}: write it arn:${partition}:kms:...`);
    }
    if (keyRegion === undefined || keyRegion === this.region) return;
    throw new ConfigError(
      'logBucketKeyArn',
      `the key is in ${keyRegion} but the stack deploys to ${this.region}: an SSE-KMS bucket's key is in the bucket's region, and the function reads the bucket in the stack's region (S3 notifies functions in its own region only). Deploy to ${keyRegion} (AWS_REGION or your profile's region), or give the bucket's own key`,
    );
  }

  /** An existing SSE-KMS bucket's key, usable only through S3. */
  private bucketKeyStatement(keyArn: string, actions: string[]): iam.PolicyStatement {
    return new iam.PolicyStatement({
      sid: 'UseLogBucketKeyThroughS3',
      actions,
      resources: [keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.${this.urlSuffix}` } }, // amazonaws.com.cn in China
    });
  }
}
