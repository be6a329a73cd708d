import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Anomaly, anomalies, type Reading, readings } from '@sensormesh/bus';
import { useServers } from '@sensormesh/testkit';
import { ADMIN } from '../../test-support/gateway.ts';
import { reading, type StreamGateway, streamGateway, type TestSocket } from './test-support.ts';

let sg: StreamGateway;
let replica: StreamGateway;
afterAll(async () => {
  await sg?.close();
  await replica?.close();
});
const servers = useServers({ redis: true, clickhouse: true });

// Beijing stations and one in Auckland (east of the antimeridian box's west edge).
const SENSORS = [
  { id: 'bj-dongsi', tags: ['outdoor', 'traffic'], latitude: 39.929, longitude: 116.417 },
  { id: 'bj-tiantan', tags: ['outdoor', 'park'], latitude: 39.886, longitude: 116.407 },
  { id: 'bj-lab', tags: ['indoor'], latitude: 39.95, longitude: 116.3 },
  { id: 'nz-akl', tags: ['outdoor'], latitude: -36.85, longitude: 174.76 },
];

beforeAll(async () => {
  const urls = { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url };
  sg = await streamGateway(urls);
  replica = await streamGateway(urls, {}, { database: sg.gw.database });
  for (const sensor of SENSORS) {
    await sg.gw.ctx.sensors.create({ ...sensor, name: sensor.id, kind: 'air-quality' }, 'admin');
  }
});

async function subscribe(
  socket: TestSocket,
  id: string,
  filter: Record<string, unknown>,
  channel = 'readings',
) {
  socket.send({ type: 'subscribe', id, channel, filter });
  const answer = await socket.next(
    (frame) => frame.id === id && ['subscribed', 'error'].includes(frame.type),
  );
  expect(answer).toMatchObject({ type: 'subscribed' });
}

/** Publishes one reading per sensor, then a marker `waitFor` receives, and waits for it. */
async function publishRound(socket: TestSocket, waitFor: string, n: number): Promise<void> {
  const batch: Reading[] = [
    ...SENSORS.map((sensor) => reading(sensor.id, n)),
    reading('bj-dongsi', n + 1000),
  ];
  const published = await sg.publisher.publishBatch(readings, batch);
  await socket.next((frame) => frame.cursor === published.at(-1) && frame.id === waitFor);
}

const sensorsOf = (socket: TestSocket, id: string) => [
  ...new Set(
    socket.frames.filter((f) => f.type === 'event' && f.id === id).map((f) => String(f.data?.sensorId)),
  ),
];

describe('filters', () => {
  test('tags (all of them), bounding boxes (across the antimeridian too), sensor ids, combined with AND', async () => {
    const socket = await sg.connect();
    await subscribe(socket, 'outdoor', { tags: ['outdoor'] });
    await subscribe(socket, 'traffic', { tags: ['outdoor', 'traffic'] });
    await subscribe(socket, 'beijing', { bbox: [116, 39.5, 117, 40.5] });
    await subscribe(socket, 'pacific', { bbox: [170, -50, -170, 0] });
    await subscribe(socket, 'both', {
      tags: ['outdoor'],
      bbox: [116, 39.5, 117, 40.5],
      sensorIds: ['bj-tiantan', 'nz-akl'],
    });
    await publishRound(socket, 'outdoor', 1);
    await socket.roundTrip();
    expect(sensorsOf(socket, 'outdoor').sort()).toEqual(['bj-dongsi', 'bj-tiantan', 'nz-akl']);
    expect(sensorsOf(socket, 'traffic')).toEqual(['bj-dongsi']);
    expect(sensorsOf(socket, 'beijing').sort()).toEqual(['bj-dongsi', 'bj-lab', 'bj-tiantan']);
    expect(sensorsOf(socket, 'pacific')).toEqual(['nz-akl']);
    expect(sensorsOf(socket, 'both')).toEqual(['bj-tiantan']);
    await socket.close();
  });

  test('metrics: readings keep only the listed metrics and are skipped when none is left', async () => {
    const socket = await sg.connect();
    await subscribe(socket, 'pm', { metrics: ['pm25', 'no2'] });
    await subscribe(socket, 'co', { metrics: ['co'] });
    await subscribe(socket, 'all', {});
    const ids = await sg.publisher.publishBatch(readings, [
      reading('bj-dongsi', 1, { no2: 40 }),
      reading('bj-dongsi', 2, { co: 0.9 }),
    ]);
    await socket.next((frame) => frame.id === 'all' && frame.cursor === ids[1]);
    await socket.roundTrip();
    const events = (id: string) =>
      socket.frames.filter((f) => f.type === 'event' && f.id === id).map((f) => [f.cursor, f.data?.metrics]);
    expect(events('pm')).toEqual([
      [ids[0], { pm25: 1, no2: 40 }],
      [ids[1], { pm25: 2 }],
    ]);
    expect(events('co')).toEqual([[ids[1], { co: 0.9 }]]);
    expect(events('all').map(([, metrics]) => Object.keys(metrics as object).sort())).toEqual([
      ['no2', 'pm25', 'temp'],
      ['co', 'pm25', 'temp'],
    ]);
    await socket.close();
  });

  test('metrics on another channel match the event’s metric', async () => {
    const { accessToken } = await sg.gw.login(ADMIN.email, ADMIN.password);
    const socket = await sg.connect(accessToken);
    await subscribe(socket, 'a', { metrics: ['pm10'], sensorIds: ['bj-lab'] }, 'anomalies');
    const anomaly = (sensorId: string, metric: string): Anomaly => ({
      sensorId,
      metric,
      ts: Date.now(),
      kind: 'spike',
      score: 0.97,
      modelVersion: '3',
      detectedAt: Date.now(),
    });
    const ids = await sg.publisher.publishBatch(anomalies, [
      anomaly('bj-lab', 'pm25'),
      anomaly('bj-dongsi', 'pm10'),
      anomaly('bj-lab', 'pm10'),
    ]);
    expect(await socket.nextOf('event', 'a')).toMatchObject({
      cursor: ids[2],
      data: { kind: 'spike', metric: 'pm10' },
    });
    await socket.close();
  });

  test('a sensor that gains the tag later joins the subscription on the next registry refresh', async () => {
    const socket = await sg.connect();
    await subscribe(socket, 'park', { tags: ['park'] });
    await sg.gw.ctx.sensors.update('bj-lab', { tags: ['indoor', 'park'] }, 'admin');
    await sg.gw.ctx.streams.refreshSensors();
    const ids = await sg.publisher.publishBatch(readings, [reading('bj-lab', 1), reading('bj-tiantan', 2)]);
    await socket.next((frame) => frame.cursor === ids[1]);
    expect(sensorsOf(socket, 'park')).toEqual(['bj-lab', 'bj-tiantan']);
    await socket.close();
  });

  test('unsubscribing stops a subscription; its neighbours go on', async () => {
    const socket = await sg.connect();
    await subscribe(socket, 'a', { sensorIds: ['bj-dongsi'] });
    await subscribe(socket, 'b', { sensorIds: ['bj-dongsi'] });
    socket.send({ type: 'unsubscribe', id: 'a' });
    await socket.nextOf('unsubscribed', 'a');
    const [id] = await sg.publisher.publishBatch(readings, [reading('bj-dongsi', 7)]);
    await socket.next((frame) => frame.cursor === id);
    await socket.roundTrip();
    expect(socket.frames.filter((f) => f.type === 'event').map((f) => f.id)).toEqual(['b']);
    await socket.close();
  });
});

describe('replicas', () => {
  test('a client resumes on another replica with the cursor the first one gave it', async () => {
    const first = await sg.connect();
    await subscribe(first, 'r', { sensorIds: ['bj-dongsi'] });
    const batch = Array.from({ length: 40 }, (_, n) => reading('bj-dongsi', 100 + n));
    const ids = await sg.publisher.publishBatch(readings, batch.slice(0, 20));
    const before = await first.events('r', (events) => events.length >= 10);
    await first.close();
    ids.push(...(await sg.publisher.publishBatch(readings, batch.slice(20))));
    const second = await replica.connect();
    second.send({
      type: 'subscribe',
      id: 'r',
      channel: 'readings',
      filter: { sensorIds: ['bj-dongsi'] },
      since: before.at(-1)?.cursor,
    });
    const after = await second.events('r', (events) => events.at(-1)?.cursor === ids.at(-1));
    expect([...before, ...after].map((frame) => frame.cursor)).toEqual(ids);
    await second.close();
  });
});
