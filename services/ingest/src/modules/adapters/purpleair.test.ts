import { describe, expect, test } from 'bun:test';
import { parsePurpleAir } from './purpleair.ts';
import { payload } from './test-fixtures/payloads.ts';

const sensors = new Map([
  ['131075', 'pa-mariners'],
  ['131077', 'pa-bee'],
  ['131079', 'pa-brskbv'],
  ['131083', 'pa-test'],
]);
const meta = { receivedAt: 0, sensorFor: (id: string) => sensors.get(id) };

describe('PurpleAir v1', () => {
  test('GET /v1/sensors with PM fields: °F → °C, hPa kept, CF=ATM PM, nulls skipped', async () => {
    const parsed = parsePurpleAir(await payload('purpleair/03_get_sensors_pm_fields_constructed.json'), meta);
    expect(parsed.problems).toEqual([]);
    expect(parsed.readings).toEqual([
      {
        sensorId: 'pa-mariners',
        vendorId: '131075',
        ts: 1_704_067_162_000,
        metrics: { pm25: 7.3, temp: 16.666667, rh: 41, pressure: 1012.4 },
      },
      {
        sensorId: 'pa-bee',
        vendorId: '131077',
        ts: 1_704_067_190_000,
        metrics: { pm25: 31.6, temp: 12.222222, rh: 55, pressure: 1015.9 },
      },
      { sensorId: 'pa-brskbv', vendorId: '131079', ts: 1_704_067_020_000, metrics: { pm25: 3.2 } },
    ]);
  });

  test('GET /v1/sensors/:index (one sensor, object layout)', async () => {
    const parsed = parsePurpleAir(await payload('purpleair/02_get_sensor_verbatim.json'), meta);
    expect(parsed).toEqual({
      readings: [
        {
          sensorId: 'pa-mariners',
          vendorId: '131075',
          ts: 1_667_666_162_000,
          metrics: { pm1: 0, pm25: 0, pm10: 0, temp: 20.555556, rh: 33, pressure: 1001.66 },
        },
      ],
      problems: [],
    });
  });

  test('location-only rows make no readings; unmapped sensors and error bodies are problems', async () => {
    const listing = parsePurpleAir(await payload('purpleair/01_get_sensors_verbatim.json'), meta);
    expect(listing.readings).toEqual([]);
    expect(listing.problems).toEqual([
      expect.objectContaining({ code: 'unknown_device', message: 'sensor 30303 is not mapped' }),
    ]);
    const error = parsePurpleAir(await payload('purpleair/04_error_invalid_api_key_verbatim.json'), meta);
    expect(error).toEqual({ readings: [], problems: [expect.objectContaining({ code: 'bad_shape' })] });
  });

  test('a -999 sentinel is refused before conversion would hide it', () => {
    const parsed = parsePurpleAir(
      { sensor: { sensor_index: 131075, last_seen: 1_700_000_000, temperature: -999, humidity: 40 } },
      meta,
    );
    expect(parsed.readings[0]?.metrics).toEqual({ rh: 40 });
    expect(parsed.problems).toEqual([
      expect.objectContaining({ field: 'temperature', code: 'sentinel', reading: 0 }),
    ]);
  });
});
