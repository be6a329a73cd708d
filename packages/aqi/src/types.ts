/** Pollutants the indices use, named as in the readings catalogue (packages/readings METRICS). */
export const POLLUTANTS = ['pm25', 'pm10', 'o3', 'no2', 'so2', 'co'] as const;
export type Pollutant = (typeof POLLUTANTS)[number];

/**
 * The period a concentration is averaged over. `nowcast` is EPA's weighted 12-hour PM average,
 * which stands in for the 24-hour average in real-time reporting.
 */
export const AVERAGINGS = ['nowcast', '1h', '8h', '24h'] as const;
export type Averaging = (typeof AVERAGINGS)[number];

/**
 * Concentrations by pollutant and averaging period, in the catalogue's units: µg/m³ for every
 * pollutant, CO included. `null`/`undefined`/non-finite/negative values count as missing.
 */
export type Concentrations = Partial<
  Record<Pollutant, Partial<Record<Averaging, number | null | undefined>>>
>;

/** Hourly means by pollutant, in µg/m³; see `aqiFromHourly` for the order of each array. */
export type HourlySeries = Partial<Record<Pollutant, readonly (number | null | undefined)[]>>;

/** The unit a breakpoint table is written in. */
export type TableUnit = 'µg/m³' | 'mg/m³' | 'ppm' | 'ppb';

/** The indices this package computes. */
export const STANDARD_IDS = ['us-epa', 'eu-caqi', 'in-naqi'] as const;
export type StandardId = (typeof STANDARD_IDS)[number];

/** One category of an index: its key, its published name, colour and index range. */
export interface Category {
  key: string;
  name: string;
  /** `#rrggbb` as published by the standard's owner. */
  colour: string;
  /** Lowest and highest index of the category (`max` is `null` for an open-ended top one). */
  min: number;
  max: number | null;
}

/** One pollutant's contribution to an index. */
export interface SubIndex {
  pollutant: Pollutant;
  averaging: Averaging;
  /** The concentration as given, µg/m³. */
  input: number;
  /** The concentration the table was read with: converted to the table's unit and truncated. */
  concentration: number;
  unit: TableUnit;
  index: number;
  category: Category;
  /** True when the concentration is above the published bounds and the index extends the last row. */
  extrapolated: boolean;
}

/** An index and how it came about. */
export interface AqiResult {
  standard: StandardId;
  /** The overall index: the highest sub-index. */
  value: number;
  category: Category;
  /** The pollutant with the highest sub-index (ties go to the first in `POLLUTANTS` order). */
  dominant: Pollutant;
  /** One entry per pollutant that yielded an index, highest first. */
  subIndices: SubIndex[];
  /** Pollutants the standard expects (mandatory or usual) that had no usable data. */
  missing: Pollutant[];
}
