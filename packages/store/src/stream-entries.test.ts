import { describe, expect, test } from 'bun:test';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useServers } from '@sensormesh/testkit';
import {
  type AnomalyRow,
  anomalyEntries,
  type EntryRangeQuery,
  ident,
  insertAnomalies,
  insertPredictions,
  MIGRATIONS_DIR,
  migrate,
  type PredictionRow,
  predictionEntries,
  type Store,
  sql,
} from './index.ts';
import { storeBackends } from './test-support/backends.ts';

const servers = useServers({ clickhouse: true });

const backends = storeBackends(servers, 'stream_entries');

const BASE = 1_732_280_000_000;
const HOUR = 3_600_000;
const SENSORS = ['s-a', 's-b', 's-c'];

/** Entry n: ms BASE for n < 12 (seq 0…11, so "-9" and "-10" meet), then BASE+1 with seq n-12. */
const entryOf = (n: number) => (n < 12 ? `${BASE}-${n}` : `${BASE + 1}-${n - 12}`);
const range = (after: string, before: string, extra: Partial<EntryRangeQuery> = {}): EntryRangeQuery => {
  const [afterMs, afterSeq] = after.split('-').map(Number) as [number, number];
  const [beforeMs, beforeSeq] = before.split('-').map(Number) as [number, number];
  return { afterMs, afterSeq, beforeMs, beforeSeq, limit: 500, ...extra };
};

/** Forecast n: sensors and metrics rotate, origins step by an hour backwards (not in entry order). */
function forecast(n: number, streamId = entryOf(n)): PredictionRow {
  const sensorId = SENSORS[n % 3] as string;
  const metric = n % 2 === 0 ? 'pm25' : 'pm10';
  const ts = BASE - n * HOUR;
  return {
    id: `v1:${sensorId}:${metric}:${ts}`,
    sensorId,
    metric,
    ts,
    horizons: [60, 120],
    p10: [n + 0.1, n + 0.2],
    p50: [n + 0.30000000000000004, n],
    p90: [n + 1.25, n + 2.5],
    model: 'pm25-forecast',
    modelVersion: 'v1',
    role: n % 5 === 0 ? 'shadow' : 'active',
    streamId,
    createdAt: BASE + n,
  };
}

/** Anomaly n, the same rotation; every third has no value and every fourth no expected value. */
function anomaly(n: number, streamId = entryOf(n)): AnomalyRow {
  const sensorId = SENSORS[n % 3] as string;
  const metric = n % 2 === 0 ? 'pm25' : 'no2';
  const ts = BASE - n * HOUR;
  return {
    id: `f1:${sensorId}:${metric}:${ts}:spike`,
    sensorId,
    metric,
    ts,
    kind: 'spike',
    score: 1 - Math.fround(0.01 * n),
    threshold: 0.95,
    value: n % 3 === 0 ? null : n * 1.5,
    expected: n % 4 === 0 ? null : n / 3,
    windowStart: ts - 71 * HOUR,
    modelId: 'faults',
    modelVersion: 'f1',
    streamId,
    detectedAt: BASE + n,
  };
}

/** Migrations up to 009 in a directory of their own, to store rows from before 010. */
async function migrationsBefore010(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sensormesh-migrations-'));
  for (const file of await readdir(MIGRATIONS_DIR))
    if (file.endsWith('.sql') && file < '010') await copyFile(join(MIGRATIONS_DIR, file), join(dir, file));
  return dir;
}

for (const backend of backends) {
  describe(`predictionEntries and anomalyEntries on ${backend.name}`, () => {
    let store: Store;
    test('set-up: rows stored before migration 010 are indexed by it, rows after by its views', async () => {
      store = await backend.open();
      const early = await migrationsBefore010();
      try {
        await migrate(store, early);
      } finally {
        await rm(early, { recursive: true, force: true });
      }
      const first = Array.from({ length: 10 }, (_, n) => n);
      await insertPredictions(store)(first.map((n) => forecast(n)));
      await insertAnomalies(store)(first.map((n) => anomaly(n)));
      expect((await migrate(store, MIGRATIONS_DIR)).applied).toContain(
        '010_prediction_and_anomaly_entries.sql',
      );
      const rest = Array.from({ length: 20 }, (_, n) => n + 10);
      await insertPredictions(store)(rest.map((n) => forecast(n)));
      await insertAnomalies(store)(rest.map((n) => anomaly(n)));
      // A redelivered entry stored again (two parts until a merge), and rows that never came over
      // the bus: neither shows twice nor at all.
      await insertPredictions(store)([forecast(11), forecast(40, '')]);
      await insertAnomalies(store)([anomaly(11), anomaly(40, '')]);
      for (const table of ['predictions_entries', 'anomalies_entries']) {
        const [count] = await store.query<{ n: number }>(
          sql`SELECT uniqExact(entry_ms, entry_seq) AS n FROM ${ident(table)}`,
        );
        expect(Number(count?.n)).toBe(30);
      }
    });

    test('returns the rows strictly between the bounds, ids compared as numbers, each entry once', async () => {
      const page = await predictionEntries(store)(range(`${BASE}-8`, `${BASE + 1}-2`));
      expect(page.rows.map((row) => row.streamId)).toEqual([
        `${BASE}-9`,
        `${BASE}-10`,
        `${BASE}-11`,
        `${BASE + 1}-0`,
        `${BASE + 1}-1`,
      ]);
      expect(page.rows).toEqual([9, 10, 11, 12, 13].map((n) => forecast(n)));
      expect(page.more).toBe(false);
      expect(page.last).toEqual({ ms: BASE + 1, seq: 1 });
      const anomalies = await anomalyEntries(store)(range(`${BASE}-8`, `${BASE + 1}-2`));
      // Stored as they were written: a missing value or expected value comes back as null.
      expect(anomalies.rows).toEqual([9, 10, 11, 12, 13].map((n) => anomaly(n)));
    });

    test('pages by limit: `more` until the range is exhausted, no entry twice', async () => {
      for (const read of [predictionEntries(store), anomalyEntries(store)]) {
        const seen: string[] = [];
        let after = { ms: 0, seq: 0 };
        for (let pages = 0; pages < 20; pages++) {
          const page = await read({
            ...range('0-0', `${BASE + 2}-0`),
            afterMs: after.ms,
            afterSeq: after.seq,
            limit: 4,
          });
          seen.push(...page.rows.map((row) => row.streamId));
          if (!page.more || !page.last) break;
          after = page.last;
        }
        expect(seen).toEqual(Array.from({ length: 30 }, (_, n) => entryOf(n)));
      }
    });

    test('narrows to the given sensors and metrics', async () => {
      const page = await predictionEntries(store)(
        range('0-0', `${BASE + 2}-0`, { sensorIds: ['s-b'], metrics: ['pm10'] }),
      );
      const expected = Array.from({ length: 30 }, (_, n) => n).filter((n) => n % 3 === 1 && n % 2 === 1);
      expect(page.rows.map((row) => row.streamId)).toEqual(expected.map(entryOf));
      const anomalies = await anomalyEntries(store)(range('0-0', `${BASE + 2}-0`, { metrics: ['no2'] }));
      expect(anomalies.rows.every((row) => row.metric === 'no2')).toBe(true);
      expect(anomalies.rows.length).toBe(15);
    });

    test('the same id published again under a newer entry: both until a merge keeps the newer one', async () => {
      const rescored = { ...anomaly(0, `${BASE + 5}-0`), score: 0.5, detectedAt: BASE + 100 };
      await insertAnomalies(store)([rescored]);
      const all = () => anomalyEntries(store)(range('0-0', `${BASE + 10}-0`));
      expect((await all()).rows.filter((row) => row.id === rescored.id).map((row) => row.streamId)).toEqual([
        `${BASE}-0`,
        `${BASE + 5}-0`,
      ]);
      await store.command(sql`OPTIMIZE TABLE anomalies FINAL`);
      const merged = await all();
      expect(merged.rows.filter((row) => row.id === rescored.id)).toEqual([rescored]);
      expect(merged.rows.length).toBe(30);
    });

    test('refuses bad parameters with VALIDATION_FAILED', async () => {
      await expect(
        predictionEntries(store)({ afterMs: -1, afterSeq: 0, beforeMs: 1, beforeSeq: 0, limit: 501 }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      await expect(anomalyEntries(store)({ ...range('0-0', '1-0'), metrics: [] })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
    });

    test('tear-down', async () => {
      await store.close();
    });
  });
}
