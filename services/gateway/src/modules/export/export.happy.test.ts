import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import ExcelJS from 'exceljs';
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
let exportDir: string;
let user: { token: string; id: string };
afterAll(async () => {
  await worker?.stop();
  await gw?.close();
  if (exportDir) await rm(exportDir, { recursive: true, force: true });
});
const servers = useServers({ redis: true, clickhouse: true });

const METRICS = ['pm25', 'temp'];
const RANGE = { from: new Date(T0).toISOString(), to: T0 + 400 * MINUTE };

beforeAll(async () => {
  exportDir = await mkdtemp(join(tmpdir(), 'sensormesh-exports-'));
  gw = await testGateway(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    { EXPORT_DIR: exportDir, EXPORT_STREAM_MAX_ROWS: '1500' },
  );
  worker = await startExportWorker(gw.ctx, { consumer: 'happy', progressIntervalMs: 0 });
  user = await professional(gw);
  await seed(gw.store, readingRows(3, METRICS, 300)); // 1,800 readings
});

const post = (body: Record<string, unknown>) =>
  send(gw, 'POST', '/api/v1/data/export', { token: user.token, body: { ...RANGE, ...body } });

describe('small exports stream straight back', () => {
  test('CSV read back equals the stored rows, every column, quoting included', async () => {
    const columns = ['sensor_id', 'metric', 'ts', 'value', 'received_at', 'source'];
    const response = await post({ format: 'csv', columns, sensorIds: ['sensor-0', 'sensor-1'] });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toMatch(
      /^attachment; filename="sensormesh-.+\.csv"$/,
    );
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const [header, ...rows] = parseCsv(await response.text());
    expect(header).toEqual(columns);
    const stored = await storedRows(gw.store, sql`sensor_id IN ('sensor-0', 'sensor-1')`);
    expect(stored.length).toBe(1_200);
    expect(rows.map(([s, m, ts, v, r, src]) => [s, m, Number(ts), Number(v), Number(r), src])).toEqual(
      stored.map((row) => [row.sensor_id, row.metric, row.ts, row.value, row.received_at, row.source]),
    );
  });

  test('NDJSON and JSON parse back to the stored rows; filters and ISO times apply', async () => {
    const body = {
      sensorIds: ['sensor-1'],
      metrics: ['temp'],
      columns: ['sensor_id', 'ts', 'value', 'source', 'ts_iso'],
      timeZone: 'Asia/Shanghai',
    };
    const stored = await storedRows(gw.store, sql`sensor_id = 'sensor-1' AND metric = 'temp'`);
    const expected = stored.map((row) => ({
      sensor_id: row.sensor_id,
      ts: row.ts,
      value: row.value,
      source: row.source,
      ts_iso: `${new Date(row.ts + 8 * 3_600_000).toISOString().slice(0, 23)}+08:00`,
    }));
    const ndjson = await post({ ...body, format: 'ndjson' });
    expect(ndjson.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await ndjson.text()).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual(expected);
    const json = await post({ ...body, format: 'json' });
    expect(JSON.parse(await json.text())).toEqual(expected);
    const empty = await post({ ...body, sensorIds: ['nobody'], format: 'json' });
    expect(JSON.parse(await empty.text())).toEqual([]);
  });

  test('XLSX opens with the header and every row', async () => {
    const response = await post({ format: 'xlsx', sensorIds: ['sensor-2'] });
    expect(response.headers.get('content-type')).toBe(
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    );
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(await response.arrayBuffer());
    const sheet = workbook.getWorksheet('data');
    const values = (sheet?.getSheetValues() ?? []).slice(1).map((row) => (row as unknown[]).slice(1));
    const stored = await storedRows(gw.store, sql`sensor_id = 'sensor-2'`);
    expect(values[0]).toEqual(['sensor_id', 'metric', 'ts', 'value']);
    expect(values.slice(1)).toEqual(stored.map((row) => [row.sensor_id, row.metric, row.ts, row.value]));
  });

  test('the wide layout pivots metrics into columns', async () => {
    const response = await post({
      format: 'csv',
      layout: 'wide',
      metrics: ['temp', 'pm25'],
      sensorIds: ['sensor-0'],
    });
    const [header, first] = parseCsv(await response.text());
    expect(header).toEqual(['sensor_id', 'ts', 'temp', 'pm25']);
    const at = await storedRows(gw.store, sql`sensor_id = 'sensor-0' AND ts = ${T0}`);
    const value = (metric: string) => String(at.find((row) => row.metric === metric)?.value);
    expect(first).toEqual(['sensor-0', String(T0), value('temp'), value('pm25')]);
  });
});

describe('large exports become jobs', () => {
  test('202 with a job, progress on the bus, a stored file and a signed download equal to the rows', async () => {
    const response = await post({ format: 'csv' });
    expect(response.status).toBe(202);
    const job = (await response.json()) as ExportJobView;
    expect(response.headers.get('location')).toBe(`/api/v1/data/export/jobs/${job.id}`);
    expect(job).toMatchObject({ status: 'queued', format: 'csv', estimatedRows: 1_800, rows: 0 });
    const events = await waitForJob(gw.redis, job.id, (event) => event.status === 'done');
    expect(events[0]?.status).toBe('queued');
    expect(events.some((event) => event.status === 'running')).toBe(true);
    expect(events.every((event) => event.userId === user.id)).toBe(true);
    expect(events.at(-1)).toMatchObject({ rows: 1_800, progress: 1 });

    const done = (await (
      await send(gw, 'GET', `/api/v1/data/export/jobs/${job.id}`, { token: user.token })
    ).json()) as ExportJobView;
    expect(done).toMatchObject({ status: 'done', rows: 1_800, progress: 1 });
    expect(done.download?.url).toMatch(
      /^\/api\/v1\/data\/export\/jobs\/exp_[0-9a-f]{32}\/download\?expires=\d+&signature=/,
    );
    const file = await send(gw, 'GET', done.download?.url ?? '', { token: user.token });
    expect(file.status).toBe(200);
    const [, ...rows] = parseCsv(await file.text());
    const stored = await storedRows(gw.store);
    expect(rows.map(([s, m, ts, v]) => [s, m, Number(ts), Number(v)])).toEqual(
      stored.map((row) => [row.sensor_id, row.metric, row.ts, row.value]),
    );
    expect(await readdir(exportDir)).toEqual([`${job.id}.csv`]);

    const list = (await (
      await send(gw, 'GET', '/api/v1/data/export/jobs', { token: user.token })
    ).json()) as {
      items: ExportJobView[];
      total: number;
    };
    expect(list.items.map((item) => item.id)).toContain(job.id);
    const other = await professional(gw);
    const theirs = await send(gw, 'GET', '/api/v1/data/export/jobs', { token: other.token });
    expect(((await theirs.json()) as { total: number }).total).toBe(0);
  });

  test('delivery "job" makes even a small export a job; an API key with the export scope may ask', async () => {
    const key = await send(gw, 'POST', '/api/v1/api-keys', {
      token: user.token,
      body: { name: 'exports', scopes: ['export'] },
    });
    const raw = ((await key.json()) as { key: string }).key;
    const response = await send(gw, 'POST', '/api/v1/data/export', {
      headers: { 'x-api-key': raw },
      body: { ...RANGE, format: 'ndjson', sensorIds: ['sensor-0'], metrics: ['pm25'], delivery: 'job' },
    });
    expect(response.status).toBe(202);
    const job = (await response.json()) as ExportJobView;
    const events = await waitForJob(gw.redis, job.id, (event) => event.status === 'done');
    expect(events.at(-1)).toMatchObject({ userId: user.id, rows: 300 });
  });
});
