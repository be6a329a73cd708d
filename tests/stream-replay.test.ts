/**
 * A WebSocket client resumes from a cursor the readings stream has already trimmed: the real writer
 * stored every reading with its stream entry id (migration 008), so the gateway replays the trimmed
 * part from ClickHouse, the rest from the stream, then live, each reading once and in order. The
 * writer's progress is awaited through a keyspace notification, not a timer.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { readings } from '@sensormesh/bus';
import { parseEnv } from '@sensormesh/config';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { useServers } from '@sensormesh/testkit';
import { startWriter, type Writer, WriterEnv } from '@sensormesh/writer';
import Redis from 'ioredis';
import {
  reading,
  type StreamGateway,
  streamGateway,
} from '../services/gateway/src/modules/stream/test-support.ts';
import { latestWritten } from './support/latest-values.ts';

let sg: StreamGateway;
let writer: Writer;
let watcher: Redis;
// Registered before useServers, so it runs while Redis and ClickHouse are still up.
afterAll(async () => {
  watcher?.disconnect();
  await writer?.stop();
  await sg?.close();
});
const servers = useServers({ redis: true, clickhouse: true });

beforeAll(async () => {
  sg = await streamGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  writer = await startWriter({
    config: parseEnv(WriterEnv, { WRITER_CONSUMER: 'replay-e2e', WRITER_MAX_WAIT_MS: '0' }),
    store: sg.gw.store,
    redis: sg.gw.redis,
    logger: silentLogger(),
    registry: createRegistry(),
  });
  watcher = new Redis(servers.redis.url);
  await sg.gw.redis.config('SET', 'notify-keyspace-events', 'Kh');
});

test('resume from a trimmed cursor: ClickHouse (written by the writer), then the stream, then live', async () => {
  const first = Array.from({ length: 120 }, (_, n) => reading(`e2e-${n % 4}`, n));
  const ids = await sg.publisher.publishBatch(readings, first);
  const last = first.at(-1) as (typeof first)[number];
  // The writer handles batches in order, so the last reading stored means all of them are.
  await latestWritten(sg.gw.redis, watcher, last.sensorId, last.ts);
  // What the trimmer does once every group is past them: the first 80 entries leave the stream.
  await sg.gw.redis.xtrim(readings.name, 'MINID', ids[80] as string);

  const socket = await sg.connect();
  socket.send({
    type: 'subscribe',
    id: 'r',
    channel: 'readings',
    since: ids[19],
    filter: { sensorIds: ['e2e-1', 'e2e-2'] },
  });
  await socket.nextOf('subscribed', 'r');
  const more = Array.from({ length: 20 }, (_, n) => reading(`e2e-${n % 4}`, 120 + n));
  const moreIds = await sg.publisher.publishBatch(readings, more);

  const all = [...first, ...more].map((r, index) => ({ r, id: [...ids, ...moreIds][index] as string }));
  const expected = all.slice(20).filter(({ r }) => r.sensorId === 'e2e-1' || r.sensorId === 'e2e-2');
  const events = await socket.events('r', (events) => events.at(-1)?.cursor === expected.at(-1)?.id);
  expect(events.map((frame) => frame.cursor)).toEqual(expected.map(({ id }) => id));
  expect(events.map((frame) => frame.data)).toEqual(
    expected.map(({ r }) => r) as unknown as Record<string, unknown>[],
  );
  await socket.roundTrip();
  expect(socket.frames.filter((frame) => frame.type === 'event').length).toBe(expected.length);
  await socket.close();
});
