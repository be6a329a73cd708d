import { describe, expect, test } from 'bun:test';
import { compassToDegrees, fahrenheitToCelsius, pascalToHectopascal, tidy } from './units.ts';
import { parseTimestamp, validateReading } from './validate.ts';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const LIMITS = { now: NOW, maxAgeMs: 365 * 86_400_000, maxAheadMs: 300_000 };
const SENSOR = { id: 's-1', metrics: ['vibration'] };
const judge = (input: unknown) => validateReading(input, SENSOR, LIMITS, 'http');

describe('validateReading', () => {
  test('a good reading passes whole, with ingest metadata', () => {
    const result = judge({
      ts: NOW - 1_000,
      metrics: { pm25: 12.4, rh: 61, vibration: 0.02 },
      messageId: 'm1',
    });
    expect(result.rejected).toEqual([]);
    expect(result.reading).toEqual({
      sensorId: 's-1',
      ts: NOW - 1_000,
      metrics: { pm25: 12.4, rh: 61, vibration: 0.02 },
      receivedAt: NOW,
      source: 'http',
      messageId: 'm1',
    });
  });

  test.each([
    ['unknown metric', { bogus: 1 }, 'metrics.bogus', 'unknown_metric'],
    ['badly named metric', { 'PM2.5': 1 }, 'metrics.PM2.5', 'unknown_metric'],
    ['a name Object.prototype has', { constructor: 1 }, 'metrics.constructor', 'unknown_metric'],
    ['string value', { pm25: '12.4' }, 'metrics.pm25', 'not_a_number'],
    ['null value', { pm25: null }, 'metrics.pm25', 'not_a_number'],
    ['infinite value', { pm25: Number.POSITIVE_INFINITY }, 'metrics.pm25', 'not_finite'],
    ['NaN value', { pm25: Number.NaN }, 'metrics.pm25', 'not_finite'],
    ['sentinel -999', { temp: -999 }, 'metrics.temp', 'sentinel'],
    ['below range', { rh: -3 }, 'metrics.rh', 'out_of_range'],
    ['above range', { pm25: 5_000 }, 'metrics.pm25', 'out_of_range'],
  ])('%s: that field is refused with its reason, the rest kept', (_name, bad, field, code) => {
    const result = judge({ ts: NOW, metrics: { ...bad, no2: 40 } });
    expect(result.rejected).toEqual([expect.objectContaining({ field, code })]);
    expect(result.reading?.metrics).toEqual({ no2: 40 });
  });

  test.each([
    ['six minutes ahead', NOW + 360_000, 'future_timestamp'],
    ['older than the retention', NOW - 366 * 86_400_000, 'too_old'],
    ['a date without zone', '2026-11-22T12:00:00', 'bad_timestamp'],
    ['seconds, not ms', 1.5, 'bad_timestamp'],
    ['missing', undefined, 'bad_timestamp'],
  ])('timestamp %s refuses the whole reading', (_name, ts, code) => {
    const result = judge({ ts, metrics: { pm25: 10 } });
    expect(result.reading).toBeUndefined();
    expect(result.rejected).toContainEqual(expect.objectContaining({ field: 'ts', code }));
  });

  test('within the 5-minute allowance and ISO-8601 with a zone are accepted', () => {
    expect(judge({ ts: NOW + 299_000, metrics: { pm25: 1 } }).reading?.ts).toBe(NOW + 299_000);
    expect(judge({ ts: '2026-11-22T20:00:00+08:00', metrics: { pm25: 1 } }).reading?.ts).toBe(NOW);
  });

  test('shape errors and another sensor’s id refuse everything', () => {
    for (const input of [
      null,
      42,
      'x',
      [],
      { ts: NOW },
      { ts: NOW, metrics: [] },
      { ts: NOW, metrics: {} },
    ]) {
      const result = judge(input);
      expect(result.reading).toBeUndefined();
      expect(result.rejected.length).toBeGreaterThan(0);
    }
    expect(judge({ sensorId: 's-2', ts: NOW, metrics: { pm25: 1 } }).rejected[0]?.code).toBe(
      'sensor_mismatch',
    );
  });

  test('a reading whose every metric is bad keeps nothing', () => {
    const result = judge({ ts: NOW, metrics: { pm25: -999, rh: 300 } });
    expect(result.reading).toBeUndefined();
    expect(result.rejected.map((r) => r.code)).toEqual(['sentinel', 'out_of_range']);
  });
});

test('timestamps and unit conversions', () => {
  expect(parseTimestamp('2026-11-22T12:00:00.123Z')).toBe(NOW + 123);
  expect(parseTimestamp(-5)).toBeUndefined();
  expect(tidy(fahrenheitToCelsius(69.8))).toBe(21);
  expect(pascalToHectopascal(101_325)).toBe(1_013.25);
  expect(compassToDegrees('NNE')).toBe(22.5);
  expect(compassToDegrees('X')).toBeUndefined();
});
