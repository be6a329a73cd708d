import { pascalToHectopascal } from '@sensormesh/readings';
import type { Adapter, ParseMeta, ParseResult, Problem } from './adapter.ts';
import { isObject, metricCollector, type ValueOptions } from './vendor-values.ts';

/** What the Sensor.Community parser knows besides the body: the X-PIN header, when sent. */
export interface SensorCommunityMeta extends ParseMeta {
  /** The node, `esp8266-<chipid>` / `esp32-<hex>` (X-Sensor header, else the body's esp8266id). */
  node: string;
  pin?: string;
}

/** Node ids as the firmware writes them in X-Sensor. */
export const NODE_ID = /^esp(8266|32)-[0-9A-Fa-f]{1,24}$/;

// The firmware's own failure values (it should skip them, but a buggy build may not): PM -1, temperature -128.
const PM = { sentinels: [-1] };
const TEMPERATURE = { sentinels: [-128] };

/** Value types (sensor prefix stripped) → canonical metric and conversion. P1 = PM10, P2 = PM2.5 always. */
const VALUE_TYPES: Record<string, { metric: string } & ValueOptions> = {
  P0: { metric: 'pm1', ...PM },
  P1: { metric: 'pm10', ...PM },
  P2: { metric: 'pm25', ...PM },
  temperature: { metric: 'temp', ...TEMPERATURE },
  humidity: { metric: 'rh' },
  // BMP/BME pressure arrives in Pa ("100525.50"); the catalogue is hPa.
  pressure: { metric: 'pressure', convert: pascalToHectopascal },
  co2_ppm: { metric: 'co2' },
  noise_LAeq: { metric: 'noise' },
};

/**
 * Sent but not readings: loop diagnostics, GPS position and time, PPD42NS pulse timings, values
 * outside the catalogue (PM4, SPS30 number concentrations, noise min/max, sea-level pressure, which
 * the firmware derives). Skipped silently, never errors.
 */
const IGNORED = new Set([
  'samples',
  'min_micro',
  'max_micro',
  'interval',
  'signal',
  'lat',
  'lon',
  'height',
  'date',
  'time',
  'timestamp',
  'durP1',
  'ratioP1',
  'durP2',
  'ratioP2',
  'P4',
  'N05',
  'N1',
  'N25',
  'N4',
  'N10',
  'TS',
  'noise_LA_min',
  'noise_LA_max',
  'pressure_at_sealevel',
]);

const PREFIXED = /^([A-Z][A-Z0-9]*)_(.+)$/;
// PPD42NS reports particle counts per litre under P1/P2, not mass: those must never become pm10/pm25.
const COUNT_PIN = '5';
const COUNT_PREFIX = 'PPD';

/**
 * Parses an airRohr push: the native one (one sensor per POST, value types without prefix, X-PIN
 * naming the sensor type) and the "custom API" one (all sensors, prefixed value types such as
 * SDS_P1, diagnostics at the end). Values are strings; the firmware sends no time, so the reading
 * is stamped with the receive time.
 */
export function parseSensorCommunity(payload: unknown, meta: SensorCommunityMeta): ParseResult {
  const values = isObject(payload) ? payload.sensordatavalues : undefined;
  if (!Array.isArray(values)) {
    return {
      readings: [],
      problems: [
        { field: 'sensordatavalues', code: 'bad_shape', message: 'sensordatavalues must be an array' },
      ],
    };
  }
  const sensorId = meta.sensorFor(meta.node);
  const collector = metricCollector();
  const problems: Problem[] = [];
  for (const [index, entry] of values.entries()) {
    const valueType = isObject(entry) && typeof entry.value_type === 'string' ? entry.value_type : undefined;
    if (!isObject(entry) || valueType === undefined) {
      problems.push({
        field: `sensordatavalues[${index}]`,
        code: 'bad_shape',
        message: 'expected {value_type, value}',
      });
      continue;
    }
    const [, prefix, rest] = PREFIXED.exec(valueType) ?? [];
    const name = rest ?? valueType;
    if (IGNORED.has(name) || prefix === 'GPS') continue;
    const mapping = VALUE_TYPES[name];
    if (!mapping || prefix === COUNT_PREFIX || (meta.pin === COUNT_PIN && name.startsWith('P'))) {
      problems.push({ field: valueType, code: 'unmapped', message: `${valueType} has no catalogue metric` });
      continue;
    }
    const { metric, ...options } = mapping;
    collector.add(metric, entry.value, valueType, options);
  }
  problems.push(...collector.problems);
  const metrics = collector.metrics;
  if (sensorId === undefined || Object.keys(metrics).length === 0) return { readings: [], problems };
  return {
    readings: [{ sensorId, ts: meta.receivedAt, metrics, vendorId: meta.node }],
    problems: problems.map((problem) => ({ ...problem, reading: 0 })),
  };
}

/** The Sensor.Community (airRohr) push format. */
export const sensorCommunityAdapter: Adapter<SensorCommunityMeta> = {
  source: 'adapter:sensor-community',
  parse: parseSensorCommunity,
};
