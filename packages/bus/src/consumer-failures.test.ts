import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { createLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { useServers } from '@sensormesh/testkit';
import type Redis from 'ioredis';
import { MESSAGE_FIELD } from './codec.ts';
import { type Consumer, createConsumer } from './consumer.ts';
import { createPublisher } from './publisher.ts';
import type { Reading } from './streams.ts';
import { connect, deadLetters, pendingCount, reading, testStream, waitFor } from './test-fixtures/helpers.ts';

describe('consumer failures', () => {
  const servers = useServers({ redis: true });
  let redis: Redis;
  const consumers: Consumer[] = [];

  beforeEach(async () => {
    redis = connect(servers.redis.url);
    await redis.flushall();
  });

  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
    redis.disconnect();
  });

  async function run(consumer: Consumer): Promise<void> {
    consumers.push(consumer);
    await consumer.start();
  }

  test('a poison message reaches the dlq after maxAttempts while the others are processed and acked', async () => {
    const stream = testStream(['writer'], { maxAttempts: 3, backoffMs: 20 });
    const ids = await createPublisher(redis).publishBatch(
      stream,
      Array.from({ length: 200 }, (_, i) => reading(i)),
    );
    const poisonId = ids[57];
    const processed = new Map<string, number>();
    const poisonAttempts: number[] = [];
    const registry = createRegistry();
    await run(
      createConsumer(redis, {
        stream,
        group: 'writer',
        consumer: 'w1',
        batchSize: 50,
        registry,
        async handler(messages) {
          const poison = messages.find((message) => message.id === poisonId);
          if (poison) {
            poisonAttempts.push(poison.attempts);
            throw new Error(`cannot store reading ${poison.data.messageId}: poison`);
          }
          for (const message of messages) processed.set(message.id, (processed.get(message.id) ?? 0) + 1);
        },
      }),
    );
    await waitFor('the poison message in the dlq', async () => (await redis.xlen('dlq')) === 1);
    await waitFor('nothing pending', async () => (await pendingCount(redis, stream, 'writer')) === 0);

    expect(processed.size).toBe(199);
    expect([...processed.values()].every((count) => count === 1)).toBe(true);
    expect(processed.has(poisonId as string)).toBe(false);
    expect(Math.max(...poisonAttempts)).toBe(3);
    const [letter] = await deadLetters(redis);
    expect(letter).toMatchObject({
      source: stream.name,
      group: 'writer',
      entryId: poisonId,
      reason: 'cannot store reading msg-57: poison',
      attempts: 3,
    });
    expect(JSON.parse(letter?.payload ?? '')).toEqual(reading(57));
    const labels = `{stream="${stream.name}",group="writer"}`;
    const text = await registry.metrics();
    expect(text).toContain(`bus_messages_dead_lettered_total${labels} 1`);
    expect(text).toContain(`bus_messages_acked_total${labels} 200`);
    expect(text).toContain(`bus_messages_failed_total${labels} 3`);
    expect(text).toContain(`bus_messages_claimed_total${labels} 2`);
  });

  test('an entry whose consumers kept dying is dead-lettered when claimed past maxAttempts', async () => {
    const stream = testStream(['writer'], { maxAttempts: 3 });
    const [stuck, fine] = await createPublisher(redis).publishBatch(stream, [reading(1), reading(2)]);
    await redis.xgroup('CREATE', stream.name, 'writer', '0');
    await redis.xreadgroup('GROUP', 'writer', 'dead', 'COUNT', 2, 'STREAMS', stream.name, '>');
    // As if three consumers in a row had died on it: three deliveries, long idle.
    await redis.call(
      'XCLAIM',
      stream.name,
      'writer',
      'dead',
      0,
      stuck as string,
      'IDLE',
      60_000,
      'RETRYCOUNT',
      3,
    );
    await redis.call('XCLAIM', stream.name, 'writer', 'dead', 0, fine as string, 'IDLE', 60_000, 'JUSTID');
    const handled: Array<[string, number]> = [];
    await run(
      createConsumer(redis, {
        stream,
        group: 'writer',
        consumer: 'rescuer',
        visibilityTimeoutMs: 1_000,
        async handler(messages) {
          handled.push(...messages.map((message): [string, number] => [message.id, message.attempts]));
        },
      }),
    );
    await waitFor('the stuck entry in the dlq', async () => (await redis.xlen('dlq')) === 1);
    await waitFor('nothing pending', async () => (await pendingCount(redis, stream, 'writer')) === 0);
    expect(handled).toEqual([[fine as string, 2]]);
    const [letter] = await deadLetters(redis);
    expect(letter).toMatchObject({ entryId: stuck, attempts: 4 });
    expect(letter?.reason).toMatch(/^gave up after 3 attempts/);
  });

  test('an idle pending entry deleted from the stream is logged with its id and cleared when claimed', async () => {
    const stream = testStream(['writer']);
    const [gone, kept] = await createPublisher(redis).publishBatch(stream, [reading(1), reading(2)]);
    await redis.xgroup('CREATE', stream.name, 'writer', '0');
    await redis.xreadgroup('GROUP', 'writer', 'dead', 'COUNT', 2, 'STREAMS', stream.name, '>');
    for (const id of [gone, kept])
      await redis.call('XCLAIM', stream.name, 'writer', 'dead', 0, id as string, 'IDLE', 60_000, 'JUSTID');
    await redis.xdel(stream.name, gone as string);
    const lines: string[] = [];
    const logger = createLogger({
      service: 'test',
      level: 'info',
      destination: { write: (line: string) => lines.push(line) },
    });
    const handled: string[] = [];
    await run(
      createConsumer(redis, {
        stream,
        group: 'writer',
        consumer: 'rescuer',
        visibilityTimeoutMs: 1_000,
        logger,
        async handler(messages) {
          handled.push(...messages.map((message) => message.id));
        },
      }),
    );
    await waitFor('nothing pending', async () => (await pendingCount(redis, stream, 'writer')) === 0);
    expect(handled).toEqual([kept as string]);
    const warning = lines.map((line) => JSON.parse(line)).find((line) => line.msg?.includes('trimmed'));
    expect(warning).toMatchObject({
      level: 'warn',
      stream: stream.name,
      group: 'writer',
      consumer: 'rescuer',
      ids: [gone],
    });
  });

  test('failures a handler reports are retried with a higher attempt count, the rest acked', async () => {
    const stream = testStream(['writer'], { maxAttempts: 3, backoffMs: 10 });
    const ids = await createPublisher(redis).publishBatch(stream, [reading(1), reading(2), reading(3)]);
    const seen: Array<[string, number]> = [];
    await run(
      createConsumer(redis, {
        stream,
        group: 'writer',
        consumer: 'w1',
        async handler(messages) {
          for (const message of messages) seen.push([message.id, message.attempts]);
          const flaky = messages.find((message) => message.id === ids[1] && message.attempts === 1);
          return flaky ? { failed: [{ id: flaky.id, error: new Error('flaky') }] } : undefined;
        },
      }),
    );
    await waitFor('the retry', () => seen.length === 4);
    await waitFor('nothing pending', async () => (await pendingCount(redis, stream, 'writer')) === 0);
    expect(seen).toEqual([
      [ids[0] as string, 1],
      [ids[1] as string, 1],
      [ids[2] as string, 1],
      [ids[1] as string, 2],
    ]);
    expect(await redis.xlen('dlq')).toBe(0);
  });

  test('entries that fail the schema or are not JSON go to the dlq and never reach the handler', async () => {
    const stream = testStream(['writer']);
    const good = await createPublisher(redis).publish(stream, reading(1));
    const badSchema = await redis.xadd(
      stream.name,
      '*',
      MESSAGE_FIELD,
      JSON.stringify({ ...reading(2), sensorId: '' }),
    );
    const badJson = await redis.xadd(stream.name, '*', MESSAGE_FIELD, '{"sensorId": "s-1", ');
    const noField = await redis.xadd(stream.name, '*', 'other', 'x');
    const good2 = await createPublisher(redis).publish(stream, reading(3));
    const handled: string[] = [];
    await run(
      createConsumer(redis, {
        stream,
        group: 'writer',
        consumer: 'w1',
        async handler(messages) {
          handled.push(...messages.map((message) => message.id));
        },
      }),
    );
    await waitFor('three dead letters', async () => (await redis.xlen('dlq')) === 3);
    await waitFor('nothing pending', async () => (await pendingCount(redis, stream, 'writer')) === 0);

    expect(handled).toEqual([good, good2]);
    const letters = new Map((await deadLetters(redis)).map((letter) => [letter.entryId, letter]));
    expect(letters.get(badSchema as string)).toMatchObject({
      reason: 'schema validation failed',
      source: stream.name,
    });
    expect(letters.get(badSchema as string)?.details).toContainEqual(
      expect.objectContaining({ path: '/sensorId' }),
    );
    expect(letters.get(badJson as string)).toMatchObject({
      reason: 'invalid JSON',
      payload: '{"sensorId": "s-1", ',
    });
    expect(String(letters.get(badJson as string)?.details)).toContain('JSON');
    expect(letters.get(noField as string)?.reason).toBe('entry has no "m" field');
  });

  test('typed handler data is the decoded message', async () => {
    const stream = testStream(['writer']);
    await createPublisher(redis).publish(stream, reading(7));
    let received: Reading | undefined;
    await run(
      createConsumer(redis, {
        stream,
        group: 'writer',
        consumer: 'w1',
        async handler([message]) {
          received = message?.data;
        },
      }),
    );
    await waitFor('the message', () => received !== undefined);
    expect(received).toEqual(reading(7));
  });
});
