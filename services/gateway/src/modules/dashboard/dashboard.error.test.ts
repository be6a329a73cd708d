import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { EnvError, parseEnv } from '@sensormesh/config';
import { sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { GatewayEnv } from '../../env.ts';
import { SECRET, type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { statusThresholds } from './status.ts';
import { addSensor, clockedDashboard, putLatest } from './test-helpers.ts';

let gw: TestGateway;
// Registered before useServers so the client closes while the servers are still up.
afterAll(() => gw?.close());
const servers = useServers({ redis: true, clickhouse: true });
const NOW = Date.UTC(2026, 1, 3, 9, 15);

beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  await addSensor(gw, 'aq-live');
  await addSensor(gw, 'aq-pending', 'pending');
  await addSensor(gw, 'aq-retired');
  await gw.ctx.sensors.retire('aq-retired', 'test');
  await putLatest(gw, 'aq-live', { pm25: 12 }, NOW - 1_000);
  await putLatest(gw, 'aq-pending', { pm25: 12 }, NOW - 1_000);
  await putLatest(gw, 'aq-retired', { pm25: 12 }, NOW - 1_000);
});
const expectEnvelope = (json: { error?: unknown }, code: string) => {
  expect(json.error).toMatchObject({ code, message: expect.any(String), requestId: expect.any(String) });
};

describe('GET /sensors/:id/latest refuses', () => {
  test.each([
    ['an unknown sensor', 'no-such-sensor'],
    ['a pending sensor', 'aq-pending'],
    ['a retired sensor', 'aq-retired'],
  ])('%s with 404 (its values in Redis are not shown)', async (_name, id) => {
    const response = await gw.call('GET', `/api/v1/sensors/${id}/latest`);
    expect(response.status).toBe(404);
    expectEnvelope(response.json, 'NOT_FOUND');
    expect(response.text).not.toContain('"values"');
  });

  test.each([
    ['characters outside the id alphabet', 'bad%20id!'],
    ['a leading dot', '.hidden'],
    ['over 128 characters', 'a'.repeat(129)],
  ])('an id with %s: 422', async (_name, id) => {
    const response = await gw.call('GET', `/api/v1/sensors/${id}/latest`);
    expect(response.status).toBe(422);
    expectEnvelope(response.json, 'VALIDATION_FAILED');
  });

  test('an unknown standard: 422 naming it', async () => {
    const response = await gw.call('GET', '/api/v1/sensors/aq-live/latest?standard=uk-daqi');
    expect(response.status).toBe(422);
    expectEnvelope(response.json, 'VALIDATION_FAILED');
  });
});

describe('GET /dashboard/realtime refuses', () => {
  test.each([
    ['an unknown standard', 'standard=bogus'],
    ['an unknown parameter', 'limit=5'],
  ])('%s: 422', async (_name, query) => {
    const response = await gw.call('GET', `/api/v1/dashboard/realtime?${query}`);
    expect(response.status).toBe(422);
    expectEnvelope(response.json, 'VALIDATION_FAILED');
  });

  test('pending and retired sensors are not listed', async () => {
    const response = await gw.call('GET', '/api/v1/dashboard/realtime');
    expect(response.json.sensors.map((s: { id: string }) => s.id)).toEqual(['aq-live']);
  });
});

describe('bad data in Redis, ClickHouse unavailable', () => {
  test('fields the writer did not write are ignored', async () => {
    await gw.redis.hset('latest:sensor:aq-live', 'junk', 'not json', 'half', '{"v":"1"}');
    const get = clockedDashboard(gw, { now: NOW });
    const { json } = await get('/api/v1/sensors/aq-live/latest');
    expect(Object.keys(json.values)).toEqual(['pm25']);
  });

  test('without the hourly rollup the realtime view still answers from Redis, AQI from latest values', async () => {
    const broken = await testGateway(
      { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
      {},
      { database: `${gw.database}_broken` },
    );
    try {
      await addSensor(broken, 'aq-b');
      await putLatest(broken, 'aq-b', { pm25: 40 }, NOW - 1_000);
      await broken.store.command(sql`DROP TABLE readings_per_hour_by_time`);
      const { status, json } = await clockedDashboard(broken, { now: NOW })('/api/v1/dashboard/realtime');
      expect(status).toBe(200);
      expect(json.hourlyAsOf).toBeNull();
      expect(json.sensors[0]).toMatchObject({
        id: 'aq-b',
        status: 'online',
        aqi: { basis: 'latest', value: 112 },
      });
    } finally {
      await broken.close();
    }
  });
});

describe('configuration', () => {
  const base = { JWT_SECRET: SECRET };

  test('AQI_STANDARD must be a known index', () => {
    expect(parseEnv(GatewayEnv, base).AQI_STANDARD).toBe('us-epa');
    expect(parseEnv(GatewayEnv, { ...base, AQI_STANDARD: 'in-naqi' }).AQI_STANDARD).toBe('in-naqi');
    expect(() => parseEnv(GatewayEnv, { ...base, AQI_STANDARD: 'uk-daqi' })).toThrow(/AQI_STANDARD/);
  });

  test('thresholds must be positive integers', () => {
    expect(() => parseEnv(GatewayEnv, { ...base, DASHBOARD_STALE_AFTER_S: '0' })).toThrow(
      /DASHBOARD_STALE_AFTER_S/,
    );
    expect(() => parseEnv(GatewayEnv, { ...base, DASHBOARD_HOURLY_CACHE_S: 'soon' })).toThrow(
      /DASHBOARD_HOURLY_CACHE_S/,
    );
  });

  test('the offline threshold must exceed the stale one, and the error names it', () => {
    const config = parseEnv(GatewayEnv, {
      ...base,
      DASHBOARD_STALE_AFTER_S: '600',
      DASHBOARD_OFFLINE_AFTER_S: '600',
    });
    let caught: unknown;
    try {
      statusThresholds(config);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EnvError);
    expect((caught as EnvError).issues.map((issue) => issue.variable)).toEqual(['DASHBOARD_OFFLINE_AFTER_S']);
    expect(statusThresholds({ DASHBOARD_STALE_AFTER_S: 600, DASHBOARD_OFFLINE_AFTER_S: 601 })).toEqual({
      staleAfterS: 600,
      offlineAfterS: 601,
    });
  });
});
