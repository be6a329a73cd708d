import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AlertEvent,
  type Anomaly,
  alerts,
  anomalies,
  compareIds,
  MESSAGE_FIELD,
  type Prediction,
  predictions,
  type StreamDef,
} from '@sensormesh/bus';
import { insertAnomalies, insertPredictions, type Store } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { anomalyRow, predictionRow } from '@sensormesh/writer';
import { ADMIN } from '../../test-support/gateway.ts';
import { type Frame, type StreamGateway, streamGateway, type TestSocket } from './test-support.ts';

/** A gateway per store backend (both on the one Redis), each with an admin's token and three sensors. */
const gateways: Array<{ name: string; sg: StreamGateway; token: string }> = [];
let chdbDir = '';
// Registered before useServers, so it runs before the servers stop.
afterAll(async () => {
  for (const { sg } of gateways) await sg.close();
  if (chdbDir) await rm(chdbDir, { recursive: true, force: true });
});
const servers = useServers({ redis: true, clickhouse: true });
beforeAll(async () => {
  const urls = { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url };
  chdbDir = await mkdtemp(join(tmpdir(), 'sensormesh-stream-archive-'));
  const opened = [
    { name: 'clickhouse-server', sg: await streamGateway(urls) },
    { name: 'chdb', sg: await streamGateway(urls, {}, { chdbPath: chdbDir }) },
  ];
  for (const { name, sg } of opened) {
    const token = (await sg.gw.login(ADMIN.email, ADMIN.password)).accessToken;
    for (const [id, tags] of [
      ['a-1', ['outdoor']],
      ['a-2', ['indoor']],
      ['a-3', ['outdoor', 'traffic']],
    ] as const) {
      await sg.gw.ctx.sensors.create(
        { id, name: id, kind: 'air-quality', tags: [...tags], latitude: 39.9, longitude: 116.4 },
        'admin',
      );
    }
    gateways.push({ name, sg, token });
  }
}, 60_000);

const T = Date.UTC(2026, 0, 10, 12);
const HOUR = 3_600_000;
const round2 = (value: number) => Math.round(value * 100) / 100;

/** Forecast n as the predictor sends it (every optional field, its key order, rounded quantiles). */
const forecast = (n: number): Prediction => {
  const sensorId = `a-${(n % 3) + 1}`;
  const metric = n % 2 === 0 ? 'pm25' : 'pm10';
  const ts = T + n * HOUR;
  return {
    id: `v1:${sensorId}:${metric}:${ts}`,
    sensorId,
    metric,
    ts,
    horizons: [1, 2, 3].map((h) => ({
      minutes: h * 60,
      p10: round2(n / 7 - h),
      p50: round2(n / 7),
      p90: round2(n / 7 + h * 1.1),
    })),
    model: 'pm25-forecast',
    modelVersion: 'v1',
    role: n % 4 === 0 ? 'shadow' : 'active',
    createdAt: ts + 1_000,
  };
};

/** Anomaly n as the predictor sends it; every third has no value, every fourth no expected value. */
const finding = (n: number): Anomaly => {
  const sensorId = `a-${(n % 3) + 1}`;
  const metric = n % 2 === 0 ? 'pm25' : 'no2';
  const ts = T + n * HOUR;
  return {
    id: `f1:${sensorId}:${metric}:${ts}:spike`,
    sensorId,
    metric,
    ts,
    kind: n % 5 === 0 ? 'stuck' : 'spike',
    score: 1 - Math.fround(0.001 * n),
    ...(n % 3 === 0 ? {} : { value: n * 1.5 }),
    ...(n % 4 === 0 ? {} : { expected: n / 3 }),
    modelVersion: 'f1',
    threshold: 1 - Math.fround(0.2),
    windowStart: ts - 71 * HOUR,
    detectedAt: ts + HOUR,
  };
};

/** One channel's scenario: how its events are made and stored, and a filter to check. */
interface Scenario<E extends { sensorId: string; metric: string }> {
  channel: 'predictions' | 'anomalies';
  stream: StreamDef;
  make(n: number): E;
  store(store: Store, rows: Array<{ event: E; id: string }>): Promise<void>;
  filter: Record<string, unknown>;
  matches(event: E): boolean;
}

const scenarios = [
  {
    channel: 'predictions',
    stream: predictions,
    make: forecast,
    store: (store: Store, entries: Array<{ event: Prediction; id: string }>) =>
      // Stored as the writer stores them: its own message-to-row mapping.
      insertPredictions(store)(
        entries.map(({ event, id }) => predictionRow({ id, data: event, attempts: 1 })),
      ),
    filter: { sensorIds: ['a-2', 'a-3'], metrics: ['pm10'] },
    matches: (event: Prediction) => ['a-2', 'a-3'].includes(event.sensorId) && event.metric === 'pm10',
  } satisfies Scenario<Prediction>,
  {
    channel: 'anomalies',
    stream: anomalies,
    make: finding,
    store: (store: Store, entries: Array<{ event: Anomaly; id: string }>) =>
      insertAnomalies(store)(entries.map(({ event, id }) => anomalyRow({ id, data: event, attempts: 1 }))),
    // Resolved against the registry: a-1 and a-3 carry "outdoor".
    filter: { tags: ['outdoor'], metrics: ['no2'] },
    matches: (event: Anomaly) => event.sensorId !== 'a-2' && event.metric === 'no2',
  } satisfies Scenario<Anomaly>,
] as const;

async function subscribe(socket: TestSocket, message: Record<string, unknown>): Promise<void> {
  socket.send({ type: 'subscribe', ...message });
  const answer = await socket.next(
    (frame) => frame.id === message.id && ['subscribed', 'error'].includes(frame.type),
  );
  expect(answer).toMatchObject({ type: 'subscribed', cursor: message.since });
}

/**
 * Checks what a socket got for subscription `id`: exactly `expected` (cursors; event JSON with its
 * keys in the same order and every number to the last bit, as the store keeps floats), a `replayed`
 * frame between the replayed and the live events, and nothing after.
 */
async function expectExactly(
  socket: TestSocket,
  id: string,
  expected: Array<{ id: string; event: unknown }>,
) {
  const events = await socket.events(id, (got) => got.length >= expected.length);
  expect(events.map((frame) => frame.cursor)).toEqual(expected.map((entry) => entry.id));
  expect(events.map((frame) => JSON.stringify(frame.data))).toEqual(
    expected.map((entry) => JSON.stringify(entry.event)),
  );
  const replayed = await socket.seen((frame) => frame.type === 'replayed' && frame.id === id);
  const handover = socket.frames.indexOf(replayed);
  for (const [index, frame] of socket.frames.entries()) {
    if (frame.type !== 'event' || frame.id !== id) continue;
    expect(compareIds(frame.cursor as string, replayed.cursor as string) <= 0).toBe(index < handover);
  }
  await socket.roundTrip();
  expect(socket.frames.filter((frame: Frame) => frame.type === 'event' && frame.id === id).length).toBe(
    expected.length,
  );
}

/** A millisecond no entry of `stream` has used yet (both gateways publish on the one Redis). */
async function freshMs(sg: StreamGateway, stream: string): Promise<number> {
  const [newest] = (await sg.gw.redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
  return Math.max(Date.now(), newest ? Number(newest[0].split('-')[0]) + 1 : 0);
}

for (const scenario of scenarios) {
  const s = scenario as unknown as Scenario<{ sensorId: string; metric: string }>;
  describe(`${s.channel} the stream trimmed are replayed from ClickHouse`, () => {
    for (const backend of ['clickhouse-server', 'chdb']) {
      test(`${backend}: every event after the cursor once, in stream order, as live, then live; filters and old cursors too`, async () => {
        const { sg, token } = gateways.find(
          (gateway) => gateway.name === backend,
        ) as (typeof gateways)[number];
        // 600 entries of one millisecond, so ids cross "-9"/"-10" and "-99"/"-100" (string order
        // differs from stream order) and the replay takes two ClickHouse pages.
        const ms = await freshMs(sg, s.stream.name);
        const archived = Array.from({ length: 600 }, (_, n) => ({ event: s.make(n), id: `${ms}-${n}` }));
        const add = sg.gw.redis.pipeline();
        for (const { event, id } of archived)
          add.xadd(s.stream.name, id, MESSAGE_FIELD, JSON.stringify(event));
        await add.exec();
        // What the writer stored, with a batch stored twice (a redelivery: two parts until a merge).
        await s.store(sg.gw.store, archived);
        await s.store(sg.gw.store, archived.slice(200, 260));
        // The trimmer dropped all but the last 40 entries (the writer had them).
        await sg.gw.redis.xtrim(s.stream.name, 'MINID', archived[560]?.id as string);
        expect(await sg.gw.redis.xlen(s.stream.name)).toBe(40);

        const whole = await sg.connect(token);
        const narrow = await sg.connect(token);
        const early = await sg.connect(token);
        const since = archived[9]?.id as string;
        // Older than anything stored, within STREAM_REPLAY_MAX_AGE_S.
        const before = `${ms - 60_000}-0`;
        await subscribe(whole, { id: 'w', channel: s.channel, since });
        await subscribe(narrow, { id: 'n', channel: s.channel, since, filter: s.filter });
        await subscribe(early, { id: 'e', channel: s.channel, since: before });
        // Live events published while the replays run, through the handover.
        const live: Array<{ event: { sensorId: string; metric: string }; id: string }> = [];
        for (let batch = 0; batch < 6; batch++) {
          const events = Array.from({ length: 5 }, (_, n) => s.make(600 + batch * 5 + n));
          const ids = await sg.publisher.publishBatch(s.stream, events as never[]);
          for (const [index, event] of events.entries()) live.push({ event, id: ids[index] as string });
          await Bun.sleep(1);
        }

        const all = [...archived, ...live];
        await expectExactly(whole, 'w', all.slice(10));
        await expectExactly(
          narrow,
          'n',
          all.slice(10).filter((entry) => s.matches(entry.event)),
        );
        await expectExactly(early, 'e', all);
        for (const socket of [whole, narrow, early]) await socket.close();
      });
    }
  });
}

describe('channels without an archive', () => {
  test('alerts (no producer, no table yet) answer GONE when the stream trimmed past the cursor', async () => {
    const { sg, token } = gateways[0] as (typeof gateways)[number];
    const alert = (n: number): AlertEvent => ({
      id: `al-${n}`,
      ruleId: 'r-1',
      sensorId: 'a-1',
      state: 'open',
      severity: 'warning',
      message: 'too high',
      visibility: 'all',
      at: T + n,
    });
    // Ids of one millisecond, so "the entry right after" is known exactly.
    const ms = await freshMs(sg, alerts.name);
    const ids: string[] = [];
    for (const n of [1, 2, 3])
      ids.push(
        (await sg.gw.redis.xadd(
          alerts.name,
          `${ms}-${n}`,
          MESSAGE_FIELD,
          JSON.stringify(alert(n)),
        )) as string,
      );
    await sg.gw.redis.xtrim(alerts.name, 'MINID', ids[2] as string);
    const socket = await sg.connect(token);
    await subscribe(socket, { id: 'a', channel: 'alerts', since: ids[0] });
    expect(await socket.nextOf('error', 'a')).toMatchObject({ code: 'GONE' });
    // Trimmed up to the entry right after the cursor: nothing after it is missing, so the replay goes on.
    await subscribe(socket, { id: 'b', channel: 'alerts', since: ids[1] });
    expect(await socket.nextOf('event', 'b')).toMatchObject({ cursor: ids[2], data: { id: 'al-3' } });
    await socket.close();
  });
});
