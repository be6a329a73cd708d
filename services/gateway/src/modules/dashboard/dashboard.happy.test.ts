import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { computeAqi, nowcast } from '@sensormesh/aqi';
import { useServers } from '@sensormesh/testkit';
import { Value } from '@sinclair/typebox/value';
import { type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { RealtimeSnapshot } from './model.ts';
import { addSensor, clockedDashboard, HOUR, putLatest, storeHourly } from './test-helpers.ts';

let gw: TestGateway;
let replica: TestGateway;
// Registered before useServers so the clients close while the servers are still up.
afterAll(async () => {
  await replica?.close();
  await gw?.close();
});
const servers = useServers({ redis: true, clickhouse: true });
const clock = { now: 0 };
let get: ReturnType<typeof clockedDashboard>;

// 12:30 UTC: the current hour is 12:00, so hourly slot 0 is 12:00–13:00 so far.
const T0 = Date.UTC(2026, 0, 10, 12, 30);
const HOUR_12 = Date.UTC(2026, 0, 10, 12);
const STALE_S = 600;
const OFFLINE_S = 3_600;

beforeAll(async () => {
  const urls = { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url };
  const settings = {
    DASHBOARD_STALE_AFTER_S: String(STALE_S),
    DASHBOARD_OFFLINE_AFTER_S: String(OFFLINE_S),
    DASHBOARD_HOURLY_CACHE_S: '15',
  };
  gw = await testGateway(urls, settings);
  replica = await testGateway(urls, settings, { database: gw.database });
  get = clockedDashboard(gw, clock);
  for (const id of ['aq-1', 'aq-2', 'aq-3']) await addSensor(gw, id);
  await addSensor(gw, 'aq-pending', 'pending');
  // aq-1: 12 hours of PM2.5 (EPA's NowCast example, newest hour = 12:00) and a PM10 hour.
  await storeHourly(gw, 'aq-1', 'pm25', [50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13], HOUR_12);
  await putLatest(gw, 'aq-1', { pm25: 13, temp: 3.5, vibration: 0.2 }, T0 - 5_000);
  // aq-2: latest values only, no hourly history yet.
  await putLatest(gw, 'aq-2', { pm25: 40, no2: 20 }, T0 - 1_000);
  // aq-3 never reported. aq-pending reported but is not active.
  await putLatest(gw, 'aq-pending', { pm25: 1 }, T0);
});
describe('GET /dashboard/realtime', () => {
  test('every active sensor (not pending) with latest values, units, last seen and status', async () => {
    clock.now = T0;
    const { status, json } = await get('/api/v1/dashboard/realtime');
    expect(status).toBe(200);
    expect(json.sensors.map((s: { id: string }) => s.id).sort()).toEqual(['aq-1', 'aq-2', 'aq-3']);
    expect(json).toMatchObject({
      generatedAt: new Date(T0).toISOString(),
      standard: 'us-epa',
      thresholds: { staleAfterS: STALE_S, offlineAfterS: OFFLINE_S },
      counts: { online: 2, stale: 0, offline: 1 },
    });
    const one = json.sensors.find((s: { id: string }) => s.id === 'aq-1');
    expect(one).toMatchObject({
      name: 'Sensor aq-1',
      site: 'site-aq-1',
      status: 'online',
      lastSeen: new Date(T0 - 5_000).toISOString(),
      ageS: 5,
      values: {
        pm25: { value: 13, unit: 'µg/m³', ts: new Date(T0 - 5_000).toISOString() },
        temp: { value: 3.5, unit: '°C' },
        vibration: { value: 0.2, unit: null },
      },
    });
    expect(Value.Check(RealtimeSnapshot, json)).toBe(true); // the documented schema (not checked per request)
    const never = json.sensors.find((s: { id: string }) => s.id === 'aq-3');
    expect(never).toMatchObject({ status: 'offline', lastSeen: null, ageS: null, values: {}, aqi: null });
  });

  test('AQI from hourly means: the NowCast of the stored hours, with category, colour and dominant pollutant', async () => {
    clock.now = T0;
    const { json } = await get('/api/v1/dashboard/realtime');
    const one = json.sensors.find((s: { id: string }) => s.id === 'aq-1');
    const expected = computeAqi('us-epa', {
      pm25: { nowcast: nowcast([13, 16, 10, 21, 74, 64, 53, 82, 90, 75, 80, 50]) },
    });
    expect(expected?.value).toBe(66);
    expect(one.aqi).toMatchObject({
      standard: 'us-epa',
      value: 66,
      basis: 'hourly',
      dominant: 'pm25',
      category: { key: 'moderate', name: 'Moderate', colour: '#ffff00' },
      pollutants: [
        { pollutant: 'pm25', averaging: 'nowcast', concentration: 17.4, unit: 'µg/m³', index: 66 },
      ],
    });
    expect(json.hourlyAsOf).toBe(new Date(T0).toISOString());
  });

  test('a sensor without hourly history gets an indicative AQI from its latest values', async () => {
    clock.now = T0;
    const { json } = await get('/api/v1/dashboard/realtime');
    const two = json.sensors.find((s: { id: string }) => s.id === 'aq-2');
    // PM2.5 40 → 112 (USG); NO2 20 µg/m³ = 10.6 ppb → 10
    expect(two.aqi).toMatchObject({ basis: 'latest', value: 112, dominant: 'pm25' });
    expect(two.aqi.pollutants.map((p: { pollutant: string }) => p.pollutant)).toEqual(['pm25', 'no2']);
  });

  test('an average the hours do not support yet comes from the latest value, marked, and can dominate', async () => {
    clock.now = T0;
    await addSensor(gw, 'aq-mixed');
    // Three hours of NO2, but PM2.5 only since this hour: no NowCast yet, so its latest value stands in.
    await storeHourly(gw, 'aq-mixed', 'no2', [30, 30, 30], HOUR_12);
    await storeHourly(gw, 'aq-mixed', 'pm25', [25], HOUR_12);
    await putLatest(gw, 'aq-mixed', { no2: 30, pm25: 40 }, T0 - 2_000);
    clock.now = T0 + 16_000; // past the hourly cache of the earlier tests
    const { json } = await get('/api/v1/sensors/aq-mixed/latest');
    // PM2.5 40 (latest) → 112 beats NO2 30 µg/m³ = 15.9 ppb (hourly) → 15
    expect(json.aqi).toMatchObject({ value: 112, dominant: 'pm25', basis: 'latest' });
    expect(
      json.aqi.pollutants.map((p: { pollutant: string; basis: string }) => [p.pollutant, p.basis]),
    ).toEqual([
      ['pm25', 'latest'],
      ['no2', 'hourly'],
    ]);
  });

  test('?standard= picks another index for this request', async () => {
    clock.now = T0;
    const { json } = await get('/api/v1/dashboard/realtime?standard=eu-caqi');
    expect(json.standard).toBe('eu-caqi');
    const one = json.sensors.find((s: { id: string }) => s.id === 'aq-1');
    // CAQI hourly: PM2.5 latest hour 13 µg/m³ → 25 × 13 / 15 = 21.7 → 22, Very low
    expect(one.aqi).toMatchObject({
      standard: 'eu-caqi',
      value: 22,
      basis: 'hourly',
      category: { key: 'very-low' },
    });
  });

  test('new hours shift the window: an hour later the NowCast uses 13:00 as its newest (empty) hour', async () => {
    clock.now = T0 + HOUR;
    const { json } = await get('/api/v1/dashboard/realtime');
    const one = json.sensors.find((s: { id: string }) => s.id === 'aq-1');
    const hours = [null, 13, 16, 10, 21, 74, 64, 53, 82, 90, 75, 80];
    expect(one.aqi.value).toBe(computeAqi('us-epa', { pm25: { nowcast: nowcast(hours) } })?.value);
    expect(one.status).toBe('offline'); // its newest reading is 3,605 s old; the NowCast still holds
  });
});

describe('GET /sensors/:id/latest', () => {
  test('the same view as the sensor’s realtime entry', async () => {
    clock.now = T0 + HOUR + 20_000;
    const [latest, realtime] = await Promise.all([
      get('/api/v1/sensors/aq-1/latest'),
      get('/api/v1/dashboard/realtime'),
    ]);
    expect(latest.status).toBe(200);
    const { id, name, kind, site, latitude, longitude, tags, ...live } = realtime.json.sensors.find(
      (s: { id: string }) => s.id === 'aq-1',
    );
    expect(latest.json).toEqual({ id, standard: 'us-epa', ...live });
  });

  test('mounted in the gateway itself, public', async () => {
    const response = await gw.call('GET', '/api/v1/sensors/aq-2/latest');
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ id: 'aq-2', values: { pm25: { value: 40 } } });
    const realtime = await gw.call('GET', '/api/v1/dashboard/realtime');
    expect(realtime.status).toBe(200);
    expect(realtime.headers.get('content-type')).toContain('application/json');
    expect(realtime.headers.get('x-content-type-options')).toBe('nosniff');
    expect(realtime.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(realtime.headers.get('x-request-id')).toBeTruthy();
    expect(realtime.headers.get('ratelimit')).toBeTruthy();
  });
});

describe('one computation per second', () => {
  test('callers within a second share a snapshot; a second later there is a new one', async () => {
    const t = Date.UTC(2026, 0, 10, 20);
    clock.now = t;
    const first = await get('/api/v1/dashboard/realtime');
    await putLatest(gw, 'aq-2', { pm25: 41 }, t);
    clock.now = t + 999;
    const shared = await get('/api/v1/dashboard/realtime');
    expect(shared.json).toEqual(first.json);
    clock.now = t + 1_000;
    const next = await get('/api/v1/dashboard/realtime');
    expect(next.json.generatedAt).toBe(new Date(t + 1_000).toISOString());
    expect(next.json.sensors.find((s: { id: string }) => s.id === 'aq-2').values.pm25.value).toBe(41);
  });
});

describe('freshness and sharing of hourly means', () => {
  test('a new reading counts once the cache period has passed, and replicas share one read', async () => {
    const t = Date.UTC(2026, 0, 11, 8, 5);
    clock.now = t;
    await addSensor(gw, 'aq-fresh');
    await putLatest(gw, 'aq-fresh', { pm25: 30 }, t - 1_000);
    await storeHourly(gw, 'aq-fresh', 'pm25', [5, 5], Date.UTC(2026, 0, 11, 7));
    const before = await get('/api/v1/dashboard/realtime');
    const fresh = () => before.json.sensors.find((s: { id: string }) => s.id === 'aq-fresh');
    expect(fresh().aqi).toMatchObject({ basis: 'hourly', value: 28 }); // NowCast [null, 5, 5] → 5.0

    // The replica, on the same Redis, uses the copy the first one read (same hourlyAsOf).
    const replicaGet = clockedDashboard(replica, { now: t + 5_000 });
    expect((await replicaGet('/api/v1/dashboard/realtime')).json.hourlyAsOf).toBe(new Date(t).toISOString());

    await storeHourly(gw, 'aq-fresh', 'pm25', [200], Date.UTC(2026, 0, 11, 8));
    // /sensors/:id/latest is computed per request, so it shows the hourly cache's own boundary.
    clock.now = t + 14_999;
    expect((await get('/api/v1/sensors/aq-fresh/latest')).json.aqi.value).toBe(28);
    clock.now = t + 15_000;
    const after = await get('/api/v1/sensors/aq-fresh/latest');
    expect(after.json.aqi.basis).toBe('hourly');
    expect(after.json.aqi.value).toBe(
      computeAqi('us-epa', { pm25: { nowcast: nowcast([200, 5, 5]) } })?.value,
    );
    const realtime = await get('/api/v1/dashboard/realtime');
    expect(realtime.json.hourlyAsOf).toBe(new Date(t + 15_000).toISOString());
  });
});

describe('status boundaries (stale after 600 s, offline after 3,600 s)', () => {
  const seen = Date.UTC(2026, 0, 12, 6);
  test.each([
    [0, 'online'],
    [STALE_S * 1_000, 'online'],
    [STALE_S * 1_000 + 1, 'stale'],
    [OFFLINE_S * 1_000, 'stale'],
    [OFFLINE_S * 1_000 + 1, 'offline'],
    [-60_000, 'online'], // a device clock ahead of ours
  ] as const)('newest reading %p ms old → %s', async (ageMs, status) => {
    await addSensor(gw, 'aq-edge').catch(() => undefined);
    await putLatest(gw, 'aq-edge', { pm25: 10 }, seen);
    clock.now = seen + ageMs;
    const { json } = await get('/api/v1/sensors/aq-edge/latest');
    expect(json.status).toBe(status);
    expect(json.ageS).toBe(Math.max(0, Math.floor(ageMs / 1_000)));
  });

  test('an offline sensor shows its last values but no indicative AQI', async () => {
    clock.now = seen + OFFLINE_S * 1_000 + 1;
    const { json } = await get('/api/v1/sensors/aq-edge/latest');
    expect(json).toMatchObject({ status: 'offline', values: { pm25: { value: 10 } }, aqi: null });
  });
});
