/**
 * Where detections and operational alarms go: two KMS-encrypted, SSL-only SNS topics
 * (alerts for detections, ops for CloudWatch alarms), email subscriptions, and an
 * optional AWS Chatbot Slack channel.
 */
import { Stack } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { severitiesFrom, type Severity } from './config.js';

export interface AlertingProps {
  alertEmails: string[];
  alertMinSeverity?: Severity;
  opsEmail?: string;
  slackWorkspaceId?: string;
  slackChannelId?: string;
}

export class Alerting extends Construct {
  readonly alertsTopic: sns.Topic;
  readonly alertsKey: kms.Key;
  readonly opsTopic: sns.Topic;
  readonly slack?: chatbot.SlackChannelConfiguration;

  constructor(scope: Construct, id: string, props: AlertingProps) {
    super(scope, id);
    const stack = Stack.of(this);

    // Separate keys: the function may only use the alerts key, CloudWatch only the ops key.
    this.alertsKey = new kms.Key(this, 'AlertsKey', {
      description: 'eqlambda detection alerts topic',
      enableKeyRotation: true,
    });
    this.alertsTopic = new sns.Topic(this, 'AlertsTopic', {
      displayName: 'eqlambda detections',
      masterKey: this.alertsKey,
      enforceSSL: true,
    });

    const opsKey = new kms.Key(this, 'OpsKey', {
      description: 'eqlambda operational alarms topic',
      enableKeyRotation: true,
    });
    this.opsTopic = new sns.Topic(this, 'OpsTopic', {
      displayName: 'eqlambda operations',
      masterKey: opsKey,
      enforceSSL: true,
    });
    // The topic policy replaces SNS's default one, and alarms need the CMK: allow this account's alarms only.
    this.opsTopic.grantPublish(
      new iam.ServicePrincipal('cloudwatch.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
        },
      }),
    );

    // Filter policies match the `severity` message attribute the handler sets on every alert.
    const filterPolicy =
      props.alertMinSeverity === undefined
        ? undefined
        : { severity: sns.SubscriptionFilter.stringFilter({ allowlist: severitiesFrom(props.alertMinSeverity) }) };
    for (const email of props.alertEmails) {
      this.alertsTopic.addSubscription(new subs.EmailSubscription(email, filterPolicy ? { filterPolicy } : {}));
    }
    if (props.opsEmail !== undefined) this.opsTopic.addSubscription(new subs.EmailSubscription(props.opsEmail));

    if (props.slackWorkspaceId !== undefined && props.slackChannelId !== undefined) {
      this.slack = new chatbot.SlackChannelConfiguration(this, 'Slack', {
        slackChannelConfigurationName: `${stack.stackName}-alerts`.slice(0, 128),
        slackWorkspaceId: props.slackWorkspaceId,
        slackChannelId: props.slackChannelId,
        notificationTopics: [this.alertsTopic, this.opsTopic],
        loggingLevel: chatbot.LoggingLevel.NONE,
        // Notifications only: the channel role has no policies and the guardrail denies every action.
        guardrailPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AWSDenyAll')],
      });
    }
  }
}
