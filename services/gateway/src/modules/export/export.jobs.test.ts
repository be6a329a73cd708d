import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExportJob, saveExportJob } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { type TestGateway, testGateway } from '../../test-support/gateway.ts';
import type { ExportJobView } from './model.ts';
import {
  MINUTE,
  parseCsv,
  professional,
  progressCursor,
  readingRows,
  seed,
  send,
  storedRows,
  T0,
  waitForJob,
} from './test-helpers.ts';
import { type ExportWorker, type ExportWorkerOptions, startExportWorker } from './worker.ts';

let gw: TestGateway;
let exportDir: string;
let user: { token: string; id: string };
const workers: ExportWorker[] = [];
afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await gw?.close();
  if (exportDir) await rm(exportDir, { recursive: true, force: true });
});
const servers = useServers({ redis: true, clickhouse: true });

beforeAll(async () => {
  exportDir = await mkdtemp(join(tmpdir(), 'sensormesh-exports-'));
  gw = await testGateway(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    { EXPORT_DIR: exportDir, EXPORT_STREAM_MAX_ROWS: '0' },
  );
  user = await professional(gw);
  await seed(gw.store, readingRows(2, ['pm25'], 500)); // 1,000 readings
});

/** Holds the next job to reach it after its first chunk, until released (or the job is stopped). */
function gate() {
  let reached: (jobId: string) => void = () => {};
  let release: () => void = () => {};
  const arrived = new Promise<string>((resolve) => (reached = resolve));
  const held = new Promise<void>((resolve) => (release = resolve));
  const afterChunk = (jobId: string) => {
    reached(jobId);
    return held;
  };
  return { arrived, release: () => release(), afterChunk };
}

async function worker(consumer: string, options: ExportWorkerOptions = {}): Promise<ExportWorker> {
  const started = await startExportWorker(gw.ctx, {
    consumer,
    visibilityTimeoutMs: 500,
    heartbeatMs: 50,
    progressIntervalMs: 0,
    ...options,
  });
  workers.push(started);
  return started;
}

async function queue(body: Record<string, unknown> = {}): Promise<string> {
  const response = await send(gw, 'POST', '/api/v1/data/export', {
    token: user.token,
    body: { format: 'csv', from: T0, to: T0 + 500 * MINUTE, ...body },
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as ExportJobView).id;
}

const getJob = async (id: string) =>
  (await (
    await send(gw, 'GET', `/api/v1/data/export/jobs/${id}`, { token: user.token })
  ).json()) as ExportJobView;

describe('export jobs', () => {
  test('a job interrupted mid-way is claimed by another worker and completes with the same rows', async () => {
    const held = gate();
    const first = await worker('first', { afterChunk: held.afterChunk });
    const id = await queue();
    expect(await held.arrived).toBe(id);
    await first.stop(); // the job in hand is interrupted; its entry stays pending on `first-1`
    workers.splice(workers.indexOf(first), 1);
    const interrupted = await findExportJob(gw.store)(id);
    expect(interrupted).toMatchObject({ status: 'running', attempts: 1 });
    expect((await readdir(exportDir)).filter((name) => name.startsWith(id))).toEqual([]);
    expect(((await gw.redis.xpending('exports', 'export-worker')) as unknown[])[0]).toBe(1);

    const after = await progressCursor(gw.redis);
    await worker('second');
    const events = await waitForJob(gw.redis, id, (event) => event.status === 'done', after);
    expect(events.at(-1)).toMatchObject({ status: 'done', rows: 1_000 });
    const job = await getJob(id);
    expect(job.status).toBe('done');
    expect((await findExportJob(gw.store)(id))?.attempts).toBe(2);
    const file = await send(gw, 'GET', job.download?.url ?? '', { token: user.token });
    const [, ...rows] = parseCsv(await file.text());
    expect(rows.map(([s, m, ts, v]) => [s, m, Number(ts), Number(v)])).toEqual(
      (await storedRows(gw.store)).map((row) => [row.sensor_id, row.metric, row.ts, row.value]),
    );
    expect(((await gw.redis.xpending('exports', 'export-worker')) as unknown[])[0]).toBe(0);
  });

  test('cancelling a running job stops it and leaves no file; cancelling again is a 409', async () => {
    for (const running of workers.splice(0)) await running.stop();
    const held = gate();
    await worker('cancel', { afterChunk: held.afterChunk });
    const id = await queue({ format: 'ndjson' });
    await held.arrived;
    const after = await progressCursor(gw.redis);
    const cancelled = await send(gw, 'POST', `/api/v1/data/export/jobs/${id}/cancel`, { token: user.token });
    expect(cancelled.status).toBe(200);
    expect((await cancelled.json()) as ExportJobView).toMatchObject({
      status: 'running',
      cancelRequested: true,
    });
    const events = await waitForJob(gw.redis, id, (event) => event.status === 'cancelled', after);
    expect(events.at(-1)?.status).toBe('cancelled');
    expect((await getJob(id)).status).toBe('cancelled');
    expect((await readdir(exportDir)).filter((name) => name.startsWith(id))).toEqual([]);
    const again = await send(gw, 'POST', `/api/v1/data/export/jobs/${id}/cancel`, { token: user.token });
    expect(again.status).toBe(409);
  });

  test('a queued job is cancelled at once; a worker that gets it later leaves it cancelled', async () => {
    for (const running of workers.splice(0)) await running.stop();
    const id = await queue();
    const removed = await send(gw, 'DELETE', `/api/v1/data/export/jobs/${id}`, { token: user.token });
    expect(((await removed.json()) as ExportJobView).status).toBe('cancelled');
    const after = await progressCursor(gw.redis);
    await worker('late');
    // A later job passes through the same worker, so the cancelled one was seen before it.
    const next = await queue({ sensorIds: ['sensor-0'] });
    await waitForJob(gw.redis, next, (event) => event.status === 'done', after);
    expect((await getJob(id)).status).toBe('cancelled');
    expect((await readdir(exportDir)).filter((name) => name.startsWith(id))).toEqual([]);
  });

  test('deleting a finished job removes its file; the link then answers 410', async () => {
    const id = await queue({ sensorIds: ['sensor-1'] });
    await waitForJob(gw.redis, id, (event) => event.status === 'done');
    const url = (await getJob(id)).download?.url ?? '';
    expect(await readdir(exportDir)).toContain(`${id}.csv`);
    const deleted = await send(gw, 'DELETE', `/api/v1/data/export/jobs/${id}`, { token: user.token });
    expect(((await deleted.json()) as ExportJobView).status).toBe('deleted');
    expect(await readdir(exportDir)).not.toContain(`${id}.csv`);
    const gone = await send(gw, 'GET', url, { token: user.token });
    expect(gone.status).toBe(410);
  });

  test('cleanup deletes expired files and orphaned parts, and marks the jobs expired', async () => {
    const id = await queue({ sensorIds: ['sensor-0'], format: 'json' });
    await waitForJob(gw.redis, id, (event) => event.status === 'done');
    const job = await findExportJob(gw.store)(id);
    if (!job) throw new Error('job missing');
    await saveExportJob(gw.store)({ ...job, expiresAt: Date.now() - 1, updatedAt: Date.now() });
    const orphanName = `exp_${'ab'.repeat(16)}.0badc0de.part`;
    const orphan = join(exportDir, orphanName);
    await writeFile(orphan, 'half a file');
    const old = new Date(Date.now() - 2 * 3_600_000);
    await utimes(orphan, old, old);
    const freshName = `exp_${'cd'.repeat(16)}.0badc0de.part`;
    const fresh = join(exportDir, freshName);
    await writeFile(fresh, 'being written');
    const running = workers[0];
    if (!running) throw new Error('no worker');
    expect(await running.cleanup()).toBe(2);
    expect((await findExportJob(gw.store)(id))?.status).toBe('expired');
    const left = await readdir(exportDir);
    expect(left).not.toContain(`${id}.json`);
    expect(left).not.toContain(orphanName);
    expect(left).toContain(freshName);
    await rm(fresh);
  });
});
