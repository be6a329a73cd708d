import { describe, expect, test } from 'bun:test';
import { computeAqi } from '../compute.ts';
import type { Averaging, Concentrations, Pollutant, TableUnit } from '../types.ts';
import { toMicrograms } from '../units.ts';

/** One value in a table's own unit, as the TAD writes it, converted to our µg/m³ input. */
function given(pollutant: Pollutant, averaging: Averaging, unit: TableUnit, value: number): Concentrations {
  return { [pollutant]: { [averaging]: toMicrograms(pollutant, value, unit) } };
}
const aqi = (pollutant: Pollutant, averaging: Averaging, unit: TableUnit, value: number) =>
  computeAqi('us-epa', given(pollutant, averaging, unit, value));

// EPA-454/B-24-002 (May 2024), Table 6, written out again here (not imported) so a typo in the
// module's table fails a test. Each row: [low, high] concentration → [low, high] index.
const INDEX = [
  [0, 50],
  [51, 100],
  [101, 150],
  [151, 200],
  [201, 300],
  [301, 500],
] as const;
const TABLE_6: [Pollutant, Averaging, TableUnit, (readonly [number, number] | null)[]][] = [
  [
    'pm25',
    '24h',
    'µg/m³',
    [
      [0, 9.0],
      [9.1, 35.4],
      [35.5, 55.4],
      [55.5, 125.4],
      [125.5, 225.4],
      [225.5, 325.4],
    ],
  ],
  [
    'pm25',
    'nowcast',
    'µg/m³',
    [
      [0, 9.0],
      [9.1, 35.4],
      [35.5, 55.4],
      [55.5, 125.4],
      [125.5, 225.4],
      [225.5, 325.4],
    ],
  ],
  [
    'pm10',
    '24h',
    'µg/m³',
    [
      [0, 54],
      [55, 154],
      [155, 254],
      [255, 354],
      [355, 424],
      [425, 604],
    ],
  ],
  ['o3', '8h', 'ppm', [[0, 0.054], [0.055, 0.07], [0.071, 0.085], [0.086, 0.105], [0.106, 0.2], null]],
  ['o3', '1h', 'ppm', [null, null, [0.125, 0.164], [0.165, 0.204], [0.205, 0.404], [0.405, 0.604]]],
  [
    'co',
    '8h',
    'ppm',
    [
      [0, 4.4],
      [4.5, 9.4],
      [9.5, 12.4],
      [12.5, 15.4],
      [15.5, 30.4],
      [30.5, 50.4],
    ],
  ],
  ['so2', '1h', 'ppb', [[0, 35], [36, 75], [76, 185], [186, 304], null, null]],
  [
    'no2',
    '1h',
    'ppb',
    [
      [0, 53],
      [54, 100],
      [101, 360],
      [361, 649],
      [650, 1249],
      [1250, 2049],
    ],
  ],
];
const CATEGORY_KEYS = [
  'good',
  'moderate',
  'unhealthy-for-sensitive-groups',
  'unhealthy',
  'very-unhealthy',
  'hazardous',
];

const edges = TABLE_6.flatMap(([pollutant, averaging, unit, rows]) =>
  rows.flatMap((row, k) => {
    if (!row) return [];
    const [iLo, iHi] = INDEX[k] as readonly [number, number];
    return [
      [pollutant, averaging, unit, row[0], iLo, CATEGORY_KEYS[k]],
      [pollutant, averaging, unit, row[1], iHi, CATEGORY_KEYS[k]],
    ] as const;
  }),
);

describe('US EPA AQI, every category edge of Table 6 (2024)', () => {
  test.each(edges)('%s %s: %p %s → %p (%s)', (pollutant, averaging, unit, value, index, category) => {
    const result = aqi(pollutant, averaging, unit, value);
    expect(result?.value).toBe(index);
    expect(result?.category.key).toBe(category);
    expect(result?.dominant).toBe(pollutant);
  });
});

describe('truncation before the table is read', () => {
  test.each([
    ['pm25', '24h', 'µg/m³', 9.0, 50],
    ['pm25', '24h', 'µg/m³', 9.09, 50], // truncated to 9.0, never rounded up to 9.1
    ['pm25', '24h', 'µg/m³', 9.1, 51],
    ['pm25', '24h', 'µg/m³', 35.4, 100],
    ['pm25', '24h', 'µg/m³', 35.49, 100],
    ['pm25', '24h', 'µg/m³', 35.5, 101],
    ['pm25', '24h', 'µg/m³', 55.45, 150],
    ['pm10', '24h', 'µg/m³', 54.9, 50],
    ['pm10', '24h', 'µg/m³', 55, 51],
    ['o3', '8h', 'ppm', 0.0549, 50],
    ['o3', '8h', 'ppm', 0.055, 51],
    ['o3', '8h', 'ppm', 0.0709, 100],
    ['co', '8h', 'ppm', 4.49, 50],
    ['co', '8h', 'ppm', 4.35, 49], // 4.35 × 10 is 43.49999… in floating point: still 4.3
    ['so2', '1h', 'ppb', 35.9, 50],
    ['no2', '1h', 'ppb', 53.99, 50],
    ['no2', '1h', 'ppb', 100.7, 100],
  ] as const)('%s %s %p %s → %p', (pollutant, averaging, unit, value, index) => {
    expect(aqi(pollutant, averaging, unit, value)?.value).toBe(index);
  });
});

describe('Equation 1 worked examples', () => {
  test('8-hour ozone 0.07853 ppm truncates to 0.078 → 126', () => {
    // (150 − 101) / (0.085 − 0.071) × (0.078 − 0.071) + 101 = 125.5 → 126
    const result = aqi('o3', '8h', 'ppm', 0.07853);
    expect(result?.value).toBe(126);
    expect(result?.subIndices[0]).toMatchObject({ concentration: 0.078, unit: 'ppm', averaging: '8h' });
  });

  test('PM2.5 35.9 µg/m³ → 102 (Unhealthy for Sensitive Groups)', () => {
    const result = aqi('pm25', '24h', 'µg/m³', 35.9);
    expect(result).toMatchObject({
      value: 102,
      category: { name: 'Unhealthy for Sensitive Groups', colour: '#ff7e00' },
    });
  });

  test('the 2024 PM2.5 breakpoints differ from the 2012 ones: 12.0 µg/m³ is Moderate (56), not 50', () => {
    expect(aqi('pm25', '24h', 'µg/m³', 12.0)?.value).toBe(56);
  });
});

describe('the overall AQI and its dominant pollutant', () => {
  test('the highest sub-index wins; sub-indices are listed highest first', () => {
    const result = computeAqi('us-epa', {
      pm25: { nowcast: 40 },
      pm10: { nowcast: 100 },
      no2: { '1h': toMicrograms('no2', 80, 'ppb') },
    });
    expect(result?.dominant).toBe('pm25');
    expect(result?.value).toBe(112);
    // NO2 80 ppb: 49 / 46 × (80 − 54) + 51 = 78.7 → 79; PM10 100: 49 / 99 × 45 + 51 = 73.3 → 73
    expect(result?.subIndices.map((s) => [s.pollutant, s.index])).toEqual([
      ['pm25', 112],
      ['no2', 79],
      ['pm10', 73],
    ]);
    expect(result?.missing).toEqual(['o3', 'so2', 'co']);
  });

  test('a tie goes to the first pollutant in catalogue order (pm25 before pm10)', () => {
    const result = computeAqi('us-epa', { pm10: { '24h': 54 }, pm25: { '24h': 9 } });
    expect(result?.value).toBe(50);
    expect(result?.dominant).toBe('pm25');
  });

  test('the 24-hour PM mean wins over a NowCast given with it', () => {
    const result = computeAqi('us-epa', { pm25: { '24h': 9, nowcast: 100 } });
    expect(result?.subIndices[0]).toMatchObject({ averaging: '24h', index: 50 });
  });

  test('colours and names of the six categories (TAD Table 2)', () => {
    const values = [5, 20, 40, 100, 200, 300];
    const seen = values.map((v) => computeAqi('us-epa', { pm25: { '24h': v } })?.category);
    expect(seen.map((c) => [c?.name, c?.colour])).toEqual([
      ['Good', '#00e400'],
      ['Moderate', '#ffff00'],
      ['Unhealthy for Sensitive Groups', '#ff7e00'],
      ['Unhealthy', '#ff0000'],
      ['Very Unhealthy', '#8f3f97'],
      ['Hazardous', '#7e0023'],
    ]);
  });
});

describe('pollutant rules from the table notes', () => {
  const ppm = (v: number) => toMicrograms('o3', v, 'ppm');
  const ppb = (v: number) => toMicrograms('so2', v, 'ppb');

  test('ozone reports the larger of the 8-hour and 1-hour indices', () => {
    const higher1h = computeAqi('us-epa', { o3: { '8h': ppm(0.06), '1h': ppm(0.17) } });
    expect(higher1h?.subIndices[0]).toMatchObject({ averaging: '1h', index: 157 });
    const higher8h = computeAqi('us-epa', { o3: { '8h': ppm(0.09), '1h': ppm(0.13) } });
    expect(higher8h?.subIndices[0]).toMatchObject({ averaging: '8h', index: 161 });
  });

  test('1-hour ozone below 0.125 ppm defines no index; the 8-hour one stands alone', () => {
    expect(computeAqi('us-epa', { o3: { '1h': ppm(0.124) } })).toBeNull();
    expect(computeAqi('us-epa', { o3: { '8h': ppm(0.05), '1h': ppm(0.12) } })?.value).toBe(46);
  });

  test('8-hour ozone above 0.200 ppm: the 1-hour index if there is one, else 300 marked extrapolated', () => {
    expect(computeAqi('us-epa', { o3: { '8h': ppm(0.25), '1h': ppm(0.45) } })?.subIndices[0]).toMatchObject({
      averaging: '1h',
      index: 346,
    });
    expect(computeAqi('us-epa', { o3: { '8h': ppm(0.25) } })?.subIndices[0]).toMatchObject({
      averaging: '8h',
      index: 300,
      extrapolated: true,
    });
  });

  test('SO2 at 305 ppb or more (1 h) takes its index from the 24-hour mean', () => {
    const withDay = computeAqi('us-epa', { so2: { '1h': ppb(400), '24h': ppb(305) } });
    expect(withDay?.subIndices[0]).toMatchObject({ averaging: '24h', index: 201 });
    const highDay = computeAqi('us-epa', { so2: { '1h': ppb(700), '24h': ppb(1004) } });
    expect(highDay?.value).toBe(500);
  });

  test('SO2 1 h ≥ 305 ppb with a 24-hour mean below 305, or none: 200', () => {
    expect(computeAqi('us-epa', { so2: { '1h': ppb(305), '24h': ppb(120) } })?.value).toBe(200);
    expect(computeAqi('us-epa', { so2: { '1h': ppb(305) } })?.subIndices[0]).toMatchObject({
      averaging: '1h',
      index: 200,
      category: { key: 'unhealthy' },
    });
  });

  test('a 24-hour SO2 mean alone defines only AQI 201 and up', () => {
    expect(computeAqi('us-epa', { so2: { '24h': ppb(200) } })).toBeNull();
    expect(computeAqi('us-epa', { so2: { '24h': ppb(605) } })?.value).toBe(301);
  });

  test('beyond the AQI: above the last breakpoint the top row is extended', () => {
    const result = computeAqi('us-epa', { pm25: { '24h': 425.3 } });
    // (500 − 301) / (325.4 − 225.5) × (425.3 − 225.5) + 301 = 699.0
    expect(result?.subIndices[0]).toMatchObject({ index: 699, extrapolated: true });
    expect(result?.category.key).toBe('hazardous');
  });
});

describe('missing and bad data', () => {
  test.each([
    ['nothing', {}],
    ['nulls', { pm25: { nowcast: null }, o3: { '8h': undefined } }],
    ['NaN and infinity', { pm25: { '24h': Number.NaN }, pm10: { '24h': Number.POSITIVE_INFINITY } }],
    ['negative', { pm25: { '24h': -1 } }],
    ['an averaging the table lacks', { no2: { '24h': 40 }, co: { '1h': 9000 } }],
  ] as const)('%s → null', (_name, input) => {
    expect(computeAqi('us-epa', input as Concentrations)).toBeNull();
  });

  test('one good pollutant among missing ones still gives an index, the rest listed missing', () => {
    const result = computeAqi('us-epa', { pm25: { nowcast: 0 }, pm10: { nowcast: null } });
    expect(result).toMatchObject({ value: 0, dominant: 'pm25', missing: ['pm10', 'o3', 'no2', 'so2', 'co'] });
  });
});
