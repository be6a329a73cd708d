import { METRICS } from '@sensormesh/readings';
import {
  BUCKETS,
  getCompleteness,
  getCorrelation,
  getExceedance,
  getProfile,
  getSeriesStats,
  getTimeseries,
  type Segment,
  type Store,
} from '@sensormesh/store';
import type { GatewayConfig } from '../../env.ts';
import { aqiHistory } from './aqi-history.ts';
import { compareSensors } from './compare.ts';
import { analyticsLimits, checkBuckets, checkMetrics, checkSensors, resolveRange } from './limits.ts';
import type {
  AqiHistoryQuery,
  CompareQuery,
  CompletenessQuery,
  CorrelationQuery,
  ExceedanceQuery,
  ProfileQuery,
  StatsQuery,
  TimeseriesQuery,
} from './model.ts';

export const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
export const sourceView = (segment: Segment) => ({
  level: segment.level,
  table: segment.table,
  from: iso(segment.from),
  to: iso(segment.to),
});

/** The analytics API over the store's query functions: limits, defaults and the API's shapes. */
export function analyticsService(deps: { store: Store; config: GatewayConfig; now?: () => number }) {
  const { store, config } = deps;
  const now = deps.now ?? Date.now;
  const limits = analyticsLimits(config);
  const queries = {
    timeseries: getTimeseries(store),
    stats: getSeriesStats(store),
    completeness: getCompleteness(store),
    exceedance: getExceedance(store),
    profile: getProfile(store),
    correlation: getCorrelation(store),
  };

  async function timeseries(query: TimeseriesQuery) {
    const range = resolveRange(query, limits, now());
    const sensorIds = checkSensors(query.sensors, limits);
    const metrics = checkMetrics(query.metrics);
    checkBuckets(range, BUCKETS[query.bucket], sensorIds.length * metrics.length, limits);
    const result = await queries.timeseries({
      sensorIds,
      metrics,
      ...range,
      bucket: query.bucket,
      tz: query.tz,
      aggregates: query.aggregates,
    });
    return {
      from: iso(range.from),
      to: iso(range.to),
      bucket: query.bucket,
      bucketMs: BUCKETS[query.bucket],
      tz: result.tz,
      sources: result.sources.map(sourceView),
      series: result.series.map((series) => ({
        sensorId: series.sensorId,
        metric: series.metric,
        unit: METRICS[series.metric]?.unit ?? null,
        points: series.points.map(({ bucket, ...values }) => ({ time: iso(bucket), ts: bucket, ...values })),
      })),
    };
  }

  async function stats(query: StatsQuery) {
    const range = resolveRange(query, limits, now());
    const result = await queries.stats({
      sensorIds: query.sensors && checkSensors(query.sensors, limits),
      metrics: query.metrics && checkMetrics(query.metrics),
      ...range,
      aggregates: query.aggregates,
      limit: query.limit,
      offset: query.offset,
    });
    return {
      from: iso(range.from),
      to: iso(range.to),
      sources: result.sources.map(sourceView),
      items: result.items,
      limit: query.limit,
      offset: query.offset,
      hasMore: result.hasMore,
    };
  }

  async function completeness(query: CompletenessQuery) {
    const range = resolveRange(query, limits, now());
    const sensors = await queries.completeness({
      sensorIds: checkSensors(query.sensors, limits),
      metrics: query.metrics && checkMetrics(query.metrics),
      ...range,
    });
    return {
      from: iso(range.from),
      to: iso(range.to),
      sensors: sensors.map((sensor) => ({
        ...sensor,
        firstHour: isoOrNull(sensor.firstHour),
        lastHour: isoOrNull(sensor.lastHour),
      })),
    };
  }

  async function exceedance(query: ExceedanceQuery) {
    const range = resolveRange(query, limits, now());
    const [metric] = checkMetrics([query.metric], '/metric');
    const sensors = await queries.exceedance({
      sensorIds: checkSensors(query.sensors, limits),
      metric: metric as string,
      threshold: query.threshold,
      statistic: query.statistic,
      ...range,
    });
    return {
      from: iso(range.from),
      to: iso(range.to),
      metric: query.metric,
      threshold: query.threshold,
      statistic: query.statistic,
      sensors: sensors.map((sensor) => ({
        ...sensor,
        firstExceedance: isoOrNull(sensor.firstExceedance),
        lastExceedance: isoOrNull(sensor.lastExceedance),
      })),
    };
  }

  async function profile(query: ProfileQuery, by: 'hour' | 'weekday') {
    const range = resolveRange(query, limits, now());
    const result = await queries.profile({
      sensorIds: checkSensors(query.sensors, limits),
      metrics: checkMetrics(query.metrics),
      ...range,
      by,
      tz: query.tz,
    });
    return {
      from: iso(range.from),
      to: iso(range.to),
      tz: result.tz,
      by,
      sources: result.sources.map(sourceView),
      series: result.series,
    };
  }

  async function correlation(query: CorrelationQuery) {
    const range = resolveRange(query, limits, now());
    const x = { sensorId: query.sensor, metric: checkMetrics([query.metric], '/metric')[0] as string };
    const y = {
      sensorId: query.otherSensor ?? query.sensor,
      metric: checkMetrics([query.otherMetric ?? query.metric], '/otherMetric')[0] as string,
    };
    const result = await queries.correlation({ x, y, ...range });
    return { from: iso(range.from), to: iso(range.to), x, y, ...result };
  }

  return {
    timeseries,
    stats,
    completeness,
    exceedance,
    profile,
    correlation,
    compare: (query: CompareQuery) => compareSensors({ store, limits, now: now() }, query),
    aqi: (query: AqiHistoryQuery) =>
      aqiHistory({ store, limits, now: now(), standard: query.standard ?? config.AQI_STANDARD }, query),
  };
}

/** The analytics service's interface. */
export type AnalyticsService = ReturnType<typeof analyticsService>;
