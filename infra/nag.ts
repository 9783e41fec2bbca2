/**
 * cdk-nag AwsSolutions acknowledgements (cdk-nag v3: `Validations.acknowledge`), each on
 * the narrowest construct with the exact finding id. The S3 bucket's S1 is acknowledged
 * where the bucket is created (stack.ts).
 */
import { Validations } from 'aws-cdk-lib';
import { BATCH_REPORT_PREFIX, type EqlambdaConfig } from './config.js';
import type { EqlambdaStack } from './stack.js';

/**
 * A resolved CloudFormation value as cdk-nag spells it in finding ids: `<Id.Arn>`, `<AWS::Partition>`,
 * or plain text when the environment is known (the CLI sets the region, so the partition becomes `aws`).
 */
function flattenLikeNag(value: unknown): string {
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const v = value as Record<string, unknown>;
  if (Array.isArray(v['Fn::Join'])) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(flattenLikeNag).join(separator);
  }
  if (Array.isArray(v['Fn::GetAtt'])) return `<${(v['Fn::GetAtt'] as unknown[]).map(flattenLikeNag).join('.')}>`;
  if (v.Ref !== undefined) return `<${flattenLikeNag(v.Ref)}>`;
  return JSON.stringify(value);
}

/** Construct id CDK gives the singleton handler behind bucket notifications. */
export const NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

export function acknowledgeFindings(stack: EqlambdaStack, config: EqlambdaConfig): void {
  const objects = (key: string): string => `AwsSolutions-IAM5[Resource::${flattenLikeNag(stack.resolve(stack.bucket.arnForObjects(key)))}]`;

  Validations.of(stack.detector.role).acknowledge({
    id: objects(`${config.prefix}*`),
    reason: 'The detector reads any new log object under the notification prefix (s3:GetObject and s3:GetObjectVersion only); object keys are not known in advance.',
  });

  Validations.of(stack.batchRole).acknowledge(
    {
      id: objects('*'),
      reason: 'S3 Batch Operations reads the job manifest (CSV or S3 Inventory manifest.json and data files) from anywhere in the log bucket; read-only (GetObject, GetObjectVersion).',
    },
    {
      id: objects(`${BATCH_REPORT_PREFIX}*`),
      reason: `S3 Batch Operations writes job completion reports under ${BATCH_REPORT_PREFIX} in the log bucket; s3:PutObject is limited to that prefix.`,
    },
  );

  Validations.of(stack.deadLetterQueue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: 'This queue is itself the on-failure destination of the detector function (the dead-letter queue for S3 events); a DLQ for it would have no consumer. `eqlambda replay` drains it.',
  });
}
