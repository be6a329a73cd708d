import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createPublisher, type Delivery, type Reading, readings } from '@sensormesh/bus';
import { CHANNELS } from '@sensormesh/models';
import { useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { ATTEMPTS_KEY, DUE_KEY, openHourKey, sharedHours } from './hours.ts';

const servers = useServers({ redis: true });
let redis: Redis;
const HOUR = 3_600_000;
const H = 490_000;
const pm25 = CHANNELS.indexOf('pm25');
/** Retry deadlines far in the future unless a test says otherwise. */
const LATER = 10 ** 15;

beforeAll(async () => {
  redis = new Redis(servers.redis.url);
  await redis.flushall();
  await redis.xgroup('CREATE', readings.name, 'predictor', '0', 'MKSTREAM');
});
afterAll(() => redis?.disconnect());

/** Publishes readings and reads them as the group would, so the fold can ack them. */
async function deliver(batch: Reading[]): Promise<Delivery<Reading>[]> {
  await createPublisher(redis).publishBatch(readings, batch);
  const reply = (await redis.xreadgroup(
    'GROUP',
    'predictor',
    'test',
    'COUNT',
    1_000,
    'STREAMS',
    readings.name,
    '>',
  )) as [string, [string, string[]][]][];
  return (reply[0]?.[1] ?? []).map(([id, fields]) => ({
    id,
    data: JSON.parse(fields[1] as string),
    attempts: 1,
  }));
}
const reading = (sensorId: string, ts: number, value: number): Reading => ({
  sensorId,
  ts,
  metrics: { pm25: value, temp: -value },
  receivedAt: ts,
  source: 'test',
});

test('one hour folded over many calls keeps an exact mean, stays short in Redis, and acks every entry', async () => {
  const hours = sharedHours(redis, 'predictor');
  // 40 readings of one hour in 40 handler calls: the list is compacted as it grows.
  for (let i = 0; i < 40; i++) {
    const { due } = await hours.fold(await deliver([reading('s-1', H * HOUR + i * 60_000, i)]), LATER);
    expect(due).toEqual([]);
  }
  expect(await redis.llen(openHourKey('s-1', H))).toBeLessThan(16);
  const { due } = await hours.fold(await deliver([reading('s-1', (H + 1) * HOUR, 100)]), LATER);
  expect(due).toHaveLength(1);
  expect(due[0]).toMatchObject({ sensorId: 's-1', hour: H });
  expect(due[0]?.means[pm25]).toBeCloseTo(19.5, 5); // mean of 0…39
  expect(due[0]?.means[CHANNELS.indexOf('so2')]).toBeNaN(); // never reported
  const [pending] = (await redis.xpending(readings.name, 'predictor')) as [number];
  expect(pending).toBe(0);
});

test('a quiet sensor’s hour is closed by the sweep once, and a straggler for it is late, not a reopening', async () => {
  const hours = sharedHours(redis, 'predictor');
  await hours.fold(await deliver([reading('s-2', H * HOUR + 5_000, 10)]), LATER);
  expect(await hours.sweep((H + 1) * HOUR + 60_000, 120_000, LATER)).toEqual([]); // within the grace
  const swept = await hours.sweep((H + 1) * HOUR + 120_000, 120_000, LATER);
  expect(swept.map((d) => [d.sensorId, d.hour, d.means[pm25]])).toEqual([['s-2', H, 10]]);
  const straggler = await hours.fold(await deliver([reading('s-2', H * HOUR + 50_000, 99)]), LATER);
  expect(straggler).toEqual({ due: [], late: 1 });
  // Another replica reading the closed hour gets the same means.
  const closed = await hours.closed([{ sensorId: 's-2', hour: H }]);
  expect(closed.get(`s-2\u0000${H}`)?.[pm25]).toBe(10);
});

test('a closed hour stays due until done: retried with its sums after its retry time, given up after the last attempt', async () => {
  await redis.del(DUE_KEY, ATTEMPTS_KEY);
  const hours = sharedHours(redis, 'predictor');
  const T = 1_000_000;
  await hours.fold(
    await deliver([reading('s-3', (H + 5) * HOUR, 7), reading('s-3', (H + 5) * HOUR + 1, 9)]),
    T,
  );
  const { due } = await hours.fold(await deliver([reading('s-3', (H + 6) * HOUR, 1)]), T);
  expect(due.map((d) => d.hour)).toEqual([H + 5]);
  // Not yet: its first pass may still be running.
  expect(await hours.retry(T - 1, T + 500, 2)).toEqual({ due: [], abandoned: [] });
  // The pass failed: the same hour comes back with the same means, the readings folded once.
  const first = await hours.retry(T, T + 500, 2);
  expect(first.due.map((d) => [d.sensorId, d.hour, d.means[pm25]])).toEqual([['s-3', H + 5, 8]]);
  expect(first.abandoned).toEqual([]);
  // Handed out once per retry time: a sweep in between does not take it again.
  expect((await hours.retry(T + 499, T + 1_000, 2)).due).toEqual([]);
  const second = await hours.retry(T + 500, T + 1_000, 2);
  expect(second.due.map((d) => d.hour)).toEqual([H + 5]);
  // Two attempts were allowed: the third time it is given up and forgotten.
  expect(await hours.retry(T + 1_000, T + 1_500, 2)).toEqual({
    due: [],
    abandoned: [{ sensorId: 's-3', hour: H + 5 }],
  });
  expect(await redis.zcard(DUE_KEY)).toBe(0);
  expect(await redis.hlen(ATTEMPTS_KEY)).toBe(0);
});

test('an hour marked done is not retried', async () => {
  await redis.del(DUE_KEY, ATTEMPTS_KEY);
  const hours = sharedHours(redis, 'predictor');
  await hours.fold(await deliver([reading('s-4', (H + 5) * HOUR, 7)]), 0);
  const { due } = await hours.fold(await deliver([reading('s-4', (H + 6) * HOUR, 1)]), 0);
  expect(due).toHaveLength(1);
  await hours.done(due);
  expect(await hours.retry(10, 20, 5)).toEqual({ due: [], abandoned: [] });
});
