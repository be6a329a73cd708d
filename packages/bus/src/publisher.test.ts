import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { AppError } from '@sensormesh/errors';
import { createRegistry } from '@sensormesh/metrics';
import { useServers } from '@sensormesh/testkit';
import type Redis from 'ioredis';
import { MESSAGE_FIELD } from './codec.ts';
import { BusPublishError, BusValidationError } from './errors.ts';
import { createPublisher } from './publisher.ts';
import { parseEntries } from './replies.ts';
import { type Reading, readings } from './streams.ts';
import { connect, reading, testStream } from './test-fixtures/helpers.ts';

describe('publisher', () => {
  const servers = useServers({ redis: true });
  let redis: Redis;

  beforeEach(async () => {
    redis = connect(servers.redis.url);
    await redis.flushall();
  });

  afterEach(() => redis.disconnect());

  test('publishBatch appends every message as one JSON field and returns the ids in order', async () => {
    const registry = createRegistry();
    const stream = testStream(['writer']);
    const messages = Array.from({ length: 2_500 }, (_, i) => reading(i));
    const ids = await createPublisher(redis, { registry }).publishBatch(stream, messages);

    const entries = parseEntries(await redis.xrange(stream.name, '-', '+'));
    expect(entries.map((entry) => entry.id)).toEqual(ids);
    expect(entries[1_234]?.fields).toEqual([MESSAGE_FIELD, JSON.stringify(messages[1_234])]);
    expect(await registry.metrics()).toContain(`bus_messages_published_total{stream="${stream.name}"} 2500`);
  });

  test('a batch Redis refuses fails with BusPublishError carrying the refusal and no ids', async () => {
    await redis.set('readings', 'not a stream');
    const messages = Array.from({ length: 1_500 }, (_, i) => reading(i));
    const error = await createPublisher(redis)
      .publishBatch(readings, messages)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BusPublishError);
    const { ids, cause } = error as BusPublishError;
    expect(ids).toEqual(messages.map(() => null));
    expect(String(cause)).toContain('WRONGTYPE');
    expect(await redis.get('readings')).toBe('not a stream');
  });

  test('publish appends one message to the catalogue stream', async () => {
    const id = await createPublisher(redis).publish(readings, reading(1));
    const [entry] = parseEntries(await redis.xrange('readings', '-', '+'));
    expect(entry?.id).toBe(id);
    expect(JSON.parse(entry?.fields?.[1] ?? '')).toEqual(reading(1));
  });

  test('an invalid message is rejected with BusValidationError and nothing of the batch is sent', async () => {
    const publisher = createPublisher(redis);
    const bad = { ...reading(2), sensorId: '', ts: 1.5 } as Reading;
    const error = await publisher
      .publishBatch(readings, [reading(1), bad, reading(3)])
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BusValidationError);
    expect(error).toBeInstanceOf(AppError);
    const { issues, code, stream } = error as BusValidationError;
    expect(code).toBe('VALIDATION_FAILED');
    expect(stream).toBe('readings');
    expect(issues).toContainEqual(expect.objectContaining({ index: 1, path: '/sensorId' }));
    expect(issues).toContainEqual(expect.objectContaining({ index: 1, path: '/ts' }));
    expect(await redis.exists('readings')).toBe(0);

    const missing = { sensorId: 's-1' } as unknown as Reading;
    await expect(publisher.publish(readings, missing)).rejects.toThrow(/invalid message for stream readings/);
    expect(await redis.exists('readings')).toBe(0);
  });
});
