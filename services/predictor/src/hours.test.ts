import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createPublisher, type Delivery, type Reading, readings } from '@sensormesh/bus';
import { CHANNELS } from '@sensormesh/models';
import { useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { openHourKey, sharedHours } from './hours.ts';

const servers = useServers({ redis: true });
let redis: Redis;
const HOUR = 3_600_000;
const H = 490_000;
const pm25 = CHANNELS.indexOf('pm25');

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
    const { due } = await hours.fold(await deliver([reading('s-1', H * HOUR + i * 60_000, i)]));
    expect(due).toEqual([]);
  }
  expect(await redis.llen(openHourKey('s-1', H))).toBeLessThan(16);
  const { due } = await hours.fold(await deliver([reading('s-1', (H + 1) * HOUR, 100)]));
  expect(due).toHaveLength(1);
  expect(due[0]).toMatchObject({ sensorId: 's-1', hour: H });
  expect(due[0]?.means[pm25]).toBeCloseTo(19.5, 5); // mean of 0…39
  expect(due[0]?.means[CHANNELS.indexOf('so2')]).toBeNaN(); // never reported
  const [pending] = (await redis.xpending(readings.name, 'predictor')) as [number];
  expect(pending).toBe(0);
});

test('a quiet sensor’s hour is closed by the sweep once, and a straggler for it is late, not a reopening', async () => {
  const hours = sharedHours(redis, 'predictor');
  await hours.fold(await deliver([reading('s-2', H * HOUR + 5_000, 10)]));
  expect(await hours.sweep((H + 1) * HOUR + 60_000, 120_000)).toEqual([]); // within the grace
  const swept = await hours.sweep((H + 1) * HOUR + 120_000, 120_000);
  expect(swept.map((d) => [d.sensorId, d.hour, d.means[pm25]])).toEqual([['s-2', H, 10]]);
  const straggler = await hours.fold(await deliver([reading('s-2', H * HOUR + 50_000, 99)]));
  expect(straggler).toEqual({ due: [], late: 1 });
  // Another replica reading the closed hour gets the same means.
  const closed = await hours.closed([{ sensorId: 's-2', hour: H }]);
  expect(closed.get(`s-2\u0000${H}`)?.[pm25]).toBe(10);
});
