/** `eqlambda replay` with the clients it makes itself, against an endpoint that never answers. */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { replayCommand } from '../../lambda/cli/replay.js';

let server: Server;
const sockets: Socket[] = [];
beforeAll(async () => {
  server = createServer((socket) => sockets.push(socket)); // accepts, then says nothing
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
  vi.unstubAllEnvs();
});

it('gives up on a queue endpoint that never answers, with an error and exit 1, instead of hanging', async () => {
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'k');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 's');
  vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
  const { port } = server.address() as AddressInfo;
  const queueUrl = `http://127.0.0.1:${port}/123456789012/Eqlambda-DeadLetterQueue`;
  const err: string[] = [];
  const started = performance.now();
  const code = await replayCommand(['--queue-url', queueUrl], { out: () => {}, err: (t) => err.push(t) }, { requestTimeouts: { connectionTimeout: 500, socketTimeout: 300 } });
  expect(code).toBe(1);
  expect(err[0]).toMatch(new RegExp(`^eqlambda: cannot receive from ${queueUrl.replace(/[.?]/g, '\\$&')}: .*`));
  expect(performance.now() - started).toBeLessThan(10_000); // three attempts of 300 ms, with backoff
  expect(sockets.length).toBeGreaterThan(0);
});
