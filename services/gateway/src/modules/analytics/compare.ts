import { AppError } from '@sensormesh/errors';
import { BUCKETS, getSeriesStats, getTimeseries, type Store } from '@sensormesh/store';
import { type AnalyticsLimits, checkBuckets, checkMetrics, checkSensors, resolveRange } from './limits.ts';
import type { CompareQuery } from './model.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One metric of several sensors side by side: one value per bucket and sensor on a shared time
 * axis (null where a sensor has no data), and each sensor's statistics over the whole range.
 */
export async function compareSensors(
  deps: { store: Store; limits: AnalyticsLimits; now: number },
  query: CompareQuery,
) {
  const { store, limits } = deps;
  const range = resolveRange(query, limits, deps.now);
  const sensorIds = checkSensors(query.sensors, limits);
  if (sensorIds.length < 2) {
    throw new AppError('VALIDATION_FAILED', 'name at least two sensors to compare', {
      details: [{ path: '/sensors', message: 'at least two distinct sensors' }],
    });
  }
  const metric = checkMetrics([query.metric], '/metric')[0] as string;
  checkBuckets(range, BUCKETS[query.bucket], sensorIds.length, limits);
  const aggregate = query.aggregate ?? 'avg';
  const [buckets, summaries] = await Promise.all([
    getTimeseries(store)({
      sensorIds,
      metrics: [metric],
      ...range,
      bucket: query.bucket,
      tz: query.tz,
      aggregates: [aggregate],
    }),
    getSeriesStats(store)({ sensorIds, metrics: [metric], ...range, limit: sensorIds.length, offset: 0 }),
  ]);
  const times = [...new Set(buckets.series.flatMap((s) => s.points.map((p) => p.bucket)))].sort(
    (a, b) => a - b,
  );
  const column = new Map(times.map((time, index) => [time, index]));
  return {
    from: iso(range.from),
    to: iso(range.to),
    metric,
    bucket: query.bucket,
    tz: buckets.tz,
    aggregate,
    times: times.map(iso),
    sensors: buckets.series.map((series) => {
      const values: (number | null)[] = times.map(() => null);
      for (const point of series.points)
        values[column.get(point.bucket) as number] = point[aggregate] ?? null;
      const found = summaries.items.find((item) => item.sensorId === series.sensorId);
      const summary = found ? (({ sensorId: _s, metric: _m, ...rest }) => rest)(found) : null;
      return { sensorId: series.sensorId, values, summary };
    }),
  };
}
