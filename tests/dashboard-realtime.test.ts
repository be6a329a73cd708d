/**
 * A reading's way to the realtime dashboard: on the readings stream (as ingest puts it), through
 * the real writer into ClickHouse and the Redis latest-value hash, and out of the gateway's
 * /sensors/:id/latest and /dashboard/realtime, AQI included. The writer's Redis write is awaited
 * through a keyspace notification, not a timer.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { computeAqi, nowcast } from '@sensormesh/aqi';
import { createPublisher, readings } from '@sensormesh/bus';
import { parseEnv } from '@sensormesh/config';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { useServers } from '@sensormesh/testkit';
import { startWriter, type Writer, WriterEnv } from '@sensormesh/writer';
import Redis from 'ioredis';
import { type TestGateway, testGateway } from '../services/gateway/src/test-support/gateway.ts';
import { latestWritten } from './support/latest-values.ts';

const HOUR = 3_600_000;
let gw: TestGateway;
let writer: Writer;
let watcher: Redis;

// Registered before useServers, so it runs while Redis is still up: a writer stopped after its
// Redis is gone would wait for a connection that never returns.
afterAll(async () => {
  watcher?.disconnect();
  await writer?.stop();
  await gw?.close();
});
const servers = useServers({ redis: true, clickhouse: true });

beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  writer = await startWriter({
    config: parseEnv(WriterEnv, { WRITER_CONSUMER: 'dashboard-e2e', WRITER_MAX_WAIT_MS: '0' }),
    store: gw.store,
    redis: gw.redis,
    logger: silentLogger(),
    registry: createRegistry(),
  });
  await gw.ctx.sensors.create(
    { id: 'aq-e2e', name: 'End to end', kind: 'air-quality', site: 'lab', tags: [] },
    'test',
    { status: 'active' },
  );
  watcher = new Redis(servers.redis.url);
  await gw.redis.config('SET', 'notify-keyspace-events', 'Kh');
});

test('three hours of readings through the writer: latest values, status and a NowCast AQI', async () => {
  const now = Date.now();
  const publisher = createPublisher(gw.redis);
  const hours = [10, 20, 30]; // two and one hour ago, and now
  for (const [index, pm25] of hours.entries()) {
    const ts = now - (hours.length - 1 - index) * HOUR;
    await publisher.publish(readings, {
      sensorId: 'aq-e2e',
      ts,
      metrics: { pm25, temp: 21.5 },
      receivedAt: ts,
      source: 'http',
    });
  }
  await latestWritten(gw.redis, watcher, 'aq-e2e', now);

  const latest = await gw.call('GET', '/api/v1/sensors/aq-e2e/latest');
  expect(latest.status).toBe(200);
  expect(latest.json).toMatchObject({
    id: 'aq-e2e',
    status: 'online',
    lastSeen: new Date(now).toISOString(),
    values: { pm25: { value: 30, unit: 'µg/m³' }, temp: { value: 21.5, unit: '°C' } },
  });
  // The writer's rows fed the hourly rollup, so the index is the NowCast of the three hours.
  const expected = computeAqi('us-epa', { pm25: { nowcast: nowcast([30, 20, 10]) } });
  expect(latest.json.aqi).toMatchObject({ basis: 'hourly', value: expected?.value, dominant: 'pm25' });

  const realtime = await gw.call('GET', '/api/v1/dashboard/realtime');
  const { standard: _standard, ...view } = latest.json;
  expect(realtime.json.sensors).toEqual([expect.objectContaining(view)]);
});
