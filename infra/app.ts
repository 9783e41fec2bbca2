/**
 * CDK app entry (cdk.json: `npx tsx infra/app.ts`). Settings come from context,
 * e.g. `npx cdk deploy -c alertEmails=soc@example.com -c prefix=edr/`; see infra/config.ts.
 * cdk-nag AwsSolutions runs on every synth: an unacknowledged finding fails it.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, KNOWN_CONTEXT_KEYS, likelyTypoOf, looksLikeOurs, readConfig, unknownContextKeys } from './config.js';
import { RuleBuildError } from './rules-asset.js';
import { EqlambdaStack } from './stack.js';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

try {
  // A mistyped key (alertEmail for alertEmails) would otherwise deploy without the setting.
  for (const key of unknownContextKeys(app.node.getAllContext() as Record<string, unknown>)) {
    const meant = likelyTypoOf(key);
    if (meant !== undefined) throw new ConfigError(key, `unknown context key: did you mean ${meant}?`);
    // Named as ours are (alertMinSev): refused. The CDK CLI's own keys are kebab-case.
    if (looksLikeOurs(key)) throw new ConfigError(key, `unknown context key (known: ${KNOWN_CONTEXT_KEYS.join(', ')})`);
    console.warn(`eqlambda: ignoring unknown context key "${key}" (known: ${KNOWN_CONTEXT_KEYS.join(', ')})`);
  }
  const stackName = String(app.node.tryGetContext('stackName') ?? 'Eqlambda');
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) throw new ConfigError('stackName', `"${stackName}" is not a CloudFormation stack name (a letter, then letters, digits and hyphens, at most 128)`);
  const config = readConfig((key) => app.node.tryGetContext(key));
  if (config.alertEmails.length === 0 && config.slackChannelId === undefined) {
    console.warn('eqlambda: warning: no alertEmails and no Slack channel: alerts go to the alerts topic with no subscriber until you subscribe one (see README, Deploy)');
  }
  new EqlambdaStack(app, stackName, {
    config,
    description: 'eqlambda: EQL detection rules over endpoint logs in S3',
    // Offline the CLI knows a region but no account, which is enough: nothing here looks up the account.
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
} catch (err) {
  // A bad setting or rule is a user error: print what to fix, without a stack trace.
  if (!(err instanceof ConfigError || err instanceof RuleBuildError)) throw err;
  console.error(`eqlambda: ${err.message}`);
  process.exit(1);
}
app.synth();
