import type { Reading } from '@sensormesh/bus';
import { METRIC_NAME, METRICS, type MetricSpec, SENTINELS } from './metrics.ts';

/** Why a field (or the whole reading) was refused. */
export type RejectionCode =
  | 'bad_shape'
  | 'sensor_mismatch'
  | 'bad_timestamp'
  | 'future_timestamp'
  | 'too_old'
  | 'no_metrics'
  | 'unknown_metric'
  | 'not_a_number'
  | 'not_finite'
  | 'sentinel'
  | 'out_of_range';

/** One refused field, named by its JSON path in the reading (`ts`, `metrics.pm25`). */
export interface FieldRejection {
  field: string;
  code: RejectionCode;
  message: string;
}

/** What ingest knows of the sensor a reading claims to come from. */
export interface SensorInfo {
  id: string;
  /** Metrics beyond the catalogue the sensor declared (e.g. vibration), accepted with a finiteness check only. */
  metrics: readonly string[];
}

/** The clock and limits a reading is judged against. */
export interface ValidationLimits {
  now: number;
  /** Readings older than this are refused (the retention). */
  maxAgeMs: number;
  /** Readings further ahead than this are refused (clock skew allowance, 5 min). */
  maxAheadMs: number;
}

/** The accepted part of a reading (if any field survived) and every refusal with its reason. */
export interface ValidationResult {
  reading?: Reading;
  rejected: FieldRejection[];
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Reads a timestamp given as epoch milliseconds or ISO-8601 with a zone; undefined otherwise. */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  if (typeof value === 'string' && ISO_WITH_ZONE.test(value)) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// A Map, not METRICS[name]: a plain object would answer "constructor" with Object's constructor
// and let it through as a catalogue metric. Also faster on the per-field hot path.
const CATALOGUE: ReadonlyMap<string, MetricSpec> = new Map(Object.entries(METRICS));

function checkValue(name: string, value: unknown, sensor: SensorInfo): FieldRejection | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && !SENTINELS.has(value)) {
    // The hot path: no field name built for a value that passes.
    const spec = CATALOGUE.get(name);
    if (spec ? value >= spec.min && value <= spec.max : sensor.metrics.includes(name)) return undefined;
  }
  const field = `metrics.${name}`;
  if (typeof value !== 'number') {
    return {
      field,
      code: 'not_a_number',
      message: `${name} must be a JSON number, got ${typeof value === 'string' ? `"${value.slice(0, 32)}"` : typeof value}`,
    };
  }
  if (!Number.isFinite(value)) return { field, code: 'not_finite', message: `${name} must be finite` };
  if (SENTINELS.has(value))
    return { field, code: 'sentinel', message: `${name} = ${value} is a vendor "no data" value` };
  const spec = CATALOGUE.get(name);
  if (spec && (value < spec.min || value > spec.max)) {
    return {
      field,
      code: 'out_of_range',
      message: `${name} = ${value} ${spec.unit} is outside ${spec.min}..${spec.max}`,
    };
  }
  if (!spec && !sensor.metrics.includes(name))
    return {
      field,
      code: 'unknown_metric',
      message: `${name} is neither a catalogue metric nor declared by the sensor`,
    };
  return undefined;
}

/**
 * Judges one reading field by field: a bad metric is refused with its reason and the rest kept; a
 * bad timestamp or shape refuses the whole reading. Never throws on any input.
 */
export function validateReading(
  input: unknown,
  sensor: SensorInfo,
  limits: ValidationLimits,
  source: string,
): ValidationResult {
  if (!isObject(input)) {
    return {
      rejected: [{ field: '', code: 'bad_shape', message: 'a reading is a JSON object {ts, metrics}' }],
    };
  }
  const rejected: FieldRejection[] = [];
  let tsRejected = false;
  if (input.sensorId !== undefined && input.sensorId !== sensor.id) {
    return {
      rejected: [
        { field: 'sensorId', code: 'sensor_mismatch', message: `this device may only send for ${sensor.id}` },
      ],
    };
  }
  const ts = parseTimestamp(input.ts);
  if (ts === undefined) {
    rejected.push({
      field: 'ts',
      code: 'bad_timestamp',
      message: 'ts must be epoch milliseconds or ISO-8601 with a time zone',
    });
  } else if (ts > limits.now + limits.maxAheadMs) {
    tsRejected = true;
    rejected.push({
      field: 'ts',
      code: 'future_timestamp',
      message: `ts is ${Math.round((ts - limits.now) / 1_000)} s in the future`,
    });
  } else if (ts < limits.now - limits.maxAgeMs) {
    tsRejected = true;
    rejected.push({ field: 'ts', code: 'too_old', message: 'ts is older than the retention' });
  }
  if (!isObject(input.metrics)) {
    rejected.push({
      field: 'metrics',
      code: 'bad_shape',
      message: 'metrics must be an object of name → number',
    });
    return { rejected };
  }
  const metrics: Record<string, number> = {};
  let kept = 0;
  let refusedMetrics = 0;
  for (const name of Object.keys(input.metrics)) {
    const value = input.metrics[name];
    if (!METRIC_NAME.test(name)) {
      rejected.push({
        field: `metrics.${name.slice(0, 64)}`,
        code: 'unknown_metric',
        message: 'metric names are lower-case letters, digits and _',
      });
      refusedMetrics++;
      continue;
    }
    const problem = checkValue(name, value, sensor);
    if (problem) {
      rejected.push(problem);
      refusedMetrics++;
    } else {
      metrics[name] = value as number;
      kept++;
    }
  }
  if (kept === 0 && refusedMetrics === 0) {
    rejected.push({ field: 'metrics', code: 'no_metrics', message: 'a reading needs at least one metric' });
  }
  if (ts === undefined || tsRejected || kept === 0) {
    return { rejected };
  }
  const messageId =
    typeof input.messageId === 'string' && input.messageId.length <= 128 ? input.messageId : undefined;
  // Assigned, not spread in: an object spread per reading shows in ingest's profile.
  const reading: Reading = { sensorId: sensor.id, ts, metrics, receivedAt: limits.now, source };
  if (messageId) reading.messageId = messageId;
  return { reading, rejected };
}
