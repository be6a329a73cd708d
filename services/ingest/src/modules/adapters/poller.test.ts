import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import { type TestIngest, testIngest } from '../http/test-support.ts';
import { backoffDelay, retryAfterMs } from './poller.ts';
import { startPollers } from './pollers.ts';
import { payload } from './test-fixtures/payloads.ts';

const servers = useServers({ redis: true, clickhouse: true });
let ingest: TestIngest;
let fake: ReturnType<typeof Bun.serve>;
const requests: Array<{ at: number; url: URL; apiKey: string | null }> = [];
let script: Array<() => Response | Promise<Response>> = [];

beforeAll(async () => {
  // A local stand-in for the vendor APIs: answers from `script`, in order; the last one repeats.
  fake = Bun.serve({
    port: 0,
    fetch(request) {
      requests.push({ at: Date.now(), url: new URL(request.url), apiKey: request.headers.get('x-api-key') });
      const next = script.length > 1 ? script.shift() : script[0];
      return next ? next() : new Response('no script', { status: 500 });
    },
  });
  const base = `http://127.0.0.1:${fake.port}`;
  ingest = await testIngest(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    {
      INGEST_RETENTION_DAYS: '36500',
      PURPLEAIR_API_KEY: 'pa-read-key',
      PURPLEAIR_BASE_URL: base,
      PURPLEAIR_SENSORS: '131075=pa-mariners, 131077=pa-bee, 131079=pa-brskbv',
      PURPLEAIR_INTERVAL_S: '3600',
      OPENAQ_API_KEY: 'oaq-key',
      OPENAQ_BASE_URL: base,
      OPENAQ_SENSORS: '3917=oaq-beijing',
      OPENAQ_INTERVAL_S: '3600',
      POLL_BACKOFF_BASE_MS: '50',
    },
  );
  for (const id of ['pa-mariners', 'pa-bee', 'pa-brskbv', 'oaq-beijing']) await ingest.sensor(id);
});
afterAll(async () => {
  fake?.stop(true);
  await ingest?.close();
});
afterEach(() => {
  requests.length = 0;
});

const until = async (done: () => boolean | Promise<boolean>, ms = 5_000) => {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(10)) if (await done()) return;
  throw new Error('timed out');
};

describe('pollers', () => {
  test('429 with Retry-After is honoured, then the data lands; a restart fetches nothing twice', async () => {
    const purpleAir = await payload('purpleair/03_get_sensors_pm_fields_constructed.json');
    const openAq = await payload('openaq/02_sensor_measurements_raw_constructed.json');
    script = [
      () => new Response('{"error":"RateLimitExceeded"}', { status: 429, headers: { 'retry-after': '1' } }),
      () => new Response('{"error":"RateLimitExceeded"}', { status: 429, headers: { 'retry-after': '1' } }),
    ];
    const routed = (request: { url: URL }) => (request.url.pathname.startsWith('/v1/') ? purpleAir : openAq);
    const pollers = startPollers(ingest.ctx);
    expect(pollers.names).toEqual(['purpleair', 'openaq']);
    await until(() => requests.length >= 2);
    script = [() => Response.json(routed(requests.at(-1) as { url: URL }))];
    await until(async () => (await ingest.readings()).length === 5);
    await pollers.stop();

    const retries = new Map<string, number[]>();
    for (const { at, url } of requests) retries.set(url.pathname, [...(retries.get(url.pathname) ?? []), at]);
    for (const [path, times] of retries) {
      expect(times.length, path).toBe(2);
      expect((times[1] as number) - (times[0] as number), path).toBeGreaterThanOrEqual(1_000);
    }
    expect(requests.every((request) => request.apiKey !== null)).toBe(true);
    const pa = requests.find((request) => request.url.pathname === '/v1/sensors')?.url;
    expect(pa?.searchParams.get('sensor_indices')).toBe('131075,131077,131079');
    const stored = await ingest.readings();
    expect(stored.map((r) => [r.sensorId, r.ts, r.source])).toEqual(
      expect.arrayContaining([
        ['pa-mariners', 1_704_067_162_000, 'adapter:purpleair'],
        ['pa-bee', 1_704_067_190_000, 'adapter:purpleair'],
        ['pa-brskbv', 1_704_067_020_000, 'adapter:purpleair'],
        ['oaq-beijing', Date.parse('2024-01-15T01:00:00Z'), 'adapter:openaq'],
        ['oaq-beijing', Date.parse('2024-01-15T02:00:00Z'), 'adapter:openaq'],
      ]),
    );

    // Restart: the checkpoints go along as modified_since / datetime_from, and the same answers
    // (a server that ignores them) add nothing.
    requests.length = 0;
    script = [() => Response.json(routed(requests.at(-1) as { url: URL }))];
    const again = startPollers(ingest.ctx);
    await until(() => requests.length >= 2);
    await again.stop();
    const byPath = new Map(requests.map((request) => [request.url.pathname, request.url.searchParams]));
    expect(byPath.get('/v1/sensors')?.get('modified_since')).toBe('1704067225');
    expect(byPath.get('/v3/sensors/3917/measurements')?.get('datetime_from')).toBe(
      '2024-01-15T02:00:00.000Z',
    );
    expect((await ingest.readings()).length).toBe(5);
  });

  test('nothing runs unless configured', async () => {
    const { names, stop } = startPollers({
      ...ingest.ctx,
      config: { ...ingest.ctx.config, PURPLEAIR_API_KEY: undefined, OPENAQ_SENSORS: undefined },
    });
    expect(names).toEqual([]);
    await stop();
  });
});

describe('backoff', () => {
  test('Retry-After in seconds or as a date; exponential equal jitter, capped', () => {
    expect(retryAfterMs('3')).toBe(3_000);
    expect(retryAfterMs(new Date(61_000).toUTCString(), 1_000)).toBe(60_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    const options = { baseMs: 1_000, maxMs: 8_000 };
    expect(backoffDelay(1, { ...options, random: () => 0 })).toBe(500);
    expect(backoffDelay(3, { ...options, random: () => 1 })).toBe(4_000);
    expect(backoffDelay(10, { ...options, random: () => 1 })).toBe(8_000);
    expect(backoffDelay(1, { ...options, random: () => 0.5 }, 2_000)).toBe(2_100);
  });
});
