import { afterAll, beforeAll, expect, test } from 'bun:test';
import { errorHandler, requestContext } from '@sensormesh/http';
import { silentLogger } from '@sensormesh/log';
import { type AnomalyRow, insertAnomalies, insertReadings } from '@sensormesh/store';
import { DAY, HOUR, loadStations } from '@sensormesh/store/analytics-test-data';
import { useServers } from '@sensormesh/testkit';
import { Elysia } from 'elysia';
import { type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { analyticsModule } from './index.ts';
import { localMidnight } from './platform.ts';

const servers = useServers({ redis: true, clickhouse: true });
let gw: TestGateway;
let token: string;

const JAN = Date.UTC(2015, 0, 1);
const FEB = Date.UTC(2015, 1, 1);
// Mid-hour and mid-minute, so "the last hour" needs raw rows, minutes and hours.
const NOW = Date.UTC(2015, 0, 20, 12, 30, 15);
const beijing = await loadStations(['Dongsi', 'Tiantan'], JAN, FEB);
const iso = (ms: number) => new Date(ms).toISOString();

beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  for (let offset = 0; offset < beijing.length; offset += 10_000) {
    await insertReadings(gw.store)(beijing.slice(offset, offset + 10_000));
  }
  const sensor = { name: 'S', latitude: 39.9, longitude: 116.4 };
  await gw.ctx.sensors.create({ ...sensor, id: 'aq-beijing-dongsi', kind: 'air-quality' }, 'test');
  await gw.ctx.sensors.create({ ...sensor, id: 'aq-beijing-tiantan', kind: 'air-quality' }, 'test');
  await gw.ctx.sensors.create({ ...sensor, id: 'boiler-1', kind: 'industrial' }, 'test', {
    status: 'pending',
  });
  const anomaly: AnomalyRow = {
    id: 'x',
    sensorId: 'aq-beijing-dongsi',
    metric: 'pm25',
    ts: NOW - 2 * HOUR,
    kind: 'spike',
    score: 0.9,
    threshold: 0.5,
    value: 400,
    expected: 80,
    windowStart: NOW - 14 * HOUR,
    modelId: 'faults',
    modelVersion: '1',
    streamId: '',
    detectedAt: NOW,
  };
  await insertAnomalies(gw.store)([
    anomaly,
    { ...anomaly, id: 'y', kind: 'stuck', sensorId: 'aq-beijing-tiantan' },
    { ...anomaly, id: 'z', ts: NOW - 3 * DAY },
  ]);
  await gw.call('POST', '/api/v1/auth/register', {
    body: { email: 'ops@example.org', password: 'granite-owl-5520' },
  });
  token = (await gw.login('ops@example.org', 'granite-owl-5520')).accessToken;
});
afterAll(() => gw?.close());

/** The module on the gateway's context with the clock at NOW. */
async function clocked(path: string) {
  const logger = silentLogger();
  const app = new Elysia({ normalize: false })
    .use(requestContext(logger))
    .use(errorHandler(logger))
    .group('/api/v1', (api) => api.use(analyticsModule(gw.ctx, { now: () => NOW })));
  const response = await app.handle(
    new Request(`http://localhost/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } }),
  );
  // biome-ignore lint/suspicious/noExplicitAny: assertions read the JSON loosely
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

const readingsIn = (from: number, to: number) => beijing.filter((r) => r.ts >= from && r.ts < to);

test('sensor stats: registry counts, readings today in the zone, the last hour and day', async () => {
  const response = await clocked('/sensors/stats?tz=Asia/Shanghai');
  expect(response.status).toBe(200);
  const today = Date.UTC(2015, 0, 20) - 8 * HOUR; // Beijing midnight
  const day = readingsIn(NOW - DAY, NOW);
  expect(response.json).toEqual({
    generatedAt: iso(NOW),
    sensors: { total: 3, byStatus: { active: 2, pending: 1 }, byKind: { 'air-quality': 2, industrial: 1 } },
    reporting: { lastHour: 2, last24Hours: 2 },
    readings: {
      lastHour: readingsIn(NOW - HOUR, NOW).length,
      last24Hours: day.length,
      today: readingsIn(today, NOW).length,
      todayFrom: iso(today),
    },
    metrics: [...new Set(day.map((r) => r.metric))].sort().map((metric) => ({
      metric,
      readings24h: day.filter((r) => r.metric === metric).length,
      sensors24h: 2,
    })),
  });
  expect((await clocked('/sensors/stats')).json.readings.todayFrom).toBe(iso(Date.UTC(2015, 0, 20)));
});

test('local midnight across a daylight-saving change', () => {
  // Berlin switched to summer time at 01:00 UTC on 2024-03-31: midnight that day was 23:00 UTC.
  expect(localMidnight('Europe/Berlin', Date.UTC(2024, 2, 31, 12))).toBe(Date.UTC(2024, 2, 30, 23));
  expect(localMidnight('Europe/Berlin', Date.UTC(2024, 3, 1, 12))).toBe(Date.UTC(2024, 2, 31, 22));
  expect(localMidnight('UTC', Date.UTC(2024, 3, 1))).toBe(Date.UTC(2024, 3, 1));
});

test('anomaly counts by kind and sensor, with filters', async () => {
  const all = await clocked(`/sensors/anomalies/count?from=${NOW - 7 * DAY}&to=${NOW}`);
  expect(all.json).toEqual({
    from: iso(NOW - 7 * DAY),
    to: iso(NOW),
    total: 3,
    byKind: { spike: 2, stuck: 1 },
    bySensor: { 'aq-beijing-dongsi': 2, 'aq-beijing-tiantan': 1 },
  });
  const day = await clocked('/sensors/anomalies/count?kinds=spike');
  expect(day.json).toMatchObject({ total: 1, from: iso(NOW - DAY), to: iso(NOW) });
});

test('dashboard metrics: stored readings, recent activity, anomalies in the last day', async () => {
  const response = await clocked('/dashboard/metrics');
  expect(response.json).toEqual({
    generatedAt: iso(NOW),
    sensors: { total: 3, active: 2, reportingLastHour: 2 },
    readings: {
      stored: beijing.length,
      lastHour: readingsIn(NOW - HOUR, NOW).length,
      last24Hours: readingsIn(NOW - DAY, NOW).length,
      perSecondLast5Minutes: readingsIn(NOW - 5 * 60_000, NOW).length / 300,
    },
    anomalies: { last24Hours: 2 },
  });
});

test('in the whole gateway, /sensors/stats and /sensors/anomalies/count are not taken for sensor ids', async () => {
  for (const path of [
    '/api/v1/sensors/stats',
    '/api/v1/sensors/anomalies/count',
    '/api/v1/dashboard/metrics',
  ]) {
    const response = await gw.call('GET', path, { token });
    expect(response.status, path).toBe(200);
    expect(response.json.error, path).toBeUndefined();
  }
  expect((await gw.call('GET', '/api/v1/sensors/stats', { token })).json.sensors.total).toBe(3);
});
