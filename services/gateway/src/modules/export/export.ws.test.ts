import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useServers } from '@sensormesh/testkit';
import { type StreamGateway, streamGateway, type TestSocket } from '../stream/test-support.ts';
import type { ExportJobView } from './model.ts';
import { MINUTE, professional, readingRows, seed, send, T0 } from './test-helpers.ts';
import { type ExportWorker, startExportWorker } from './worker.ts';

let sg: StreamGateway;
let worker: ExportWorker | undefined;
let exportDir: string;
const sockets: TestSocket[] = [];
afterAll(async () => {
  for (const socket of sockets) await socket.close();
  await worker?.stop();
  await sg?.close();
  if (exportDir) await rm(exportDir, { recursive: true, force: true });
});
const servers = useServers({ redis: true, clickhouse: true });

beforeAll(async () => {
  exportDir = await mkdtemp(join(tmpdir(), 'sensormesh-exports-'));
  sg = await streamGateway(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    { EXPORT_DIR: exportDir },
  );
  worker = await startExportWorker(sg.gw.ctx, { consumer: 'ws', progressIntervalMs: 0 });
  await seed(sg.gw.store, readingRows(2, ['pm25'], 100));
});

async function subscribed(token: string): Promise<TestSocket> {
  const socket = await sg.connect(token);
  sockets.push(socket);
  socket.send({ type: 'subscribe', id: 'x', channel: 'exports' });
  await socket.nextOf('subscribed', 'x');
  return socket;
}

async function queue(token: string): Promise<string> {
  const response = await send(sg.gw, 'POST', '/api/v1/data/export', {
    token,
    body: { format: 'csv', from: T0, to: T0 + 100 * MINUTE, delivery: 'job' },
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as ExportJobView).id;
}

const isDone = (jobId: string) => (events: { data?: Record<string, unknown> }[]) =>
  events.some((event) => event.data?.jobId === jobId && event.data?.status === 'done');

test('the exports channel shows each user the progress of their own jobs only', async () => {
  const alice = await professional(sg.gw);
  const bob = await professional(sg.gw);
  const aliceSocket = await subscribed(alice.token);
  const bobSocket = await subscribed(bob.token);

  const aliceJob = await queue(alice.token);
  const aliceEvents = await aliceSocket.events('x', isDone(aliceJob));
  expect(aliceEvents.map((event) => event.data?.status)).toEqual(
    expect.arrayContaining(['queued', 'running', 'done']),
  );
  expect(aliceEvents.at(-1)?.data).toMatchObject({
    jobId: aliceJob,
    userId: alice.id,
    rows: 200,
    progress: 1,
  });

  // Bob's own job comes after Alice's on the stream: once he has its end, he has passed hers.
  const bobJob = await queue(bob.token);
  const bobEvents = await bobSocket.events('x', isDone(bobJob));
  expect(bobEvents.every((event) => event.data?.userId === bob.id)).toBe(true);
  expect(bobEvents.some((event) => event.data?.jobId === aliceJob)).toBe(false);
});

test('the public cannot subscribe to exports', async () => {
  const socket = await sg.connect();
  sockets.push(socket);
  socket.send({ type: 'subscribe', id: 'p', channel: 'exports' });
  const error = await socket.nextOf('error', 'p');
  expect(error.code).toBe('UNAUTHORIZED');
});
