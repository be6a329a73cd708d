import type { Standard } from './standard.ts';
import { euCaqi } from './standards/eu-caqi.ts';
import { inNaqi } from './standards/in-naqi.ts';
import { usEpa } from './standards/us-epa.ts';
import {
  type AqiResult,
  type Concentrations,
  type HourlySeries,
  POLLUTANTS,
  type Pollutant,
  type StandardId,
  type SubIndex,
} from './types.ts';

/** Every standard by id. */
export const STANDARDS: Readonly<Record<StandardId, Standard>> = {
  'us-epa': usEpa,
  'eu-caqi': euCaqi,
  'in-naqi': inNaqi,
};

/** The standard with this id; throws on an unknown one (ids come from validated config or input). */
export function standardOf(id: StandardId): Standard {
  const standard = STANDARDS[id];
  if (!standard) throw new Error(`unknown AQI standard ${JSON.stringify(id)}`);
  return standard;
}

const order = (pollutant: Pollutant) => POLLUTANTS.indexOf(pollutant);

/**
 * The index of `standard` for averaged concentrations (µg/m³, see `Concentrations`): every
 * sub-index, the highest as the overall value, its category and the dominant pollutant. `null`
 * when no pollutant yields an index, or when the standard's data rule fails (India: three
 * pollutants, one of them PM).
 */
export function computeAqi(standard: StandardId, concentrations: Concentrations): AqiResult | null {
  const definition = standardOf(standard);
  const subIndices = definition
    .subIndices(concentrations)
    .sort((a, b) => b.index - a.index || order(a.pollutant) - order(b.pollutant));
  const top: SubIndex | undefined = subIndices[0];
  if (!top || !definition.accepts(subIndices)) return null;
  const covered = new Set(subIndices.map((sub) => sub.pollutant));
  return {
    standard,
    value: top.index,
    category: top.category,
    dominant: top.pollutant,
    subIndices,
    missing: definition.expected.filter((pollutant) => !covered.has(pollutant)),
  };
}

/**
 * The averages a standard is defined on, from hourly means in µg/m³ given **newest first**
 * (`[0]` is the current or most recent hour; `null` for an hour without data). US EPA: NowCast
 * for PM, 8-hour O3 and CO, 1-hour O3/NO2/SO2 (the newest hour, or the one before it while the
 * newest is empty), 24-hour SO2. CAQI: 1-hour values, 8-hour CO. India: 24-hour and 8-hour means.
 */
export function averagesFromHourly(standard: StandardId, hourly: HourlySeries): Concentrations {
  return standardOf(standard).fromHourly(hourly);
}

/** `computeAqi` over `averagesFromHourly`: the current index from hourly means, newest first. */
export function aqiFromHourly(standard: StandardId, hourly: HourlySeries): AqiResult | null {
  return computeAqi(standard, averagesFromHourly(standard, hourly));
}

/**
 * The index at every hour of a series given **oldest first** (as a time series reads), each from
 * the hours up to and including it: for an AQI history chart. Entry `i` is `null` where the data
 * up to hour `i` do not support an index.
 */
export function hourlyAqi(standard: StandardId, series: HourlySeries): (AqiResult | null)[] {
  const definition = standardOf(standard);
  const length = Math.max(0, ...Object.values(series).map((values) => values?.length ?? 0));
  const results: (AqiResult | null)[] = [];
  for (let hour = 0; hour < length; hour++) {
    const from = Math.max(0, hour - definition.hoursNeeded + 1);
    const window: HourlySeries = {};
    for (const pollutant of POLLUTANTS) {
      const values = series[pollutant];
      if (values) window[pollutant] = values.slice(from, hour + 1).reverse();
    }
    results.push(aqiFromHourly(standard, window));
  }
  return results;
}
