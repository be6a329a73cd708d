import { describe, expect, test } from 'bun:test';
import { fromMicrograms, toMicrograms, truncate } from './units.ts';

describe('unit conversion at 25 °C, 1 atm (24.45 L/mol)', () => {
  test.each([
    ['no2', 'ppb', 1.8818],
    ['o3', 'ppb', 1.9632],
    ['so2', 'ppb', 2.6204],
    ['co', 'ppm', 1145.603],
  ] as const)('1 %s %s is %p µg/m³', (pollutant, unit, ugm3) => {
    expect(toMicrograms(pollutant, 1, unit)).toBeCloseTo(ugm3, 3);
    expect(fromMicrograms(pollutant, ugm3, unit)).toBeCloseTo(1, 4);
  });

  test('mg/m³ and µg/m³ need no molecular weight', () => {
    expect(fromMicrograms('co', 2_500, 'mg/m³')).toBe(2.5);
    expect(fromMicrograms('pm25', 12.3, 'µg/m³')).toBe(12.3);
  });

  test('particles have no ppb', () => {
    expect(() => fromMicrograms('pm25', 10, 'ppb')).toThrow(/molecular weight/);
  });
});

describe('truncate', () => {
  test.each([
    [9.09, 1, 9.0],
    [35.45, 1, 35.4],
    [4.35, 1, 4.3],
    [4.35, 2, 4.35], // 4.35 × 100 = 434.99999999999994 in binary
    [0.0549, 3, 0.054],
    [0.07, 3, 0.07],
    [54.99, 0, 54],
    [0, 1, 0],
  ])('%p to %p places → %p', (value, decimals, expected) => {
    expect(truncate(value, decimals)).toBe(expected);
  });

  test('a round trip through µg/m³ does not lose a step to float noise', () => {
    for (const ppm of [0.054, 0.055, 0.07, 0.085, 0.105, 0.2, 0.604]) {
      expect(truncate(fromMicrograms('o3', toMicrograms('o3', ppm, 'ppm'), 'ppm'), 3)).toBe(ppm);
    }
  });
});
