import { type Static, Type as t } from '@sinclair/typebox';
import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import {
  type AggregateValues,
  ALL_AGGREGATES,
  checkRange,
  type MergedRow,
  mergedAggregates,
  pickAggregates,
  planSegments,
  type Segment,
  stateSource,
  TimeRange,
} from './analytics-plan.ts';
import { AnalyticsMetric, AnalyticsSensorId, resolveTimeZone } from './analytics-timeseries.ts';
import { localHour, localWeekday, wholeHourOffsets } from './analytics-tz.ts';
import { paramsChecker } from './validate.ts';

/** getProfile: a diurnal (hour of day) or weekly (day of week) profile in a time zone. */
export const ProfileParams = t.Object({
  sensorIds: t.Array(AnalyticsSensorId, { minItems: 1, maxItems: 1_000 }),
  metrics: t.Array(AnalyticsMetric, { minItems: 1, maxItems: 100 }),
  ...TimeRange,
  by: t.Union([t.Literal('hour'), t.Literal('weekday')]),
  tz: t.Optional(t.String({ maxLength: 64 })),
});
export type ProfileParams = Static<typeof ProfileParams>;

/** One slot: local hour 0–23, or ISO weekday 1 (Monday) – 7 (Sunday). */
export type ProfileSlot = { slot: number } & AggregateValues;

/** One sensor's metric, slot by slot (slots without readings left out). */
export interface ProfileSeries {
  sensorId: string;
  metric: string;
  slots: ProfileSlot[];
}

/** What a profile query read and found. */
export interface ProfileResult {
  sources: Segment[];
  tz: string;
  series: ProfileSeries[];
}

const checkProfile = paramsChecker('profile', ProfileParams);

/**
 * Every reading in [from, to) grouped by its local hour of day or day of week in the zone: count,
 * avg (each reading weighs the same), min, max and t-digest p50/p95 per slot. Read from the hourly
 * rollup when the zone's offset is whole hours throughout, else from the minute rollup, so a bucket
 * never straddles two local hours.
 */
export function getProfile(store: Store) {
  return async function getProfile(params: ProfileParams): Promise<ProfileResult> {
    const { sensorIds, metrics, from, to, by } = checkProfile(params);
    checkRange(from, to);
    const tz = await resolveTimeZone(store, params.tz);
    const sources = planSegments(from, to, wholeHourOffsets(tz, from, to) ? 'hour' : 'minute');
    const slot = by === 'hour' ? localHour(sql`t`, tz) : localWeekday(sql`t`, tz);
    const rows = await store.query<MergedRow & { sensor_id: string; metric: string; slot: number }>(sql`
      SELECT sensor_id, metric, ${slot} AS slot, ${mergedAggregates(true)}
      FROM (${stateSource(sources, { sensorIds, metrics }, true)})
      GROUP BY sensor_id, metric, slot
      ORDER BY sensor_id, metric, slot`);
    const series: ProfileSeries[] = [];
    for (const sensorId of new Set(sensorIds)) {
      for (const metric of new Set(metrics)) {
        const slots = rows
          .filter((row) => row.sensor_id === sensorId && row.metric === metric)
          .map((row) => ({ slot: Number(row.slot), ...pickAggregates(row, ALL_AGGREGATES) }));
        series.push({ sensorId, metric, slots });
      }
    }
    return { sources, tz, series };
  };
}
