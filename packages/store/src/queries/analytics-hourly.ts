import { AppError } from '@sensormesh/errors';
import { type Static, Type as t } from '@sinclair/typebox';
import { float64, inList, join, sql, tuple } from '../sql.ts';
import type { Store } from '../store.ts';
import { checkRange, TimeRange } from './analytics-plan.ts';
import { AnalyticsMetric, AnalyticsSensorId } from './analytics-timeseries.ts';
import { paramsChecker } from './validate.ts';

const HOUR = 3_600_000;

/**
 * The whole UTC hours inside [from, to): the hourly queries below count, compare and pair hours,
 * so an hour only partly inside the range is left out rather than judged on part of its data.
 */
export function wholeHours(from: number, to: number): { from: number; to: number; hours: number } {
  checkRange(from, to);
  const first = Math.ceil(from / HOUR) * HOUR;
  const end = Math.floor(to / HOUR) * HOUR;
  if (first >= end) {
    throw new AppError('VALIDATION_FAILED', 'the range holds no whole hour', {
      details: [{ path: '/from', message: 'hourly analytics need at least one whole UTC hour', from, to }],
    });
  }
  return { from: first, to: end, hours: (end - first) / HOUR };
}

const Sensors = t.Array(AnalyticsSensorId, { minItems: 1, maxItems: 1_000 });

/** getCompleteness: hourly coverage of sensors (and their metrics) over a range. */
export const CompletenessParams = t.Object({
  sensorIds: Sensors,
  metrics: t.Optional(t.Array(AnalyticsMetric, { minItems: 1, maxItems: 100 })),
  ...TimeRange,
});
export type CompletenessParams = Static<typeof CompletenessParams>;

/** One metric of a sensor: hours with at least one reading, out of the range's hours. */
export interface MetricCompleteness {
  metric: string;
  presentHours: number;
  completeness: number;
  readings: number;
}

/** One sensor: uptime is the share of hours with a reading of any (requested) metric. */
export interface SensorCompleteness {
  sensorId: string;
  expectedHours: number;
  presentHours: number;
  uptime: number;
  longestGapHours: number;
  firstHour: number | null;
  lastHour: number | null;
  metrics: MetricCompleteness[];
}

const checkCompleteness = paramsChecker('completeness', CompletenessParams);

/**
 * Expected versus present hourly samples per sensor and metric over the whole UTC hours of the
 * range, with uptime (hours with any reading) and the longest run of silent hours, including
 * silence at either end. Metrics not named are those the sensor reported in the range.
 */
export function getCompleteness(store: Store) {
  return async function getCompleteness(params: CompletenessParams): Promise<SensorCompleteness[]> {
    const { sensorIds, metrics } = checkCompleteness(params);
    const range = wholeHours(params.from, params.to);
    const where = join(
      [
        sql`sensor_id IN ${inList(sensorIds)}`,
        ...(metrics ? [sql`metric IN ${inList(metrics)}`] : []),
        sql`bucket >= ${range.from}`,
        sql`bucket < ${range.to}`,
      ],
      ' AND ',
    );
    const [perMetric, perSensor] = await Promise.all([
      store.query<{ sensor_id: string; metric: string; hours: number; readings: number }>(sql`
        SELECT sensor_id, metric, uniqExact(bucket) AS hours, countMerge(count) AS readings
        FROM readings_per_hour WHERE ${where}
        GROUP BY sensor_id, metric ORDER BY sensor_id, metric`),
      store.query<{ sensor_id: string; hours: number; first: number; last: number; step: number }>(sql`
        SELECT sensor_id, count() AS hours, min(bucket) AS first, max(bucket) AS last,
               arrayReduce('max', arrayDifference(arraySort(groupArray(bucket)))) AS step
        FROM (SELECT DISTINCT sensor_id, bucket FROM readings_per_hour WHERE ${where})
        GROUP BY sensor_id`),
    ]);
    const sensors = new Map(perSensor.map((row) => [row.sensor_id, row]));
    return [...new Set(sensorIds)].map((sensorId) => {
      const found = perMetric.filter((row) => row.sensor_id === sensorId);
      const names = metrics ? [...new Set(metrics)] : found.map((row) => row.metric);
      const summary = sensors.get(sensorId);
      const present = Number(summary?.hours ?? 0);
      const gaps = summary
        ? [
            (Number(summary.first) - range.from) / HOUR,
            (range.to - HOUR - Number(summary.last)) / HOUR,
            Math.max(0, Number(summary.step) / HOUR - 1),
          ]
        : [range.hours];
      return {
        sensorId,
        expectedHours: range.hours,
        presentHours: present,
        uptime: present / range.hours,
        longestGapHours: Math.max(...gaps),
        firstHour: summary ? Number(summary.first) : null,
        lastHour: summary ? Number(summary.last) : null,
        metrics: names.map((metric) => {
          const row = found.find((candidate) => candidate.metric === metric);
          const hours = Number(row?.hours ?? 0);
          return {
            metric,
            presentHours: hours,
            completeness: hours / range.hours,
            readings: Number(row?.readings ?? 0),
          };
        }),
      };
    });
  };
}

/** getExceedance: hours whose hourly average (or maximum) is above a threshold. */
export const ExceedanceParams = t.Object({
  sensorIds: Sensors,
  metric: AnalyticsMetric,
  threshold: t.Number(),
  statistic: t.Union([t.Literal('avg'), t.Literal('max')]),
  ...TimeRange,
});
export type ExceedanceParams = Static<typeof ExceedanceParams>;

/** One sensor's exceedance over the range's whole hours. */
export interface SensorExceedance {
  sensorId: string;
  exceedanceHours: number;
  hoursWithData: number;
  /** exceedanceHours / hoursWithData; null without data. */
  share: number | null;
  firstExceedance: number | null;
  lastExceedance: number | null;
}

const checkExceedance = paramsChecker('exceedance', ExceedanceParams);

/** Hours strictly above the threshold, per sensor, judged on each whole UTC hour's avg or max. */
export function getExceedance(store: Store) {
  return async function getExceedance(params: ExceedanceParams): Promise<SensorExceedance[]> {
    const { sensorIds, metric, threshold, statistic } = checkExceedance(params);
    const range = wholeHours(params.from, params.to);
    const value = statistic === 'max' ? sql`maxMerge(max)` : sql`sumMerge(sum) / countMerge(count)`;
    const limit = float64(threshold);
    const rows = await store.query<{
      sensor_id: string;
      exceeded: number;
      hours: number;
      first: number;
      last: number;
    }>(sql`
      SELECT sensor_id, countIf(v > ${limit}) AS exceeded, count() AS hours,
             minIf(bucket, v > ${limit}) AS first, maxIf(bucket, v > ${limit}) AS last
      FROM (
        SELECT sensor_id, bucket, ${value} AS v FROM readings_per_hour
        WHERE sensor_id IN ${inList(sensorIds)} AND metric = ${metric}
          AND bucket >= ${range.from} AND bucket < ${range.to}
        GROUP BY sensor_id, bucket)
      GROUP BY sensor_id`);
    const bySensor = new Map(rows.map((row) => [row.sensor_id, row]));
    return [...new Set(sensorIds)].map((sensorId) => {
      const row = bySensor.get(sensorId);
      const exceeded = Number(row?.exceeded ?? 0);
      const hours = Number(row?.hours ?? 0);
      return {
        sensorId,
        exceedanceHours: exceeded,
        hoursWithData: hours,
        share: hours > 0 ? exceeded / hours : null,
        firstExceedance: exceeded > 0 ? Number(row?.first) : null,
        lastExceedance: exceeded > 0 ? Number(row?.last) : null,
      };
    });
  };
}

/** One series of a correlation: a sensor's metric. */
export const SeriesRef = t.Object({ sensorId: AnalyticsSensorId, metric: AnalyticsMetric });
export type SeriesRef = Static<typeof SeriesRef>;

/** getCorrelation: two series over a range. */
export const CorrelationParams = t.Object({ x: SeriesRef, y: SeriesRef, ...TimeRange });
export type CorrelationParams = Static<typeof CorrelationParams>;

/** Pearson's r over the hours both series have; null when n < 2 or a series is constant. */
export interface Correlation {
  r: number | null;
  n: number;
  meanX: number | null;
  meanY: number | null;
}

const checkCorrelation = paramsChecker('correlation', CorrelationParams);

/**
 * Pearson correlation of two series' hourly averages over the whole UTC hours of the range, paired
 * hour by hour where both have data (n is the number of pairs). Two metrics of one sensor, or one
 * metric of two sensors, or any two series; a series with itself is refused.
 */
export function getCorrelation(store: Store) {
  return async function getCorrelation(params: CorrelationParams): Promise<Correlation> {
    const { x, y } = checkCorrelation(params);
    if (x.sensorId === y.sensorId && x.metric === y.metric) {
      throw new AppError('VALIDATION_FAILED', 'a series correlates with itself: name two different series', {
        details: [{ path: '/y', message: 'must differ from x in sensor or metric' }],
      });
    }
    const range = wholeHours(params.from, params.to);
    const isX = sql`sensor_id = ${x.sensorId} AND metric = ${x.metric}`;
    const [row] = await store.query<{
      r: number | null;
      n: number;
      mx: number | null;
      my: number | null;
    }>(sql`
      SELECT corrStable(vx, vy) AS r, count() AS n, avg(vx) AS mx, avg(vy) AS my
      FROM (
        SELECT bucket, sumIf(s, k = 0) / sumIf(c, k = 0) AS vx, sumIf(s, k = 1) / sumIf(c, k = 1) AS vy,
               sumIf(c, k = 0) AS cx, sumIf(c, k = 1) AS cy
        FROM (
          SELECT bucket, if(${isX}, 0, 1) AS k, sumMerge(sum) AS s, countMerge(count) AS c
          FROM readings_per_hour
          WHERE sensor_id IN ${inList([x.sensorId, y.sensorId])}
            AND (sensor_id, metric) IN (${tuple([x.sensorId, x.metric])}, ${tuple([y.sensorId, y.metric])})
            AND bucket >= ${range.from} AND bucket < ${range.to}
          GROUP BY bucket, k)
        GROUP BY bucket
        HAVING cx > 0 AND cy > 0)`);
    const n = Number(row?.n ?? 0);
    const finite = (value: number | null | undefined) =>
      typeof value === 'number' && Number.isFinite(value) ? value : null;
    return {
      r: n >= 2 ? finite(row?.r) : null,
      n,
      meanX: n > 0 ? finite(row?.mx) : null,
      meanY: n > 0 ? finite(row?.my) : null,
    };
  };
}
