import { fahrenheitToCelsius } from '@sensormesh/readings';
import type { IngestContext } from '../../context.ts';
import { type Adapter, type ParseMeta, type ParseResult, submitPulled } from './adapter.ts';
import { checkpoint } from './checkpoint.ts';
import { fetchJson, type PullAdapter } from './poller.ts';
import { isObject, metricCollector } from './vendor-values.ts';

/** The fields a poll asks for; sensor_index always comes first in the answer. */
export const PURPLEAIR_FIELDS = [
  'last_seen',
  'humidity',
  'temperature',
  'pressure',
  'pm1.0_atm',
  'pm2.5_atm',
  'pm10.0_atm',
];
const MODIFIED_SINCE = 'modified_since';

/**
 * One PurpleAir sensor record → a reading at `last_seen`. PM is the outdoor CF=ATM value (the
 * unlabelled A+B average only when _atm was not asked for); temperature °F → °C and humidity are
 * the housing's own values (PurpleAir's "about 8 °F warmer, 4 % drier" is an estimate, not applied);
 * pressure is hPa already.
 */
function sensorReading(
  row: Record<string, unknown>,
  meta: ParseMeta,
  fallbackTs: unknown,
  result: ParseResult,
) {
  const vendorId = String(row.sensor_index ?? '');
  const sensorId = meta.sensorFor(vendorId);
  if (sensorId === undefined) {
    result.problems.push({
      field: 'sensor_index',
      code: 'unknown_device',
      message: `sensor ${vendorId} is not mapped`,
    });
    return;
  }
  const collector = metricCollector();
  collector.add('pm1', row['pm1.0_atm'] ?? row['pm1.0'], 'pm1.0_atm');
  collector.add('pm25', row['pm2.5_atm'] ?? row['pm2.5'], 'pm2.5_atm');
  collector.add('pm10', row['pm10.0_atm'] ?? row['pm10.0'], 'pm10.0_atm');
  collector.add('temp', row.temperature, 'temperature', { convert: fahrenheitToCelsius });
  collector.add('rh', row.humidity, 'humidity');
  collector.add('pressure', row.pressure, 'pressure');
  // Rows with no measurement (a location listing) are not readings and need no timestamp.
  if (Object.keys(collector.metrics).length === 0) {
    result.problems.push(...collector.problems);
    return;
  }
  const seconds = typeof row.last_seen === 'number' ? row.last_seen : fallbackTs;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds <= 0) {
    result.problems.push({
      field: 'last_seen',
      code: 'bad_timestamp',
      message: `sensor ${vendorId} has no last_seen`,
    });
    return;
  }
  const at = result.readings.length;
  result.readings.push({ sensorId, ts: seconds * 1_000, metrics: collector.metrics, vendorId });
  result.problems.push(...collector.problems.map((problem) => ({ ...problem, reading: at })));
}

/** Parses PurpleAir v1 answers: `GET /v1/sensors` (fields + data rows) or `GET /v1/sensors/:index` ({sensor}). */
export function parsePurpleAir(payload: unknown, meta: ParseMeta): ParseResult {
  const result: ParseResult = { readings: [], problems: [] };
  if (!isObject(payload))
    return { ...result, problems: [{ field: '', code: 'bad_shape', message: 'not an object' }] };
  if (isObject(payload.sensor)) {
    sensorReading(payload.sensor, meta, payload.data_time_stamp, result);
    return result;
  }
  const fields = payload.fields;
  if (!Array.isArray(fields) || !Array.isArray(payload.data)) {
    return {
      ...result,
      problems: [{ field: '', code: 'bad_shape', message: 'expected {fields, data} or {sensor}' }],
    };
  }
  for (const row of payload.data) {
    if (!Array.isArray(row)) continue;
    const record = Object.fromEntries(fields.map((field, i) => [String(field), row[i]]));
    sensorReading(record, meta, payload.data_time_stamp, result);
  }
  return result;
}

/** The PurpleAir v1 format. */
export const purpleAirAdapter: Adapter = { source: 'adapter:purpleair', parse: parsePurpleAir };

/** Where and how to poll PurpleAir. */
export interface PurpleAirOptions {
  baseUrl: string;
  apiKey: string;
  /** PurpleAir sensor_index → registered sensor id. */
  sensors: ReadonlyMap<string, string>;
  intervalMs: number;
  timeoutMs: number;
}

/**
 * Polls `GET /v1/sensors` for the mapped sensors. The answer's data_time_stamp becomes the next
 * `modified_since` (unchanged sensors are not even sent), and each sensor's last_seen is its
 * checkpoint: a reading not newer is skipped, so a restart ingests nothing twice.
 */
export function purpleAirPoller(ctx: IngestContext, options: PurpleAirOptions): PullAdapter {
  const marks = checkpoint(ctx.redis, 'purpleair');
  const source = purpleAirAdapter.source;
  return {
    name: 'purpleair',
    intervalMs: options.intervalMs,
    async poll(signal) {
      const seen = await marks.load();
      const url = new URL('/v1/sensors', options.baseUrl);
      url.searchParams.set('fields', PURPLEAIR_FIELDS.join(','));
      url.searchParams.set('sensor_indices', [...options.sensors.keys()].join(','));
      const since = seen.get(MODIFIED_SINCE);
      if (since !== undefined) url.searchParams.set(MODIFIED_SINCE, String(since));
      const payload = await fetchJson(url, {
        headers: { 'x-api-key': options.apiKey },
        signal,
        timeoutMs: options.timeoutMs,
      });
      const parsed = parsePurpleAir(payload, {
        receivedAt: Date.now(),
        sensorFor: (id) => options.sensors.get(id),
      });
      const fresh = parsed.readings.filter((r) => r.ts > (seen.get(r.vendorId ?? '') ?? 0));
      await submitPulled(ctx, { readings: fresh, problems: parsed.problems }, source);
      const next = new Map(fresh.map((r) => [r.vendorId ?? '', r.ts]));
      if (isObject(payload) && typeof payload.data_time_stamp === 'number')
        next.set(MODIFIED_SINCE, payload.data_time_stamp);
      await marks.advance(next);
    },
  };
}
