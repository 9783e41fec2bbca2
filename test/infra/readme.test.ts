/** README statements about deploying that must stay true to the stack. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/stack.js';
import { build } from './helpers.js';

const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');

/** The text from `heading` to the next heading of the same or a higher level. */
function section(heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, `README has no "${heading}"`).toBeGreaterThanOrEqual(0);
  const level = heading.indexOf(' ');
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level}} `));
  return end === -1 ? rest : rest.slice(0, end);
}

describe('README, deploying onto an existing bucket', () => {
  const text = section('### Existing bucket: notification rules must not overlap');

  it('describes the rule the stack really adds: s3:ObjectCreated:* to the function, filtered by prefix and suffix, other rules kept', () => {
    expect(text).toContain('`s3:ObjectCreated:*` for keys that match `prefix` and `suffix`');
    const { template } = build({ logBucketName: 'corp-endpoint-logs', prefix: 'edr/' });
    const [notification] = Object.values(template.findResources('Custom::S3BucketNotifications')) as { Properties: Record<string, unknown> }[];
    expect(notification!.Properties.Managed).toBe(false); // the bucket's other rules are kept
    const config = notification!.Properties.NotificationConfiguration as Record<string, { Events: string[] }[]>;
    expect(Object.keys(config)).toEqual(['LambdaFunctionConfigurations']);
    expect(config.LambdaFunctionConfigurations!.map((c) => c.Events)).toEqual([['s3:ObjectCreated:*']]);
  });
});
