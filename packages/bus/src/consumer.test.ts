import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import type Redis from 'ioredis';
import { type Consumer, createConsumer } from './consumer.ts';
import { createPublisher } from './publisher.ts';
import { parseFlatRecord } from './replies.ts';
import { connect, pendingCount, reading, testStream, waitFor, within } from './test-fixtures/helpers.ts';

describe('consumer groups', () => {
  const servers = useServers({ redis: true });
  let redis: Redis;
  const opened: Redis[] = [];
  const consumers: Consumer[] = [];

  beforeEach(async () => {
    redis = connect(servers.redis.url);
    await redis.flushall();
  });

  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
    for (const client of [redis, ...opened.splice(0)]) client.disconnect();
  });

  test('100,000 messages through 3 consumers: each processed exactly once and all acked', async () => {
    const total = 100_000;
    const stream = testStream(['writer']);
    const ids = await createPublisher(redis).publishBatch(
      stream,
      Array.from({ length: total }, (_, i) => reading(i)),
    );
    expect(new Set(ids).size).toBe(total);

    const sink = new Map<string, number>();
    const perConsumer = [0, 0, 0];
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    for (const index of [0, 1, 2]) {
      const connection = connect(servers.redis.url);
      opened.push(connection);
      const consumer = createConsumer(connection, {
        stream,
        group: 'writer',
        consumer: `writer-${index}`,
        batchSize: 500,
        async handler(messages) {
          for (const message of messages) sink.set(message.id, (sink.get(message.id) ?? 0) + 1);
          perConsumer[index] = (perConsumer[index] ?? 0) + messages.length;
          if (sink.size === total) finish();
        },
      });
      consumers.push(consumer);
    }
    await Promise.all(consumers.map((consumer) => consumer.start()));
    await within('all 100,000 messages in the sink', done, 15_000);
    await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));

    expect(sink.size).toBe(total);
    expect(ids.every((id) => sink.get(id) === 1)).toBe(true);
    expect(perConsumer.every((count) => count > 0)).toBe(true);
    expect(await pendingCount(redis, stream, 'writer')).toBe(0);
  }, 30_000);

  test('stop() during a batch waits for the handler and its acks, and leaves no read behind', async () => {
    const stream = testStream(['writer']);
    const publisher = createPublisher(redis);
    const ids = await publisher.publishBatch(stream, [reading(1), reading(2), reading(3)]);

    const events: string[] = [];
    let entered: () => void = () => {};
    const handlerEntered = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const consumer = createConsumer(redis, {
      stream,
      group: 'writer',
      consumer: 'w1',
      batchSize: 10,
      async handler(messages) {
        events.push(`handler:${messages.length}`);
        entered();
        await gate;
        events.push('handler-done');
      },
    });
    await consumer.start();
    await within('the handler to start', handlerEntered);
    expect(await pendingCount(redis, stream, 'writer')).toBe(3);

    const stopped = consumer.stop().then(() => events.push('stopped'));
    release();
    await within('stop()', stopped);

    expect(events).toEqual(['handler:3', 'handler-done', 'stopped']);
    expect(await pendingCount(redis, stream, 'writer')).toBe(0);
    // Nothing reads for the stopped consumer any more: a new entry stays undelivered.
    await publisher.publish(stream, reading(4));
    expect(await pendingCount(redis, stream, 'writer')).toBe(0);
    const [group] = ((await redis.xinfo('GROUPS', stream.name)) as unknown[]).map(parseFlatRecord);
    expect(group?.['last-delivered-id']).toBe(ids[2]);
    expect(group?.lag).toBe(1);
  });

  test('maxWaitMs gathers entries published over several writes into one full handler call', async () => {
    const stream = testStream(['writer']);
    const publisher = createPublisher(redis);
    const batches: number[] = [];
    const consumer = createConsumer(redis, {
      stream,
      group: 'writer',
      consumer: 'gatherer',
      batchSize: 30,
      maxWaitMs: 5_000,
      async handler(messages) {
        batches.push(messages.length);
      },
    });
    consumers.push(consumer);
    await consumer.start();
    // Three writes, each a third of the batch: a plain consumer would call the handler three times.
    for (const part of [0, 1, 2]) {
      await publisher.publishBatch(
        stream,
        Array.from({ length: 10 }, (_, i) => reading(part * 10 + i)),
      );
      await Bun.sleep(20); // lets the consumer's read return in between
    }
    await waitFor('one full batch', () => batches.length > 0);
    expect(batches).toEqual([30]);
    await waitFor('the ack', async () => (await pendingCount(redis, stream, 'writer')) === 0);
  });

  test('idleMs: a burst is handed over once the stream goes quiet, not maxWaitMs after it began', async () => {
    const stream = testStream(['writer']);
    const batches: number[] = [];
    const consumer = createConsumer(redis, {
      stream,
      group: 'writer',
      consumer: 'quiet',
      batchSize: 1_000,
      // Far beyond the test's timeout: only the quiet stream can end this wait.
      maxWaitMs: 600_000,
      idleMs: 30,
      async handler(messages) {
        batches.push(messages.length);
      },
    });
    consumers.push(consumer);
    await consumer.start();
    await createPublisher(redis).publishBatch(
      stream,
      Array.from({ length: 30 }, (_, i) => reading(i)),
    );
    await waitFor('the burst handed over', () => batches.length > 0);
    expect(batches).toEqual([30]);
    await waitFor('the ack', async () => (await pendingCount(redis, stream, 'writer')) === 0);
  });

  test('minIntervalMs: a quiet stream ends no wait sooner than that after the previous batch', async () => {
    const stream = testStream(['writer']);
    const publisher = createPublisher(redis);
    const handedAt: number[] = [];
    const consumer = createConsumer(redis, {
      stream,
      group: 'writer',
      consumer: 'spaced',
      batchSize: 1_000,
      maxWaitMs: 400,
      idleMs: 20,
      minIntervalMs: 600_000,
      async handler() {
        handedAt.push(performance.now());
      },
    });
    consumers.push(consumer);
    await consumer.start();
    // The first batch has no previous one: the quiet stream hands it over at once.
    await publisher.publishBatch(stream, [reading(0)]);
    await waitFor('the first batch', () => handedAt.length === 1);
    const second = performance.now();
    await publisher.publishBatch(stream, [reading(1)]);
    await waitFor('the second batch', () => handedAt.length === 2);
    // The stream was quiet long before, but only maxWaitMs could end the second wait.
    expect((handedAt[1] as number) - second).toBeGreaterThanOrEqual(390);
  });

  test('readAhead: under a backlog the next batch is read while the handler runs; each message once, in order', async () => {
    const stream = testStream(['writer']);
    const ids = await createPublisher(redis).publishBatch(
      stream,
      Array.from({ length: 1_000 }, (_, i) => reading(i)),
    );
    const seen: string[] = [];
    let first = true;
    const consumer = createConsumer(redis, {
      stream,
      group: 'writer',
      consumer: 'ahead',
      batchSize: 100,
      readAhead: true,
      async handler(messages) {
        for (const message of messages) seen.push(message.id);
        if (!first) return;
        first = false;
        // This batch and the next one are delivered (pending) while this handler still runs.
        await waitFor(
          'the next batch read ahead',
          async () => (await pendingCount(redis, stream, 'writer')) === 200,
        );
      },
    });
    consumers.push(consumer);
    await consumer.start();
    await waitFor('every message handled', () => seen.length === ids.length);
    expect(seen).toEqual(ids);
    await waitFor('every message acked', async () => (await pendingCount(redis, stream, 'writer')) === 0);
  });

  test('readAhead: stop() during a batch also finishes the batch read ahead, and reads nothing more', async () => {
    const stream = testStream(['writer']);
    const ids = await createPublisher(redis).publishBatch(
      stream,
      Array.from({ length: 1_000 }, (_, i) => reading(i)),
    );
    const seen: string[] = [];
    const { promise: entered, resolve: enter } = Promise.withResolvers<void>();
    const { promise: gate, resolve: release } = Promise.withResolvers<void>();
    const consumer = createConsumer(redis, {
      stream,
      group: 'writer',
      consumer: 'ahead',
      batchSize: 100,
      readAhead: true,
      async handler(messages) {
        for (const message of messages) seen.push(message.id);
        if (seen.length === 300) {
          enter();
          await gate;
        }
      },
    });
    await consumer.start();
    await entered;
    await waitFor(
      'the fourth batch read ahead',
      async () => (await pendingCount(redis, stream, 'writer')) === 200,
    );
    const stopped = consumer.stop();
    release();
    await stopped;
    expect(seen).toEqual(ids.slice(0, 400));
    expect(await pendingCount(redis, stream, 'writer')).toBe(0);
  });

  test('stop() of an idle consumer returns promptly, well before its blocking read would time out', async () => {
    const stream = testStream(['writer']);
    const consumer = createConsumer(redis, {
      stream,
      group: 'writer',
      consumer: 'idle',
      blockMs: 5_000,
      async handler() {},
    });
    await consumer.start();
    const started = performance.now();
    await within('stop()', consumer.stop(), 4_000);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
