import { latestHour, meanOver } from '../averages.ts';
import { categoryOf } from '../bands.ts';
import { nowcast } from '../nowcast.ts';
import { type PollutantTable, type Reading, readPollutant, type Standard, tableOf } from '../standard.ts';
import type { Category, Concentrations, SubIndex } from '../types.ts';

/**
 * US EPA Air Quality Index, Technical Assistance Document EPA-454/B-24-002 (May 2024), Table 6:
 * the 2024 PM2.5 breakpoints and the merged 301–500 Hazardous range. Colours from its Table 2.
 */
const CATEGORIES: readonly Category[] = [
  { key: 'good', name: 'Good', colour: '#00e400', min: 0, max: 50 },
  { key: 'moderate', name: 'Moderate', colour: '#ffff00', min: 51, max: 100 },
  {
    key: 'unhealthy-for-sensitive-groups',
    name: 'Unhealthy for Sensitive Groups',
    colour: '#ff7e00',
    min: 101,
    max: 150,
  },
  { key: 'unhealthy', name: 'Unhealthy', colour: '#ff0000', min: 151, max: 200 },
  { key: 'very-unhealthy', name: 'Very Unhealthy', colour: '#8f3f97', min: 201, max: 300 },
  { key: 'hazardous', name: 'Hazardous', colour: '#7e0023', min: 301, max: null },
];

const INDEX = [
  [0, 50],
  [51, 100],
  [101, 150],
  [151, 200],
  [201, 300],
  [301, 500],
] as const;

const PM25 = [
  [0, 9.0],
  [9.1, 35.4],
  [35.5, 55.4],
  [55.5, 125.4],
  [125.5, 225.4],
  [225.5, 325.4],
] as const;
const PM10 = [
  [0, 54],
  [55, 154],
  [155, 254],
  [255, 354],
  [355, 424],
  [425, 604],
] as const;

// Truncation per Table 6's notes: O3 to 3 decimals (ppm), PM2.5 and CO to 1, PM10, SO2, NO2 to integers.
const TABLES: readonly PollutantTable[] = [
  { pollutant: 'pm25', averaging: '24h', unit: 'µg/m³', decimals: 1, rows: PM25 },
  { pollutant: 'pm25', averaging: 'nowcast', unit: 'µg/m³', decimals: 1, rows: PM25 },
  { pollutant: 'pm10', averaging: '24h', unit: 'µg/m³', decimals: 0, rows: PM10 },
  { pollutant: 'pm10', averaging: 'nowcast', unit: 'µg/m³', decimals: 0, rows: PM10 },
  {
    pollutant: 'o3',
    averaging: '8h',
    unit: 'ppm',
    decimals: 3,
    rows: [[0, 0.054], [0.055, 0.07], [0.071, 0.085], [0.086, 0.105], [0.106, 0.2], null],
  },
  {
    pollutant: 'o3',
    averaging: '1h',
    unit: 'ppm',
    decimals: 3,
    rows: [null, null, [0.125, 0.164], [0.165, 0.204], [0.205, 0.404], [0.405, 0.604]],
  },
  {
    pollutant: 'co',
    averaging: '8h',
    unit: 'ppm',
    decimals: 1,
    rows: [
      [0, 4.4],
      [4.5, 9.4],
      [9.5, 12.4],
      [12.5, 15.4],
      [15.5, 30.4],
      [30.5, 50.4],
    ],
  },
  {
    pollutant: 'so2',
    averaging: '1h',
    unit: 'ppb',
    decimals: 0,
    rows: [[0, 35], [36, 75], [76, 185], [186, 304], null, null],
  },
  {
    pollutant: 'so2',
    averaging: '24h',
    unit: 'ppb',
    decimals: 0,
    rows: [null, null, null, null, [305, 604], [605, 1004]],
  },
  {
    pollutant: 'no2',
    averaging: '1h',
    unit: 'ppb',
    decimals: 0,
    rows: [
      [0, 53],
      [54, 100],
      [101, 360],
      [361, 649],
      [650, 1249],
      [1250, 2049],
    ],
  },
];

const base = { id: 'us-epa', categories: CATEGORIES, indexRanges: INDEX, tables: TABLES } as const;
const read = (
  pollutant: PollutantTable['pollutant'],
  averaging: PollutantTable['averaging'],
  value?: number | null,
) => readPollutant(base, tableOf(base, pollutant, averaging), value, 'by-index');
const sub = (reading: Reading) => (reading.kind === 'index' ? reading.sub : undefined);

/** A sub-index set by one of Table 6's notes rather than read from a row. */
function ruled(
  template: Pick<SubIndex, 'pollutant' | 'averaging' | 'unit' | 'input' | 'concentration'>,
  index: number,
  extrapolated: boolean,
): SubIndex {
  return { ...template, index, category: categoryOf(CATEGORIES, index), extrapolated };
}

/** PM: the 24-hour mean when given (daily AQI), else the NowCast (current conditions). */
function particulate(pollutant: 'pm25' | 'pm10', c: Concentrations): SubIndex | undefined {
  const given = c[pollutant];
  const daily = sub(read(pollutant, '24h', given?.['24h']));
  return daily ?? sub(read(pollutant, 'nowcast', given?.nowcast));
}

/**
 * Ozone: the 8-hour index, or the 1-hour one where it is higher (Table 6 note 1: the larger of the
 * two). 1-hour values below 0.125 ppm define no index. 8-hour values above 0.200 ppm are off the
 * 8-hour table (AQI 301+ comes from 1-hour values); with no 1-hour value they are reported as 300,
 * the top of the 8-hour table, marked extrapolated, rather than dropped.
 */
function ozone(c: Concentrations): SubIndex | undefined {
  const input = c.o3?.['8h'];
  const eight = read('o3', '8h', input);
  const one = sub(read('o3', '1h', c.o3?.['1h']));
  const eightSub =
    eight.kind === 'blank' && eight.where === 'above' && typeof input === 'number'
      ? ruled(
          { pollutant: 'o3', averaging: '8h', unit: 'ppm', input, concentration: eight.concentration },
          300,
          true,
        )
      : sub(eight);
  if (eightSub && one) return one.index > eightSub.index ? one : eightSub;
  return eightSub ?? one;
}

/**
 * SO2: 1-hour values define AQI up to 200; at 305 ppb and above the index comes from the 24-hour
 * mean (Table 6 note). If that mean is below 305 ppb, or unknown, the index is 200 (TAD: "AQI values
 * of 200 or greater are calculated with 24-hour SO2"; a 1-hour value that high is at least 200).
 */
function sulphur(c: Concentrations): SubIndex | undefined {
  const input = c.so2?.['1h'];
  const one = read('so2', '1h', input);
  if (one.kind === 'index') return one.sub;
  const day = sub(read('so2', '24h', c.so2?.['24h']));
  if (one.kind === 'blank' && typeof input === 'number') {
    if (day) return day;
    return ruled(
      { pollutant: 'so2', averaging: '1h', unit: 'ppb', input, concentration: one.concentration },
      200,
      false,
    );
  }
  // Only a 24-hour mean: it defines the index from 305 ppb (201) up; below that, SO2 has no index.
  return day;
}

/** The US EPA AQI (2024). */
export const usEpa: Standard = {
  ...base,
  name: 'US EPA AQI (May 2024)',
  expected: ['pm25', 'pm10', 'o3', 'no2', 'so2', 'co'],
  hoursNeeded: 24,
  subIndices(c) {
    const subs = [
      particulate('pm25', c),
      particulate('pm10', c),
      ozone(c),
      sub(read('co', '8h', c.co?.['8h'])),
      sulphur(c),
      sub(read('no2', '1h', c.no2?.['1h'])),
    ];
    return subs.filter((s): s is SubIndex => s !== undefined);
  },
  accepts: (subs) => subs.length > 0,
  fromHourly(h) {
    return {
      pm25: { nowcast: nowcast(h.pm25 ?? []) },
      pm10: { nowcast: nowcast(h.pm10 ?? []) },
      o3: { '8h': meanOver(h.o3, 8, 6), '1h': latestHour(h.o3) },
      co: { '8h': meanOver(h.co, 8, 6) },
      so2: { '1h': latestHour(h.so2), '24h': meanOver(h.so2, 24, 18) },
      no2: { '1h': latestHour(h.no2) },
    };
  },
};
