import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import { type TestIngest, testIngest } from '../http/test-support.ts';
import { recordedRequest } from './test-fixtures/payloads.ts';

const servers = useServers({ redis: true, clickhouse: true });
let ingest: TestIngest;
let scKey: string;

beforeAll(async () => {
  ingest = await testIngest(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    { SENSOR_COMMUNITY_PUSHES_PER_MIN: '3' },
  );
  scKey = await ingest.sensor('sc-stuttgart', { tags: ['outdoor', 'sensor-community:esp8266-13597771'] });
  await ingest.sensor('aq-kampala');
});
afterAll(async () => {
  await ingest?.close();
});

const SC = 'http://localhost/api/v1/ingest/sensor-community';

describe('POST /api/v1/ingest/sensor-community', () => {
  test('the firmware’s native pushes, as recorded, from an enrolled node without auth', async () => {
    const before = (await ingest.readings()).length;
    const started = Date.now();
    for (const file of ['02_push_sds011_pin1_constructed.http', '03_push_bme280_pin11_constructed.http']) {
      const response = await ingest.app.handle(await recordedRequest(`sensor_community/${file}`, SC));
      expect(response.status).toBe(202);
    }
    const stored = (await ingest.readings()).slice(before);
    expect(stored.map(({ sensorId, metrics, source }) => ({ sensorId, metrics, source }))).toEqual([
      { sensorId: 'sc-stuttgart', metrics: { pm10: 12.4, pm25: 7.83 }, source: 'adapter:sensor-community' },
      {
        sensorId: 'sc-stuttgart',
        metrics: { temp: 21.37, pressure: 1005.255, rh: 48.22 },
        source: 'adapter:sensor-community',
      },
    ]);
    for (const reading of stored) expect(reading.ts).toBeGreaterThanOrEqual(started);
  });

  test('the custom API push with Basic auth (sensor id : device key)', async () => {
    const request = await recordedRequest(
      'sensor_community/04_custom_api_post_current_firmware_constructed.http',
      SC,
    );
    request.headers.set('authorization', `Basic ${Buffer.from(`sc-stuttgart:${scKey}`).toString('base64')}`);
    const response = await ingest.app.handle(request);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({
      accepted: 1,
      results: [{ status: 'accepted', rejected: [] }],
    });
    expect((await ingest.readings()).at(-1)?.metrics).toEqual({
      pm10: 12.4,
      pm25: 7.83,
      temp: 21.37,
      pressure: 1005.255,
      rh: 48.22,
    });
  });

  test('refused: unenrolled node, wrong Basic password; rate limit on open pushes', async () => {
    const before = await ingest.lengths();
    const body = {
      software_version: 'NRZ-2024-135',
      sensordatavalues: [{ value_type: 'P1', value: '1.00' }],
    };
    const stranger = await ingest.call('/api/v1/ingest/sensor-community', {
      body,
      headers: { 'x-sensor': 'esp8266-999', 'x-pin': '1' },
    });
    expect(stranger.status).toBe(401);
    const wrong = await ingest.call('/api/v1/ingest/sensor-community', {
      body,
      headers: { authorization: `Basic ${Buffer.from('sc-stuttgart:smd_nope').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
    expect(await ingest.lengths()).toEqual(before);
    // Limit 3 a minute: of 7 quick pushes, even split over two windows, some window sees a fourth.
    await ingest.sensor('sc-limit', { tags: ['sensor-community:esp8266-4242'] });
    const headers = { 'x-sensor': 'esp8266-4242', 'x-pin': '1' };
    const answers = [];
    for (let i = 0; i < 7; i++)
      answers.push(await ingest.call('/api/v1/ingest/sensor-community', { body, headers }));
    const limited = answers.find((answer) => answer.status === 429);
    expect(limited).toBeDefined();
    if (!limited) return;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('POST /api/v1/ingest/airqo', () => {
  test('an events array for the key’s sensor; sentinel and unmapped fields reported per reading', async () => {
    const key = await ingest.ctx.sensors.rotateDeviceKey('aq-kampala', 'test');
    const time = new Date(Date.now() - 60_000).toISOString();
    const events = [
      {
        device: 'aq_1',
        time,
        pm2_5: { value: 25, calibratedValue: 24.5 },
        pm10: { value: -999 },
        humidity: { value: 65 },
      },
    ];
    const response = await ingest.call('/api/v1/ingest/airqo', {
      body: events,
      headers: { authorization: `Bearer ${key.key}` },
    });
    expect(response.status).toBe(202);
    expect(response.json.results).toEqual([
      {
        index: 0,
        status: 'partial',
        id: expect.any(String),
        rejected: [expect.objectContaining({ field: 'pm10', code: 'sentinel' })],
      },
    ]);
    expect((await ingest.readings()).at(-1)).toMatchObject({
      sensorId: 'aq-kampala',
      metrics: { pm25: 25, rh: 65 },
      source: 'adapter:airqo',
    });
  });

  test('no key → 401; two devices in one push → 422; nothing stored', async () => {
    const before = await ingest.lengths();
    expect((await ingest.call('/api/v1/ingest/airqo', { body: [] })).status).toBe(401);
    const key = await ingest.ctx.sensors.rotateDeviceKey('aq-kampala', 'test');
    const time = new Date().toISOString();
    const mixed = [
      { device: 'aq_1', time, pm2_5: { value: 1 } },
      { device: 'aq_2', time, pm2_5: { value: 2 } },
    ];
    const response = await ingest.call('/api/v1/ingest/airqo', {
      body: mixed,
      headers: { 'x-device-key': key.key },
    });
    expect(response.status).toBe(422);
    expect(await ingest.lengths()).toEqual(before);
  });
});
