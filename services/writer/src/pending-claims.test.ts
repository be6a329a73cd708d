import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { pendingClaims } from './pending-claims.ts';

/** Delivery count and idle ms of each pending entry of the group. */
async function pending(redis: Redis, stream: string) {
  const rows = (await redis.xpending(stream, 'writer', '-', '+', 100)) as [string, string, number, number][];
  return rows.map(([id, consumer, idle, deliveries]) => ({ id, consumer, idle, deliveries }));
}

describe('pending claims', () => {
  const servers = useServers({ redis: true });
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(servers.redis.url);
    await redis.xgroup('CREATE', 'claims', 'writer', '0', 'MKSTREAM');
    for (const n of [1, 2, 3]) await redis.xadd('claims', '*', 'm', String(n));
  });
  afterAll(() => redis.disconnect());

  test('keep() resets the idle time without counting a delivery; release() uncounts one', async () => {
    await redis.xreadgroup('GROUP', 'writer', 'w1', 'COUNT', 10, 'STREAMS', 'claims', '>');
    const ids = (await pending(redis, 'claims')).map((entry) => entry.id);
    const claims = pendingClaims(redis, 'claims', 'writer', 'w1');
    await Bun.sleep(60); // idle time is what keep() acts on
    expect(await claims.keep(ids, 50)).toBe(3);
    for (const entry of await pending(redis, 'claims')) {
      expect(entry.deliveries).toBe(1);
      expect(entry.idle).toBeLessThan(50);
    }
    // Held for less than minIdle (another consumer's fresh claim, say): left alone.
    expect(await claims.keep(ids, 10_000)).toBe(0);

    await claims.release(ids.map((id, i) => ({ id, attempts: i + 1 })));
    expect((await pending(redis, 'claims')).map((entry) => entry.deliveries)).toEqual([0, 1, 2]);
    expect((await pending(redis, 'claims')).every((entry) => entry.consumer === 'w1')).toBe(true);
  });
});
