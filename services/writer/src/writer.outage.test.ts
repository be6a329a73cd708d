import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createPublisher, readings } from '@sensormesh/bus';
import { healthRoutes } from '@sensormesh/http';
import { type Store, sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import {
  fleetReading,
  groupState,
  metricValue,
  openTestStore,
  rowCounts,
  testContext,
  waitFor,
} from './test-support/helpers.ts';
import { startWriter } from './writer.ts';

const TICK_MS = 50;
const PER_TICK = 10; // 200 readings/s
const STREAM_MS = 30_000;
const OUTAGE_AT_MS = 5_000;
const OUTAGE_MS = 20_000;
const METRICS = 3;

/** Sleeps until `at` (epoch ms): the test's schedule is wall-clock time, not an event. */
const until = (at: number) => Bun.sleep(Math.max(0, at - Date.now()));

describe('writer through a clickhouse-server outage', () => {
  const servers = useServers({ redis: true, clickhouse: true });
  let store: Store;
  let redis: Redis;

  beforeAll(async () => {
    store = await openTestStore(servers.clickhouse.url);
    redis = new Redis(servers.redis.url);
    // Every insert that reached readings_raw, never collapsed: ReplacingMergeTree merges could hide
    // a duplicate insert in the raw table, never here.
    await store.command(sql`
      CREATE MATERIALIZED VIEW readings_audit ENGINE = MergeTree() ORDER BY (sensor_id, metric, ts)
      AS SELECT sensor_id, metric, ts FROM readings_raw`);
  });
  afterAll(async () => {
    redis.disconnect();
    await store.close();
  });

  test('clickhouse-server down for 20 s mid-stream: /ready goes false and back, every reading stored once', async () => {
    const ctx = testContext(store, redis, {
      WRITER_CONSUMER: 'w-outage',
      WRITER_BATCH_SIZE: 500,
      WRITER_MAX_WAIT_MS: 100,
      WRITER_RETRY_MIN_MS: 100,
      WRITER_RETRY_MAX_MS: 1_000,
    });
    const writer = await startWriter(ctx);
    // The mesh's /ready with the checks it mounts for the store and the writer.
    const app = healthRoutes({
      checks: { store: () => store.ping(), writer: writer.check },
      registry: ctx.registry,
    });
    const readiness = async () => (await app.handle(new Request('http://mesh/ready'))).status;
    expect(await readiness()).toBe(200);

    const publisher = createPublisher(redis);
    const started = Date.now();
    let published = 0;
    const flow = (async () => {
      for (let tick = 0; tick * TICK_MS < STREAM_MS; tick++) {
        const batch = Array.from({ length: PER_TICK }, (_, j) => fleetReading('outage', published + j, 50));
        await publisher.publishBatch(readings, batch);
        published += batch.length;
        await until(started + (tick + 1) * TICK_MS);
      }
    })();

    await waitFor('rows before the outage', async () => (await rowCounts(store, 'outage')).rows > 0);
    await until(started + OUTAGE_AT_MS);
    const down = Date.now();
    await servers.clickhouse.kill();
    await waitFor('/ready to fail', async () => !writer.ready() && (await readiness()) === 503, 10_000);
    const publishedWhenDown = published;

    await until(down + OUTAGE_MS);
    expect(writer.ready()).toBe(false); // still retrying, not given up
    expect(await redis.xlen('dlq')).toBe(0);
    expect(published - publishedWhenDown).toBeGreaterThan(2_000); // the stream kept coming and buffered
    await servers.clickhouse.restart();
    await waitFor('/ready to pass again', async () => writer.ready() && (await readiness()) === 200, 30_000);

    await flow;
    await waitFor('the backlog to drain', async () => {
      const state = await groupState(redis, readings.name);
      return state.pending === 0 && state.lag === 0;
    });
    await writer.stop();

    expect(published).toBe((STREAM_MS / TICK_MS) * PER_TICK);
    const total = published * METRICS;
    const counts = await rowCounts(store, 'outage');
    expect({ rows: counts.rows, keys: counts.keys }).toEqual({ rows: total, keys: total });
    const [repeated] = await store.query<{ n: number }>(sql`
      SELECT count() AS n FROM (
        SELECT sensor_id, metric, ts, count() AS c FROM readings_audit
        WHERE sensor_id LIKE 'outage-%' GROUP BY sensor_id, metric, ts HAVING c > 1)`);
    expect(Number(repeated?.n)).toBe(0);
    // Never counted twice. It may count fewer: a server killed between writing a raw part and its
    // materialized views' parts keeps the raw rows only, and the retry then skips them as stored.
    expect(counts.rollup).toBeLessThanOrEqual(total);
    expect(await redis.xlen('dlq')).toBe(0);
    expect(await metricValue(ctx.registry, 'bus_messages_failed_total')).toBe(0);
    expect(await metricValue(ctx.registry, 'writer_insert_retries_total')).toBeGreaterThan(5);
  }, 90_000);

  test('stop() while the store is down hands the batch back uncounted; the next run stores it', async () => {
    const config = { WRITER_CONSUMER: 'w-handback', WRITER_RETRY_MAX_MS: 200 };
    await servers.clickhouse.kill();
    const writer = await startWriter(testContext(store, redis, config));
    const batch = Array.from({ length: 100 }, (_, i) => fleetReading('handback', i));
    await createPublisher(redis).publishBatch(readings, batch);
    await waitFor('the writer to fail', () => !writer.ready());
    await writer.stop();

    const held = (await redis.xpending(readings.name, 'writer', '-', '+', 1_000, 'w-handback')) as [
      string,
      string,
      number,
      number,
    ][];
    expect(held).toHaveLength(100);
    expect(held.every(([, , , deliveries]) => deliveries === 0)).toBe(true);
    expect(await redis.xlen('dlq')).toBe(0);

    await servers.clickhouse.restart();
    const next = await startWriter(testContext(store, redis, config));
    await waitFor('the handed-back batch to drain', async () => {
      const state = await groupState(redis, readings.name);
      return state.pending === 0 && state.lag === 0;
    });
    await next.stop();
    expect(await rowCounts(store, 'handback')).toEqual({ rows: 300, keys: 300, rollup: 300 });
    expect(await redis.xlen('dlq')).toBe(0);
  });
});
