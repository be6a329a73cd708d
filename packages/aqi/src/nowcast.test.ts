import { describe, expect, test } from 'bun:test';
import { aqiFromHourly, averagesFromHourly, computeAqi, hourlyAqi } from './compute.ts';
import { nowcast } from './nowcast.ts';

// EPA's "Computing the NowCast" example (AirNow training material), hours newest first:
// range 90 − 10 = 80, scaled rate 80/90, weight 1 − 0.89 = 0.11 → 0.5; NowCast 17.4 µg/m³.
const EPA_EXAMPLE = [13, 16, 10, 21, 74, 64, 53, 82, 90, 75, 80, 50];

describe('nowcast', () => {
  test("EPA's worked example: 17.4 µg/m³, AQI 66 on the 2024 PM2.5 table", () => {
    expect(nowcast(EPA_EXAMPLE)).toBeCloseTo(17.4139, 4);
    const result = computeAqi('us-epa', { pm25: { nowcast: nowcast(EPA_EXAMPLE) } });
    // truncated to 17.4: 49 / 26.3 × (17.4 − 9.1) + 51 = 66.5 → 66 (it was 62 before 2024)
    expect(result?.subIndices[0]).toMatchObject({ concentration: 17.4, index: 66, averaging: 'nowcast' });
  });

  test('steady air: the weight is min/max (> 0.5) and the NowCast is close to the plain mean', () => {
    const hours = [10, 11, 12, 11, 10, 9, 10, 11, 12, 13, 12, 11];
    const w = 9 / 13;
    const expected = hours.reduce((s, c, i) => s + c * w ** i, 0) / hours.reduce((s, _c, i) => s + w ** i, 0);
    expect(nowcast(hours)).toBeCloseTo(expected, 10);
    expect(nowcast(hours)).toBeCloseTo(10.68, 2);
  });

  test('constant air: weight 1, the 12-hour mean', () => {
    expect(nowcast(Array(12).fill(20))).toBe(20);
  });

  test('all zeros: weight 1, NowCast 0 (no division by a zero maximum)', () => {
    expect(nowcast(Array(12).fill(0))).toBe(0);
  });

  test('only the 12 newest hours count', () => {
    expect(nowcast([...Array(12).fill(5), 500, 500])).toBe(5);
  });

  test('missing hours keep their place: an hour 4 hours ago weighs w³ even if hour 3 is missing', () => {
    const hours = [40, 20, null, 10];
    // min 10, max 40 → w = 0.5 (0.25 clamped): (40 + 20·0.5 + 10·0.125) / (1 + 0.5 + 0.125)
    expect(nowcast(hours)).toBeCloseTo(51.25 / 1.625, 10);
  });

  test.each([
    ['the two newest hours missing', [null, null, 12, 13, 14]],
    ['newest and third missing', [null, 12, undefined, 13]],
    ['one hour only', [25]],
    ['nothing', []],
    ['bad values count as missing', [Number.NaN, -3, 12, 13]],
  ] as const)('invalid with fewer than 2 of the 3 newest hours: %s', (_name, hours) => {
    expect(nowcast(hours)).toBeNull();
  });

  test.each([
    ['newest missing', [null, 12, 13]],
    ['second missing', [12, null, 13]],
    ['third missing', [12, 13, null]],
    ['exactly two hours', [12, 13]],
  ] as const)('valid with 2 of the 3 newest hours: %s', (_name, hours) => {
    expect(nowcast(hours)).not.toBeNull();
  });

  test('a custom window and minimum weight', () => {
    expect(nowcast([10, 0, 0], { hours: 3, minWeight: 0 })).toBe(10);
  });
});

describe('averagesFromHourly and aqiFromHourly (newest first)', () => {
  test('US EPA: NowCast for PM, 8-hour O3/CO with 6 of 8 hours, latest hour for NO2/SO2/O3', () => {
    const averages = averagesFromHourly('us-epa', {
      pm25: EPA_EXAMPLE,
      o3: [100, 100, 100, 100, 100, 100, null, null],
      co: [1000, 1000, 1000, 1000, 1000, null, null, null],
      no2: [null, 80],
      so2: [null, null, 30],
    });
    expect(averages.pm25?.nowcast).toBeCloseTo(17.414, 3);
    expect(averages.pm10?.nowcast).toBeNull();
    expect(averages.o3).toEqual({ '8h': 100, '1h': 100 });
    expect(averages.co?.['8h']).toBeNull(); // 5 of 8 hours
    expect(averages.no2?.['1h']).toBe(80); // the current hour is still empty: the one before it
    expect(averages.so2?.['1h']).toBeNull(); // never older than the previous hour
    expect(averages.so2?.['24h']).toBeNull();
  });

  test('the index from hourly means matches computeAqi on the averages', () => {
    const hourly = { pm25: EPA_EXAMPLE, pm10: [60, 58, 61, 70] };
    const result = aqiFromHourly('us-epa', hourly);
    expect(result).toEqual(computeAqi('us-epa', averagesFromHourly('us-epa', hourly)));
    expect(result?.dominant).toBe('pm25');
  });

  test('no recent data: no index', () => {
    expect(aqiFromHourly('us-epa', { pm25: [null, null, 40, 40, 40] })).toBeNull();
  });
});

describe('hourlyAqi (oldest first, for history)', () => {
  test('each hour uses only the hours up to it', () => {
    const oldestFirst = [...EPA_EXAMPLE].reverse();
    const series = hourlyAqi('us-epa', { pm25: oldestFirst });
    expect(series).toHaveLength(12);
    expect(series[0]).toBeNull(); // one hour: the NowCast needs two of the newest three
    expect(series[1]?.value).toBe(computeAqi('us-epa', { pm25: { nowcast: nowcast([80, 50]) } })?.value);
    expect(series[11]?.value).toBe(66);
  });

  test('a gap longer than two hours interrupts the NowCast until data return', () => {
    const series = hourlyAqi('us-epa', { pm25: [10, 10, 10, null, null, null, 10, 10] });
    expect(series.map((r) => r !== null)).toEqual([false, true, true, true, false, false, false, true]);
  });
});
