/**
 * The detector function: lambda/handler.ts bundled locally by esbuild (ESM, minified,
 * source maps) with the compiled rule bundle copied next to it as rules.json.
 */
import { Annotations, Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { join, resolve } from 'node:path';
import { ConfigError, type EqlambdaConfig, type LogLevel } from './config.js';
import { buildRuleBundle, shellQuote } from './rules-asset.js';

export const METRICS_NAMESPACE = 'eqlambda';

/**
 * The `service` of the handler's logs and metrics: the stack's name, unique in its account and
 * region, so that copies of the stack neither share metrics nor fire each other's alarms.
 */
export const serviceName = (stack: Stack): string => stack.stackName;

/** How long before the timeout the handler stops reading: 15 s, or a fifth of a shorter timeout. */
export const safetyMarginMs = (timeoutSeconds: number): number => Math.min(15_000, Math.round((timeoutSeconds * 1000) / 5));

/** The levels Lambda's own log filter is set to (see logging()). */
const LAMBDA_FILTER_LEVEL: Partial<Record<LogLevel, lambda.ApplicationLogLevel>> = {
  TRACE: lambda.ApplicationLogLevel.TRACE,
  DEBUG: lambda.ApplicationLogLevel.DEBUG,
  INFO: lambda.ApplicationLogLevel.INFO,
};

/**
 * Lambda's log format and filter for a log level. Up to INFO, JSON with Lambda's filter in step
 * with Powertools (AWS_LAMBDA_LOG_LEVEL wins over LOG_LEVEL). Above INFO, plain text with no
 * filter, the level applied by Powertools alone (LOG_LEVEL): Lambda's filter would also drop the
 * EMF metric lines, which carry no level (Lambda counts them as INFO), and the alarms on them
 * would never fire.
 */
function logging(level: LogLevel): Pick<lambda.FunctionProps, 'loggingFormat' | 'applicationLogLevelV2'> {
  const filter = LAMBDA_FILTER_LEVEL[level];
  return filter === undefined ? { loggingFormat: lambda.LoggingFormat.TEXT } : { loggingFormat: lambda.LoggingFormat.JSON, applicationLogLevelV2: filter };
}

/** Lambda's limit on a function's environment variables, measured as the JSON of the whole map. */
export const LAMBDA_ENVIRONMENT_BYTES = 4096;
/** The longest an SNS topic ARN can be (the only value not known at synth): a 256-character name. */
const LONGEST_TOPIC_ARN = `arn:aws-us-gov:sns:us-gov-west-1:123456789012:${'t'.repeat(256)}`;

/**
 * Refuses at synth an environment Lambda would refuse at deploy time (CloudFormation then rolls
 * back): the routing settings are the values that can grow without bound. Lambda measures the
 * JSON of the map (`{"NAME":"value",...}`, quotes inside values escaped).
 */
function checkEnvironmentSize(environment: Record<string, string>, config: EqlambdaConfig): void {
  const known = Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, Token.isUnresolved(value) ? LONGEST_TOPIC_ARN : value]));
  const bytes = Buffer.byteLength(JSON.stringify(known));
  if (bytes <= LAMBDA_ENVIRONMENT_BYTES) return;
  const key = config.indexByPrefix !== undefined ? 'indexByPrefix' : 'defaultIndex';
  throw new ConfigError(
    key,
    `the function's environment would take about ${bytes} bytes, and Lambda allows ${LAMBDA_ENVIRONMENT_BYTES} in all: shorten it (fewer or shorter prefixes: a shared prefix routes every key under it)`,
  );
}

/** Settings of every function log group in the stack (the detector's, and CDK's bucket-notifications handler's). */
export function functionLogGroupProps(config: EqlambdaConfig): logs.LogGroupProps {
  return { retention: config.logRetentionDays };
}

export interface DetectorProps {
  config: EqlambdaConfig;
  projectRoot: string;
  alertsTopicArn: string;
}

export class Detector extends Construct {
  readonly fn: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly ruleCount: number;

  constructor(scope: Construct, id: string, props: DetectorProps) {
    super(scope, id);
    const { config, projectRoot } = props;

    // Compiled before bundling so a broken rule fails synth even when bundling is skipped.
    const routed = [...(config.defaultIndex === undefined ? [] : [config.defaultIndex]), ...Object.values(config.indexByPrefix ?? {})];
    const rules = buildRuleBundle(resolve(projectRoot, config.rulesDir), projectRoot, routed);
    this.ruleCount = rules.ruleCount;
    // A slip in a routing setting (`Logs-…`, a missing version) would send objects to no rule at all.
    for (const index of rules.unselected) {
      Annotations.of(this).addWarningV2('eqlambda:index-selects-no-rule', `index ${index} (defaultIndex or indexByPrefix) selects none of the ${rules.ruleCount} rule(s): events routed to it are not evaluated`);
    }

    this.logGroup = new logs.LogGroup(this, 'Logs', functionLogGroupProps(config));
    // Own role instead of AWSLambdaBasicExecutionRole: log writes scoped to this log group, not `*`.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'eqlambda detector function',
    });
    this.logGroup.grantWrite(this.role);

    const environment: Record<string, string> = {
      ALERTS_TOPIC_ARN: props.alertsTopicArn,
      LOG_LEVEL: config.logLevel,
      POWERTOOLS_SERVICE_NAME: serviceName(Stack.of(this)),
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      // --expose-gc: a scan collects zlib's dead output buffers when resident memory passes
      // 85 % of the function's memory (lambda/handler/memory.ts): a 2 GB object fits in 128 MB.
      NODE_OPTIONS: '--enable-source-maps --expose-gc',
      // zlib inflates on libuv's thread pool; without a cap glibc gives each thread its own
      // malloc arena, which inflates resident memory (the benchmark runs with the same setting).
      MALLOC_ARENA_MAX: '2',
    };
    // Without it the handler's 15 s default would stop every object of a short-timeout function at once.
    environment.SAFETY_MARGIN_MS = String(safetyMarginMs(config.timeoutSeconds));
    if (config.maxAlertsPerRule !== undefined) environment.MAX_ALERTS_PER_RULE = String(config.maxAlertsPerRule);
    if (config.maxDecompressedBytes !== undefined) environment.MAX_DECOMPRESSED_BYTES = String(config.maxDecompressedBytes);
    if (config.defaultIndex !== undefined) environment.DEFAULT_INDEX = config.defaultIndex;
    if (config.indexByPrefix !== undefined) environment.INDEX_BY_PREFIX = JSON.stringify(config.indexByPrefix);
    checkEnvironmentSize(environment, config);

    this.fn = new NodejsFunction(this, 'Function', {
      description: `eqlambda: EQL detection over S3 logs (${rules.ruleCount} rules)`,
      entry: join(projectRoot, 'lambda/handler.ts'),
      handler: 'handler',
      projectRoot,
      depsLockFilePath: join(projectRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: config.memorySize,
      ...(config.reservedConcurrency === undefined ? {} : { reservedConcurrentExecutions: config.reservedConcurrency }),
      timeout: Duration.seconds(config.timeoutSeconds),
      role: this.role,
      logGroup: this.logGroup,
      ...logging(config.logLevel),
      environment,
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        // Bundled CommonJS dependencies call require(); ESM output has none without this shim.
        banner: "import { createRequire as __eqlCreateRequire } from 'node:module'; const require = __eqlCreateRequire(import.meta.url);",
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT, // keeps the sourceMappingURL comment --enable-source-maps needs
        sourcesContent: false, // stack traces need mappings, not the sources
        target: 'node24',
        forceDockerBundling: false,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => [`cp ${shellQuote(rules.path)} ${shellQuote(join(outputDir, 'rules.json'))}`],
        },
      },
    });
  }
}
