import { meanOver } from '../averages.ts';
import { type PollutantTable, readPollutant, type Standard } from '../standard.ts';
import type { Category, SubIndex } from '../types.ts';

/**
 * India's National Air Quality Index (CPCB, 2014): 24-hour means of PM10, PM2.5, NO2 and SO2,
 * 8-hour means of O3 and CO (CO in mg/m³). NH3 and Pb are part of the index but not measured here.
 * A valid index needs at least three pollutants, one of them PM2.5 or PM10; 24-hour means need 16
 * hours of data.
 *
 * Assumptions, since CPCB's table leaves them open: concentrations are truncated to integers
 * (CO to 0.1 mg/m³) before the table is read, like the EPA's; the open "Severe" band (e.g. PM2.5
 * 250+) is given the width of the "Very poor" band below it (PM2.5 251–380 → 401–500); the scale
 * ends at 500, so higher values are capped there (marked `extrapolated`).
 */
const CATEGORIES: readonly Category[] = [
  { key: 'good', name: 'Good', colour: '#00b050', min: 0, max: 50 },
  { key: 'satisfactory', name: 'Satisfactory', colour: '#92d050', min: 51, max: 100 },
  { key: 'moderate', name: 'Moderate', colour: '#ffff00', min: 101, max: 200 },
  { key: 'poor', name: 'Poor', colour: '#ff9900', min: 201, max: 300 },
  { key: 'very-poor', name: 'Very Poor', colour: '#ff0000', min: 301, max: 400 },
  { key: 'severe', name: 'Severe', colour: '#c00000', min: 401, max: null },
];

const INDEX = [
  [0, 50],
  [51, 100],
  [101, 200],
  [201, 300],
  [301, 400],
  [401, 500],
] as const;

const TABLES: readonly PollutantTable[] = [
  {
    pollutant: 'pm10',
    averaging: '24h',
    unit: 'µg/m³',
    decimals: 0,
    rows: [
      [0, 50],
      [51, 100],
      [101, 250],
      [251, 350],
      [351, 430],
      [431, 510],
    ],
  },
  {
    pollutant: 'pm25',
    averaging: '24h',
    unit: 'µg/m³',
    decimals: 0,
    rows: [
      [0, 30],
      [31, 60],
      [61, 90],
      [91, 120],
      [121, 250],
      [251, 380],
    ],
  },
  {
    pollutant: 'no2',
    averaging: '24h',
    unit: 'µg/m³',
    decimals: 0,
    rows: [
      [0, 40],
      [41, 80],
      [81, 180],
      [181, 280],
      [281, 400],
      [401, 520],
    ],
  },
  {
    pollutant: 'o3',
    averaging: '8h',
    unit: 'µg/m³',
    decimals: 0,
    rows: [
      [0, 50],
      [51, 100],
      [101, 168],
      [169, 208],
      [209, 748],
      [749, 1288],
    ],
  },
  {
    pollutant: 'co',
    averaging: '8h',
    unit: 'mg/m³',
    decimals: 1,
    rows: [
      [0, 1.0],
      [1.1, 2.0],
      [2.1, 10],
      [10.1, 17],
      [17.1, 34],
      [34.1, 51],
    ],
  },
  {
    pollutant: 'so2',
    averaging: '24h',
    unit: 'µg/m³',
    decimals: 0,
    rows: [
      [0, 40],
      [41, 80],
      [81, 380],
      [381, 800],
      [801, 1600],
      [1601, 2400],
    ],
  },
];

const base = { id: 'in-naqi', categories: CATEGORIES, indexRanges: INDEX, tables: TABLES } as const;

/** India's NAQI. */
export const inNaqi: Standard = {
  ...base,
  name: 'India National Air Quality Index (CPCB)',
  expected: ['pm25', 'pm10', 'no2', 'o3', 'co', 'so2'],
  hoursNeeded: 24,
  subIndices(c) {
    const subs: SubIndex[] = [];
    for (const table of TABLES) {
      const reading = readPollutant(base, table, c[table.pollutant]?.[table.averaging], 'by-index', 500);
      if (reading.kind === 'index') subs.push(reading.sub);
    }
    return subs;
  },
  accepts: (subs) =>
    subs.length >= 3 && subs.some((sub) => sub.pollutant === 'pm25' || sub.pollutant === 'pm10'),
  fromHourly(h) {
    return {
      pm10: { '24h': meanOver(h.pm10, 24, 16) },
      pm25: { '24h': meanOver(h.pm25, 24, 16) },
      no2: { '24h': meanOver(h.no2, 24, 16) },
      so2: { '24h': meanOver(h.so2, 24, 16) },
      o3: { '8h': meanOver(h.o3, 8, 6) },
      co: { '8h': meanOver(h.co, 8, 6) },
    };
  },
};
