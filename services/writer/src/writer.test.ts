import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { createPublisher, defineStream, Reading, readings } from '@sensormesh/bus';
import { insertReadings, type Store } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { latestValues } from './latest-values.ts';
import { readingRows } from './rows.ts';
import { SENT_THROUGH_KEY } from './sent-through.ts';
import {
  deadLetters,
  fleetReading,
  groupState,
  metricValue,
  openTestStore,
  rowCounts,
  testContext,
  waitFor,
} from './test-support/helpers.ts';
import { startWriter, type Writer } from './writer.ts';

describe('writer', () => {
  const servers = useServers({ redis: true, clickhouse: true });
  let store: Store;
  let redis: Redis;
  const writers: Writer[] = [];

  beforeAll(async () => {
    store = await openTestStore(servers.clickhouse.url);
  });
  afterAll(() => store.close());
  beforeEach(async () => {
    redis = new Redis(servers.redis.url);
    await redis.flushall();
  });
  afterEach(async () => {
    await Promise.all(writers.splice(0).map((writer) => writer.stop()));
    redis.disconnect();
  });

  async function start(overrides: Parameters<typeof testContext>[2] = {}, stream = readings) {
    const ctx = testContext(store, redis, overrides);
    const writer = await startWriter(ctx, { stream });
    writers.push(writer);
    return { writer, registry: ctx.registry };
  }

  const drained = async () => {
    const state = await groupState(redis, readings.name);
    return state.pending === 0 && state.lag === 0;
  };

  test('readings published twice are stored once per sensor, metric and ts', async () => {
    const { writer, registry } = await start({ WRITER_CONSUMER: 'w-twice' });
    expect(writer.ready()).toBe(true);
    const batch = Array.from({ length: 1_000 }, (_, i) => fleetReading('twice', i));
    const publisher = createPublisher(redis);
    await publisher.publishBatch(readings, batch);
    await publisher.publishBatch(readings, batch); // the same readings again, as new entries
    await waitFor('the writer group to drain', drained);

    expect(await rowCounts(store, 'twice')).toEqual({ rows: 3_000, keys: 3_000, rollup: 3_000 });
    expect(await metricValue(registry, 'writer_rows_inserted_total')).toBe(3_000);
    expect(await metricValue(registry, 'writer_rows_duplicate_total')).toBe(3_000);
    expect(await redis.xlen('dlq')).toBe(0);
  });

  test('readings redelivered after the sent-through marks were lost, or late behind them, are stored once', async () => {
    await start({ WRITER_CONSUMER: 'w-marks' });
    const batch = Array.from({ length: 600 }, (_, i) => fleetReading('marks', i));
    const publisher = createPublisher(redis);
    await publisher.publishBatch(readings, batch.slice(200));
    await waitFor('the writer group to drain', drained);
    // Each sensor's mark is its newest ts sent to the store.
    const marks = await redis.hgetall(SENT_THROUGH_KEY);
    expect(Object.keys(marks).length).toBe(20);
    expect(Number(marks['marks-0'])).toBe((batch[580] as Reading).ts);
    // Late readings (before the marks), then the same readings again after the marks are gone.
    await publisher.publishBatch(readings, batch.slice(0, 200));
    await waitFor('the writer group to drain', drained);
    await redis.del(SENT_THROUGH_KEY);
    await publisher.publishBatch(readings, batch);
    await waitFor('the writer group to drain', drained);
    expect(await rowCounts(store, 'marks')).toEqual({ rows: 1_800, keys: 1_800, rollup: 1_800 });
  });

  test('a stopped writer and a dead one: the next writer finishes their work, every reading once', async () => {
    const total = 3_000;
    const batch = Array.from({ length: total }, (_, i) => fleetReading('handover', i));
    const publisher = createPublisher(redis);
    // A writer that died mid-batch: entries read (pending on it), half of them stored, none acked.
    await publisher.publishBatch(readings, batch.slice(0, 400));
    await redis.xgroup('CREATE', readings.name, 'writer', '0', 'MKSTREAM');
    await redis.xreadgroup('GROUP', 'writer', 'w-dead', 'COUNT', 400, 'STREAMS', readings.name, '>');
    await insertReadings(store)(batch.slice(0, 200).flatMap((reading) => readingRows(reading)));

    // A live writer is stopped while readings keep coming.
    const first = await start({ WRITER_CONSUMER: 'w-first', WRITER_BATCH_SIZE: 50 });
    const flow = (async () => {
      for (let start = 400; start < total; start += 100)
        await publisher.publishBatch(readings, batch.slice(start, start + 100));
    })();
    await waitFor(
      'the first writer to store some rows',
      async () => (await rowCounts(store, 'handover')).rows > 900,
    );
    await first.writer.stop();
    expect(first.writer.ready()).toBe(false);
    await flow;

    // The next writer takes over the dead one's entries once they are idle past its visibility timeout.
    await start({ WRITER_CONSUMER: 'w-next', WRITER_VISIBILITY_TIMEOUT_MS: 300 });
    await waitFor('the writer group to drain', drained);
    expect(await rowCounts(store, 'handover')).toEqual({
      rows: total * 3,
      keys: total * 3,
      rollup: total * 3,
    });
    expect(await redis.xlen('dlq')).toBe(0);
  });

  test('latest values end at the newest reading even when newer batches come first', async () => {
    await start({ WRITER_CONSUMER: 'w-latest', WRITER_BATCH_SIZE: 5, WRITER_MAX_WAIT_MS: 0 });
    const publisher = createPublisher(redis);
    // 40 readings per sensor, published newest first in small writes, so batches arrive reversed.
    const all = Array.from({ length: 160 }, (_, i) => fleetReading('latest', i, 4)).reverse();
    for (let start = 0; start < all.length; start += 5)
      await publisher.publishBatch(readings, all.slice(start, start + 5));
    await waitFor('the writer group to drain', drained);

    const latest = latestValues(redis);
    for (let sensor = 0; sensor < 4; sensor++) {
      const newest = all.find((reading) => reading.sensorId === `latest-${sensor}`) as Reading;
      const expected = Object.fromEntries(
        Object.entries(newest.metrics).map(([metric, v]) => [metric, { v, ts: newest.ts }]),
      );
      expect(await latest.read(`latest-${sensor}`)).toEqual(expected);
      expect(Number(await redis.zscore('latest:sensors', `latest-${sensor}`))).toBe(newest.ts);
    }
    expect((await rowCounts(store, 'latest')).rows).toBe(480);
  });

  test('a reading the store refuses is dead-lettered after its attempts while the rest flow', async () => {
    // The catalogue's policy, with short waits so the retries take milliseconds.
    const stream = defineStream({
      name: readings.name,
      schema: Reading,
      groups: readings.groups,
      retry: { maxAttempts: 3, backoffMs: 20 },
      trim: readings.trim,
    });
    const { registry } = await start({ WRITER_CONSUMER: 'w-bad' }, stream);
    const good = Array.from({ length: 60 }, (_, i) => fleetReading('refused', i));
    const bad = { ...fleetReading('refused', 1_000), metrics: { '': 1, pm25: 12 } };
    const publisher = createPublisher(redis);
    await publisher.publishBatch(stream, good.slice(0, 30));
    const [badId] = await publisher.publishBatch(stream, [bad]);
    await publisher.publishBatch(stream, good.slice(30));

    await waitFor('the dead letter', async () => (await redis.xlen('dlq')) === 1);
    await waitFor('the writer group to drain', drained);
    const [letter] = await deadLetters(redis);
    expect(letter).toMatchObject({ source: 'readings', group: 'writer', entryId: badId, attempts: 3 });
    expect(letter?.reason).toContain('metric "" /metric');
    expect(JSON.parse(letter?.payload ?? '{}')).toEqual(bad);
    // Every good reading is stored; nothing of the refused one is (it is kept whole in the dlq).
    expect(await rowCounts(store, 'refused')).toEqual({ rows: 180, keys: 180, rollup: 180 });
    expect(await metricValue(registry, 'writer_messages_rejected_total')).toBe(3);
  });
});
