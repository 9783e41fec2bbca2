/**
 * Alarms that notify the ops topic, and the operations dashboard. Custom metrics are
 * the EMF metrics the handler emits through Powertools (namespace eqlambda, dimension
 * service=<stack name>, so copies of the stack in one account and region keep apart; per-rule
 * and per-reason series carry one more dimension). The `rule`
 * dimension is the rule's name made valid for CloudWatch, with a short rule id appended only
 * when names collide (lambda/handler/metrics.ts), so "Alerts per rule" is labelled by name.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwa from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, serviceName } from './detector.js';

const PERIOD = Duration.minutes(5);
/** Share of the timeout at which the duration alarm fires. */
export const DURATION_ALARM_RATIO = 0.8;

export interface MonitoringProps {
  fn: lambda.IFunction;
  timeout: Duration;
  deadLetterQueue: sqs.IQueue;
  opsTopic: sns.ITopic;
}

/** A handler metric with only the service dimension (`service`: the stack's, see serviceName). */
export function appMetricOf(service: string, metricName: string, statistic = 'Sum', label?: string): cw.Metric {
  return new cw.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service },
    statistic,
    period: PERIOD,
    ...(label === undefined ? {} : { label }),
  });
}

function searchQuery(service: string, metricName: string, dimension: string): string {
  return `SEARCH('{${METRICS_NAMESPACE},${dimension},service} MetricName="${metricName}" service="${service}"', 'Sum', ${PERIOD.toSeconds()})`;
}

/** One series per value of `dimension`, labelled by it (dashboards only: alarms cannot use SEARCH). */
export function searchByDimensionOf(service: string, metricName: string, dimension: string): cw.SearchExpression {
  return new cw.SearchExpression({ expression: searchQuery(service, metricName, dimension), label: `\${PROP('Dim.${dimension}')}`, period: PERIOD });
}

/** The total over every value of `dimension` (the handler emits no dimensionless series). */
export function sumOverDimensionOf(service: string, metricName: string, dimension: string, label: string): cw.MathExpression {
  return new cw.MathExpression({ expression: `SUM(${searchQuery(service, metricName, dimension)})`, usingMetrics: {}, label, period: PERIOD });
}

export class Monitoring extends Construct {
  readonly alarms: cw.Alarm[] = [];
  readonly dashboard: cw.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { fn, deadLetterQueue: dlq } = props;
    const timeoutMs = props.timeout.toMilliseconds();
    const service = serviceName(Stack.of(this));
    const appMetric = (metricName: string, statistic?: string, label?: string): cw.Metric => appMetricOf(service, metricName, statistic, label);
    const searchByDimension = (metricName: string, dimension: string): cw.SearchExpression => searchByDimensionOf(service, metricName, dimension);
    const sumOverDimension = (metricName: string, dimension: string, label: string): cw.MathExpression => sumOverDimensionOf(service, metricName, dimension, label);
    const action = new cwa.SnsAction(props.opsTopic);
    const alarm = (alarmId: string, alarmProps: cw.AlarmProps): cw.Alarm => {
      const a = new cw.Alarm(this, alarmId, alarmProps);
      a.addAlarmAction(action);
      this.alarms.push(a);
      return a;
    };
    const atLeastOne = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    };

    alarm('FunctionErrors', {
      ...atLeastOne,
      alarmDescription: 'The detector function failed; S3 retries twice, then the event goes to the dead-letter queue.',
      metric: fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
    });
    alarm('FunctionThrottles', {
      ...atLeastOne,
      alarmDescription: 'The detector function was throttled; raise reserved or account concurrency.',
      metric: fn.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
    });
    alarm('DeadLetterQueueNotEmpty', {
      ...atLeastOne,
      alarmDescription: 'Events failed every retry; fix the cause, then run `eqlambda replay`.',
      metric: dlq.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
      // SQS stops reporting for idle queues: keep the alarm state until someone drains the queue.
      treatMissingData: cw.TreatMissingData.IGNORE,
    });
    alarm('DurationNearTimeout', {
      alarmDescription: `An invocation ran longer than ${DURATION_ALARM_RATIO * 100}% of the ${props.timeout.toSeconds()} s timeout; raise timeoutSeconds or memorySize.`,
      metric: fn.metricDuration({ period: PERIOD, statistic: 'Maximum' }),
      threshold: Math.round(timeoutMs * DURATION_ALARM_RATIO),
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    alarm('PublishFailures', {
      ...atLeastOne,
      alarmDescription: 'Alerts could not be published to the alerts topic.',
      metric: appMetric('PublishFailures'),
    });
    // Damaged content succeeds (retrying cannot help) and an object gone before it was read
    // is no failure either: without this alarm neither would reach anyone.
    alarm('ObjectsNotFullyScanned', {
      ...atLeastOne,
      alarmDescription:
        'An object could not be scanned to its end: damaged or truncated gzip, the decompressed-size cap, overwritten or deleted before it was read, or a failed attempt (see the function log; the lines before the damage were scanned).',
      metric: appMetric('ObjectErrors'),
    });
    // An S3 event that failed every retry and could not reach the dead-letter queue is lost.
    // (AsyncEventsDropped would count those sent to the queue too, which DeadLetterQueueNotEmpty covers.)
    alarm('EventsLost', {
      ...atLeastOne,
      alarmDescription: 'An S3 event failed every retry and could not be sent to the dead-letter queue: its object was never scanned, and eqlambda replay cannot recover it.',
      metric: fn.metric('DestinationDeliveryFailures', { period: PERIOD, statistic: 'Sum' }),
    });

    const lambdaMetric = (metricName: string, statistic: string, label: string): cw.IMetric =>
      fn.metric(metricName, { period: PERIOD, statistic, label });

    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-operations`,
      defaultInterval: Duration.days(1),
    });
    this.dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'Bytes scanned',
        left: [appMetric('BytesScanned', 'Sum', 'bytes (decompressed)')],
        right: [appMetric('ObjectsScanned', 'Sum', 'objects')],
        width: 12,
      }),
      new cw.GraphWidget({
        title: 'Lines scanned',
        left: [appMetric('LinesScanned', 'Sum', 'lines')],
        right: [sumOverDimension('LinesSkipped', 'reason', 'skipped (all reasons)')],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'Alerts per rule',
        left: [searchByDimension('AlertsPublished', 'rule')],
        right: [appMetric('OverflowSuppressed', 'Sum', 'suppressed over the per-rule cap')],
        width: 12,
      }),
      new cw.GraphWidget({
        title: 'Skipped lines by reason',
        left: [searchByDimension('LinesSkipped', 'reason')],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'Errors',
        left: [
          lambdaMetric('Errors', 'Sum', 'function errors'),
          appMetric('ObjectErrors', 'Sum', 'object errors'),
          appMetric('PublishFailures', 'Sum', 'publish failures'),
        ],
        right: [dlq.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum', label: 'dead-letter queue depth' })],
        width: 12,
      }),
      new cw.GraphWidget({
        title: 'Duration (ms)',
        left: [
          lambdaMetric('Duration', 'p50', 'invocation p50'),
          lambdaMetric('Duration', 'p99', 'invocation p99'),
          lambdaMetric('Duration', 'Maximum', 'invocation max'),
          appMetric('ScanDurationMs', 'p99', 'scan p99'),
        ],
        leftAnnotations: [{ value: timeoutMs, label: 'timeout' }],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'Concurrency',
        left: [lambdaMetric('ConcurrentExecutions', 'Maximum', 'concurrent executions')],
        right: [lambdaMetric('Invocations', 'Sum', 'invocations'), lambdaMetric('Throttles', 'Sum', 'throttles')],
        width: 12,
      }),
      new cw.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 12 }),
    );
  }
}
