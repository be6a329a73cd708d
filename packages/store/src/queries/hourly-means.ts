import { type Static, Type as t } from '@sinclair/typebox';
import { inList, join, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { paramsChecker } from './validate.ts';

/** hourlySums: every sensor's hourly sums and counts of some metrics over [from, to). */
export const HourlySumsParams = t.Object({
  from: t.Integer({ minimum: 0 }),
  to: t.Integer({ minimum: 0 }),
  metrics: t.Array(t.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 100 }),
  sensorIds: t.Optional(
    t.Array(t.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 10_000 }),
  ),
});
export type HourlySumsParams = Static<typeof HourlySumsParams>;

/** One sensor, metric and hour: the sum and count of its readings (mean = sum / count). */
export interface HourlySum {
  sensorId: string;
  metric: string;
  /** Hour start, epoch ms. */
  bucket: number;
  sum: number;
  count: number;
}

const check = paramsChecker('hourlySums', HourlySumsParams);

/**
 * Sums and counts rather than means, so a caller can keep adding readings to a partial hour. Reads
 * `readings_per_hour_by_time` (ordered by hour first): a few recent hours of every sensor is a
 * primary-key range there, never a scan of the whole rollup.
 */
export function hourlySums(store: Store) {
  return async function hourlySums(params: HourlySumsParams): Promise<HourlySum[]> {
    const { from, to, metrics, sensorIds } = check(params);
    const where = join(
      [
        sql`bucket >= ${from}`,
        sql`bucket < ${to}`,
        sql`metric IN ${inList(metrics)}`,
        ...(sensorIds ? [sql`sensor_id IN ${inList(sensorIds)}`] : []),
      ],
      ' AND ',
    );
    const rows = await store.query<{
      sensor_id: string;
      metric: string;
      bucket: number;
      sum: number;
      count: number;
    }>(sql`
      SELECT sensor_id, metric, bucket, sumMerge(sum) AS sum, countMerge(count) AS count
      FROM readings_per_hour_by_time WHERE ${where}
      GROUP BY sensor_id, metric, bucket ORDER BY bucket, sensor_id, metric`);
    return rows.map((row) => ({
      sensorId: row.sensor_id,
      metric: row.metric,
      bucket: Number(row.bucket),
      sum: Number(row.sum),
      count: Number(row.count),
    }));
  };
}
