import { fahrenheitToCelsius, parseTimestamp } from '@sensormesh/readings';
import type { IngestContext } from '../../context.ts';
import { type Adapter, type ParseMeta, type ParseResult, submitPulled } from './adapter.ts';
import { checkpoint } from './checkpoint.ts';
import { MOLAR_MASS, ppbToMicrograms, ppmToMicrograms } from './gas-units.ts';
import { fetchJson, type PullAdapter } from './poller.ts';
import { isObject, metricCollector } from './vendor-values.ts';

/** What the OpenAQ parser knows: which OpenAQ sensor the answer is for (it is in the URL, not the body). */
export interface OpenAqMeta extends ParseMeta {
  openaqSensorId: string;
}

const METRIC_OF: Record<string, string> = {
  pm1: 'pm1',
  pm25: 'pm25',
  pm10: 'pm10',
  no2: 'no2',
  so2: 'so2',
  co: 'co',
  o3: 'o3',
  co2: 'co2',
  temperature: 'temp',
  relativehumidity: 'rh',
  pressure: 'pressure',
  wind_speed: 'wind_speed',
  wind_direction: 'wind_dir',
};

// µ may be the micro sign (U+00B5) or the Greek mu (U+03BC); both mean micro.
const unitKey = (units: unknown) =>
  String(units ?? '')
    .toLowerCase()
    .replace(/\u03bc/g, 'µ')
    .replace(/\s+/g, '')
    .replace('°', '');

/** The conversion from an OpenAQ unit into the catalogue's unit for `metric`, or undefined if unknown. */
export function openAqConversion(metric: string, units: unknown): ((value: number) => number) | undefined {
  const unit = unitKey(units);
  const same = (value: number) => value;
  const molarMass = MOLAR_MASS[metric];
  if (molarMass !== undefined) {
    if (unit === 'µg/m³' || unit === 'µg/m3' || unit === 'ug/m3') return same;
    if (unit === 'ppb') return (value) => ppbToMicrograms(value, molarMass);
    if (unit === 'ppm') return (value) => ppmToMicrograms(value, molarMass);
    return undefined;
  }
  const accepted: Record<string, Record<string, (value: number) => number>> = {
    pm1: { 'µg/m³': same, 'µg/m3': same, 'ug/m3': same },
    pm25: { 'µg/m³': same, 'µg/m3': same, 'ug/m3': same },
    pm10: { 'µg/m³': same, 'µg/m3': same, 'ug/m3': same },
    co2: { ppm: same, ppb: (value) => value / 1_000 },
    temp: { c: same, f: fahrenheitToCelsius },
    rh: { '%': same },
    pressure: { hpa: same, mb: same, mbar: same, pa: (value) => value / 100 },
    wind_speed: { 'm/s': same },
    wind_dir: { deg: same, degrees: same, '': same },
  };
  return accepted[metric]?.[unit];
}

/**
 * Parses an OpenAQ v3 measurements answer (raw, hours, days …). The reading's time is the end of
 * its period (`datetimeTo`): an hourly value labelled 13:00 covers 12:00–13:00, as stations report it.
 * Gases in ppm/ppb become µg/m³ at 25 °C (see gas-units.ts); CO2 stays ppm.
 */
export function parseOpenAq(payload: unknown, meta: OpenAqMeta): ParseResult {
  const result: ParseResult = { readings: [], problems: [] };
  const results = isObject(payload) ? payload.results : undefined;
  if (!Array.isArray(results)) {
    return {
      ...result,
      problems: [{ field: 'results', code: 'bad_shape', message: 'results must be an array' }],
    };
  }
  const sensorId = meta.sensorFor(meta.openaqSensorId);
  if (sensorId === undefined) return result;
  for (const [index, item] of results.entries()) {
    const field = `results[${index}]`;
    const parameter = isObject(item) && isObject(item.parameter) ? item.parameter : {};
    const period = isObject(item) && isObject(item.period) ? item.period : {};
    const to = isObject(period.datetimeTo) ? period.datetimeTo.utc : undefined;
    const ts = parseTimestamp(to);
    if (!isObject(item) || ts === undefined) {
      result.problems.push({
        field: `${field}.period`,
        code: 'bad_timestamp',
        message: 'period.datetimeTo.utc is missing',
      });
      continue;
    }
    const name = String(parameter.name ?? '');
    const metric = METRIC_OF[name];
    const convert = metric && openAqConversion(metric, parameter.units);
    if (!metric || !convert) {
      const why = metric
        ? `unit ${String(parameter.units)} of ${name} is not known`
        : `${name} has no catalogue metric`;
      result.problems.push({ field: `${field}.parameter`, code: 'unmapped', message: why });
      continue;
    }
    const collector = metricCollector();
    collector.add(metric, item.value, `${field}.value`, { convert });
    const keep = Object.keys(collector.metrics).length > 0;
    const at = result.readings.length;
    if (keep)
      result.readings.push({ sensorId, ts, metrics: collector.metrics, vendorId: meta.openaqSensorId });
    result.problems.push(
      ...collector.problems.map((problem) => (keep ? { ...problem, reading: at } : problem)),
    );
  }
  return result;
}

/** The OpenAQ v3 format. */
export const openAqAdapter: Adapter<OpenAqMeta> = { source: 'adapter:openaq', parse: parseOpenAq };

/** Where and how to poll OpenAQ. */
export interface OpenAqOptions {
  baseUrl: string;
  apiKey: string;
  /** OpenAQ sensor id (one parameter at one location) → registered sensor id; several may share one. */
  sensors: ReadonlyMap<string, string>;
  intervalMs: number;
  timeoutMs: number;
  /** How far back the first poll of a sensor reaches. */
  lookbackMs: number;
}

const PAGE_LIMIT = 1_000;
const MAX_PAGES = 10;

/**
 * Polls `GET /v3/sensors/{id}/measurements` from each sensor's checkpoint (its last datetimeTo),
 * page by page; readings not newer than the checkpoint are skipped, and the checkpoint moves after
 * each page is in the stream, so a restart fetches nothing twice.
 */
export function openAqPoller(ctx: IngestContext, options: OpenAqOptions): PullAdapter {
  const marks = checkpoint(ctx.redis, 'openaq');
  return {
    name: 'openaq',
    intervalMs: options.intervalMs,
    async poll(signal) {
      const seen = await marks.load();
      for (const openaqSensorId of options.sensors.keys()) {
        const mark = seen.get(openaqSensorId);
        // The first poll reaches back lookbackMs; the server filters, so nothing is skipped here.
        const from = new Date(mark ?? Date.now() - options.lookbackMs).toISOString();
        let since = mark ?? Number.NEGATIVE_INFINITY;
        for (let page = 1; page <= MAX_PAGES && !signal.aborted; page += 1) {
          const url = new URL(
            `/v3/sensors/${encodeURIComponent(openaqSensorId)}/measurements`,
            options.baseUrl,
          );
          url.searchParams.set('datetime_from', from);
          url.searchParams.set('limit', String(PAGE_LIMIT));
          url.searchParams.set('page', String(page));
          const payload = await fetchJson(url, {
            headers: { 'x-api-key': options.apiKey },
            signal,
            timeoutMs: options.timeoutMs,
          });
          const meta = {
            receivedAt: Date.now(),
            openaqSensorId,
            sensorFor: (id: string) => options.sensors.get(id),
          };
          const parsed = parseOpenAq(payload, meta);
          const fresh = parsed.readings.filter((reading) => reading.ts > since);
          await submitPulled(ctx, { readings: fresh, problems: parsed.problems }, openAqAdapter.source);
          since = Math.max(since, ...fresh.map((reading) => reading.ts));
          if (Number.isFinite(since)) await marks.advance(new Map([[openaqSensorId, since]]));
          const count = isObject(payload) && Array.isArray(payload.results) ? payload.results.length : 0;
          if (count < PAGE_LIMIT) break;
        }
      }
    },
  };
}
