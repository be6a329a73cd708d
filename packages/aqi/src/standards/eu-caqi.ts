import { latestHour, meanOver } from '../averages.ts';
import { type PollutantTable, readPollutant, type Standard } from '../standard.ts';
import type { Category, SubIndex } from '../types.ts';

/**
 * The Common Air Quality Index (CITEAIR II, revision of 2012), hourly background grid: NO2, PM10
 * and O3 are mandatory, PM2.5, CO and SO2 auxiliary; CO is an 8-hour running mean, the rest hourly.
 * The daily PM grids are included for a daily CAQI. All tables are in µg/m³ and set no truncation.
 *
 * Why CAQI rather than the EEA's European AQI: the CAQI is a continuous 0–100+ number, so it can be
 * charted and compared across hours and sensors like the US AQI, and it has a published hourly grid
 * for all six pollutants our sensors report; the EEA index is a 6-level band, which says less per
 * reading and cannot be charted as a number.
 *
 * Categories come from the band a concentration falls in (a band's upper bound belongs to it, so
 * NO2 50 is "Very low" with index 25), and the index is interpolated within the band and rounded.
 * Above the top grid value ("> 100") the index continues the slope of the "High" band: the grid
 * leaves it open, and a number that keeps rising says more than a flat "100+".
 */
const CATEGORIES: readonly Category[] = [
  { key: 'very-low', name: 'Very low', colour: '#79bc6a', min: 0, max: 25 },
  { key: 'low', name: 'Low', colour: '#bbcf4c', min: 25, max: 50 },
  { key: 'medium', name: 'Medium', colour: '#eec20b', min: 50, max: 75 },
  { key: 'high', name: 'High', colour: '#f29305', min: 75, max: 100 },
  { key: 'very-high', name: 'Very high', colour: '#e8416f', min: 100, max: null },
];

const INDEX = [
  [0, 25],
  [25, 50],
  [50, 75],
  [75, 100],
  [100, null],
] as const;

/** A grid row's five bands from its four upper bounds. */
const grid = (a: number, b: number, c: number, d: number) =>
  [
    [0, a],
    [a, b],
    [b, c],
    [c, d],
    [d, null],
  ] as const;

const TABLES: readonly PollutantTable[] = [
  { pollutant: 'no2', averaging: '1h', unit: 'µg/m³', decimals: null, rows: grid(50, 100, 200, 400) },
  { pollutant: 'pm10', averaging: '1h', unit: 'µg/m³', decimals: null, rows: grid(25, 50, 90, 180) },
  { pollutant: 'pm10', averaging: '24h', unit: 'µg/m³', decimals: null, rows: grid(15, 30, 50, 100) },
  { pollutant: 'o3', averaging: '1h', unit: 'µg/m³', decimals: null, rows: grid(60, 120, 180, 240) },
  { pollutant: 'pm25', averaging: '1h', unit: 'µg/m³', decimals: null, rows: grid(15, 30, 55, 110) },
  { pollutant: 'pm25', averaging: '24h', unit: 'µg/m³', decimals: null, rows: grid(10, 20, 30, 60) },
  {
    pollutant: 'co',
    averaging: '8h',
    unit: 'µg/m³',
    decimals: null,
    rows: grid(5_000, 7_500, 10_000, 20_000),
  },
  { pollutant: 'so2', averaging: '1h', unit: 'µg/m³', decimals: null, rows: grid(50, 100, 350, 500) },
];

const base = { id: 'eu-caqi', categories: CATEGORIES, indexRanges: INDEX, tables: TABLES } as const;

/** The hourly CAQI (and the daily one, for PM given as 24-hour means). */
export const euCaqi: Standard = {
  ...base,
  name: 'Common Air Quality Index (CAQI, hourly background)',
  expected: ['no2', 'pm10', 'o3'],
  hoursNeeded: 8,
  subIndices(c) {
    const subs: SubIndex[] = [];
    const taken = new Set<string>();
    // A pollutant gives one sub-index: the hourly grid when it has an hourly value, else the daily.
    for (const table of TABLES) {
      if (taken.has(table.pollutant)) continue;
      const reading = readPollutant(base, table, c[table.pollutant]?.[table.averaging], 'by-row');
      if (reading.kind !== 'index') continue;
      subs.push(reading.sub);
      taken.add(table.pollutant);
    }
    return subs;
  },
  accepts: (subs) => subs.length > 0,
  fromHourly(h) {
    return {
      no2: { '1h': latestHour(h.no2) },
      pm10: { '1h': latestHour(h.pm10) },
      o3: { '1h': latestHour(h.o3) },
      pm25: { '1h': latestHour(h.pm25) },
      co: { '8h': meanOver(h.co, 8, 6) },
      so2: { '1h': latestHour(h.so2) },
    };
  },
};
