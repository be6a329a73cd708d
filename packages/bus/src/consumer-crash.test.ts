import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { useServers } from '@sensormesh/testkit';
import type { Subprocess } from 'bun';
import type Redis from 'ioredis';
import { type Consumer, createConsumer } from './consumer.ts';
import { createPublisher } from './publisher.ts';
import {
  applyOnce,
  connect,
  pendingCount,
  reading,
  testStream,
  waitFor,
  within,
} from './test-fixtures/helpers.ts';

/** Reads the child's stdout until a line starts with `prefix`. */
async function waitForLine(child: Subprocess<'ignore', 'pipe', 'inherit'>, prefix: string): Promise<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of child.stdout) {
    buffer += decoder.decode(chunk, { stream: true });
    const line = buffer.split('\n').find((candidate) => candidate.startsWith(prefix));
    if (line) return line;
  }
  throw new Error(`child exited before printing "${prefix}"; output: ${buffer}`);
}

describe('consumer crash', () => {
  const servers = useServers({ redis: true });
  let redis: Redis;
  let child: Subprocess<'ignore', 'pipe', 'inherit'> | undefined;
  let rescuer: Consumer | undefined;

  beforeEach(async () => {
    redis = connect(servers.redis.url);
    await redis.flushall();
  });

  afterEach(async () => {
    child?.kill('SIGKILL');
    await rescuer?.stop();
    redis.disconnect();
  });

  test('a consumer killed mid-batch loses nothing: another claims its entries and applies each once', async () => {
    const total = 400;
    const stream = testStream(['writer']);
    const sink = `sink:${stream.name}`;
    const ids = await createPublisher(redis).publishBatch(
      stream,
      Array.from({ length: total }, (_, i) => reading(i)),
    );

    child = Bun.spawn([process.execPath, join(import.meta.dir, 'test-fixtures', 'crash-consumer.ts')], {
      env: { ...process.env, REDIS_URL: servers.redis.url, STREAM: stream.name, GROUP: 'writer', SINK: sink },
      stdout: 'pipe',
      stderr: 'inherit',
    });
    const line = await within('the child to hang mid-batch', waitForLine(child, 'in-batch'));
    expect(line).toBe('in-batch 50');
    child.kill('SIGKILL');
    await child.exited;
    // Two batches applied and acked, the third half-applied and pending on the dead consumer.
    expect(await pendingCount(redis, stream, 'writer')).toBe(50);
    expect(Number(await redis.get(`${sink}:applied`))).toBe(125);

    const attempts = new Map<string, number>();
    rescuer = createConsumer(redis, {
      stream,
      group: 'writer',
      consumer: 'rescuer',
      batchSize: 100,
      visibilityTimeoutMs: 200,
      claimIntervalMs: 50,
      async handler(messages) {
        for (const message of messages) attempts.set(message.id, message.attempts);
        await applyOnce(
          redis,
          sink,
          messages.map((message) => message.id),
        );
      },
    });
    await rescuer.start();
    await waitFor('every entry applied', async () => Number(await redis.get(`${sink}:applied`)) === total);
    await waitFor('nothing pending', async () => (await pendingCount(redis, stream, 'writer')) === 0);

    const applied = await redis.hkeys(sink);
    expect(new Set(applied)).toEqual(new Set(ids));
    expect(Number(await redis.get(`${sink}:applied`))).toBe(total);
    const retried = [...attempts.values()].filter((count) => count >= 2);
    expect(retried.length).toBe(50);
    expect(attempts.size).toBe(total - 100);
  });
});
