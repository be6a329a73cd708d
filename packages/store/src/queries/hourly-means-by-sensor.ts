import { type Static, Type as t } from '@sinclair/typebox';
import { inList, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { paramsChecker } from './validate.ts';

const HOUR_MS = 3_600_000;

/** Which hourly means to read: metrics, optional sensors, hours `[from, to)` as epoch ms. */
export const HourlyMeansBySensorParams = t.Object({
  metrics: t.Array(t.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 64 }),
  sensorIds: t.Optional(
    t.Array(t.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 1_000 }),
  ),
  from: t.Integer(),
  to: t.Integer(),
});
export type HourlyMeansBySensorParams = Static<typeof HourlyMeansBySensorParams>;

/** One sensor's hourly means of one metric: `means[i]` is the mean of the hour starting at `hours[i]`. */
export interface SensorHourlyMeans {
  sensorId: string;
  metric: string;
  hours: number[];
  means: number[];
}

const checkParams = paramsChecker('hourlyMeansBySensor', HourlyMeansBySensorParams);

/**
 * Hourly means of recent hours for every sensor, from `readings_per_hour_by_time` (ordered by hour
 * first, so a few recent hours are a primary-key range), sum and count states only, grouped
 * server-side into one row per sensor and metric: for the realtime dashboard's NowCast, 1,000
 * sensors × 6 metrics × 24 hours come back as 6,000 rows rather than 144,000 (measured 2.5–5×
 * faster on 18.16 than reading the rows per hour). `from` is rounded down to its hour; hours
 * without readings are absent; arrays are in no particular order.
 */
export function hourlyMeansBySensor(store: Store) {
  return async function hourlyMeansBySensor(params: HourlyMeansBySensorParams): Promise<SensorHourlyMeans[]> {
    const { metrics, sensorIds, from, to } = checkParams(params);
    const fromHour = Math.floor(from / HOUR_MS) * HOUR_MS;
    const sensors = sensorIds ? sql`AND sensor_id IN ${inList(sensorIds)}` : sql``;
    const rows = await store.query<{
      sensor_id: string;
      metric: string;
      hours: number[];
      means: number[];
    }>(sql`
      SELECT sensor_id, metric, groupArray(bucket) AS hours, groupArray(mean) AS means
      FROM (
        SELECT sensor_id, metric, bucket, sumMerge(sum) / countMerge(count) AS mean
        FROM readings_per_hour_by_time
        WHERE bucket >= ${fromHour} AND bucket < ${to} AND metric IN ${inList(metrics)} ${sensors}
        GROUP BY sensor_id, metric, bucket
      )
      GROUP BY sensor_id, metric
      ORDER BY sensor_id, metric`);
    return rows.map((row) => ({
      sensorId: row.sensor_id,
      metric: row.metric,
      hours: row.hours.map(Number),
      means: row.means.map(Number),
    }));
  };
}
