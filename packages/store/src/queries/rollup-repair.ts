import { inList, join, type Sql, sql, trusted, tuple } from '../sql.ts';
import type { Store } from '../store.ts';
import type { ReadingRow } from './readings.ts';

const ROLLUPS = [
  { table: 'readings_per_minute', width: 60_000 },
  { table: 'readings_per_hour', width: 3_600_000 },
  // Same columns as readings_per_hour, ordered by time for all-sensor queries (migration 006).
  { table: 'readings_per_hour_by_time', width: 3_600_000 },
] as const;

// Keeps each statement's tuple literals far under max_query_size (256 KiB).
const TUPLES_PER_STATEMENT = 2_000;

interface BucketCount {
  sensor_id: string;
  metric: string;
  bucket: number;
  n: number;
}

const bucketKey = (sensorId: string, metric: string, bucket: number) =>
  `${sensorId}\u0000${metric}\u0000${bucket}`;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let index = 0; index < items.length; index += size) out.push(items.slice(index, index + size));
  return out;
}

const readingTuples = (rows: readonly ReadingRow[]): Sql =>
  join(
    rows.map((row) => tuple([row.sensorId, row.metric, row.ts])),
    ', ',
  );

/**
 * ClickHouse writes a block to readings_raw and then to each materialized view, not atomically: a
 * server killed in between keeps the raw rows and loses their rollup rows, and a retry finds the
 * readings stored and skips them. Called with the readings a batch found already stored, this
 * compares, per rollup bucket they fall in, the rollup's count with the raw count; where the
 * rollup is short by exactly those readings, it adds their states from the raw rows. Any other
 * shortfall cannot be attributed to rows and is reported, not guessed at. Returns what it did.
 */
export async function repairRollups(
  store: Store,
  alreadyStored: readonly ReadingRow[],
): Promise<{ repaired: number; unexplained: number }> {
  const report = { repaired: 0, unexplained: 0 };
  if (alreadyStored.length === 0) return report;
  for (const { table, width } of ROLLUPS) {
    const byBucket = new Map<string, ReadingRow[]>();
    for (const row of alreadyStored) {
      const key = bucketKey(row.sensorId, row.metric, Math.floor(row.ts / width) * width);
      const list = byBucket.get(key);
      if (list) list.push(row);
      else byBucket.set(key, [row]);
    }
    const shortBy = new Map<string, number>();
    for (const part of chunks([...byBucket.values()].flat(), TUPLES_PER_STATEMENT)) {
      const bucketTuples = join(
        [
          ...new Set(
            part.map((row) => bucketKey(row.sensorId, row.metric, Math.floor(row.ts / width) * width)),
          ),
        ].map((key) => {
          const [sensorId, metric, bucket] = key.split('\u0000');
          return tuple([sensorId as string, metric as string, Number(bucket)]);
        }),
        ', ',
      );
      const bucketExpr = trusted(`intDiv(ts, ${width}) * ${width}`);
      const [rollup, raw] = await Promise.all([
        store.query<BucketCount>(sql`
          SELECT sensor_id, metric, bucket, countMerge(count) AS n FROM ${trusted(table)}
          WHERE (sensor_id, metric, bucket) IN (${bucketTuples})
          GROUP BY sensor_id, metric, bucket`),
        store.query<BucketCount>(sql`
          SELECT sensor_id, metric, ${bucketExpr} AS bucket, count() AS n FROM readings_raw FINAL
          WHERE sensor_id IN ${inList([...new Set(part.map((row) => row.sensorId))])}
            AND (sensor_id, metric, ${bucketExpr}) IN (${bucketTuples})
          GROUP BY sensor_id, metric, bucket`),
      ]);
      const counted = new Map(
        rollup.map((row) => [bucketKey(row.sensor_id, row.metric, row.bucket), Number(row.n)]),
      );
      for (const row of raw) {
        const key = bucketKey(row.sensor_id, row.metric, row.bucket);
        const deficit = Number(row.n) - (counted.get(key) ?? 0);
        if (deficit > 0) shortBy.set(key, deficit);
      }
    }
    const toAdd: ReadingRow[] = [];
    for (const [key, deficit] of shortBy) {
      const rows = byBucket.get(key) ?? [];
      if (rows.length === deficit) toAdd.push(...rows);
      else report.unexplained++;
    }
    for (const part of chunks(toAdd, TUPLES_PER_STATEMENT)) {
      await store.command(sql`
        INSERT INTO ${trusted(table)}
        SELECT sensor_id, metric, intDiv(ts, ${width}) * ${width} AS bucket, countState() AS count,
               sumState(value) AS sum, minState(value) AS min, maxState(value) AS max,
               quantilesTDigestState(0.5, 0.95)(value) AS quantiles
        FROM readings_raw FINAL
        WHERE (sensor_id, metric, ts) IN (${readingTuples(part)})
        GROUP BY sensor_id, metric, bucket`);
    }
    report.repaired += toAdd.length;
  }
  return report;
}
