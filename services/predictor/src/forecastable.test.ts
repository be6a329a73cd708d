import { expect, test } from 'bun:test';
import { CHANNELS, WINDOW_HOURS } from '@sensormesh/models';
import { forecastable } from './score.ts';

const hour = (): Record<string, number> => Object.fromEntries(CHANNELS.map((name, c) => [name, 10 + c]));
const hours = (n: number) => Array.from({ length: n }, hour);

test('the forecast gap policy as a producer sees it: complete or short gaps yes; long gaps, a missing first hour or too few hours no', () => {
  expect(forecastable(hours(WINDOW_HOURS))).toBe(true);
  expect(forecastable(hours(WINDOW_HOURS - 1))).toBe(false);
  // Only the last 72 hours count: an old hole does not matter.
  const older = hours(WINDOW_HOURS + 10);
  for (let h = 0; h < 10; h++) delete older[h]?.no2;
  expect(forecastable(older)).toBe(true);
  const withGap = (length: number) => {
    const series = hours(WINDOW_HOURS);
    for (let h = 30; h < 30 + length; h++) delete series[h]?.no2;
    return series;
  };
  expect(forecastable(withGap(6))).toBe(true); // filled forward
  expect(forecastable(withGap(7))).toBe(false);
  const firstHourShort = hours(WINDOW_HOURS);
  delete firstHourShort[0]?.pressure;
  expect(forecastable(firstHourShort)).toBe(false);
  const notFinite = hours(WINDOW_HOURS);
  for (let h = 0; h < WINDOW_HOURS; h++) (notFinite[h] as Record<string, number>).rain = Number.NaN;
  expect(forecastable(notFinite)).toBe(false);
});
