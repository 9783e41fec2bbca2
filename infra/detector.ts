/**
 * The detector function: lambda/handler.ts bundled locally by esbuild (ESM, minified,
 * source maps) with the compiled rule bundle copied next to it as rules.json.
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { join, resolve } from 'node:path';
import type { EqlambdaConfig, LogLevel } from './config.js';
import { buildRuleBundle, shellQuote } from './rules-asset.js';

export const SERVICE_NAME = 'eqlambda';
export const METRICS_NAMESPACE = 'eqlambda';

/** How long before the timeout the handler stops reading: 15 s, or a fifth of a shorter timeout. */
export const safetyMarginMs = (timeoutSeconds: number): number => Math.min(15_000, Math.round((timeoutSeconds * 1000) / 5));

const APPLICATION_LOG_LEVEL: Record<LogLevel, lambda.ApplicationLogLevel> = {
  TRACE: lambda.ApplicationLogLevel.TRACE,
  DEBUG: lambda.ApplicationLogLevel.DEBUG,
  INFO: lambda.ApplicationLogLevel.INFO,
  WARN: lambda.ApplicationLogLevel.WARN,
  ERROR: lambda.ApplicationLogLevel.ERROR,
};

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
    const rules = buildRuleBundle(resolve(projectRoot, config.rulesDir), projectRoot);
    this.ruleCount = rules.ruleCount;

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
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
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
      loggingFormat: lambda.LoggingFormat.JSON,
      // Keeps Lambda's log filter in step with the Powertools level (AWS_LAMBDA_LOG_LEVEL wins over LOG_LEVEL).
      applicationLogLevelV2: APPLICATION_LOG_LEVEL[config.logLevel],
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
