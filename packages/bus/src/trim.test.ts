import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import type Redis from 'ioredis';
import { defineStream } from './catalogue.ts';
import { MESSAGE_FIELD } from './codec.ts';
import { createPublisher } from './publisher.ts';
import { parseEntries, parseReadGroup } from './replies.ts';
import { DeadLetter } from './streams.ts';
import { connect, reading, testStream, waitFor } from './test-fixtures/helpers.ts';
import { startTrimmer, trimStream } from './trim.ts';

describe('trimStream', () => {
  const servers = useServers({ redis: true });
  let redis: Redis;

  beforeEach(async () => {
    redis = connect(servers.redis.url);
    await redis.flushall();
  });

  afterEach(() => redis.disconnect());

  async function read(stream: string, group: string, count: number, from = '>'): Promise<string[]> {
    const reply = await redis.xreadgroup('GROUP', group, 'c1', 'COUNT', count, 'STREAMS', stream, from);
    return parseReadGroup(reply).map((entry) => entry.id);
  }

  async function firstId(stream: string): Promise<string | undefined> {
    return parseEntries(await redis.xrange(stream, '-', '+', 'COUNT', 1))[0]?.id;
  }

  test('never drops what a lagging group has not consumed, keeps pending entries, then trims per policy', async () => {
    const stream = testStream(['fast', 'slow'], { maxLen: 10 });
    const ids = await createPublisher(redis).publishBatch(
      stream,
      Array.from({ length: 100 }, (_, i) => reading(i)),
    );
    for (const group of stream.groups) await redis.xgroup('CREATE', stream.name, group, '0');
    await redis.xack(stream.name, 'fast', ...(await read(stream.name, 'fast', 100)));

    // slow has read nothing: nothing may go.
    expect(await trimStream(redis, stream)).toBe(0);
    expect(await redis.xlen(stream.name)).toBe(100);

    // slow read 30 and acked 20: the 10 pending ones and everything unread stay.
    const slowRead = await read(stream.name, 'slow', 30);
    await redis.xack(stream.name, 'slow', ...slowRead.slice(0, 20));
    expect(await trimStream(redis, stream, { stepEntries: 7 })).toBe(20);
    expect(await firstId(stream.name)).toBe(ids[20]);
    const pending = parseReadGroup(
      await redis.xreadgroup('GROUP', 'slow', 'c1', 'COUNT', 100, 'STREAMS', stream.name, '0'),
    );
    expect(pending.map((entry) => entry.id)).toEqual(ids.slice(20, 30));
    expect(pending.every((entry) => entry.fields !== null)).toBe(true);

    // Pending acked, 70 still unread by slow: trimmed up to the first unread entry only.
    await redis.xack(stream.name, 'slow', ...slowRead.slice(20));
    expect(await trimStream(redis, stream)).toBe(10);
    expect(await firstId(stream.name)).toBe(ids[30]);

    // Both groups consumed everything: the policy (maxLen 10) decides, in steps of 7 entries here.
    await redis.xack(stream.name, 'slow', ...(await read(stream.name, 'slow', 100)));
    expect(await trimStream(redis, stream, { stepEntries: 7 })).toBe(60);
    expect(await redis.xlen(stream.name)).toBe(10);
    expect(await firstId(stream.name)).toBe(ids[90]);
    expect(await trimStream(redis, stream)).toBe(0);
  });

  test('maxAgeMs drops old entries only once every group has acked them', async () => {
    const stream = testStream(['writer'], { maxAgeMs: 60_000 });
    const hourAgo = Date.now() - 3_600_000;
    const old: string[] = [];
    for (let i = 0; i < 5; i++) {
      old.push(
        (await redis.xadd(stream.name, `${hourAgo}-${i}`, MESSAGE_FIELD, JSON.stringify(reading(i)))) ?? '',
      );
    }
    const fresh = await createPublisher(redis).publishBatch(stream, [reading(10), reading(11)]);
    await redis.xgroup('CREATE', stream.name, 'writer', '0');
    const delivered = await read(stream.name, 'writer', 100);
    expect(await trimStream(redis, stream)).toBe(0);

    await redis.xack(stream.name, 'writer', ...delivered);
    expect(await trimStream(redis, stream)).toBe(5);
    expect(await firstId(stream.name)).toBe(fresh[0]);
  });

  test('a catalogue group that does not exist yet blocks trimming', async () => {
    const stream = testStream(['writer', 'late'], { maxLen: 1 });
    await createPublisher(redis).publishBatch(stream, [reading(1), reading(2), reading(3)]);
    await redis.xgroup('CREATE', stream.name, 'writer', '$');
    expect(await trimStream(redis, stream)).toBe(0);
    expect(await redis.xlen(stream.name)).toBe(3);
  });

  test('a stream without groups (like the dlq) is trimmed by policy alone; startTrimmer runs it', async () => {
    const letters = defineStream({
      name: 'dead-letters-test',
      schema: DeadLetter,
      groups: [],
      retry: { maxAttempts: 1, backoffMs: 0 },
      trim: { maxLen: 3 },
    });
    const letter = { source: 'mqtt', reason: 'bad', payload: '{}', at: Date.now() };
    await createPublisher(redis).publishBatch(
      letters,
      Array.from({ length: 8 }, () => letter),
    );
    const stop = startTrimmer(redis, [letters], 20);
    try {
      await waitFor('the trimmer to run', async () => (await redis.xlen(letters.name)) === 3);
    } finally {
      await stop();
    }
  });
});
