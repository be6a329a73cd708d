import { describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import {
  type AnomalyRow,
  type FaultShadowRow,
  insertAnomalies,
  insertFaultShadowVerdicts,
  insertPredictions,
  MIGRATIONS_DIR,
  migrate,
  type PredictionRow,
  sql,
} from './index.ts';
import { storeBackends } from './test-support/backends.ts';
import { bitsOf, hardDoubles, storedBits } from './test-support/exact-values.ts';

const servers = useServers({ clickhouse: true });
const backends = storeBackends(servers, 'exact_floats_t');

const T = Date.UTC(2026, 0, 10, 12);
const HOUR = 3_600_000;
const HORIZONS = [60, 240, 1_440, 4_320];
const values = hardDoubles(1_200, 7);
const at = (i: number) => values[i % values.length] as number;
/** An array's doubles as the bits `bitsOf` gives. */
const bitsOfAll = (xs: readonly number[]) => xs.map(bitsOf);

for (const backend of backends) {
  describe(`floats outside readings are stored bit for bit (${backend.name})`, () => {
    test('predictions: every p10, p50 and p90 of 300 forecasts, hard doubles included', async () => {
      const store = await backend.open();
      try {
        await migrate(store, MIGRATIONS_DIR);
        const rows: PredictionRow[] = Array.from({ length: 300 }, (_, i) => ({
          id: `exact:${i}`,
          sensorId: `s-${i % 7}`,
          metric: 'pm25',
          ts: T + i * HOUR,
          horizons: HORIZONS,
          p10: HORIZONS.map((_, h) => at(i * 12 + h)),
          p50: HORIZONS.map((_, h) => at(i * 12 + 4 + h)),
          p90: HORIZONS.map((_, h) => at(i * 12 + 8 + h)),
          model: 'm',
          modelVersion: 'v1',
          role: 'active',
          streamId: `${T + i}-0`,
          createdAt: T + i * HOUR + 1,
        }));
        await insertPredictions(store)(rows);
        const stored = await store.query<{
          id: string;
          horizons: number[];
          p10: string[];
          p50: string[];
          p90: string[];
        }>(sql`
          SELECT id, horizons,
                 arrayMap(x -> hex(reinterpretAsString(x)), p10) AS p10,
                 arrayMap(x -> hex(reinterpretAsString(x)), p50) AS p50,
                 arrayMap(x -> hex(reinterpretAsString(x)), p90) AS p90
          FROM predictions ORDER BY ts`);
        expect(stored.length).toBe(rows.length);
        const wrong = stored.filter((got, i) => {
          const want = rows[i] as PredictionRow;
          return (
            got.id !== want.id ||
            got.horizons.join() !== HORIZONS.join() ||
            got.p10.map(storedBits).join() !== bitsOfAll(want.p10).join() ||
            got.p50.map(storedBits).join() !== bitsOfAll(want.p50).join() ||
            got.p90.map(storedBits).join() !== bitsOfAll(want.p90).join()
          );
        });
        expect(wrong).toEqual([]);
      } finally {
        await store.close();
      }
    });

    test('anomalies and fault-shadow verdicts: scores, values and expectations; a missing value stays NaN', async () => {
      const store = await backend.open();
      try {
        await migrate(store, MIGRATIONS_DIR);
        const anomalies: AnomalyRow[] = Array.from({ length: 300 }, (_, i) => ({
          id: `a-${i}`,
          sensorId: 's-1',
          metric: 'pm25',
          ts: T + i * HOUR,
          kind: 'spike',
          score: Math.abs(at(i * 4)) % 1,
          threshold: at(i * 4 + 1),
          value: i % 50 === 0 ? null : at(i * 4 + 2),
          expected: at(i * 4 + 3),
          windowStart: T + i * HOUR - 72 * HOUR,
          modelId: 'faults',
          modelVersion: 'v1',
          streamId: '',
          detectedAt: T + i * HOUR + 1,
        }));
        const verdicts: FaultShadowRow[] = anomalies.map((a, i) => ({
          id: `f-${i}`,
          sensorId: a.sensorId,
          metric: a.metric,
          ts: a.ts,
          shadowVersion: 's1',
          shadowKind: 'spike',
          shadowScore: a.score,
          activeVersion: 'a1',
          activeKind: '',
          activeScore: i % 60 === 0 ? null : (a.threshold as number),
          value: a.value ?? null,
          expected: a.expected ?? null,
          streamId: '',
          detectedAt: a.detectedAt,
        }));
        await insertAnomalies(store)(anomalies);
        await insertFaultShadowVerdicts(store)(verdicts);
        const bits = (column: string, table: string) =>
          store
            .query<{ bits: string }>(
              sql([
                `SELECT hex(reinterpretAsString(${column})) AS bits FROM ${table} ORDER BY ts`,
              ] as unknown as TemplateStringsArray),
            )
            .then((rows) => rows.map((row) => storedBits(row.bits)));
        const nan = bitsOf(Number.NaN);
        const want = (xs: readonly (number | null | undefined)[]) =>
          xs.map((x) => (x == null ? nan : bitsOf(x)));
        expect(await bits('score', 'anomalies')).toEqual(want(anomalies.map((a) => a.score)));
        expect(await bits('threshold', 'anomalies')).toEqual(want(anomalies.map((a) => a.threshold)));
        expect(await bits('value', 'anomalies')).toEqual(want(anomalies.map((a) => a.value)));
        expect(await bits('expected', 'anomalies')).toEqual(want(anomalies.map((a) => a.expected)));
        expect(await bits('shadow_score', 'fault_shadow_verdicts')).toEqual(
          want(verdicts.map((v) => v.shadowScore)),
        );
        expect(await bits('active_score', 'fault_shadow_verdicts')).toEqual(
          want(verdicts.map((v) => v.activeScore)),
        );
        expect(await bits('value', 'fault_shadow_verdicts')).toEqual(want(verdicts.map((v) => v.value)));
      } finally {
        await store.close();
      }
    });
  });
}
