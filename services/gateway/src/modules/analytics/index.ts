import { errorResponses } from '@sensormesh/http';
import { Elysia } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import { analyticsLimits } from './limits.ts';
import {
  AnomalyCountQuery,
  AqiHistoryQuery,
  CompareQuery,
  CompletenessQuery,
  CorrelationQuery,
  ExceedanceQuery,
  ProfileQuery,
  SensorStatsQuery,
  StatsQuery,
  TimeseriesQuery,
} from './model.ts';
import { platformService } from './platform.ts';
import {
  AnomalyCountResponse,
  AqiHistoryResponse,
  CompareResponse,
  CompletenessResponse,
  CorrelationResponse,
  ExceedanceResponse,
  PlatformMetricsResponse,
  ProfileResponse,
  SensorStatsResponse,
  StatsResponse,
  TimeseriesResponse,
} from './responses.ts';
import { analyticsService } from './service.ts';

/** Options for tests: a clock. */
export interface AnalyticsOptions {
  now?: () => number;
}

const access = { role: 'professional', scope: 'read:analytics' } as const;
const errors = errorResponses(401, 403, 422);
const RANGE =
  '`from` inclusive, `to` exclusive (ISO-8601 or epoch ms; default the last 24 hours), at most ANALYTICS_MAX_RANGE_DAYS.';
const HOURLY = 'Judged on the whole UTC hours inside the range, from the hourly rollup.';
const APPROX = 'p50 and p95 are t-digest estimates (approximate); count, avg, min and max are exact.';

/**
 * /analytics/* (professional, or API keys with read:analytics) and the platform counts
 * /sensors/stats, /sensors/anomalies/count and /dashboard/metrics, all from the store's rollups.
 */
export function analyticsModule(ctx: GatewayContext, options: AnalyticsOptions = {}) {
  const clock = options.now ? { now: options.now } : {};
  const analytics = analyticsService({ store: ctx.store, config: ctx.config, ...clock });
  const platform = platformService({ store: ctx.store, limits: analyticsLimits(ctx.config), ...clock });
  const detail = (summary: string, description: string, tags = ['analytics']) => ({
    summary,
    description,
    tags,
  });

  return new Elysia({ name: 'sensormesh.gateway.analytics' })
    .use(ctx.access)
    .get('/analytics/timeseries', ({ query }) => analytics.timeseries(query), {
      access,
      query: TimeseriesQuery,
      response: { 200: TimeseriesResponse, ...errors },
      detail: detail(
        'Count, avg, min, max, p50 and p95 per time bucket for sensors and metrics',
        `${RANGE} Buckets 1m … 1d, aligned on local midnight in \`tz\` (UTC by default); buckets without readings are left out. Whole hours come from the hourly rollup, edges and sub-hour buckets from the minute rollup, and only seconds that are not whole minutes from raw rows (\`sources\` says which). ${APPROX} Limits: ANALYTICS_MAX_SENSORS, ANALYTICS_MAX_BUCKETS per series, ANALYTICS_MAX_POINTS in all.`,
      ),
    })
    .get('/analytics/stats', ({ query }) => analytics.stats(query), {
      access,
      query: StatsQuery,
      response: { 200: StatsResponse, ...errors },
      detail: detail(
        'Statistics per sensor and metric over a range (every sensor when none is named)',
        `${RANGE} Paged by limit/offset, ordered by sensor and metric. ${APPROX}`,
      ),
    })
    .get('/analytics/completeness', ({ query }) => analytics.completeness(query), {
      access,
      query: CompletenessQuery,
      response: { 200: CompletenessResponse, ...errors },
      detail: detail(
        'Data completeness and uptime: expected versus present hourly samples',
        `${RANGE} ${HOURLY} An hour is present for a metric when it has at least one reading; uptime is the share of hours with any reading; longestGapHours counts silent hours, at the ends too. Without \`metrics\`, those the sensor reported.`,
      ),
    })
    .get('/analytics/exceedance', ({ query }) => analytics.exceedance(query), {
      access,
      query: ExceedanceQuery,
      response: { 200: ExceedanceResponse, ...errors },
      detail: detail(
        'Hours above a threshold per sensor',
        `${RANGE} ${HOURLY} An hour counts when its average (or maximum, statistic=max) is strictly above the threshold.`,
      ),
    })
    .get('/analytics/profiles/diurnal', ({ query }) => analytics.profile(query, 'hour'), {
      access,
      query: ProfileQuery,
      response: { 200: ProfileResponse, ...errors },
      detail: detail(
        'Diurnal profile: statistics by local hour of day',
        `${RANGE} Every reading grouped by its hour of day in \`tz\` (default UTC). ${APPROX}`,
      ),
    })
    .get('/analytics/profiles/weekly', ({ query }) => analytics.profile(query, 'weekday'), {
      access,
      query: ProfileQuery,
      response: { 200: ProfileResponse, ...errors },
      detail: detail(
        'Weekly profile: statistics by local day of week (1 = Monday)',
        `${RANGE} Every reading grouped by its ISO day of week in \`tz\` (default UTC). ${APPROX}`,
      ),
    })
    .get('/analytics/compare', ({ query }) => analytics.compare(query), {
      access,
      query: CompareQuery,
      response: { 200: CompareResponse, ...errors },
      detail: detail(
        'One metric of several sensors side by side',
        `${RANGE} One value per bucket (\`aggregate\`, default avg) for each sensor on a shared time axis, null where a sensor has no data, and each sensor’s statistics over the range. ${APPROX}`,
      ),
    })
    .get('/analytics/correlation', ({ query }) => analytics.correlation(query), {
      access,
      query: CorrelationQuery,
      response: { 200: CorrelationResponse, ...errors },
      detail: detail(
        'Pearson correlation between two metrics of a sensor, or one metric of two sensors',
        `${RANGE} ${HOURLY} Hourly averages, paired hour by hour where both series have data; n is the number of pairs.`,
      ),
    })
    .get('/analytics/aqi', ({ query }) => analytics.aqi(query), {
      access,
      query: AqiHistoryQuery,
      response: { 200: AqiHistoryResponse, ...errors },
      detail: detail(
        'Hourly AQI history per sensor',
        `${RANGE} The index (\`standard\`, default AQI_STANDARD; US EPA with NowCast for PM) at each whole UTC hour, from hourly pollutant means including the hours before the range its averages need. Hours whose data support no index are left out.`,
      ),
    })
    .get('/sensors/stats', ({ query }) => platform.sensorStats(query), {
      access,
      query: SensorStatsQuery,
      response: { 200: SensorStatsResponse, ...errors },
      detail: detail(
        'Sensor counts by status and kind, sensors reporting, readings today and lately',
        'Registry counts (latest version of each sensor); reporting sensors and readings from the rollups over every sensor.',
        ['analytics', 'sensors'],
      ),
    })
    .get('/sensors/anomalies/count', ({ query }) => platform.anomalyCount(query), {
      access,
      query: AnomalyCountQuery,
      response: { 200: AnomalyCountResponse, ...errors },
      detail: detail(
        'Anomalies flagged in a range, in total, by kind and by sensor',
        `${RANGE} Filtered by sensors, metrics and kinds; on the reading time. Zero until the prediction worker stores anomalies.`,
        ['analytics', 'sensors'],
      ),
    })
    .get('/dashboard/metrics', () => platform.platformMetrics(), {
      access,
      response: { 200: PlatformMetricsResponse, ...errorResponses(401, 403) },
      detail: detail(
        'Platform headline numbers: sensors, readings stored and lately, ingest rate, anomalies',
        'readings.stored comes from part metadata (no scan); the rest from the rollups.',
        ['analytics', 'dashboard'],
      ),
    });
}
