import { STANDARD_IDS } from '@sensormesh/aqi';
import type { BUCKETS } from '@sensormesh/store';
import { type Static, t } from 'elysia';

// Query strings: Elysia splits `a,b` and repeated keys into arrays and coerces numbers. The hard
// caps here only bound parsing; the configured limits (ANALYTICS_*) are checked in limits.ts, with
// messages that say which limit was hit.
const SensorId = t.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', examples: ['aq-beijing-dongsi'] });
const Metric = t.String({ pattern: '^[a-z][a-z0-9_]{0,63}$', examples: ['pm25'] });
const Sensors = t.Array(SensorId, {
  minItems: 1,
  maxItems: 1_000,
  description: 'sensor ids, comma-separated or repeated; at most ANALYTICS_MAX_SENSORS',
});
const Metrics = t.Array(Metric, {
  minItems: 1,
  maxItems: 50,
  description: 'catalogue metric names, comma-separated or repeated',
});
const Instant = t.String({
  minLength: 1,
  maxLength: 40,
  description: 'ISO-8601 date-time (UTC unless it names a zone) or epoch milliseconds',
  examples: ['2015-01-01T00:00:00Z', '1420070400000'],
});
const range = {
  from: t.Optional({ ...Instant, description: `${Instant.description}; inclusive, default to − 24 h` }),
  to: t.Optional({ ...Instant, description: `${Instant.description}; exclusive, default now` }),
};
const Tz = t.String({
  minLength: 1,
  maxLength: 64,
  description: 'IANA time zone, default UTC',
  examples: ['Asia/Shanghai'],
});

const BUCKET_NAMES = ['1m', '5m', '10m', '15m', '30m', '1h', '3h', '6h', '12h', '1d'] as const;
// Fails to compile when the store's bucket table and this list drift apart.
const sameBuckets: [(typeof BUCKET_NAMES)[number], keyof typeof BUCKETS] extends [
  keyof typeof BUCKETS,
  (typeof BUCKET_NAMES)[number],
]
  ? true
  : never = true;
void sameBuckets;

/** Bucket widths, each dividing a day. */
export const BucketParam = t.UnionEnum(BUCKET_NAMES, {
  default: '1h',
  description: 'bucket width: 1m, 5m, 10m, 15m, 30m, 1h, 3h, 6h, 12h or 1d',
});
const AggregateParam = t.UnionEnum(['count', 'avg', 'min', 'max', 'p50', 'p95'] as const);

/** GET /analytics/timeseries. */
export const TimeseriesQuery = t.Object(
  {
    sensors: Sensors,
    metrics: Metrics,
    ...range,
    bucket: BucketParam,
    tz: t.Optional(Tz),
    aggregates: t.Optional(
      t.Array(AggregateParam, { minItems: 1, maxItems: 6, description: 'default all six' }),
    ),
  },
  { additionalProperties: false },
);
export type TimeseriesQuery = Static<typeof TimeseriesQuery>;

/** GET /analytics/stats. */
export const StatsQuery = t.Object(
  {
    sensors: t.Optional({ ...Sensors, description: 'default every sensor' }),
    metrics: t.Optional(Metrics),
    ...range,
    aggregates: t.Optional(t.Array(AggregateParam, { minItems: 1, maxItems: 6 })),
    limit: t.Integer({ minimum: 1, maximum: 10_000, default: 1_000 }),
    offset: t.Integer({ minimum: 0, maximum: 10_000_000, default: 0 }),
  },
  { additionalProperties: false },
);
export type StatsQuery = Static<typeof StatsQuery>;

/** GET /analytics/completeness. */
export const CompletenessQuery = t.Object(
  { sensors: Sensors, metrics: t.Optional(Metrics), ...range },
  { additionalProperties: false },
);
export type CompletenessQuery = Static<typeof CompletenessQuery>;

/** GET /analytics/exceedance. */
export const ExceedanceQuery = t.Object(
  {
    sensors: Sensors,
    metric: Metric,
    threshold: t.Number({ description: 'in the metric’s catalogue unit; hours strictly above it count' }),
    statistic: t.UnionEnum(['avg', 'max'] as const, {
      default: 'avg',
      description: 'judge each hour by its average (default) or its maximum',
    }),
    ...range,
  },
  { additionalProperties: false },
);
export type ExceedanceQuery = Static<typeof ExceedanceQuery>;

/** GET /analytics/profiles/diurnal and /weekly. */
export const ProfileQuery = t.Object(
  { sensors: Sensors, metrics: Metrics, ...range, tz: t.Optional(Tz) },
  { additionalProperties: false },
);
export type ProfileQuery = Static<typeof ProfileQuery>;

/** GET /analytics/compare. */
export const CompareQuery = t.Object(
  {
    // At least two, checked in compare.ts: Elysia 1.4 cannot decode a query array with minItems > 1.
    sensors: { ...Sensors, description: `${Sensors.description}; at least two` },
    metric: Metric,
    ...range,
    bucket: BucketParam,
    tz: t.Optional(Tz),
    aggregate: t.Optional({
      ...AggregateParam,
      default: 'avg',
      description: 'the value per bucket, default avg',
    }),
  },
  { additionalProperties: false },
);
export type CompareQuery = Static<typeof CompareQuery>;

/** GET /analytics/correlation. */
export const CorrelationQuery = t.Object(
  {
    sensor: SensorId,
    metric: Metric,
    otherSensor: t.Optional({ ...SensorId, description: 'default: `sensor` (two metrics of one sensor)' }),
    otherMetric: t.Optional({ ...Metric, description: 'default: `metric` (one metric of two sensors)' }),
    ...range,
  },
  { additionalProperties: false },
);
export type CorrelationQuery = Static<typeof CorrelationQuery>;

/** GET /analytics/aqi. */
export const AqiHistoryQuery = t.Object(
  {
    sensors: Sensors,
    ...range,
    standard: t.Optional(t.UnionEnum(STANDARD_IDS, { description: 'default AQI_STANDARD' })),
  },
  { additionalProperties: false },
);
export type AqiHistoryQuery = Static<typeof AqiHistoryQuery>;

/** GET /sensors/anomalies/count. */
export const AnomalyCountQuery = t.Object(
  {
    sensors: t.Optional(Sensors),
    metrics: t.Optional(Metrics),
    kinds: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 20 })),
    ...range,
  },
  { additionalProperties: false },
);
export type AnomalyCountQuery = Static<typeof AnomalyCountQuery>;

/** GET /sensors/stats. */
export const SensorStatsQuery = t.Object(
  { tz: t.Optional({ ...Tz, description: 'the zone whose midnight starts "today", default UTC' }) },
  { additionalProperties: false },
);
export type SensorStatsQuery = Static<typeof SensorStatsQuery>;
