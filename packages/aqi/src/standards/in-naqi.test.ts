import { describe, expect, test } from 'bun:test';
import { aqiFromHourly, computeAqi } from '../compute.ts';
import type { Averaging, Concentrations, Pollutant } from '../types.ts';

// CPCB NAQI (2014) breakpoints, with the open Severe band given the Very poor band's width.
const INDEX = [
  [0, 50],
  [51, 100],
  [101, 200],
  [201, 300],
  [301, 400],
  [401, 500],
] as const;
const TABLE: [Pollutant, Averaging, [number, number][]][] = [
  [
    'pm10',
    '24h',
    [
      [0, 50],
      [51, 100],
      [101, 250],
      [251, 350],
      [351, 430],
      [431, 510],
    ],
  ],
  [
    'pm25',
    '24h',
    [
      [0, 30],
      [31, 60],
      [61, 90],
      [91, 120],
      [121, 250],
      [251, 380],
    ],
  ],
  [
    'no2',
    '24h',
    [
      [0, 40],
      [41, 80],
      [81, 180],
      [181, 280],
      [281, 400],
      [401, 520],
    ],
  ],
  [
    'o3',
    '8h',
    [
      [0, 50],
      [51, 100],
      [101, 168],
      [169, 208],
      [209, 748],
      [749, 1288],
    ],
  ],
  [
    'co',
    '8h',
    [
      [0, 1000],
      [1100, 2000],
      [2100, 10000],
      [10100, 17000],
      [17100, 34000],
      [34100, 51000],
    ],
  ],
  [
    'so2',
    '24h',
    [
      [0, 40],
      [41, 80],
      [81, 380],
      [381, 800],
      [801, 1600],
      [1601, 2400],
    ],
  ],
];
const KEYS = ['good', 'satisfactory', 'moderate', 'poor', 'very-poor', 'severe'];

// Two PM pollutants at 0 make the three-pollutant rule hold without changing the maximum.
const withSupport = (pollutant: Pollutant, averaging: Averaging, value: number): Concentrations => ({
  pm10: { '24h': 0 },
  pm25: { '24h': 0 },
  so2: { '24h': 0 },
  [pollutant]: { [averaging]: value },
});

const edges = TABLE.flatMap(([pollutant, averaging, rows]) =>
  rows.flatMap(([lo, hi], k) => [
    [pollutant, averaging, lo, INDEX[k]?.[0] as number, KEYS[k] as string] as const,
    [pollutant, averaging, hi, INDEX[k]?.[1] as number, KEYS[k] as string] as const,
  ]),
);

describe('India NAQI table edges (inputs in µg/m³; CO in µg/m³ converted to mg/m³)', () => {
  test.each(edges)('%s %s %p → %p (%s)', (pollutant, averaging, value, index, category) => {
    const result = computeAqi('in-naqi', withSupport(pollutant, averaging, value));
    expect(result?.value).toBe(index);
    expect(result?.category.key).toBe(category);
  });

  test('concentrations are truncated: PM2.5 30.9 is Good (50), 31 Satisfactory (51)', () => {
    expect(computeAqi('in-naqi', withSupport('pm25', '24h', 30.9))?.value).toBe(50);
    expect(computeAqi('in-naqi', withSupport('pm25', '24h', 31))?.value).toBe(51);
  });

  test('the scale ends at 500: higher concentrations are capped and marked', () => {
    const result = computeAqi('in-naqi', withSupport('pm25', '24h', 900));
    expect(result?.subIndices[0]).toMatchObject({ index: 500, extrapolated: true, pollutant: 'pm25' });
    expect(result?.category).toMatchObject({ name: 'Severe', colour: '#c00000' });
  });
});

describe('NAQI data rule: three pollutants, one of them PM', () => {
  test('two pollutants are not enough', () => {
    expect(computeAqi('in-naqi', { pm25: { '24h': 40 }, no2: { '24h': 30 } })).toBeNull();
  });

  test('three without PM are not enough', () => {
    expect(computeAqi('in-naqi', { no2: { '24h': 30 }, so2: { '24h': 20 }, o3: { '8h': 40 } })).toBeNull();
  });

  test('three with PM make an index; the rest are missing', () => {
    const result = computeAqi('in-naqi', { pm10: { '24h': 120 }, no2: { '24h': 30 }, so2: { '24h': 20 } });
    // PM10 120: 101 + 99 / 149 × (120 − 101) = 113.6 → 114
    expect(result).toMatchObject({ value: 114, dominant: 'pm10', missing: ['pm25', 'o3', 'co'] });
  });

  test('24-hour means need 16 hours of data', () => {
    const hours = (n: number) => [...Array(n).fill(50), ...Array(24 - n).fill(null)];
    const hourly = (n: number) => ({ pm25: hours(n), pm10: hours(n), no2: hours(n) });
    expect(aqiFromHourly('in-naqi', hourly(15))).toBeNull();
    expect(aqiFromHourly('in-naqi', hourly(16))).toMatchObject({ value: 83, dominant: 'pm25' });
  });
});
