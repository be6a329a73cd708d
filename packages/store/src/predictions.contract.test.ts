import { describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import {
  findFeedbackTarget,
  getModelFile,
  hourlySums,
  insertFeedback,
  insertPredictions,
  insertReadings,
  latestPredictions,
  listFeedback,
  listModelVersions,
  MIGRATIONS_DIR,
  type ModelVersionRow,
  migrate,
  type PredictionRow,
  predictionHistory,
  predictionsOfVersions,
  putModelFile,
  putModelVersions,
} from './index.ts';
import { storeBackends } from './test-support/backends.ts';

const servers = useServers({ clickhouse: true });

const backends = storeBackends(servers, 'predictions_t');

const HOUR = 3_600_000;
const T = Date.UTC(2026, 0, 10, 12);
const forecast = (
  sensorId: string,
  metric: string,
  ts: number,
  p50: number,
  version = 'v1',
  createdAt = ts,
): PredictionRow => ({
  id: `${version}:${sensorId}:${metric}:${ts}`,
  sensorId,
  metric,
  ts,
  horizons: [60, 120],
  p10: [p50 - 1, p50 - 2],
  p50: [p50, p50],
  p90: [p50 + 1, p50 + 2],
  model: 'm',
  modelVersion: version,
  role: version === 'v1' ? 'active' : 'shadow',
  streamId: '1-0',
  createdAt,
});

for (const backend of backends) {
  describe(`prediction and registry queries (${backend.name})`, () => {
    test('forecasts: a re-score replaces its row, the latest per sensor and metric, history in order', async () => {
      const store = await backend.open();
      try {
        await migrate(store, MIGRATIONS_DIR);
        await insertPredictions(store)([
          forecast('a', 'pm25', T - HOUR, 10),
          forecast('a', 'pm25', T, 20),
          forecast('a', 'pm10', T, 30),
          forecast('b', 'pm25', T, 40),
          forecast('b', 'pm25', T, 41, 'v2'),
        ]);
        // The same id again, written later: replaces, never adds.
        await insertPredictions(store)([forecast('a', 'pm25', T, 25, 'v1', T + 5)]);
        const latest = await latestPredictions(store)({ since: T - 2 * HOUR });
        expect(latest.map((p) => [p.sensorId, p.metric, p.ts, p.p50[0]])).toEqual([
          ['a', 'pm10', T, 30],
          ['a', 'pm25', T, 25],
          ['b', 'pm25', T, 40],
        ]);
        expect(latest[1]).toMatchObject({
          horizons: [60, 120],
          p10: [24, 23],
          p90: [26, 27],
          streamId: '1-0',
        });
        const shadow = await latestPredictions(store)({ since: 0, role: 'shadow' });
        expect(shadow.map((p) => p.modelVersion)).toEqual(['v2']);
        const history = await predictionHistory(store)({
          sensorId: 'a',
          from: T - HOUR,
          to: T + HOUR,
          limit: 10,
        });
        expect(history.map((p) => [p.ts, p.metric, p.p50[0]])).toEqual([
          [T - HOUR, 'pm25', 10],
          [T, 'pm10', 30],
          [T, 'pm25', 25],
        ]);
        const both = await predictionsOfVersions(store)({
          versions: ['v1', 'v2'],
          from: T,
          to: T + HOUR,
          limit: 100,
        });
        expect(both).toHaveLength(4);
        expect(await findFeedbackTarget(store)('prediction', `v2:b:pm25:${T}`)).toEqual({
          sensorId: 'b',
          metric: 'pm25',
          ts: T,
        });
        expect(await findFeedbackTarget(store)('prediction', 'nope')).toBeUndefined();
      } finally {
        await store.close();
      }
    }, 60_000);

    test('registry: a status change is a newer row; files by sha256; feedback newest per person; hourly sums', async () => {
      const store = await backend.open();
      try {
        await migrate(store, MIGRATIONS_DIR);
        const bytes = new Uint8Array([0, 1, 2, 250, 255]);
        await putModelFile(store)('a'.repeat(64), bytes);
        expect(await getModelFile(store)('a'.repeat(64))).toEqual(bytes);
        expect(await getModelFile(store)('b'.repeat(64))).toBeUndefined();
        const row: ModelVersionRow = {
          task: 'forecast',
          version: 'f-1',
          name: 'n',
          sha256: 'a'.repeat(64),
          status: 'candidate',
          // Quotes, tabs and newlines survive the TSV round trip.
          card: JSON.stringify({ x: "it's \t tabbed\nand lined" }),
          metrics: '{}',
          source: 'upload',
          previous: '',
          createdBy: 'u',
          createdAt: 1_000,
          updatedAt: 1_000,
        };
        await putModelVersions(store)([row]);
        await putModelVersions(store)([{ ...row, status: 'active', previous: 'f-0', updatedAt: 2_000 }]);
        const [listed] = await listModelVersions(store)();
        expect(listed).toEqual({ ...row, status: 'active', previous: 'f-0', updatedAt: 2_000 });

        const fb = {
          target: 'anomaly' as const,
          targetId: 'x',
          sensorId: 'a',
          metric: 'pm25',
          ts: T,
          kind: '',
          note: '',
          userId: 'u',
        };
        await insertFeedback(store)([
          { ...fb, id: '1', verdict: 'right', createdAt: 1 },
          { ...fb, id: '2', verdict: 'wrong', createdAt: 2 },
          { ...fb, id: '3', verdict: 'right', userId: 'w', createdAt: 3 },
        ]);
        const verdicts = await listFeedback(store)({ target: 'anomaly', since: T });
        expect(verdicts.map((f) => [f.userId, f.verdict])).toEqual([
          ['u', 'wrong'],
          ['w', 'right'],
        ]);

        await insertReadings(store)([
          { sensorId: 'a', metric: 'pm25', ts: T + 60_000, value: 10, receivedAt: 0, source: 't' },
          { sensorId: 'a', metric: 'pm25', ts: T + 120_000, value: 20, receivedAt: 0, source: 't' },
          { sensorId: 'a', metric: 'temp', ts: T + HOUR, value: 5, receivedAt: 0, source: 't' },
        ]);
        const sums = await hourlySums(store)({ from: T, to: T + 2 * HOUR, metrics: ['pm25', 'temp'] });
        expect(sums).toEqual([
          { sensorId: 'a', metric: 'pm25', bucket: T, sum: 30, count: 2 },
          { sensorId: 'a', metric: 'temp', bucket: T + HOUR, sum: 5, count: 1 },
        ]);
      } finally {
        await store.close();
      }
    }, 60_000);
  });
}
