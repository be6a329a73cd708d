import { afterAll, beforeAll, expect, test } from 'bun:test';
import {
  type Anomaly,
  anomalies as anomaliesStream,
  createPublisher,
  type FaultShadowVerdict,
  faultShadowVerdicts as faultShadowStream,
  type Prediction,
  predictions,
} from '@sensormesh/bus';
import { countAnomalies, faultShadowVerdicts, latestPredictions, type Store, sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { type OutputWriter, startOutputWriter } from './outputs.ts';
import { groupState, openTestStore, testContext, waitFor } from './test-support/helpers.ts';

const servers = useServers({ redis: true, clickhouse: true });
let store: Store;
let redis: Redis;
let writer: OutputWriter;
const HOUR = 3_600_000;
const T = Date.UTC(2026, 0, 10, 12);

const prediction = (sensorId: string, ts: number, p50: number): Prediction => ({
  id: `v1:${sensorId}:pm25:${ts}`,
  sensorId,
  metric: 'pm25',
  ts,
  horizons: [1, 2, 3].map((h) => ({ minutes: h * 60, p10: p50 - h, p50, p90: p50 + h })),
  model: 'sensormesh-forecast',
  modelVersion: 'v1',
  role: 'active',
  createdAt: ts + 1_000,
});
const anomaly: Anomaly = {
  id: `f1:aq-1:pm25:${T}:spike`,
  sensorId: 'aq-1',
  metric: 'pm25',
  ts: T,
  kind: 'spike',
  score: 0.99,
  value: 800,
  expected: 60,
  modelVersion: 'f1',
  threshold: 0.95,
  windowStart: T - 71 * HOUR,
  detectedAt: T + HOUR,
};

/** A shadow that flagged what the active f1 did not (no reading that hour). */
const shadowVerdict: FaultShadowVerdict = {
  id: `f2:aq-2:pm25:${T}`,
  sensorId: 'aq-2',
  metric: 'pm25',
  ts: T,
  shadowVersion: 'f2',
  shadow: { kind: 'dropout', score: 0.97 },
  activeVersion: 'f1',
  active: { score: 0.4 },
  expected: 60,
  detectedAt: T + HOUR,
};

beforeAll(async () => {
  store = await openTestStore(servers.clickhouse.url);
  redis = new Redis(servers.redis.url);
  await redis.flushall();
  writer = await startOutputWriter(testContext(store, redis));
});
// The servers stop first (their hook was registered first): the test stops its writer itself.
afterAll(async () => {
  await store?.close();
  redis?.disconnect();
});

test('predictions, anomalies and fault-shadow verdicts are stored once per id, whatever the redeliveries', async () => {
  const publisher = createPublisher(redis);
  // The same outputs twice (a re-score, a redelivery), and a later hour's forecast of aq-1.
  await publisher.publishBatch(predictions, [prediction('aq-1', T, 40), prediction('aq-2', T, 10)]);
  await publisher.publishBatch(predictions, [prediction('aq-1', T, 40), prediction('aq-1', T + HOUR, 55)]);
  await publisher.publishBatch(anomaliesStream, [anomaly, anomaly]);
  await publisher.publishBatch(faultShadowStream, [shadowVerdict, shadowVerdict]);
  for (const stream of ['predictions', 'anomalies', 'fault-shadow-verdicts']) {
    await waitFor(`the writer group to drain ${stream}`, async () => {
      const state = await groupState(redis, stream);
      return state.pending === 0 && state.lag === 0;
    });
  }

  const [stored] = await store.query<{ ids: number }>(sql`SELECT uniqExact(id) AS ids FROM predictions`);
  expect(Number(stored?.ids)).toBe(3);
  const latest = await latestPredictions(store)({ since: T - HOUR });
  expect(latest.map((p) => [p.sensorId, p.ts, p.p50[0]])).toEqual([
    ['aq-1', T + HOUR, 55],
    ['aq-2', T, 10],
  ]);
  expect(latest[0]).toMatchObject({
    horizons: [60, 120, 180],
    p10: [54, 53, 52],
    modelVersion: 'v1',
    role: 'active',
  });
  expect(latest[0]?.streamId).toMatch(/^\d+-\d+$/);

  const counts = await countAnomalies(store)({ from: T - HOUR, to: T + HOUR });
  expect(counts).toEqual({ total: 1, byKind: { spike: 1 }, bySensor: { 'aq-1': 1 } });
  const [row] = await store.query<{
    value: number;
    expected: number;
    threshold: number;
    model_version: string;
  }>(sql`SELECT value, expected, threshold, model_version FROM anomalies LIMIT 1`);
  expect(row).toMatchObject({ value: 800, expected: 60, threshold: 0.95, model_version: 'f1' });

  // The shadow's flag is in its own table, not among the anomalies users count.
  const shadow = await faultShadowVerdicts(store)({
    shadowVersions: ['f2'],
    from: T,
    to: T + HOUR,
    limit: 10,
  });
  expect(shadow).toHaveLength(1);
  expect(shadow[0]).toMatchObject({
    sensorId: 'aq-2',
    shadowKind: 'dropout',
    shadowScore: 0.97,
    activeVersion: 'f1',
    activeKind: '',
    activeScore: 0.4,
    value: null,
    expected: 60,
  });
  expect(shadow[0]?.streamId).toMatch(/^\d+-\d+$/);
  await writer.stop();
});
