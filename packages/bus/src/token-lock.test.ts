import { afterAll, beforeAll, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { tokenLock } from './token-lock.ts';

const servers = useServers({ redis: true });
let redis: Redis;
beforeAll(() => {
  redis = new Redis(servers.redis.url);
});
afterAll(() => redis.disconnect());

test('only the holder renews or releases; a lock nobody renews lapses after its ttl', async () => {
  const lock = tokenLock(redis, `lock-${process.pid}`);
  expect(await lock.take('a', 60_000)).toBe(true);
  expect(await lock.take('b', 60_000)).toBe(false);
  // Another token touches nothing.
  expect(await lock.renew('b', 10)).toBe(false);
  expect(await lock.release('b')).toBe(false);
  expect(await redis.get(lock.key)).toBe('a');
  expect(await redis.pttl(lock.key)).toBeGreaterThan(10_000);
  // The holder's renewal sets the ttl from now, shorter or longer.
  expect(await lock.renew('a', 50)).toBe(true);
  expect(await redis.pttl(lock.key)).toBeLessThanOrEqual(50);
  await Bun.sleep(80);
  // Lapsed: the next taker gets it, and the old holder's release leaves it alone.
  expect(await lock.take('b', 60_000)).toBe(true);
  expect(await lock.release('a')).toBe(false);
  expect(await lock.release('b')).toBe(true);
  expect(await redis.exists(lock.key)).toBe(0);
});
