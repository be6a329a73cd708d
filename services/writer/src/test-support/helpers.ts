import { type DeadLetter, MESSAGE_FIELD, type Reading } from '@sensormesh/bus';
import { silentLogger } from '@sensormesh/log';
import { createRegistry, type Registry } from '@sensormesh/metrics';
import { MIGRATIONS_DIR, migrate, openStore, type Store, sql } from '@sensormesh/store';
import type Redis from 'ioredis';
import type { WriterConfig } from '../env.ts';
import type { WriterContext } from '../writer.ts';

let databases = 0;

/** A migrated store in a database of its own on the test's clickhouse-server. */
export async function openTestStore(url: string): Promise<Store> {
  const store = await openStore({ clickhouseUrl: url, database: `writer_${process.pid}_${++databases}` });
  await migrate(store, MIGRATIONS_DIR);
  return store;
}

/** Small, fast settings: batches of 200, short waits and backoffs. */
export function testConfig(overrides: Partial<WriterConfig> = {}): WriterConfig {
  return {
    WRITER_BATCH_SIZE: 200,
    WRITER_MAX_WAIT_MS: 20,
    WRITER_MIN_INTERVAL_MS: 0,
    WRITER_VISIBILITY_TIMEOUT_MS: 60_000,
    WRITER_RETRY_MIN_MS: 20,
    WRITER_RETRY_MAX_MS: 500,
    ...overrides,
  };
}

/** A writer context with its own metrics registry and a silent logger. */
export function testContext(
  store: Store,
  redis: Redis,
  overrides: Partial<WriterConfig> = {},
): WriterContext & { registry: Registry } {
  return { config: testConfig(overrides), store, redis, logger: silentLogger(), registry: createRegistry() };
}

/** Reading `i` of a fleet: sensor `<prefix>-<i % sensors>`, one second apart per sensor, 3 metrics. */
export function fleetReading(prefix: string, i: number, sensors = 20): Reading {
  const ts = 1_700_000_000_000 + Math.floor(i / sensors) * 1_000;
  return {
    sensorId: `${prefix}-${i % sensors}`,
    ts,
    metrics: { pm25: (i % 300) / 2, pm10: (i % 500) / 3, rh: 40 + (i % 20) },
    receivedAt: ts + 150,
    source: 'mqtt',
  };
}

/** Row counts of the sensors under `prefix`: raw rows, distinct keys, and rows the minute rollup counted. */
export async function rowCounts(store: Store, prefix: string) {
  const like = `${prefix}-%`;
  const [raw] = await store.query<{ rows: number; keys: number }>(
    sql`SELECT count() AS rows, uniqExact(sensor_id, metric, ts) AS keys FROM readings_raw WHERE sensor_id LIKE ${like}`,
  );
  // The rollup is fed per insert and never collapses duplicates: a second insert would show here.
  const [rollup] = await store.query<{ n: number }>(
    sql`SELECT countMerge(count) AS n FROM readings_per_minute WHERE sensor_id LIKE ${like}`,
  );
  return { rows: Number(raw?.rows ?? 0), keys: Number(raw?.keys ?? 0), rollup: Number(rollup?.n ?? 0) };
}

/** The writer group's pending count and lag (entries not yet delivered) on a stream. */
export async function groupState(redis: Redis, stream: string): Promise<{ pending: number; lag: number }> {
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  for (const group of groups) {
    const record: Record<string, unknown> = {};
    for (let i = 0; i + 1 < group.length; i += 2) record[String(group[i])] = group[i + 1];
    if (record.name === 'writer') return { pending: Number(record.pending), lag: Number(record.lag ?? 0) };
  }
  return { pending: 0, lag: Number.POSITIVE_INFINITY };
}

/** Dead letters on the dlq stream, oldest first. */
export async function deadLetters(redis: Redis): Promise<DeadLetter[]> {
  const entries = await redis.xrange('dlq', '-', '+');
  return entries.map(
    ([, fields]) => JSON.parse(fields[fields.indexOf(MESSAGE_FIELD) + 1] ?? '{}') as DeadLetter,
  );
}

/** Polls `probe` every 25 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/** The value of a counter or gauge without labels in a registry. */
export async function metricValue(registry: Registry, name: string): Promise<number> {
  const found = registry.getSingleMetric(name);
  const values = found ? (await found.get()).values : [];
  return values.reduce((sum, value) => sum + value.value, 0);
}
