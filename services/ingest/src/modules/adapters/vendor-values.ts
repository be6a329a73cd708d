import { SENTINELS, tidy } from '@sensormesh/readings';
import type { Problem } from './adapter.ts';

// Plain decimals as firmware and CSV feeds write them ("12.40", "-71", "1e3"); nothing else.
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Options for reading one vendor value into a canonical metric. */
export interface ValueOptions {
  /** Unit conversion into the catalogue's unit, applied after the sentinel check. */
  convert?: (value: number) => number;
  /** The vendor's own "no reading" values, on top of the shared ones (-999 …). */
  sentinels?: readonly number[];
}

/**
 * Collects one reading's metrics from vendor values: absent values (null, '', undefined) are
 * skipped, numeric strings read, sentinels and non-numbers turned into problems (checked on the
 * vendor's raw value, before conversion would hide them), conversions rounded to 6 digits.
 */
export function metricCollector() {
  const metrics: Record<string, number> = {};
  const problems: Problem[] = [];
  return {
    metrics,
    problems,
    /** Adds `raw` (vendor field `field`) as `metric`; the first value for a metric wins. */
    add(metric: string, raw: unknown, field: string, options: ValueOptions = {}): void {
      if (raw === null || raw === undefined || raw === '') return;
      const value = typeof raw === 'string' && DECIMAL.test(raw.trim()) ? Number(raw) : raw;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        const shown = typeof raw === 'string' ? `"${raw.slice(0, 32)}"` : typeof raw;
        problems.push({ field, code: 'not_a_number', message: `${field} is not a finite number: ${shown}` });
        return;
      }
      if (SENTINELS.has(value) || options.sentinels?.includes(value)) {
        problems.push({
          field,
          code: 'sentinel',
          message: `${field} = ${value} is the vendor's "no data" value`,
        });
        return;
      }
      if (metric in metrics) {
        problems.push({
          field,
          code: 'duplicate_metric',
          message: `${metric} was already given by another field`,
        });
        return;
      }
      metrics[metric] = options.convert ? tidy(options.convert(value)) : value;
    },
  };
}

/** Parses "vendorId=sensorId, …" (adapter env settings) into a map. */
export function parseSensorMap(spec: string | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of (spec ?? '').split(',')) {
    const [vendorId, sensorId] = pair.split('=').map((part) => part.trim());
    if (vendorId && sensorId) map.set(vendorId, sensorId);
  }
  return map;
}

/** True for a plain JSON object. */
export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
