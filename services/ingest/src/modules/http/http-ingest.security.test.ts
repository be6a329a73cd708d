import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import { type TestIngest, testIngest } from './test-support.ts';

const servers = useServers({ redis: true, clickhouse: true });
let ingest: TestIngest;
let keyA: string;
let keyB: string;

beforeAll(async () => {
  ingest = await testIngest({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  keyA = await ingest.sensor('aq-a');
  keyB = await ingest.sensor('aq-b');
});
afterAll(async () => {
  await ingest?.close();
});

const reading = (sensorId: string) => ({ sensorId, ts: Date.now(), metrics: { pm25: 10 } });

describe('device authentication', () => {
  test.each([
    ['no key at all', () => ({}), 'aq-a', 401, 'UNAUTHORIZED'],
    ['an unknown sensor', () => ({ authorization: `Bearer ${keyA}` }), 'nope', 403, 'FORBIDDEN'],
    [
      'an unknown sensor with an unknown key',
      () => ({ authorization: 'Bearer smd_unknownkey0000' }),
      'nope',
      401,
      'UNAUTHORIZED',
    ],
    ['a wrong key', () => ({ authorization: 'Bearer smd_wrongwrongwrong' }), 'aq-a', 401, 'UNAUTHORIZED'],
    ['a key of the wrong kind', () => ({ 'x-device-key': 'smk_apikey' }), 'aq-a', 401, 'UNAUTHORIZED'],
    ["another sensor's key", () => ({ authorization: `Bearer ${keyB}` }), 'aq-a', 403, 'FORBIDDEN'],
    [
      "Basic auth naming one sensor with another's key",
      () => ({ authorization: `Basic ${Buffer.from(`aq-a:${keyB}`).toString('base64')}` }),
      'aq-a',
      403,
      'FORBIDDEN',
    ],
  ])('%s → %d, nothing stored', async (_name, headers, sensorId, status, code) => {
    const before = await ingest.lengths();
    const response = await ingest.call('/api/v1/ingest', { body: reading(sensorId), headers: headers() });
    expect(response.status).toBe(status);
    expect(response.json.error.code).toBe(code);
    expect(await ingest.lengths()).toEqual(before);
  });

  test('a batch naming a second sensor is refused whole (a key covers its own sensor)', async () => {
    const before = await ingest.lengths();
    const response = await ingest.call('/api/v1/ingest', {
      body: [reading('aq-a'), reading('aq-b')],
      headers: { authorization: `Bearer ${keyA}` },
    });
    expect(response.status).toBe(403);
    expect(response.json.error.details).toEqual({ index: 1, sensorId: 'aq-b' });
    expect(await ingest.lengths()).toEqual(before);
  });

  test('a rotated key fails at once; a retired sensor is refused', async () => {
    const fresh = await ingest.ctx.sensors.rotateDeviceKey('aq-a', 'test');
    const old = await ingest.call('/api/v1/ingest', {
      body: reading('aq-a'),
      headers: { authorization: `Bearer ${keyA}` },
    });
    expect(old.status).toBe(401);
    const ok = await ingest.call('/api/v1/ingest', {
      body: reading('aq-a'),
      headers: { authorization: `Bearer ${fresh.key}` },
    });
    expect(ok.status).toBe(202);
    await ingest.ctx.sensors.retire('aq-b', 'test');
    const retired = await ingest.call('/api/v1/ingest', {
      body: reading('aq-b'),
      headers: { 'x-device-key': keyB },
    });
    expect(retired.status).toBe(401);
  });
});
