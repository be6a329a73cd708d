import {
  type AqiResult,
  type Averaging,
  averagesFromHourly,
  type Concentrations,
  computeAqi,
  type HourlySeries,
  POLLUTANTS,
  type StandardId,
} from '@sensormesh/aqi';
import { AppError } from '@sensormesh/errors';
import type { Logger } from '@sensormesh/log';
import { METRICS } from '@sensormesh/readings';
import type { SensorService } from '@sensormesh/registry';
import type { SensorRow, Store } from '@sensormesh/store';
import type Redis from 'ioredis';
import type { GatewayConfig } from '../../env.ts';
import { alignTo, hourlyMeansCache } from './hourly.ts';
import { readLatest, type SensorLatestValues } from './latest.ts';
import type { AqiView, RealtimeSensor, RealtimeSnapshot, SensorLatest, SensorLiveStatus } from './model.ts';
import { liveStatus, statusThresholds } from './status.ts';

const PAGE = 500;
const iso = (ms: number) => new Date(ms).toISOString();

/** What the dashboard needs; `now` is injectable so tests can stand on a status boundary. */
export interface DashboardDeps {
  store: Store;
  redis: Redis;
  logger: Logger;
  sensors: SensorService;
  config: Pick<
    GatewayConfig,
    'AQI_STANDARD' | 'DASHBOARD_STALE_AFTER_S' | 'DASHBOARD_OFFLINE_AFTER_S' | 'DASHBOARD_HOURLY_CACHE_S'
  >;
  now?: () => number;
}

type Filled = Set<string>;
const slot = (pollutant: string, averaging: string) => `${pollutant}:${averaging}`;

/**
 * The standard's averages from hourly means, with every average the hours do not support yet
 * (a NowCast needs 2 of the 3 newest hours, an 8-hour mean 6 of 8, …) taken from the sensor's
 * latest value instead, and remembered in `filled`. `latest` is undefined for offline sensors:
 * an old value must not pass for current conditions.
 */
function concentrationsOf(
  standard: StandardId,
  series: HourlySeries | undefined,
  latest: SensorLatestValues | undefined,
): { concentrations: Concentrations; filled: Filled } {
  const averaged = series ? averagesFromHourly(standard, series) : {};
  const probe = averagesFromHourly(standard, {});
  const concentrations: Concentrations = {};
  const filled: Filled = new Set();
  for (const pollutant of POLLUTANTS) {
    const wanted = { ...probe[pollutant], ...averaged[pollutant] };
    const current = latest?.values[pollutant]?.v;
    const merged: Partial<Record<Averaging, number | null>> = {};
    for (const [averaging, value] of Object.entries(wanted) as [Averaging, number | null | undefined][]) {
      if (typeof value === 'number') merged[averaging] = value;
      else if (current !== undefined) {
        merged[averaging] = current;
        filled.add(slot(pollutant, averaging));
      }
    }
    concentrations[pollutant] = merged;
  }
  return { concentrations, filled };
}

function aqiView(result: AqiResult, filled: Filled): AqiView {
  const category = ({ key, name, colour }: AqiResult['category']) => ({ key, name, colour });
  const basisOf = (sub: AqiResult['subIndices'][number]) =>
    filled.has(slot(sub.pollutant, sub.averaging)) ? ('latest' as const) : ('hourly' as const);
  const top = result.subIndices[0];
  return {
    standard: result.standard,
    value: result.value,
    category: category(result.category),
    dominant: result.dominant,
    basis: top ? basisOf(top) : 'hourly',
    pollutants: result.subIndices.map((sub) => ({
      pollutant: sub.pollutant,
      averaging: sub.averaging,
      concentration: sub.concentration,
      unit: sub.unit,
      index: sub.index,
      category: category(sub.category),
      extrapolated: sub.extrapolated,
      basis: basisOf(sub),
    })),
  };
}

/** The realtime view: registry sensors, the writer's latest values in Redis, AQI, status. */
export function dashboardService(deps: DashboardDeps) {
  const { sensors, redis, config } = deps;
  const now = deps.now ?? Date.now;
  const thresholds = statusThresholds(config);
  const hourly = hourlyMeansCache({
    store: deps.store,
    redis,
    logger: deps.logger,
    cacheMs: config.DASHBOARD_HOURLY_CACHE_S * 1_000,
  });

  async function activeSensors(): Promise<SensorRow[]> {
    const all: SensorRow[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await sensors.list({ status: 'active', limit: PAGE, offset });
      all.push(...page.items);
      if (page.items.length < PAGE || all.length >= page.total) return all;
    }
  }

  /** The index from hourly means, each average they do not support yet taken from the latest value. */
  function aqiOf(
    standard: StandardId,
    series: HourlySeries | undefined,
    latest: SensorLatestValues,
    status: SensorLiveStatus,
  ) {
    const { concentrations, filled } = concentrationsOf(
      standard,
      series,
      status === 'offline' ? undefined : latest,
    );
    const result = computeAqi(standard, concentrations);
    return result ? aqiView(result, filled) : null;
  }

  function live(
    standard: StandardId,
    latest: SensorLatestValues,
    series: HourlySeries | undefined,
    at: number,
  ) {
    const status = liveStatus(latest.lastSeen, at, thresholds);
    const values: RealtimeSensor['values'] = {};
    for (const [metric, { v, ts }] of Object.entries(latest.values)) {
      values[metric] = { value: v, unit: METRICS[metric]?.unit ?? null, ts: iso(ts) };
    }
    return {
      status,
      lastSeen: latest.lastSeen === null ? null : iso(latest.lastSeen),
      ageS: latest.lastSeen === null ? null : Math.max(0, Math.floor((at - latest.lastSeen) / 1_000)),
      values,
      aqi: aqiOf(standard, series, latest, status),
    };
  }

  async function hourlyAt(at: number) {
    const means = await hourly(at);
    const seriesOf = (id: string) => {
      const series = means?.series[id];
      return series && means ? alignTo(series, means.hour, at) : undefined;
    };
    return { means, seriesOf };
  }

  /** Every active sensor with its latest values, status and AQI. */
  async function realtime(standard: StandardId = config.AQI_STANDARD): Promise<RealtimeSnapshot> {
    const at = now();
    const [list, { means, seriesOf }] = await Promise.all([activeSensors(), hourlyAt(at)]);
    const latest = await readLatest(
      redis,
      list.map((sensor) => sensor.id),
    );
    const counts = { online: 0, stale: 0, offline: 0 };
    const items = list.map((sensor): RealtimeSensor => {
      const view = live(
        standard,
        latest.get(sensor.id) ?? { values: {}, lastSeen: null },
        seriesOf(sensor.id),
        at,
      );
      counts[view.status]++;
      return {
        id: sensor.id,
        name: sensor.name,
        kind: sensor.kind,
        site: sensor.site,
        latitude: sensor.latitude,
        longitude: sensor.longitude,
        tags: sensor.tags,
        ...view,
      };
    });
    return {
      generatedAt: iso(at),
      standard,
      hourlyAsOf: means ? iso(means.at) : null,
      thresholds,
      counts,
      sensors: items,
    };
  }

  /** One active sensor's latest values, status and AQI; NOT_FOUND for unknown or inactive ones. */
  async function latest(id: string, standard: StandardId = config.AQI_STANDARD): Promise<SensorLatest> {
    const sensor = (await activeSensors()).find((candidate) => candidate.id === id);
    if (!sensor) throw new AppError('NOT_FOUND', 'no such sensor', { details: { id } });
    const at = now();
    const [values, { seriesOf }] = await Promise.all([readLatest(redis, [id]), hourlyAt(at)]);
    return {
      id,
      standard,
      ...live(standard, values.get(id) ?? { values: {}, lastSeen: null }, seriesOf(id), at),
    };
  }

  return { realtime, latest, thresholds };
}

/** What `dashboardService` returns. */
export type DashboardService = ReturnType<typeof dashboardService>;
