import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { hourlyAqi, POLLUTANTS } from '@sensormesh/aqi';
import { insertReadings } from '@sensormesh/store';
import {
  close,
  DAY,
  groupStats,
  HOUR,
  hourlyMeans,
  loadStations,
  pearson,
  withinRank,
} from '@sensormesh/store/analytics-test-data';
import { useServers } from '@sensormesh/testkit';
import { type TestGateway, testGateway } from '../../test-support/gateway.ts';

const servers = useServers({ redis: true, clickhouse: true });
let gw: TestGateway;
let token: string;
let analyticsKey: string;

const JAN = Date.UTC(2015, 0, 1);
const FEB = Date.UTC(2015, 1, 1);
const DONGSI = 'aq-beijing-dongsi';
const TIANTAN = 'aq-beijing-tiantan';
const beijing = await loadStations(['Dongsi', 'Tiantan'], JAN - DAY, FEB);
const iso = (ms: number) => new Date(ms).toISOString();

beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  for (let offset = 0; offset < beijing.length; offset += 10_000) {
    await insertReadings(gw.store)(beijing.slice(offset, offset + 10_000));
  }
  await gw.call('POST', '/api/v1/auth/register', {
    body: { email: 'analyst@example.org', password: 'harbour-lamp-7731' },
  });
  token = (await gw.login('analyst@example.org', 'harbour-lamp-7731')).accessToken;
  const key = await gw.call('POST', '/api/v1/api-keys', {
    body: { name: 'notebook', scopes: ['read:analytics'] },
    token,
  });
  analyticsKey = key.json.key;
});
afterAll(() => gw?.close());

const get = (path: string) => gw.call('GET', `/api/v1${path}`, { token });

describe('timeseries', () => {
  test('daily buckets over HTTP equal the hand computation; ISO times and units; hourly rollup only', async () => {
    const response = await get(
      `/analytics/timeseries?sensors=${DONGSI},${TIANTAN}&metrics=pm25&from=2015-01-01T00:00:00Z&to=${FEB}&bucket=1d`,
    );
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      from: iso(JAN),
      to: iso(FEB),
      bucket: '1d',
      bucketMs: DAY,
      tz: 'UTC',
    });
    expect(response.json.sources).toEqual([
      { level: 'hour', table: 'readings_per_hour', from: iso(JAN), to: iso(FEB) },
    ]);
    const want = groupStats(beijing, (row) =>
      row.metric === 'pm25' && row.ts >= JAN
        ? `${row.sensorId}|${Math.floor(row.ts / DAY) * DAY}`
        : undefined,
    );
    let points = 0;
    for (const series of response.json.series) {
      expect(series.unit).toBe('µg/m³');
      for (const point of series.points) {
        const hand = want.get(`${series.sensorId}|${point.ts}`);
        expect(point.time).toBe(iso(point.ts));
        expect([point.count, point.min, point.max]).toEqual([hand?.count, hand?.min, hand?.max]);
        expect(close(point.avg, (hand?.sum ?? 0) / (hand?.count ?? 1))).toBe(true);
        expect(withinRank(hand?.values ?? [], 0.95, point.p95)).toBe(true);
        points++;
      }
    }
    expect(points).toBe(want.size);
  });

  test('an API key with read:analytics may ask; asked-for aggregates only', async () => {
    const response = await gw.call(
      'GET',
      `/api/v1/analytics/timeseries?sensors=${DONGSI}&metrics=temp&from=${JAN}&to=${JAN + 2 * HOUR}&aggregates=avg`,
      { headers: { 'x-api-key': analyticsKey } },
    );
    expect(response.status).toBe(200);
    const hours = beijing.filter(
      (r) => r.sensorId === DONGSI && r.metric === 'temp' && r.ts >= JAN && r.ts < JAN + 2 * HOUR,
    );
    expect(response.json.series[0].points).toEqual(
      hours.map((r) => ({ time: iso(r.ts), ts: r.ts, avg: r.value })),
    );
  });
});

test('per-series statistics are paged', async () => {
  const first = await get(`/analytics/stats?sensors=${DONGSI}&from=${JAN}&to=${FEB}&limit=5`);
  expect(first.status).toBe(200);
  expect(first.json).toMatchObject({ limit: 5, offset: 0, hasMore: true });
  const rest = await get(`/analytics/stats?sensors=${DONGSI}&from=${JAN}&to=${FEB}&limit=100&offset=5`);
  const metrics = [...first.json.items, ...rest.json.items].map((item: { metric: string }) => item.metric);
  expect(metrics).toEqual([...new Set(beijing.map((r) => r.metric))].sort());
  expect(rest.json.hasMore).toBe(false);
});

test('completeness, exceedance and correlation match the CSV', async () => {
  const pm25 = beijing.filter((r) => r.sensorId === DONGSI && r.metric === 'pm25' && r.ts >= JAN);
  const completeness = await get(
    `/analytics/completeness?sensors=${DONGSI}&metrics=pm25&from=${JAN}&to=${FEB}`,
  );
  expect(completeness.status).toBe(200);
  expect(completeness.json.sensors[0]).toMatchObject({
    sensorId: DONGSI,
    expectedHours: 744,
    presentHours: pm25.length,
    metrics: [{ metric: 'pm25', presentHours: pm25.length, readings: pm25.length }],
  });
  const exceedance = await get(
    `/analytics/exceedance?sensors=${DONGSI}&metric=pm25&threshold=250&from=${JAN}&to=${FEB}`,
  );
  const over = pm25.filter((r) => r.value > 250);
  expect(exceedance.json.sensors[0]).toEqual({
    sensorId: DONGSI,
    exceedanceHours: over.length,
    hoursWithData: pm25.length,
    share: over.length / pm25.length,
    firstExceedance: iso(over[0]?.ts ?? 0),
    lastExceedance: iso(over.at(-1)?.ts ?? 0),
  });
  const correlation = await get(
    `/analytics/correlation?sensor=${DONGSI}&metric=pm25&otherSensor=${TIANTAN}&from=${JAN}&to=${FEB}`,
  );
  const xs = hourlyMeans(beijing, DONGSI, 'pm25');
  const ys = hourlyMeans(beijing, TIANTAN, 'pm25');
  const pairs = [...xs]
    .filter(([hour]) => hour >= JAN && ys.has(hour))
    .map(([hour, x]) => [x, ys.get(hour) as number] as [number, number]);
  expect(correlation.json).toMatchObject({
    x: { sensorId: DONGSI, metric: 'pm25' },
    y: { sensorId: TIANTAN, metric: 'pm25' },
  });
  expect(correlation.json.n).toBe(pairs.length);
  expect(close(correlation.json.r, pearson(pairs))).toBe(true);
});

test('diurnal profile in Beijing time, and sensors compared on one time axis', async () => {
  const profile = await get(
    `/analytics/profiles/diurnal?sensors=${DONGSI}&metrics=pm25&from=${JAN}&to=${FEB}&tz=Asia/Shanghai`,
  );
  expect(profile.status).toBe(200);
  const bySlot = groupStats(beijing, (r) =>
    r.sensorId === DONGSI && r.metric === 'pm25' && r.ts >= JAN
      ? new Date(r.ts + 8 * HOUR).getUTCHours()
      : undefined,
  );
  expect(profile.json.series[0].slots.map((s: { slot: number; count: number }) => [s.slot, s.count])).toEqual(
    [...bySlot].sort(([a], [b]) => a - b).map(([slot, group]) => [slot, group.count]),
  );
  const weekly = await get(`/analytics/profiles/weekly?sensors=${DONGSI}&metrics=pm25&from=${JAN}&to=${FEB}`);
  expect(weekly.json.series[0].slots.map((s: { slot: number }) => s.slot)).toEqual([1, 2, 3, 4, 5, 6, 7]);

  const compare = await get(
    `/analytics/compare?sensors=${DONGSI},${TIANTAN},nowhere&metric=pm10&from=${JAN}&to=${JAN + 3 * DAY}&bucket=1d&aggregate=max`,
  );
  expect(compare.status).toBe(200);
  expect(compare.json.times).toEqual([iso(JAN), iso(JAN + DAY), iso(JAN + 2 * DAY)]);
  const dailyMax = (sensor: string) =>
    [0, 1, 2].map((d) =>
      Math.max(
        ...beijing
          .filter((r) => r.sensorId === sensor && r.metric === 'pm10' && Math.floor((r.ts - JAN) / DAY) === d)
          .map((r) => r.value),
      ),
    );
  expect(compare.json.sensors.map((s: { values: unknown[] }) => s.values)).toEqual([
    dailyMax(DONGSI),
    dailyMax(TIANTAN),
    [null, null, null],
  ]);
  expect(compare.json.sensors[2].summary).toBeNull();
  expect(compare.json.sensors[0].summary.max).toBe(Math.max(...dailyMax(DONGSI)));
});

test('AQI history: the index at every hour from the hourly means, with the hours before the range', async () => {
  const from = JAN + 5 * DAY;
  const to = from + 12 * HOUR;
  const response = await get(
    `/analytics/aqi?sensors=${DONGSI}&from=${iso(from)}&to=${iso(to)}&standard=us-epa`,
  );
  expect(response.status).toBe(200);
  // By hand: hourly means straight from the CSV, 23 hours before the range for the 24-hour averages.
  const start = from - 23 * HOUR;
  const series = Object.fromEntries(
    POLLUTANTS.map((pollutant) => {
      const means = hourlyMeans(beijing, DONGSI, pollutant);
      return [pollutant, Array.from({ length: 35 }, (_, i) => means.get(start + i * HOUR) ?? null)];
    }),
  );
  const want = hourlyAqi('us-epa', series)
    .map((result, i) => ({ result, ts: start + i * HOUR }))
    .filter(({ result, ts }) => result && ts >= from)
    .map(({ result, ts }) => ({ ts, aqi: result?.value, dominant: result?.dominant }));
  expect(want.length).toBe(12);
  expect(
    response.json.sensors[0].hours.map((h: { ts: number; aqi: number; dominant: string }) => ({
      ts: h.ts,
      aqi: h.aqi,
      dominant: h.dominant,
    })),
  ).toEqual(want);
  expect(response.json.sensors[0].hours[0].category).toMatchObject({
    key: expect.any(String),
    colour: expect.stringMatching(/^#/),
  });
});
