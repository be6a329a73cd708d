import { describe, expect, test } from 'bun:test';
import { aqiFromHourly, computeAqi } from '../compute.ts';
import type { Averaging, Pollutant } from '../types.ts';

// CAQI hourly background grid (CITEAIR II, 2012), µg/m³: the four band tops per pollutant.
const GRID: [Pollutant, Averaging, [number, number, number, number]][] = [
  ['no2', '1h', [50, 100, 200, 400]],
  ['pm10', '1h', [25, 50, 90, 180]],
  ['pm10', '24h', [15, 30, 50, 100]],
  ['o3', '1h', [60, 120, 180, 240]],
  ['pm25', '1h', [15, 30, 55, 110]],
  ['pm25', '24h', [10, 20, 30, 60]],
  ['co', '8h', [5_000, 7_500, 10_000, 20_000]],
  ['so2', '1h', [50, 100, 350, 500]],
];
const KEYS = ['very-low', 'low', 'medium', 'high', 'very-high'];

const edges = GRID.flatMap(([pollutant, averaging, tops]) => [
  [pollutant, averaging, 0, 0, 'very-low'] as const,
  ...tops.map((top, k) => [pollutant, averaging, top, (k + 1) * 25, KEYS[k] as string] as const),
  // halfway into each band above a top: the index is halfway too, in the next category
  ...tops
    .slice(0, 3)
    .map(
      (top, k) =>
        [
          pollutant,
          averaging,
          (top + (tops[k + 1] as number)) / 2,
          (k + 1) * 25 + 12.5,
          KEYS[k + 1] as string,
        ] as const,
    ),
]);

describe('CAQI hourly grid edges', () => {
  test.each(edges)('%s %s %p → %p (%s)', (pollutant, averaging, value, index, category) => {
    const result = computeAqi('eu-caqi', { [pollutant]: { [averaging]: value } });
    expect(result?.value).toBe(Math.round(index));
    expect(result?.category.key).toBe(category);
  });

  test('a band top belongs to its band; just above it is the next category', () => {
    expect(computeAqi('eu-caqi', { no2: { '1h': 50 } })?.category.name).toBe('Very low');
    expect(computeAqi('eu-caqi', { no2: { '1h': 50.4 } })).toMatchObject({
      value: 25,
      category: { name: 'Low' },
    });
  });

  test('above the grid ("> 100") the High band’s slope continues, marked extrapolated', () => {
    const result = computeAqi('eu-caqi', { no2: { '1h': 600 } });
    expect(result?.subIndices[0]).toMatchObject({ index: 125, extrapolated: true });
    expect(result?.category).toMatchObject({ key: 'very-high', colour: '#e8416f' });
  });

  test('values are not truncated: NO2 99.9 → 49.95 → 50', () => {
    expect(computeAqi('eu-caqi', { no2: { '1h': 99.9 } })?.value).toBe(50);
  });
});

describe('CAQI overall index', () => {
  test('the highest sub-index; mandatory pollutants without data are listed missing', () => {
    const result = computeAqi('eu-caqi', { pm25: { '1h': 45 }, pm10: { '1h': 30 } });
    // PM2.5 45: 50 + 25 × (45 − 30) / 25 = 65; PM10 30: 25 + 25 × 5 / 25 = 30
    expect(result).toMatchObject({ value: 65, dominant: 'pm25', missing: ['no2', 'o3'] });
  });

  test('the hourly grid takes precedence over the daily one for the same pollutant', () => {
    const result = computeAqi('eu-caqi', { pm10: { '1h': 25, '24h': 100 } });
    expect(result?.subIndices).toHaveLength(1);
    expect(result?.subIndices[0]).toMatchObject({ averaging: '1h', index: 25 });
  });

  test('from hourly means: latest hour for most, the 8-hour mean for CO', () => {
    const result = aqiFromHourly('eu-caqi', {
      no2: [null, 150],
      co: [8_000, 8_000, 8_000, 8_000, 8_000, 8_000],
    });
    expect(result?.subIndices.map((s) => [s.pollutant, s.averaging, s.index])).toEqual([
      ['no2', '1h', 63],
      ['co', '8h', 55],
    ]);
  });

  test('no data → null', () => {
    expect(computeAqi('eu-caqi', { no2: { '1h': null } })).toBeNull();
  });
});
