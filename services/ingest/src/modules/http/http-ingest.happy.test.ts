import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import { type TestIngest, testIngest } from './test-support.ts';

const servers = useServers({ redis: true, clickhouse: true });
let ingest: TestIngest;
let key: string;

beforeAll(async () => {
  ingest = await testIngest({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  key = await ingest.sensor('aq-1', { metrics: ['vibration'] });
});
afterAll(async () => {
  await ingest?.close();
});

describe('POST /api/v1/ingest', () => {
  test('a good batch answers 202 only once every item is in the readings stream', async () => {
    const before = (await ingest.lengths()).readings;
    const now = Date.now();
    const batch = [
      { sensorId: 'aq-1', ts: now - 2_000, metrics: { pm25: 12.4, rh: 61 }, messageId: 'a' },
      { sensorId: 'aq-1', ts: new Date(now - 1_000).toISOString(), metrics: { pm10: 30, vibration: 0.02 } },
      { ts: now, metrics: { temp: 21.5 } },
    ];
    const response = await ingest.call('/api/v1/ingest', {
      body: batch,
      headers: { authorization: `Bearer ${key}` },
    });
    // No flush, no wait: the 202 itself promises the items are in Redis.
    const stored = await ingest.readings();
    expect(response.status).toBe(202);
    expect(response.json).toMatchObject({ accepted: 3, rejected: 0 });
    expect(response.json.results.map((r: { status: string }) => r.status)).toEqual([
      'accepted',
      'accepted',
      'accepted',
    ]);
    expect(stored.length).toBe(before + 3);
    const ids = (await ingest.redis.xrange('readings', '-', '+')).slice(-3).map(([id]) => id);
    expect(response.json.results.map((r: { id: string }) => r.id)).toEqual(ids);
    expect(stored.slice(-3)).toEqual([
      expect.objectContaining({
        sensorId: 'aq-1',
        ts: now - 2_000,
        metrics: { pm25: 12.4, rh: 61 },
        source: 'http',
        messageId: 'a',
      }),
      expect.objectContaining({ ts: now - 1_000, metrics: { pm10: 30, vibration: 0.02 } }),
      expect.objectContaining({ ts: now, metrics: { temp: 21.5 } }),
    ]);
  });

  test('one reading (not an array), with the key in X-Device-Key or Basic auth', async () => {
    const reading = { sensorId: 'aq-1', ts: Date.now(), metrics: { no2: 40 } };
    const viaHeader = await ingest.call('/api/v1/ingest', {
      body: reading,
      headers: { 'x-device-key': key },
    });
    expect(viaHeader.status).toBe(202);
    expect(viaHeader.json.results).toEqual([
      { index: 0, status: 'accepted', id: expect.any(String), rejected: [] },
    ]);
    const basic = `Basic ${Buffer.from(`aq-1:${key}`).toString('base64')}`;
    const { sensorId: _omitted, ...withoutId } = reading;
    const viaBasic = await ingest.call('/api/v1/ingest', {
      body: withoutId,
      headers: { authorization: basic },
    });
    expect(viaBasic.status).toBe(202);
    expect((await ingest.readings()).at(-1)).toMatchObject({ sensorId: 'aq-1', metrics: { no2: 40 } });
  });

  test('the key alone names its sensor when the body does not', async () => {
    const response = await ingest.call('/api/v1/ingest', {
      body: { ts: Date.now(), metrics: { co2: 410 } },
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(202);
    expect((await ingest.readings()).at(-1)).toMatchObject({ sensorId: 'aq-1', metrics: { co2: 410 } });
  });
});
