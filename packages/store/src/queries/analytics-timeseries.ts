import { type Static, Type as t } from '@sinclair/typebox';
import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import {
  Aggregate,
  type AggregateValues,
  ALL_AGGREGATES,
  BUCKETS,
  BucketName,
  checkRange,
  type MergedRow,
  mergedAggregates,
  pickAggregates,
  planSegments,
  type Segment,
  stateSource,
  TimeRange,
} from './analytics-plan.ts';
import { bucketStart, canonicalTimeZone, checkEngineTimeZone, wholeHourOffsets } from './analytics-tz.ts';
import { paramsChecker } from './validate.ts';

const HOUR = 3_600_000;

/** A sensor id as stored (the registry's pattern). */
export const AnalyticsSensorId = t.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' });
/** A metric name as stored (the catalogue's pattern). */
export const AnalyticsMetric = t.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' });

/** getTimeseries: sensors × metrics in [from, to), bucketed. */
export const TimeseriesParams = t.Object({
  sensorIds: t.Array(AnalyticsSensorId, { minItems: 1, maxItems: 1_000 }),
  metrics: t.Array(AnalyticsMetric, { minItems: 1, maxItems: 100 }),
  ...TimeRange,
  bucket: BucketName,
  tz: t.Optional(t.String({ maxLength: 64 })),
  aggregates: t.Optional(t.Array(Aggregate, { minItems: 1, maxItems: 6 })),
});
export type TimeseriesParams = Static<typeof TimeseriesParams>;

/** One bucket: its start (epoch ms) and the requested aggregates. */
export type TimeseriesPoint = { bucket: number } & AggregateValues;

/** One sensor's metric, bucket by bucket (buckets without readings are left out). */
export interface TimeseriesSeries {
  sensorId: string;
  metric: string;
  points: TimeseriesPoint[];
}

/** What a timeseries query read and found. */
export interface TimeseriesResult {
  /** The stretches of the range and the table each was read from. */
  sources: Segment[];
  tz: string;
  series: TimeseriesSeries[];
}

interface BucketRow extends MergedRow {
  sensor_id: string;
  metric: string;
  b: number;
}

const checkTimeseries = paramsChecker('timeseries', TimeseriesParams);

/** The zone to bucket in (canonical), checked against the engine. */
export async function resolveTimeZone(store: Store, tz: string | undefined): Promise<string> {
  const zone = canonicalTimeZone(tz ?? 'UTC');
  if (zone !== 'UTC') await checkEngineTimeZone(store, zone);
  return zone;
}

/**
 * Count, avg, min, max, p50 and p95 per bucket for each sensor and metric, merged from the hourly
 * rollup wherever the bucket and zone allow, from the minute rollup at the edges or for sub-hour
 * buckets, and from raw rows only for edges that are not whole minutes. p50/p95 are t-digest
 * estimates. Buckets are aligned on the zone's local midnight (epoch multiples in UTC).
 */
export function getTimeseries(store: Store) {
  return async function getTimeseries(params: TimeseriesParams): Promise<TimeseriesResult> {
    const { sensorIds, metrics, from, to, bucket } = checkTimeseries(params);
    checkRange(from, to);
    const tz = await resolveTimeZone(store, params.tz);
    const wanted = params.aggregates ?? ALL_AGGREGATES;
    const quantiles = wanted.includes('p50') || wanted.includes('p95');
    const width = BUCKETS[bucket];
    const hoursFit = width % HOUR === 0 && (tz === 'UTC' || wholeHourOffsets(tz, from, to));
    const sources = planSegments(from, to, hoursFit ? 'hour' : 'minute');
    const rows = await store.query<BucketRow>(sql`
      SELECT sensor_id, metric, ${bucketStart(sql`t`, width, tz)} AS b, ${mergedAggregates(quantiles)}
      FROM (${stateSource(sources, { sensorIds, metrics }, quantiles)})
      GROUP BY sensor_id, metric, b
      ORDER BY sensor_id, metric, b`);
    const bySeries = new Map<string, TimeseriesPoint[]>();
    for (const row of rows) {
      const key = `${row.sensor_id}\u0000${row.metric}`;
      let points = bySeries.get(key);
      if (!points) {
        points = [];
        bySeries.set(key, points);
      }
      points.push({ bucket: Number(row.b), ...pickAggregates(row, wanted) });
    }
    const series: TimeseriesSeries[] = [];
    for (const sensorId of new Set(sensorIds)) {
      for (const metric of new Set(metrics)) {
        series.push({ sensorId, metric, points: bySeries.get(`${sensorId}\u0000${metric}`) ?? [] });
      }
    }
    return { sources, tz, series };
  };
}

/** getSeriesStats: one row per sensor and metric over [from, to); all sensors when none named. */
export const SeriesStatsParams = t.Object({
  sensorIds: t.Optional(t.Array(AnalyticsSensorId, { minItems: 1, maxItems: 1_000 })),
  metrics: t.Optional(t.Array(AnalyticsMetric, { minItems: 1, maxItems: 100 })),
  ...TimeRange,
  aggregates: t.Optional(t.Array(Aggregate, { minItems: 1, maxItems: 6 })),
  limit: t.Integer({ minimum: 1, maximum: 100_000 }),
  offset: t.Integer({ minimum: 0, maximum: 10_000_000 }),
});
export type SeriesStatsParams = Static<typeof SeriesStatsParams>;

/** One sensor's metric over the whole range. */
export type SeriesStats = { sensorId: string; metric: string } & AggregateValues;

/** A page of per-series statistics, ordered by sensor and metric. */
export interface SeriesStatsResult {
  sources: Segment[];
  items: SeriesStats[];
  /** True when more series follow this page. */
  hasMore: boolean;
}

const checkSeriesStats = paramsChecker('series statistics', SeriesStatsParams);

/**
 * Count, avg, min, max, p50 and p95 per sensor and metric over [from, to), from the same planned
 * sources as getTimeseries. Without named sensors it reads the time-ordered hourly copy, so a day
 * over every sensor reads that day's rows only.
 */
export function getSeriesStats(store: Store) {
  return async function getSeriesStats(params: SeriesStatsParams): Promise<SeriesStatsResult> {
    const { sensorIds, metrics, from, to, limit, offset } = checkSeriesStats(params);
    checkRange(from, to);
    const wanted = params.aggregates ?? ALL_AGGREGATES;
    const quantiles = wanted.includes('p50') || wanted.includes('p95');
    const sources = planSegments(from, to, 'hour', sensorIds === undefined);
    const rows = await store.query<MergedRow & { sensor_id: string; metric: string }>(sql`
      SELECT sensor_id, metric, ${mergedAggregates(quantiles)}
      FROM (${stateSource(sources, { sensorIds, metrics }, quantiles)})
      GROUP BY sensor_id, metric
      ORDER BY sensor_id, metric
      LIMIT ${offset}, ${limit + 1}`);
    const items = rows.slice(0, limit).map((row) => ({
      sensorId: row.sensor_id,
      metric: row.metric,
      ...pickAggregates(row, wanted),
    }));
    return { sources, items, hasMore: rows.length > limit };
  };
}
