import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { MINUTE, professional, readingRows, seed, T0 } from './test-helpers.ts';

let gw: TestGateway;
let exportDir: string;
let user: { token: string; id: string };
afterAll(async () => {
  await gw?.close();
  if (exportDir) await rm(exportDir, { recursive: true, force: true });
});
const servers = useServers({ redis: true, clickhouse: true });

beforeAll(async () => {
  exportDir = await mkdtemp(join(tmpdir(), 'sensormesh-exports-'));
  gw = await testGateway(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    {
      EXPORT_DIR: exportDir,
      EXPORT_STREAM_MAX_ROWS: '10',
      EXPORT_MAX_ROWS: '500',
      EXPORT_XLSX_MAX_ROWS: '100',
      EXPORT_WIDE_MAX_ROWS: '300',
      EXPORT_MAX_RANGE_DAYS: '31',
      EXPORT_MAX_CONCURRENT_STREAMS: '1',
    },
  );
  user = await professional(gw);
  await seed(gw.store, readingRows(2, ['pm25', 'temp'], 200)); // 800 readings
});

const RANGE = { from: T0, to: T0 + 200 * MINUTE };

async function nothingStored(): Promise<void> {
  const [jobs] = await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM export_jobs`);
  expect(jobs?.n).toBe(0);
  expect(await gw.redis.xlen('exports')).toBe(0);
  expect(await gw.redis.xlen('export-progress')).toBe(0);
  expect(await readdir(exportDir)).toEqual([]);
}

describe('bad requests get a clear 4xx and store nothing', () => {
  const cases: Array<[string, Record<string, unknown>, number, RegExp, string?]> = [
    ['an unknown time zone', { timeZone: 'Mars/Olympus' }, 422, /unknown time zone/, '/timeZone'],
    ['a time zone with SQL in it', { timeZone: "UTC'); DROP TABLE x; --" }, 422, /unknown time zone/],
    [
      'an unknown column',
      { columns: ['sensor_id', 'password'] },
      422,
      /unknown column "password"/,
      '/columns/1',
    ],
    ['a column listed twice', { columns: ['ts', 'ts'] }, 422, /listed twice/, '/columns/1'],
    ['a metric column in the long layout', { columns: ['pm25'] }, 422, /unknown column/],
    [
      'a long column in the wide layout',
      { layout: 'wide', metrics: ['pm25'], columns: ['value'] },
      422,
      /wide/,
    ],
    ['the wide layout without metrics', { layout: 'wide' }, 422, /needs metrics/, '/metrics'],
    ['to before from', { from: T0 + MINUTE, to: T0 }, 422, /after from/, '/to'],
    ['a range longer than allowed', { from: T0, to: T0 + 40 * 86_400_000 }, 422, /longer than 31 days/],
    ['a malformed date', { from: 'yesterday' }, 422, /ISO-8601/, '/from'],
    ['a date past 2106', { to: '2200-01-01T00:00:00Z' }, 422, /out of range/],
    ['more rows than allowed', { to: T0 + 200 * MINUTE, sensorIds: undefined }, 422, /more than 500 rows/],
    [
      'an XLSX over its row limit',
      { format: 'xlsx', sensorIds: ['sensor-0'] },
      422,
      /XLSX holds at most 100/,
    ],
    [
      'a wide export reading too much',
      { layout: 'wide', metrics: ['pm25', 'temp'], sensorIds: ['sensor-0'] },
      422,
      /at most 300/,
    ],
    ['an unknown format', { format: 'xls' }, 422, /invalid/],
    ['an unknown field', { compress: true }, 422, /invalid/],
    ['a metric name that is no identifier', { metrics: ['pm25; DROP'] }, 422, /invalid/],
  ];
  for (const [name, patch, status, message, path] of cases) {
    test(name, async () => {
      const body = { format: 'csv', ...RANGE, sensorIds: ['sensor-0', 'sensor-1'], ...patch };
      const response = await gw.call('POST', '/api/v1/data/export', { token: user.token, body });
      expect(response.status, response.text).toBe(status);
      expect(response.json.error.code).toBe('VALIDATION_FAILED');
      expect(`${response.json.error.message} ${JSON.stringify(response.json.error.details)}`).toMatch(
        message,
      );
      if (path) expect(response.json.error.details[0].path).toBe(path);
      await nothingStored();
    });
  }

  test('Parquet on Debian’s 18.16 server: unsupported_format naming the version', async () => {
    const response = await gw.call('POST', '/api/v1/data/export', {
      token: user.token,
      body: { format: 'parquet', ...RANGE, sensorIds: ['sensor-0'] },
    });
    expect(response.status).toBe(422);
    expect(response.json.error.message).toContain('(18.16');
    expect(response.json.error.details[0]).toMatchObject({
      path: '/format',
      reason: 'unsupported_format',
      minimumVersion: '19.1',
    });
    expect(response.json.error.details[0].serverVersion).toStartWith('18.16');
    await nothingStored();
  });

  test('credentials: none is 401, a key without the export scope 403', async () => {
    const body = { format: 'csv', ...RANGE };
    expect((await gw.call('POST', '/api/v1/data/export', { body })).status).toBe(401);
    const key = await gw.call('POST', '/api/v1/api-keys', {
      token: user.token,
      body: { name: 'reader', scopes: ['read:sensors'] },
    });
    const denied = await gw.call('POST', '/api/v1/data/export', {
      headers: { 'x-api-key': key.json.key },
      body,
    });
    expect(denied.status).toBe(403);
    expect(denied.json.error.message).toContain('export');
    await nothingStored();
  });

  test('more streams at once than allowed: 429 with Retry-After, and the first still completes', async () => {
    const body = {
      format: 'ndjson',
      ...RANGE,
      sensorIds: ['sensor-0'],
      metrics: ['pm25'],
      to: T0 + 5 * MINUTE,
    };
    const first = await gw.app.handle(
      new Request('http://localhost/api/v1/data/export', {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );
    expect(first.status).toBe(200);
    const second = await gw.call('POST', '/api/v1/data/export', { token: user.token, body });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('5');
    expect((await first.text()).trim().split('\n').length).toBe(5);
    const third = await gw.call('POST', '/api/v1/data/export', { token: user.token, body });
    expect(third.status).toBe(200);
    await nothingStored();
  });
});
