import { parseTimestamp, tidy } from '@sensormesh/readings';
import type { Adapter, ParseMeta, ParseResult, Problem, VendorReading } from './adapter.ts';
import { isObject, metricCollector } from './vendor-values.ts';

type Collector = ReturnType<typeof metricCollector>;

// field8 of a low-cost or gas device: comma-separated, by position (AirQo ETL). Internal housing
// values (6, 7) and position 3 (wind speed, but vehicle speed on mobile units) are not ambient
// readings, so only the external temperature and humidity are kept.
const EXTRA_TEMPERATURE = 8;
const EXTRA_HUMIDITY = 9;

// The ETL's raw PM2.5/PM10 is the mean of the two Plantower sensors. A sensor's sentinel, non-number
// or negative value is reported and left out, never averaged in; the other sensor then stands alone.
function addMean(collector: Collector, metric: string, sources: Array<[field: string, raw: unknown]>): void {
  const part = metricCollector();
  for (const [field, raw] of sources) part.add(field, raw, field);
  collector.problems.push(...part.problems);
  const values: number[] = [];
  for (const [field, value] of Object.entries(part.metrics)) {
    if (value >= 0) values.push(value);
    else collector.problems.push({ field, code: 'out_of_range', message: `${field} = ${value} is negative` });
  }
  if (values.length === 0) return;
  const fields = sources.map(([field]) => field).join('+');
  collector.add(metric, tidy(values.reduce((sum, value) => sum + value, 0) / values.length), fields);
}

function thingSpeakReading(feed: unknown, index: number, sensorId: string, vendorId: string) {
  const collector = metricCollector();
  if (!isObject(feed))
    return { collector, problem: { field: `feeds[${index}]`, code: 'bad_shape', message: 'not an object' } };
  const ts = parseTimestamp(feed.created_at);
  if (ts === undefined) {
    return {
      collector,
      problem: {
        field: `feeds[${index}].created_at`,
        code: 'bad_timestamp',
        message: 'created_at is not ISO-8601 UTC',
      },
    };
  }
  addMean(collector, 'pm25', [
    ['field1', feed.field1],
    ['field3', feed.field3],
  ]);
  addMean(collector, 'pm10', [
    ['field2', feed.field2],
    ['field4', feed.field4],
  ]);
  const extra = typeof feed.field8 === 'string' ? feed.field8.split(',') : [];
  collector.add('temp', extra[EXTRA_TEMPERATURE]?.trim(), 'field8[8]');
  collector.add('rh', extra[EXTRA_HUMIDITY]?.trim(), 'field8[9]');
  const reading: VendorReading = { sensorId, ts, metrics: collector.metrics, vendorId };
  return { collector, reading };
}

/** A ThingSpeak channel feed of an AirQo low-cost PM device (field1..field8, all strings). */
function parseThingSpeak(payload: Record<string, unknown>, meta: ParseMeta): ParseResult {
  const channel = isObject(payload.channel) ? payload.channel : {};
  const vendorId = String(channel.id ?? '');
  const sensorId = meta.sensorFor(vendorId);
  const feeds = Array.isArray(payload.feeds) ? payload.feeds : [];
  const result: ParseResult = { readings: [], problems: [] };
  if (sensorId === undefined) return result;
  if (typeof channel.field2 === 'string' && !/pm10/i.test(channel.field2)) {
    result.problems.push({
      field: 'channel',
      code: 'unmapped',
      message: 'only low-cost PM channels are mapped (field2 is not PM10)',
    });
    return result;
  }
  for (const [index, feed] of feeds.entries())
    collect(result, thingSpeakReading(feed, index, sensorId, vendorId));
  return result;
}

function collect(
  result: ParseResult,
  item: { collector: Collector; reading?: VendorReading; problem?: Problem },
) {
  if (item.problem) result.problems.push(item.problem);
  const keep = item.reading && Object.keys(item.reading.metrics).length > 0;
  const at = keep ? result.readings.length : undefined;
  if (keep && item.reading) result.readings.push(item.reading);
  result.problems.push(
    ...item.collector.problems.map((problem) => (at === undefined ? problem : { ...problem, reading: at })),
  );
}

const measured = (raw: unknown): unknown => (isObject(raw) ? raw.value : raw);

/**
 * One AirQo measurement: v1 (`time`, nested `{value, calibratedValue}` objects, also the ETL's POST
 * payload) or v2 flat (`timestamp`, `pm2_5_raw_value`). The raw sensor value is stored, never the
 * calibrated one: calibration is a model's output, and the same source must not change meaning.
 */
function measurementReading(item: unknown, index: number, sensorId: string) {
  const collector = metricCollector();
  if (!isObject(item))
    return {
      collector,
      problem: { field: `measurements[${index}]`, code: 'bad_shape', message: 'not an object' },
    };
  const ts = parseTimestamp(item.time ?? item.timestamp);
  if (ts === undefined) {
    return {
      collector,
      problem: {
        field: `measurements[${index}].time`,
        code: 'bad_timestamp',
        message: 'time is not ISO-8601 UTC',
      },
    };
  }
  collector.add('pm25', item.pm2_5_raw_value ?? measured(item.pm2_5), 'pm2_5');
  collector.add('pm10', item.pm10_raw_value ?? measured(item.pm10), 'pm10');
  collector.add('pm1', measured(item.pm1), 'pm1');
  collector.add('no2', measured(item.no2), 'no2');
  collector.add('temp', measured(item.externalTemperature ?? item.temperature), 'externalTemperature');
  collector.add('rh', measured(item.externalHumidity ?? item.humidity), 'externalHumidity');
  const vendorId = String(item.device ?? item.device_number ?? '');
  const reading: VendorReading = { sensorId, ts, metrics: collector.metrics, vendorId };
  return { collector, reading };
}

function parseMeasurements(items: unknown[], meta: ParseMeta): ParseResult {
  const result: ParseResult = { readings: [], problems: [] };
  for (const [index, item] of items.entries()) {
    const vendorId = isObject(item) ? String(item.device ?? item.device_number ?? '') : '';
    const sensorId = meta.sensorFor(vendorId);
    if (sensorId === undefined) {
      result.problems.push({
        field: `measurements[${index}].device`,
        code: 'unknown_device',
        message: `device ${vendorId} is not mapped`,
      });
      continue;
    }
    collect(result, measurementReading(item, index, sensorId));
  }
  return result;
}

/**
 * Parses any AirQo format: a ThingSpeak feed (`{channel, feeds}`), a measurements API answer
 * (`{measurements: [...]}`, v1 or v2) or the ETL's events POST body (an array).
 */
export function parseAirQo(payload: unknown, meta: ParseMeta): ParseResult {
  if (Array.isArray(payload)) return parseMeasurements(payload, meta);
  if (isObject(payload) && Array.isArray(payload.feeds)) return parseThingSpeak(payload, meta);
  if (isObject(payload) && Array.isArray(payload.measurements))
    return parseMeasurements(payload.measurements, meta);
  return {
    readings: [],
    problems: [
      {
        field: '',
        code: 'bad_shape',
        message: 'expected a ThingSpeak feed, a measurements answer or an events array',
      },
    ],
  };
}

/** The AirQo formats. */
export const airQoAdapter: Adapter = { source: 'adapter:airqo', parse: parseAirQo };
