import { type HourlySeries, POLLUTANTS, STANDARDS } from '@sensormesh/aqi';
import { tokenLock } from '@sensormesh/bus';
import type { Logger } from '@sensormesh/log';
import { hourlyMeansBySensor, type Store } from '@sensormesh/store';
import type Redis from 'ioredis';

const HOUR_MS = 3_600_000;
/** Enough hours for every standard's longest average (24-hour SO2, India's 24-hour means). */
export const HOURS = Math.max(...Object.values(STANDARDS).map((standard) => standard.hoursNeeded));
const CACHE_KEY = 'dashboard:hourly:v1';
const LOCK_KEY = 'dashboard:hourly:lock';
// A copy this old is still served while ClickHouse cannot be read (the windows are shifted to the
// current hour, so older hours simply fall out); beyond it the AQI falls back to latest values.
const KEEP_MS = 15 * 60_000;
const LOCK_MS = 10_000;

/** Hourly means of the pollutant metrics for every sensor, as read at `at`. */
export interface HourlyMeans {
  /** When the rollup was read (epoch ms). */
  at: number;
  /** Start of the hour that `series[…][0]` holds (epoch ms). */
  hour: number;
  /** sensor id → pollutant → means, newest first, `null` for an hour without data. */
  series: Record<string, HourlySeries>;
}

/**
 * Means read during hour `hour`, shifted to the hour of `now`: hours begun since then are empty.
 * A copy from a later hour (a replica whose clock runs ahead) loses the hours `now` has not reached.
 */
export function alignTo(series: HourlySeries, hour: number, now: number): HourlySeries {
  const hoursSince = Math.floor(now / HOUR_MS) - Math.floor(hour / HOUR_MS);
  if (hoursSince === 0) return series;
  const aligned: HourlySeries = {};
  for (const pollutant of POLLUTANTS) {
    const values = series[pollutant];
    if (!values) continue;
    aligned[pollutant] =
      hoursSince > 0
        ? [...Array<null>(hoursSince).fill(null), ...values].slice(0, HOURS)
        : values.slice(-hoursSince);
  }
  return aligned;
}

/**
 * Reads the hourly means of every sensor from the hourly rollup (never raw rows; one row per sensor
 * and metric, see `hourlyMeansBySensor`) and
 * shares them through Redis for `cacheMs`, so however many clients and replicas ask, ClickHouse sees
 * about one query per `cacheMs`. The current hour is included as far as it has gone, so an index
 * follows new readings within `cacheMs` rather than at the top of the next hour.
 */
export function hourlyMeansCache(deps: { store: Store; redis: Redis; logger: Logger; cacheMs: number }) {
  const { store, redis, logger, cacheMs } = deps;
  const read = hourlyMeansBySensor(store);
  const lock = tokenLock(redis, LOCK_KEY);
  let local: HourlyMeans | undefined;

  async function query(now: number): Promise<HourlyMeans> {
    const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
    const rows = await read({
      metrics: [...POLLUTANTS],
      from: hour - (HOURS - 1) * HOUR_MS,
      to: hour + HOUR_MS,
    });
    const series: Record<string, HourlySeries> = {};
    for (const row of rows) {
      const values = Array<number | null>(HOURS).fill(null);
      row.hours.forEach((bucket, index) => {
        const age = (hour - bucket) / HOUR_MS;
        const mean = row.means[index];
        if (age >= 0 && age < HOURS && mean !== undefined && Number.isFinite(mean)) values[age] = mean;
      });
      const sensor = series[row.sensorId] ?? {};
      sensor[row.metric as keyof HourlySeries] = values;
      series[row.sensorId] = sensor;
    }
    return { at: now, hour, series };
  }

  async function cached(): Promise<HourlyMeans | undefined> {
    const json = await redis.get(CACHE_KEY);
    return json ? (JSON.parse(json) as HourlyMeans) : undefined;
  }

  async function refresh(now: number, stale: HourlyMeans | undefined): Promise<HourlyMeans | undefined> {
    // One replica refreshes at a time; the others serve the copy they have (or, with none at all,
    // read ClickHouse themselves rather than show no index).
    const token = `${process.pid}:${now}:${Math.random()}`;
    const leader = await lock.take(token, LOCK_MS);
    if (!leader && stale) return stale;
    try {
      const fresh = await query(now);
      await redis.set(CACHE_KEY, JSON.stringify(fresh), 'PX', KEEP_MS);
      if (leader) await lock.release(token);
      return fresh;
    } catch (error) {
      // The lock is kept until it expires, so a failing ClickHouse is asked once per LOCK_MS, not
      // once per request.
      logger.warn(
        { err: error },
        'hourly means unavailable; the dashboard serves older ones or latest-value AQI',
      );
      return stale && now - stale.at <= KEEP_MS ? stale : undefined;
    }
  }

  /** Hourly means no older than `cacheMs` when ClickHouse answers; `undefined` if none can be had. */
  return async function hourlyMeans(now: number): Promise<HourlyMeans | undefined> {
    if (local && now - local.at < cacheMs && now >= local.at) return local;
    const shared = await cached();
    if (shared && now - shared.at < cacheMs && now >= shared.at) {
      local = shared;
      return shared;
    }
    const result = await refresh(now, shared ?? local);
    if (result) local = result;
    return result;
  };
}
