import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { type TestGateway, testGateway } from '../../test-support/gateway.ts';
import type { ExportJobView } from './model.ts';
import {
  MINUTE,
  parseCsv,
  professional,
  readingRows,
  seed,
  send,
  storedRows,
  T0,
  waitForJob,
} from './test-helpers.ts';
import { type ExportWorker, startExportWorker } from './worker.ts';

let gw: TestGateway;
let worker: ExportWorker | undefined;
let scratch: string;
let user: { token: string; id: string };
afterAll(async () => {
  await worker?.stop();
  await gw?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});
const servers = useServers({ redis: true, clickhouse: true });

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'sensormesh-export-chdb-'));
  gw = await testGateway(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    { EXPORT_DIR: join(scratch, 'exports'), EXPORT_STREAM_MAX_ROWS: '250000' },
    { chdbPath: join(scratch, 'chdb') },
  );
  worker = await startExportWorker(gw.ctx, { consumer: 'chdb' });
  user = await professional(gw);
  await seed(gw.store, readingRows(3, ['pm25', 'no2'], 250)); // 1,500 readings
});

const RANGE = { from: T0, to: T0 + 250 * MINUTE };
const LONG = ['sensor_id', 'metric', 'ts', 'value', 'received_at', 'source'];

/** Reads a Parquet file back through the engine. */
async function readParquet(bytes: ArrayBuffer, name: string) {
  const path = join(scratch, name);
  await writeFile(path, new Uint8Array(bytes));
  return gw.store.query<Record<string, unknown>>(sql`SELECT * FROM file(${path}, 'Parquet')`);
}

describe('exports on chDB', () => {
  test('Parquet streamed back reads back equal to the stored rows', async () => {
    const response = await send(gw, 'POST', '/api/v1/data/export', {
      token: user.token,
      body: { format: 'parquet', ...RANGE, sensorIds: ['sensor-0', 'sensor-2'], columns: LONG },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    const rows = await readParquet(await response.arrayBuffer(), 'streamed.parquet');
    expect(rows.length).toBe(1_000);
    expect(rows).toEqual(await storedRows(gw.store, sql`sensor_id IN ('sensor-0', 'sensor-2')`));
  });

  test('a Parquet job stores a file that reads back equal, with the engine’s row count', async () => {
    const queued = await send(gw, 'POST', '/api/v1/data/export', {
      token: user.token,
      body: { format: 'parquet', ...RANGE, columns: LONG, delivery: 'job' },
    });
    expect(queued.status).toBe(202);
    const { id } = (await queued.json()) as ExportJobView;
    const events = await waitForJob(gw.redis, id, (event) => event.status === 'done');
    expect(events.at(-1)).toMatchObject({ rows: 1_500, progress: 1 });
    const job = (await (
      await send(gw, 'GET', `/api/v1/data/export/jobs/${id}`, { token: user.token })
    ).json()) as ExportJobView;
    const file = await send(gw, 'GET', job.download?.url ?? '', { token: user.token });
    expect(file.status).toBe(200);
    expect(await readParquet(await file.arrayBuffer(), 'job.parquet')).toEqual(await storedRows(gw.store));
  });

  test('the wide layout in Parquet keeps missing values as nulls', async () => {
    const response = await send(gw, 'POST', '/api/v1/data/export', {
      token: user.token,
      body: {
        format: 'parquet',
        ...RANGE,
        layout: 'wide',
        metrics: ['no2', 'pm25', 'co'],
        sensorIds: ['sensor-1'],
      },
    });
    const rows = await readParquet(await response.arrayBuffer(), 'wide.parquet');
    const stored = await storedRows(gw.store, sql`sensor_id = 'sensor-1'`);
    const value = (metric: string, ts: number) =>
      stored.find((row) => row.metric === metric && row.ts === ts)?.value;
    expect(rows.length).toBe(250);
    expect(rows[7]).toEqual({
      sensor_id: 'sensor-1',
      ts: T0 + 7 * MINUTE,
      no2: value('no2', T0 + 7 * MINUTE),
      pm25: value('pm25', T0 + 7 * MINUTE),
      co: null,
    });
  });

  test('CSV streams from chDB with the same rows', async () => {
    const response = await send(gw, 'POST', '/api/v1/data/export', {
      token: user.token,
      body: { format: 'csv', ...RANGE, sensorIds: ['sensor-1'], columns: LONG },
    });
    const [header, ...rows] = parseCsv(await response.text());
    expect(header).toEqual(LONG);
    const stored = await storedRows(gw.store, sql`sensor_id = 'sensor-1'`);
    expect(rows.map(([s, m, ts, v, r, src]) => [s, m, Number(ts), Number(v), Number(r), src])).toEqual(
      stored.map((row) => [row.sensor_id, row.metric, row.ts, row.value, row.received_at, row.source]),
    );
  });

  describe('results of many engine chunks', () => {
    const BULK = { from: T0 + 10 * 86_400_000, to: T0 + 11 * 86_400_000, sensorIds: ['bulk-0', 'bulk-1'] };
    const bulkWhere = sql`sensor_id LIKE 'bulk-%'`;
    let expected: { rows: number; total: number };

    beforeAll(async () => {
      // 200,000 readings made by the engine: far more than one streamed chunk.
      await gw.store.command(sql`INSERT INTO readings_raw (sensor_id, metric, ts, value, received_at, source)
        SELECT concat('bulk-', toString(number % 2)), 'pm25', ${BULK.from} + intDiv(number, 2) * 100,
          (number % 1000) / 4, ${BULK.from}, 'bulk'
        FROM system.numbers LIMIT 200000`);
      const [row] = await gw.store.query<{ rows: number; total: number }>(
        sql`SELECT count() AS rows, sum(value) AS total FROM readings_raw WHERE ${bulkWhere}`,
      );
      expected = { rows: Number(row?.rows), total: Number(row?.total) };
      expect(expected.rows).toBe(200_000);
    });

    const totals = async (path: string) => {
      const [row] = await gw.store.query<{ rows: number; total: number }>(
        sql`SELECT count() AS rows, sum(value) AS total FROM file(${path}, 'Parquet')`,
      );
      return { rows: Number(row?.rows), total: Number(row?.total) };
    };

    test('CSV streams back with one header and every row', async () => {
      const response = await send(gw, 'POST', '/api/v1/data/export', {
        token: user.token,
        body: { format: 'csv', ...BULK, columns: ['sensor_id', 'value'] },
      });
      const [header, ...rows] = parseCsv(await response.text());
      expect(header).toEqual(['sensor_id', 'value']);
      expect(rows.length).toBe(200_000);
      expect(rows.reduce((sum, [, value]) => sum + Number(value), 0)).toBeCloseTo(expected.total, 3);
    });

    test('Parquet streams back as one readable file, and its scratch file is gone', async () => {
      const response = await send(gw, 'POST', '/api/v1/data/export', {
        token: user.token,
        body: { format: 'parquet', ...BULK, columns: LONG },
      });
      expect(response.status).toBe(200);
      const path = join(scratch, 'bulk-streamed.parquet');
      await writeFile(path, new Uint8Array(await response.arrayBuffer()));
      expect(await totals(path)).toEqual(expected);
      expect((await readdir(join(scratch, 'exports'))).filter((name) => name.endsWith('.part'))).toEqual([]);
    });

    test('a Parquet job writes one readable file with every row', async () => {
      const queued = await send(gw, 'POST', '/api/v1/data/export', {
        token: user.token,
        body: { format: 'parquet', ...BULK, columns: LONG, delivery: 'job' },
      });
      const { id } = (await queued.json()) as ExportJobView;
      const events = await waitForJob(gw.redis, id, (event) => event.status === 'done');
      expect(events.at(-1)?.rows).toBe(200_000);
      expect(await totals(join(scratch, 'exports', `${id}.parquet`))).toEqual(expected);
    });
  });
});
