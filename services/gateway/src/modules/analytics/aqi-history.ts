import { type HourlySeries, hourlyAqi, POLLUTANTS, type StandardId, standardOf } from '@sensormesh/aqi';
import { getTimeseries, type Store, wholeHours } from '@sensormesh/store';
import { type AnalyticsLimits, checkBuckets, checkSensors, resolveRange } from './limits.ts';
import type { AqiHistoryQuery } from './model.ts';

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The index at every whole UTC hour of the range for each sensor (@sensormesh/aqi `hourlyAqi`),
 * from hourly means of the six pollutants read from the hourly rollup, with the hours before the
 * range that the standard's averages need (NowCast: 12, 24-hour means: 24). Hours whose data do not
 * support an index are left out.
 */
export async function aqiHistory(
  deps: { store: Store; limits: AnalyticsLimits; now: number; standard: StandardId },
  query: AqiHistoryQuery,
) {
  const { store, limits, standard } = deps;
  const range = resolveRange(query, limits, deps.now);
  const sensorIds = checkSensors(query.sensors, limits);
  const hours = wholeHours(range.from, range.to);
  checkBuckets(hours, HOUR, sensorIds.length, limits);
  const lookback = standardOf(standard).hoursNeeded - 1;
  const start = hours.from - lookback * HOUR;
  const length = lookback + hours.hours;
  const means = await getTimeseries(store)({
    sensorIds,
    metrics: [...POLLUTANTS],
    from: start,
    to: hours.to,
    bucket: '1h',
    aggregates: ['avg'],
  });
  return {
    from: iso(range.from),
    to: iso(range.to),
    standard,
    sensors: sensorIds.map((sensorId) => {
      const series: HourlySeries = {};
      for (const pollutant of POLLUTANTS) {
        const found = means.series.find((s) => s.sensorId === sensorId && s.metric === pollutant);
        if (!found || found.points.length === 0) continue;
        const values: (number | null)[] = Array<null>(length).fill(null);
        for (const point of found.points) values[(point.bucket - start) / HOUR] = point.avg ?? null;
        series[pollutant] = values;
      }
      const results = hourlyAqi(standard, series);
      const out = [];
      for (let index = lookback; index < length; index++) {
        const result = results[index];
        if (!result) continue;
        const ts = start + index * HOUR;
        out.push({
          time: iso(ts),
          ts,
          aqi: result.value,
          category: { key: result.category.key, name: result.category.name, colour: result.category.colour },
          dominant: result.dominant,
          subIndices: Object.fromEntries(result.subIndices.map((sub) => [sub.pollutant, sub.index])),
        });
      }
      return { sensorId, hours: out };
    }),
  };
}
