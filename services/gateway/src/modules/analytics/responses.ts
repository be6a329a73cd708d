import { POLLUTANTS, STANDARD_IDS } from '@sensormesh/aqi';
import { type Static, t } from 'elysia';

const Iso = t.String({ format: 'date-time', examples: ['2015-01-01T00:00:00.000Z'] });
const Ms = t.Integer({ description: 'epoch milliseconds', examples: [1_420_070_400_000] });
const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(schema: T) => t.Union([schema, t.Null()]);

/** The requested aggregates of one group; p50 and p95 are t-digest estimates, not exact. */
export const Aggregates = {
  count: t.Optional(t.Integer()),
  avg: t.Optional(t.Number()),
  min: t.Optional(t.Number()),
  max: t.Optional(t.Number()),
  p50: t.Optional(t.Number({ description: 'approximate (t-digest)' })),
  p95: t.Optional(t.Number({ description: 'approximate (t-digest)' })),
};

/** A stretch of the range and the table that answered it. */
export const Source = t.Object({
  level: t.UnionEnum(['hour', 'minute', 'raw'] as const),
  table: t.String({ examples: ['readings_per_hour'] }),
  from: Iso,
  to: Iso,
});

const rangeFields = { from: Iso, to: Iso };

/** GET /analytics/timeseries. */
export const TimeseriesResponse = t.Object({
  ...rangeFields,
  bucket: t.String({ examples: ['1h'] }),
  bucketMs: t.Integer(),
  tz: t.String(),
  sources: t.Array(Source),
  series: t.Array(
    t.Object({
      sensorId: t.String(),
      metric: t.String(),
      unit: Nullable(t.String()),
      points: t.Array(t.Object({ time: Iso, ts: Ms, ...Aggregates })),
    }),
  ),
});
export type TimeseriesResponse = Static<typeof TimeseriesResponse>;

/** GET /analytics/stats. */
export const StatsResponse = t.Object({
  ...rangeFields,
  sources: t.Array(Source),
  items: t.Array(t.Object({ sensorId: t.String(), metric: t.String(), ...Aggregates })),
  limit: t.Integer(),
  offset: t.Integer(),
  hasMore: t.Boolean({ description: 'more series follow: ask again with offset + limit' }),
});

/** GET /analytics/completeness. */
export const CompletenessResponse = t.Object({
  ...rangeFields,
  sensors: t.Array(
    t.Object({
      sensorId: t.String(),
      expectedHours: t.Integer(),
      presentHours: t.Integer(),
      uptime: t.Number({ description: 'share of hours with any reading, 0–1' }),
      longestGapHours: t.Integer({ description: 'longest run of hours without a reading' }),
      firstHour: Nullable(Iso),
      lastHour: Nullable(Iso),
      metrics: t.Array(
        t.Object({
          metric: t.String(),
          presentHours: t.Integer(),
          completeness: t.Number({ description: 'presentHours / expectedHours, 0–1' }),
          readings: t.Integer(),
        }),
      ),
    }),
  ),
});

/** GET /analytics/exceedance. */
export const ExceedanceResponse = t.Object({
  ...rangeFields,
  metric: t.String(),
  threshold: t.Number(),
  statistic: t.String(),
  sensors: t.Array(
    t.Object({
      sensorId: t.String(),
      exceedanceHours: t.Integer(),
      hoursWithData: t.Integer(),
      share: Nullable(t.Number()),
      firstExceedance: Nullable(Iso),
      lastExceedance: Nullable(Iso),
    }),
  ),
});

/** GET /analytics/profiles/diurnal and /weekly. */
export const ProfileResponse = t.Object({
  ...rangeFields,
  tz: t.String(),
  by: t.UnionEnum(['hour', 'weekday'] as const),
  sources: t.Array(Source),
  series: t.Array(
    t.Object({
      sensorId: t.String(),
      metric: t.String(),
      slots: t.Array(
        t.Object({
          slot: t.Integer({ description: 'local hour 0–23, or ISO weekday 1 (Monday) – 7 (Sunday)' }),
          ...Aggregates,
        }),
      ),
    }),
  ),
});

/** GET /analytics/compare. */
export const CompareResponse = t.Object({
  ...rangeFields,
  metric: t.String(),
  bucket: t.String(),
  tz: t.String(),
  aggregate: t.String(),
  times: t.Array(Iso, { description: 'bucket starts; every sensor’s values line up with them' }),
  sensors: t.Array(
    t.Object({
      sensorId: t.String(),
      values: t.Array(Nullable(t.Number()), { description: 'null where the sensor has no data' }),
      summary: Nullable(t.Object(Aggregates)),
    }),
  ),
});

/** GET /analytics/correlation. */
export const CorrelationResponse = t.Object({
  ...rangeFields,
  x: t.Object({ sensorId: t.String(), metric: t.String() }),
  y: t.Object({ sensorId: t.String(), metric: t.String() }),
  r: Nullable(t.Number({ description: 'Pearson r; null with fewer than 2 pairs or a constant series' })),
  n: t.Integer({ description: 'hours where both series have data (the pairs)' }),
  meanX: Nullable(t.Number()),
  meanY: Nullable(t.Number()),
});

/** GET /analytics/aqi. */
export const AqiHistoryResponse = t.Object({
  ...rangeFields,
  standard: t.UnionEnum(STANDARD_IDS),
  sensors: t.Array(
    t.Object({
      sensorId: t.String(),
      hours: t.Array(
        t.Object({
          time: Iso,
          ts: Ms,
          aqi: t.Integer(),
          category: t.Object({ key: t.String(), name: t.String(), colour: t.String() }),
          dominant: t.UnionEnum(POLLUTANTS),
          subIndices: t.Record(t.String(), t.Integer(), { description: 'pollutant → sub-index' }),
        }),
      ),
    }),
  ),
});

const Counts = t.Record(t.String(), t.Integer());

/** GET /sensors/stats. */
export const SensorStatsResponse = t.Object({
  generatedAt: Iso,
  sensors: t.Object({ total: t.Integer(), byStatus: Counts, byKind: Counts }),
  reporting: t.Object({
    lastHour: t.Integer({ description: 'sensors with a reading in the last hour' }),
    last24Hours: t.Integer(),
  }),
  readings: t.Object({
    lastHour: t.Integer(),
    last24Hours: t.Integer(),
    today: t.Integer({ description: 'since midnight in `tz`' }),
    todayFrom: Iso,
  }),
  metrics: t.Array(t.Object({ metric: t.String(), readings24h: t.Integer(), sensors24h: t.Integer() })),
});

/** GET /sensors/anomalies/count. */
export const AnomalyCountResponse = t.Object({
  ...rangeFields,
  total: t.Integer(),
  byKind: Counts,
  bySensor: Counts,
});

/** GET /dashboard/metrics. */
export const PlatformMetricsResponse = t.Object({
  generatedAt: Iso,
  sensors: t.Object({
    total: t.Integer(),
    active: t.Integer(),
    reportingLastHour: t.Integer(),
  }),
  readings: t.Object({
    stored: t.Integer({ description: 'every reading ever stored' }),
    lastHour: t.Integer(),
    last24Hours: t.Integer(),
    perSecondLast5Minutes: t.Number(),
  }),
  anomalies: t.Object({ last24Hours: t.Integer() }),
});
