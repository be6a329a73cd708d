import { describe, expect, test } from 'bun:test';
import { parseSensorCommunity } from './sensor-community.ts';
import { payload } from './test-fixtures/payloads.ts';

const AT = Date.UTC(2026, 10, 22, 12);
const meta = (node: string, pin?: string) => ({
  receivedAt: AT,
  node,
  ...(pin ? { pin } : {}),
  sensorFor: (id: string) => (id === node ? 'sc-1' : undefined),
});
const reading = (metrics: Record<string, number>, node = 'esp8266-13597771') => ({
  sensorId: 'sc-1',
  ts: AT,
  metrics,
  vendorId: node,
});

describe('Sensor.Community (airRohr)', () => {
  test('native SDS011 push (X-PIN 1): P1 → pm10, P2 → pm25, strings read, stamped with receive time', async () => {
    const parsed = parseSensorCommunity(
      await payload('sensor_community/02_push_sds011_pin1_constructed.json'),
      meta('esp8266-13597771', '1'),
    );
    expect(parsed).toEqual({ readings: [reading({ pm10: 12.4, pm25: 7.83 })], problems: [] });
  });

  test('native BME280 push (X-PIN 11): pressure Pa → hPa', async () => {
    const parsed = parseSensorCommunity(
      await payload('sensor_community/03_push_bme280_pin11_constructed.json'),
      meta('esp8266-13597771', '11'),
    );
    expect(parsed).toEqual({
      readings: [reading({ temp: 21.37, pressure: 1005.255, rh: 48.22 })],
      problems: [],
    });
  });

  test('custom API body of current firmware: prefixes stripped, diagnostics ignored', async () => {
    const parsed = parseSensorCommunity(
      await payload('sensor_community/04_custom_api_post_current_firmware_constructed.json'),
      meta('esp8266-13597771'),
    );
    expect(parsed).toEqual({
      readings: [reading({ pm10: 12.4, pm25: 7.83, temp: 21.37, pressure: 1005.255, rh: 48.22 })],
      problems: [],
    });
  });

  test('custom API body of 2017 firmware (SDS011 + DHT22, X-PIN 0)', async () => {
    const parsed = parseSensorCommunity(
      await payload('sensor_community/01_custom_api_post_verbatim.json'),
      meta('esp8266-3394227', '0'),
    );
    expect(parsed).toEqual({
      readings: [reading({ pm10: 4.3, pm25: 3.53, temp: 20.8, rh: 52.3 }, 'esp8266-3394227')],
      problems: [],
    });
  });

  test('sentinels, non-numbers, PPD42NS counts and unknown types are problems, never metrics', () => {
    const values = [
      { value_type: 'SDS_P1', value: '-1' },
      { value_type: 'BME280_temperature', value: '-128' },
      { value_type: 'humidity', value: 'nan' },
      { value_type: 'PPD_P1', value: '1234.00' },
      { value_type: 'mystery', value: '1' },
      { value_type: 'SDS_P2', value: '-999' },
      { value_type: 'BME280_pressure', value: '101325' },
    ];
    const parsed = parseSensorCommunity({ sensordatavalues: values }, meta('esp8266-1'));
    expect(parsed.readings).toEqual([reading({ pressure: 1013.25 }, 'esp8266-1')]);
    expect(parsed.problems.map((p) => [p.field, p.code])).toEqual([
      ['PPD_P1', 'unmapped'],
      ['mystery', 'unmapped'],
      ['SDS_P1', 'sentinel'],
      ['BME280_temperature', 'sentinel'],
      ['humidity', 'not_a_number'],
      ['SDS_P2', 'sentinel'],
    ]);
    const ppd = parseSensorCommunity(
      { sensordatavalues: [{ value_type: 'P1', value: '812.00' }] },
      meta('esp8266-1', '5'),
    );
    expect(ppd.readings).toEqual([]);
    expect(ppd.problems[0]?.code).toBe('unmapped');
  });

  test('a body that is not a push is one problem', () => {
    expect(parseSensorCommunity({ nope: 1 }, meta('esp8266-1')).problems[0]?.code).toBe('bad_shape');
  });
});
