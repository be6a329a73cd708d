import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import type { ReadingRow } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { LATEST_INDEX, latestKey, latestValues } from './latest-values.ts';

const row = (sensorId: string, metric: string, ts: number, value: number): ReadingRow => ({
  sensorId,
  metric,
  ts,
  value,
  receivedAt: ts + 100,
  source: 'mqtt',
});

describe('latest values in Redis', () => {
  const servers = useServers({ redis: true });
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(servers.redis.url);
  });
  afterAll(() => redis.disconnect());
  beforeEach(async () => {
    await redis.flushall();
  });

  test('keeps the newest value per sensor and metric, whatever order batches arrive in', async () => {
    const latest = latestValues(redis);
    await latest.update([
      row('s1', 'pm25', 2_000, 20),
      row('s1', 'rh', 2_000, 50),
      row('s2', 'pm25', 1_500, 7),
    ]);
    // An older batch (a retry, a claimed batch) changes nothing.
    expect(await latest.update([row('s1', 'pm25', 1_000, 10), row('s1', 'rh', 1_999, 49)])).toBe(0);
    // A newer value of one metric replaces only that metric.
    await latest.update([row('s1', 'pm25', 3_000, 30)]);
    expect(await latest.read('s1')).toEqual({ pm25: { v: 30, ts: 3_000 }, rh: { v: 50, ts: 2_000 } });
    expect(await latest.read('s2')).toEqual({ pm25: { v: 7, ts: 1_500 } });
    expect(await latest.read('never-seen')).toEqual({});
    // The index scores each sensor by its newest reading and never goes back.
    expect(await redis.zrange(LATEST_INDEX, '0', '-1', 'WITHSCORES')).toEqual(['s2', '1500', 's1', '3000']);
  });

  test('within a batch the newest row wins; on an equal ts the stored (first) value stays', async () => {
    const latest = latestValues(redis);
    await latest.update([
      row('s1', 'pm25', 5_000, 1),
      row('s1', 'pm25', 9_000, 2),
      row('s1', 'pm25', 7_000, 3),
    ]);
    await latest.update([row('s1', 'pm25', 9_000, 99)]);
    expect(await latest.read('s1')).toEqual({ pm25: { v: 2, ts: 9_000 } });
    expect(await redis.hget(latestKey('s1'), 'pm25')).toBe('{"v":2,"ts":9000}');
  });

  test('large batches are split across script calls and still land whole', async () => {
    const latest = latestValues(redis);
    const rows = Array.from({ length: 1_200 }, (_, i) => row(`fleet-${i}`, 'pm25', 1_700_000_000_000 + i, i));
    expect(await latest.update(rows)).toBe(1_200);
    expect(await redis.zcard(LATEST_INDEX)).toBe(1_200);
    expect(await latest.read('fleet-1199')).toEqual({ pm25: { v: 1_199, ts: 1_700_000_001_199 } });
  });
});
