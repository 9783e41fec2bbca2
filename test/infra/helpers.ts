/** Builds the stack the way `cdk synth` does (cdk.json feature flags + context), without bundling. */
import { App, type Environment } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfig } from '../../infra/config.js';
import { EqlambdaStack, PROJECT_ROOT } from '../../infra/stack.js';

/** The `context` of cdk.json: feature flags the CLI passes to the app. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return cdkJson.context;
}

export interface Built {
  app: App;
  stack: EqlambdaStack;
  template: Template;
}

/** `context` holds `-c` values as the CLI would pass them (strings). */
export interface BuildOptions {
  bundling?: boolean;
  outdir?: string;
  /** What infra/app.ts gets from the CLI: offline, the region (us-east-1 by default) but no account. */
  env?: Environment;
  /** The stack's name (`-c stackName`), Eqlambda by default. */
  stackName?: string;
}

export function build(context: Record<string, unknown> = {}, options: BuildOptions = {}): Built {
  const app = new App({
    ...(options.outdir === undefined ? {} : { outdir: options.outdir }),
    context: { ...cdkJsonContext(), ...(options.bundling ? {} : { 'aws:cdk:bundling-stacks': [] }), ...context },
  });
  const stack = addStack(app, options.env, options.stackName);
  return { app, stack, template: Template.fromStack(stack) };
}

/** The stack as infra/app.ts adds it, configured from the app's context. */
export function addStack(app: App, env?: Environment, stackName = 'Eqlambda'): EqlambdaStack {
  return new EqlambdaStack(app, stackName, { config: readConfig((k) => app.node.tryGetContext(k)), ...(env === undefined ? {} : { env }) });
}

/** The single resource of a type whose logical id starts with `prefix`. */
export function resource(template: Template, type: string, prefix: string): { id: string; Properties: Record<string, unknown> } {
  const found = Object.entries(template.findResources(type)).filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1) throw new Error(`expected one ${type} named ${prefix}*, found ${found.map(([id]) => id).join(', ') || 'none'}`);
  const [id, r] = found[0]!;
  return { id, Properties: (r as { Properties: Record<string, unknown> }).Properties };
}

/** Logical id of the one resource of a type whose id starts with `prefix`. */
export function logicalId(template: Template, type: string, prefix: string): string {
  return resource(template, type, prefix).id;
}

/** CloudFormation `Fn::Join` rendered as text, tokens shown as `<Ref>` / `<Id.Attr>`. */
export function joinToText(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(joinToText).join(sep);
  }
  if ('Ref' in v) return `<${String(v.Ref)}>`;
  if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  throw new Error(`unexpected token ${JSON.stringify(value)}`);
}
