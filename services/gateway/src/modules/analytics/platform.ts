import {
  canonicalTimeZone,
  countAnomalies,
  countSensors,
  countStoredReadings,
  getReadingActivity,
  offsetMinutes,
  type Store,
} from '@sensormesh/store';
import { type AnalyticsLimits, checkMetrics, checkSensors, resolveRange } from './limits.ts';
import type { AnomalyCountQuery, SensorStatsQuery } from './model.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

/** The last local midnight in `tz` at or before `now` (epoch ms). */
export function localMidnight(tz: string, now: number): number {
  const local = now + offsetMinutes(tz, now) * MINUTE;
  const guess = Math.floor(local / DAY) * DAY;
  // The offset at midnight itself, which differs from now's across a daylight-saving change.
  const midnight = guess - offsetMinutes(tz, guess - offsetMinutes(tz, now) * MINUTE) * MINUTE;
  return midnight <= now ? midnight : midnight - DAY;
}

/** Platform-wide counts: the registry, reading activity from the rollups, anomalies. */
export function platformService(deps: { store: Store; limits: AnalyticsLimits; now?: () => number }) {
  const { store, limits } = deps;
  const now = deps.now ?? Date.now;
  const sensors = countSensors(store);
  const activity = getReadingActivity(store);
  const stored = countStoredReadings(store);
  const anomalies = countAnomalies(store);

  async function sensorStats(query: SensorStatsQuery) {
    const at = now();
    const tz = canonicalTimeZone(query.tz ?? 'UTC');
    const todayFrom = localMidnight(tz, at);
    const [registry, hour, day, today] = await Promise.all([
      sensors(),
      activity({ from: at - HOUR, to: at }),
      activity({ from: at - DAY, to: at }),
      // Right after midnight "today" is empty: a range of at least a millisecond keeps it valid.
      activity({ from: todayFrom, to: Math.max(at, todayFrom + 1) }),
    ]);
    return {
      generatedAt: iso(at),
      sensors: registry,
      reporting: { lastHour: hour.sensors, last24Hours: day.sensors },
      readings: {
        lastHour: hour.readings,
        last24Hours: day.readings,
        today: today.readings,
        todayFrom: iso(todayFrom),
      },
      metrics: Object.entries(day.byMetric).map(([metric, counts]) => ({
        metric,
        readings24h: counts.readings,
        sensors24h: counts.sensors,
      })),
    };
  }

  async function anomalyCount(query: AnomalyCountQuery) {
    const range = resolveRange(query, limits, now());
    const counts = await anomalies({
      ...range,
      sensorIds: query.sensors && checkSensors(query.sensors, limits),
      metrics: query.metrics && checkMetrics(query.metrics),
      kinds: query.kinds,
    });
    return { from: iso(range.from), to: iso(range.to), ...counts };
  }

  async function platformMetrics() {
    const at = now();
    const [registry, total, hour, day, recent, found] = await Promise.all([
      sensors(),
      stored(),
      activity({ from: at - HOUR, to: at }),
      activity({ from: at - DAY, to: at }),
      activity({ from: at - 5 * MINUTE, to: at }),
      anomalies({ from: at - DAY, to: at }),
    ]);
    return {
      generatedAt: iso(at),
      sensors: {
        total: registry.total,
        active: registry.byStatus.active ?? 0,
        reportingLastHour: hour.sensors,
      },
      readings: {
        stored: total,
        lastHour: hour.readings,
        last24Hours: day.readings,
        perSecondLast5Minutes: recent.readings / 300,
      },
      anomalies: { last24Hours: found.total },
    };
  }

  return { sensorStats, anomalyCount, platformMetrics };
}
