import { afterAll, beforeAll, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { SENT_THROUGH_KEY, sentThrough } from './sent-through.ts';

const servers = useServers({ redis: true });
let redis: Redis;
beforeAll(() => {
  redis = new Redis(servers.redis.url);
});
afterAll(() => redis.disconnect());

test('raise lifts each mark to the newest ts and answers the marks before, over several script calls', async () => {
  await redis.del(SENT_THROUGH_KEY);
  const marks = sentThrough(redis);
  // 12,000 sensors: three script calls of at most 5,000.
  const first = new Map(Array.from({ length: 12_000 }, (_, i) => [`s${i}`, 1_700_000_000_000 + i] as const));
  expect(await marks.raise(first)).toEqual(new Map());
  // Lower for even sensors (kept), higher for odd ones (raised), and one new sensor.
  const second = new Map<string, number>([['new', 5]]);
  for (let i = 0; i < 12_000; i++) second.set(`s${i}`, 1_700_000_000_000 + i + (i % 2 ? 1_000 : -1_000));
  const before = await marks.raise(second);
  expect(before.size).toBe(12_000);
  expect(before.get('s7')).toBe(1_700_000_000_007);
  expect(before.has('new')).toBe(false);
  const held = await redis.hgetall(SENT_THROUGH_KEY);
  expect(Number(held.s6)).toBe(1_700_000_000_006);
  expect(Number(held.s7)).toBe(1_700_000_001_007);
  expect(Number(held.new)).toBe(5);
});
