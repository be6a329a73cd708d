import { describe, expect, test } from 'bun:test';
import { parseAirQo } from './airqo.ts';
import { payload } from './test-fixtures/payloads.ts';

const meta = { receivedAt: 0, sensorFor: () => 'aq-kla' };
const at = (iso: string) => Date.parse(iso);

describe('AirQo', () => {
  test('ThingSpeak low-cost feed: PM is the mean of both Plantowers, external T/RH from field8', async () => {
    const parsed = parseAirQo(await payload('airqo/01_thingspeak_feeds_lowcost_verbatim.json'), meta);
    expect(parsed).toEqual({
      readings: [
        {
          sensorId: 'aq-kla',
          vendorId: '12345',
          ts: at('2025-07-10T12:02:15Z'),
          metrics: { pm25: 40, pm10: 46.62, temp: 28.3, rh: 53.21 },
        },
        {
          sensorId: 'aq-kla',
          vendorId: '12345',
          ts: at('2025-07-10T12:03:03Z'),
          metrics: { pm25: 43, pm10: 50.78, temp: 28.31, rh: 53.15 },
        },
      ],
      problems: [],
    });
  });

  test('measurements API v1 (nested values): raw values, nulls skipped, housing values ignored', async () => {
    const parsed = parseAirQo(await payload('airqo/02_measurements_v1_events_doc_verbatim.json'), meta);
    expect(parsed.readings).toEqual([
      {
        sensorId: 'aq-kla',
        vendorId: '',
        ts: at('2021-07-27T16:47:43Z'),
        metrics: { pm25: 48.12, pm10: 58.88, temp: 23.52, rh: 62.68 },
      },
    ]);
    expect(parsed.problems).toEqual([]);
  });

  test('measurements API v2 (flat): the raw value, not the calibrated one', async () => {
    const parsed = parseAirQo(await payload('airqo/03_measurements_v2_events_doc_verbatim.json'), meta);
    expect(parsed.readings).toEqual([
      {
        sensorId: 'aq-kla',
        vendorId: 'aq_11314124142323124124232432',
        ts: at('2022-08-01T08:00:00Z'),
        metrics: { pm25: 69.94911111111111, pm10: 85.963 },
      },
    ]);
  });

  test('the ETL events POST body', async () => {
    const parsed = parseAirQo(await payload('airqo/04_events_post_payload_verbatim.json'), meta);
    expect(parsed).toEqual({
      readings: [
        {
          sensorId: 'aq-kla',
          vendorId: 'device1',
          ts: at('2025-10-30T10:00:00Z'),
          metrics: { pm25: 25, pm10: 45, temp: 25.5, rh: 65 },
        },
      ],
      problems: [],
    });
  });

  test('a Plantower sentinel is left out of the mean and reported', () => {
    const feed = {
      created_at: '2025-07-10T12:02:15Z',
      field1: '-999',
      field3: '40.00',
      field2: 'x',
      field4: '47.00',
    };
    const parsed = parseAirQo({ channel: { id: 1 }, feeds: [feed] }, meta);
    expect(parsed.readings[0]?.metrics).toEqual({ pm25: 40, pm10: 47 });
    expect(parsed.problems.map((p) => [p.field, p.code])).toEqual([
      ['field1', 'sentinel'],
      ['field2', 'not_a_number'],
    ]);
  });
});
