// Template for a new vendor adapter: copy to <vendor>.ts, rename, fill the mapping. See ADAPTERS.md.
import type { Adapter, ParseMeta, ParseResult } from './adapter.ts';
import { isObject, metricCollector } from './vendor-values.ts';

/** Parses one <Vendor> payload into canonical readings; never throws on any input. */
export function parseTemplate(payload: unknown, meta: ParseMeta): ParseResult {
  const result: ParseResult = { readings: [], problems: [] };
  const items = isObject(payload) && Array.isArray(payload.items) ? payload.items : undefined;
  if (!items)
    return {
      ...result,
      problems: [{ field: 'items', code: 'bad_shape', message: 'items must be an array' }],
    };
  for (const item of items) {
    if (!isObject(item)) continue;
    const vendorId = String(item.deviceId ?? '');
    const sensorId = meta.sensorFor(vendorId);
    if (sensorId === undefined) continue; // not one of ours
    const collector = metricCollector();
    // One line per vendor field: canonical metric, raw value, vendor field name, unit conversion.
    collector.add('pm25', item.pm25, 'pm25');
    collector.add('temp', item.temperatureF, 'temperatureF', { convert: (f) => ((f - 32) * 5) / 9 });
    const ts = typeof item.time === 'number' ? item.time : meta.receivedAt;
    const at = result.readings.length;
    if (Object.keys(collector.metrics).length > 0)
      result.readings.push({ sensorId, ts, metrics: collector.metrics, vendorId });
    result.problems.push(...collector.problems.map((problem) => ({ ...problem, reading: at })));
  }
  return result;
}

/** The <Vendor> format. */
export const templateAdapter: Adapter = { source: 'adapter:template', parse: parseTemplate };
