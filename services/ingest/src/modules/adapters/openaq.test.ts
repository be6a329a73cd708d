import { describe, expect, test } from 'bun:test';
import { openAqConversion, parseOpenAq } from './openaq.ts';
import { payload } from './test-fixtures/payloads.ts';

const meta = {
  receivedAt: 0,
  openaqSensorId: '3917',
  sensorFor: (id: string) => (id === '3917' ? 'oaq-1' : undefined),
};
const at = (iso: string) => Date.parse(iso);
const pm25 = (ts: string, value: number) => ({
  sensorId: 'oaq-1',
  vendorId: '3917',
  ts: at(ts),
  metrics: { pm25: value },
});

describe('OpenAQ v3', () => {
  test('hourly data (older shape): stamped at the end of each period', async () => {
    const parsed = parseOpenAq(await payload('openaq/01_sensor_hours_verbatim.json'), meta);
    expect(parsed).toEqual({
      readings: [pm25('2023-10-16T13:00:00Z', 6), pm25('2023-10-16T14:00:00Z', 7.5)],
      problems: [],
    });
  });

  test('raw measurements and daily values', async () => {
    expect(
      parseOpenAq(await payload('openaq/02_sensor_measurements_raw_constructed.json'), meta).readings,
    ).toEqual([pm25('2024-01-15T01:00:00Z', 35), pm25('2024-01-15T02:00:00Z', 41)]);
    expect(parseOpenAq(await payload('openaq/03_sensor_days_constructed.json'), meta).readings).toEqual([
      pm25('2024-01-15T16:00:00Z', 87.4),
    ]);
  });

  test('gases in ppb/ppm become µg/m³ at 25 °C (M / 24.45 L/mol); CO2 stays ppm', () => {
    expect(openAqConversion('no2', 'ppb')?.(10)).toBeCloseTo(18.8162, 4);
    expect(openAqConversion('co', 'ppm')?.(1)).toBeCloseTo(1145.6074, 4);
    expect(openAqConversion('o3', 'ppm')?.(0.05)).toBeCloseTo(98.1558, 4);
    expect(openAqConversion('so2', 'μg/m³')?.(5)).toBe(5);
    expect(openAqConversion('co2', 'ppm')?.(415)).toBe(415);
    expect(openAqConversion('temp', 'f')?.(212)).toBe(100);
    expect(openAqConversion('pm25', 'ppm')).toBeUndefined();
  });

  test('unknown parameters, unknown units, nulls and sentinels are problems or skipped', () => {
    const period = { datetimeTo: { utc: '2024-01-15T01:00:00Z' } };
    const parsed = parseOpenAq(
      {
        results: [
          { value: 3, parameter: { name: 'um003', units: 'particles/cm³' }, period },
          { value: 3, parameter: { name: 'no2', units: 'furlongs' }, period },
          { value: null, parameter: { name: 'pm10', units: 'µg/m³' }, period },
          { value: -999, parameter: { name: 'pm10', units: 'µg/m³' }, period },
          { value: 20, parameter: { name: 'no2', units: 'ppb' }, period },
        ],
      },
      meta,
    );
    expect(parsed.readings).toEqual([
      { sensorId: 'oaq-1', vendorId: '3917', ts: at('2024-01-15T01:00:00Z'), metrics: { no2: 37.632311 } },
    ]);
    expect(parsed.problems.map((p) => p.code)).toEqual(['unmapped', 'unmapped', 'sentinel']);
  });
});
