import { AppError } from '@sensormesh/errors';
import { type Static, Type as t } from '@sinclair/typebox';
import { inList, join, type Sql, sql } from '../sql.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** Time buckets the analytics queries offer, each dividing a day. */
export const BUCKETS = {
  '1m': MINUTE,
  '5m': 5 * MINUTE,
  '10m': 10 * MINUTE,
  '15m': 15 * MINUTE,
  '30m': 30 * MINUTE,
  '1h': HOUR,
  '3h': 3 * HOUR,
  '6h': 6 * HOUR,
  '12h': 12 * HOUR,
  '1d': 24 * HOUR,
} as const;
export type BucketName = keyof typeof BUCKETS;
export const BucketName = t.Union(
  (Object.keys(BUCKETS) as BucketName[]).map((name) => t.Literal(name)),
  { description: 'bucket width: 1m, 5m, 10m, 15m, 30m, 1h, 3h, 6h, 12h or 1d' },
);

/** Where a stretch of time is read from: a rollup, or raw rows where no rollup fits. */
export type SourceLevel = 'hour' | 'minute' | 'raw';

/** One stretch [from, to) of a query and the table that answers it. */
export interface Segment {
  level: SourceLevel;
  table: string;
  from: number;
  to: number;
}

const WIDTH: Record<Exclude<SourceLevel, 'raw'>, number> = { hour: HOUR, minute: MINUTE };
const ceilTo = (value: number, width: number) => Math.ceil(value / width) * width;
const floorTo = (value: number, width: number) => Math.floor(value / width) * width;

function tableOf(level: SourceLevel, byTime: boolean): string {
  if (level === 'raw') return 'readings_raw';
  if (level === 'minute') return 'readings_per_minute';
  return byTime ? 'readings_per_hour_by_time' : 'readings_per_hour';
}

/**
 * Covers [from, to) exactly with the coarsest data that can answer it: whole hours from the hourly
 * rollup, the minutes at either edge from the minute rollup, and only the seconds before the first
 * whole minute and after the last from raw rows. So raw rows are read for under two minutes per
 * series however long the range, and never when the edges fall on whole minutes. `coarsest` caps
 * the level (a sub-hour bucket cannot come from hours); `byTime` picks the hourly copy ordered by
 * time, for queries over every sensor.
 */
export function planSegments(from: number, to: number, coarsest: SourceLevel, byTime = false): Segment[] {
  const levels: SourceLevel[] =
    coarsest === 'hour' ? ['hour', 'minute', 'raw'] : coarsest === 'minute' ? ['minute', 'raw'] : ['raw'];
  const out: Segment[] = [];
  const cover = (start: number, end: number, depth: number): void => {
    if (start >= end) return;
    const level = levels[depth] as SourceLevel;
    if (level === 'raw') {
      out.push({ level, table: tableOf(level, byTime), from: start, to: end });
      return;
    }
    const width = WIDTH[level];
    const innerFrom = ceilTo(start, width);
    const innerTo = floorTo(end, width);
    if (innerFrom >= innerTo) {
      cover(start, end, depth + 1);
      return;
    }
    cover(start, innerFrom, depth + 1);
    out.push({ level, table: tableOf(level, byTime), from: innerFrom, to: innerTo });
    cover(innerTo, end, depth + 1);
  };
  cover(from, to, 0);
  return out.sort((a, b) => a.from - b.from);
}

/** Which sensors and metrics a query reads. */
export interface SeriesFilter {
  sensorIds?: readonly string[] | undefined;
  metrics?: readonly string[] | undefined;
}

function seriesConditions(filter: SeriesFilter): Sql[] {
  const parts: Sql[] = [];
  if (filter.sensorIds) parts.push(sql`sensor_id IN ${inList(filter.sensorIds)}`);
  if (filter.metrics) parts.push(sql`metric IN ${inList(filter.metrics)}`);
  return parts;
}

/**
 * One subquery over the planned segments with the columns (sensor_id, metric, t, c, s, mn, mx[, q]):
 * t is each row's own time (rollup bucket or reading ts), the rest aggregate states, the same type
 * from every table, so the caller merges them with countMerge(c) … over any grouping of t.
 */
export function stateSource(segments: readonly Segment[], filter: SeriesFilter, quantiles: boolean): Sql {
  if (segments.length === 0) throw new Error('stateSource needs at least one segment');
  const series = seriesConditions(filter);
  const branches = segments.map((segment) => {
    if (segment.level === 'raw') {
      const where = join([sql`ts >= ${segment.from}`, sql`ts < ${segment.to}`, ...series], ' AND ');
      const q = quantiles ? sql`, quantilesTDigestState(0.5, 0.95)(value) AS q` : sql``;
      return sql`SELECT sensor_id, metric, ts AS t, countState() AS c, sumState(value) AS s,
          minState(value) AS mn, maxState(value) AS mx${q}
        FROM readings_raw WHERE ${where} GROUP BY sensor_id, metric, ts`;
    }
    const table =
      segment.table === 'readings_per_minute'
        ? sql`readings_per_minute`
        : segment.table === 'readings_per_hour_by_time'
          ? sql`readings_per_hour_by_time`
          : sql`readings_per_hour`;
    const where = join([sql`bucket >= ${segment.from}`, sql`bucket < ${segment.to}`, ...series], ' AND ');
    const q = quantiles ? sql`, quantiles AS q` : sql``;
    return sql`SELECT sensor_id, metric, bucket AS t, count AS c, sum AS s, min AS mn, max AS mx${q}
      FROM ${table} WHERE ${where}`;
  });
  return join(
    branches.map((branch, index) => (index === 0 ? branch : sql`UNION ALL ${branch}`)),
    '\n',
  );
}

/** The merged aggregates over a grouping of stateSource rows. */
export function mergedAggregates(quantiles: boolean): Sql {
  const q = quantiles ? sql`, quantilesTDigestMerge(0.5, 0.95)(q) AS quantiles` : sql``;
  return sql`countMerge(c) AS count, sumMerge(s) AS sum, minMerge(mn) AS min, maxMerge(mx) AS max${q}`;
}

/** Aggregates a caller may ask for; p50 and p95 are t-digest estimates. */
export const Aggregate = t.Union([
  t.Literal('count'),
  t.Literal('avg'),
  t.Literal('min'),
  t.Literal('max'),
  t.Literal('p50'),
  t.Literal('p95'),
]);
export type Aggregate = Static<typeof Aggregate>;
export const ALL_AGGREGATES: readonly Aggregate[] = ['count', 'avg', 'min', 'max', 'p50', 'p95'];

/** Aggregates of one group, the requested ones only. */
export interface AggregateValues {
  count?: number;
  avg?: number;
  min?: number;
  max?: number;
  p50?: number;
  p95?: number;
}

/** A merged row as both engines return it. */
export interface MergedRow {
  count: number;
  sum: number;
  min: number;
  max: number;
  quantiles?: number[];
}

/** Picks the requested aggregates from a merged row. */
export function pickAggregates(row: MergedRow, wanted: readonly Aggregate[]): AggregateValues {
  const all: Required<AggregateValues> = {
    count: Number(row.count),
    avg: row.sum / Number(row.count),
    min: row.min,
    max: row.max,
    p50: row.quantiles?.[0] ?? Number.NaN,
    p95: row.quantiles?.[1] ?? Number.NaN,
  };
  const out: AggregateValues = {};
  for (const name of wanted) out[name] = all[name];
  return out;
}

/** Refuses an empty or inverted range. */
export function checkRange(from: number, to: number): void {
  if (from >= to) {
    throw new AppError('VALIDATION_FAILED', '`from` must be before `to`', {
      details: [{ path: '/from', message: 'from must be before to', from, to }],
    });
  }
}

/** A time range in epoch ms: [from, to). DateTime on 18.16 spans 1970 to 2106. */
export const TimeRange = {
  from: t.Integer({ minimum: 0, maximum: 4_102_444_800_000 }),
  to: t.Integer({ minimum: 0, maximum: 4_102_444_800_000 }),
};
