import { AppError } from '@sensormesh/errors';
import { METRICS } from '@sensormesh/readings';
import type { GatewayConfig } from '../../env.ts';
import { parseInstant } from '../../instant.ts';

const DAY = 86_400_000;

/** The configured bounds of one analytics request. */
export interface AnalyticsLimits {
  maxRangeDays: number;
  maxBuckets: number;
  maxSensors: number;
  maxPoints: number;
}

/** Reads the limits from the gateway's settings. */
export function analyticsLimits(config: GatewayConfig): AnalyticsLimits {
  return {
    maxRangeDays: config.ANALYTICS_MAX_RANGE_DAYS,
    maxBuckets: config.ANALYTICS_MAX_BUCKETS,
    maxSensors: config.ANALYTICS_MAX_SENSORS,
    maxPoints: config.ANALYTICS_MAX_POINTS,
  };
}

const refuse = (message: string, path: string, details: Record<string, unknown> = {}) =>
  new AppError('VALIDATION_FAILED', message, { details: [{ path, message, ...details }] });

/**
 * `from` (inclusive) and `to` (exclusive) in epoch ms: ISO-8601 or epoch ms, `to` defaulting to
 * now and `from` to a day before `to`; refused when inverted or longer than ANALYTICS_MAX_RANGE_DAYS.
 */
export function resolveRange(
  query: { from?: string | undefined; to?: string | undefined },
  limits: AnalyticsLimits,
  now: number,
): { from: number; to: number } {
  const to = query.to === undefined ? now : parseInstant(query.to, 'to');
  const from = query.from === undefined ? to - DAY : parseInstant(query.from, 'from');
  if (from >= to) {
    throw refuse('`from` must be before `to`', '/from', {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
    });
  }
  if (from < 0 || to > Date.UTC(2100, 0, 1)) {
    throw refuse('times must fall between 1970 and 2100', from < 0 ? '/from' : '/to');
  }
  const days = (to - from) / DAY;
  if (days > limits.maxRangeDays) {
    throw refuse(
      `the range is ${Math.ceil(days)} days; at most ${limits.maxRangeDays} (ANALYTICS_MAX_RANGE_DAYS)`,
      '/to',
      { limit: limits.maxRangeDays, days: Math.ceil(days) },
    );
  }
  return { from, to };
}

/** The distinct sensors asked for, refused beyond ANALYTICS_MAX_SENSORS. */
export function checkSensors(
  sensors: readonly string[],
  limits: AnalyticsLimits,
  path = '/sensors',
): string[] {
  const unique = [...new Set(sensors)];
  if (unique.length > limits.maxSensors) {
    throw refuse(
      `${unique.length} sensors asked for; at most ${limits.maxSensors} per request (ANALYTICS_MAX_SENSORS)`,
      path,
      { limit: limits.maxSensors, got: unique.length },
    );
  }
  return unique;
}

/** The distinct metrics asked for; a name outside the catalogue (packages/readings) is refused. */
export function checkMetrics(metrics: readonly string[], path = '/metrics'): string[] {
  const unknown = metrics.filter((metric) => METRICS[metric] === undefined);
  if (unknown.length > 0) {
    throw refuse(`unknown metric ${unknown.map((m) => JSON.stringify(m)).join(', ')}`, path, {
      known: Object.keys(METRICS),
    });
  }
  return [...new Set(metrics)];
}

/**
 * Refuses a bucketed request with more buckets per series than ANALYTICS_MAX_BUCKETS, or more
 * points in all (buckets × series) than ANALYTICS_MAX_POINTS. One bucket is added for a zone's
 * local alignment, which can split the range's ends.
 */
export function checkBuckets(
  range: { from: number; to: number },
  width: number,
  series: number,
  limits: AnalyticsLimits,
): void {
  const buckets = Math.ceil((range.to - range.from) / width) + 1;
  if (buckets > limits.maxBuckets) {
    throw refuse(
      `${buckets} buckets per series; at most ${limits.maxBuckets} (ANALYTICS_MAX_BUCKETS): widen the bucket or shorten the range`,
      '/bucket',
      { limit: limits.maxBuckets, buckets },
    );
  }
  if (buckets * series > limits.maxPoints) {
    throw refuse(
      `${buckets * series} points (${buckets} buckets × ${series} series); at most ${limits.maxPoints} (ANALYTICS_MAX_POINTS)`,
      '/sensors',
      { limit: limits.maxPoints, points: buckets * series },
    );
  }
}
