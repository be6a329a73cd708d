import { computeAqi } from '@sensormesh/aqi';
import { AppError, isAppError } from '@sensormesh/errors';
import {
  CHANNELS,
  FAULT_WINDOW,
  type Forecast,
  type ForecastWindow,
  fillForward,
  packForecastWindows,
  REFERENCE_CHANNELS,
  WINDOW_HOURS,
} from '@sensormesh/models';
import {
  countAnomalies,
  findFeedbackTarget,
  hourlySums,
  insertFeedback,
  latestPredictions,
  listFeedback,
  type PredictionRow,
  predictionHistory,
} from '@sensormesh/store';
import type { Static } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import type { ServingModels } from '../models-admin/scorers.ts';
import type {
  FaultsQuery,
  FeedbackBody,
  ForecastHour,
  HistoryQuery,
  PredictResult,
  PredictWindow,
  SensorForecast,
} from './model.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const iso = (ms: number) => new Date(ms).toISOString();
const toMs = (time: number | string) => (typeof time === 'number' ? time : Date.parse(time));

const FAULT_KINDS: Record<string, string> = {
  spike: 'a short jump away from the sensor’s own level and its neighbours’',
  stuck: 'the same value hour after hour while the air changes',
  drift: 'a slowly growing offset from the network reference',
  dropout: 'hours without a reading',
  out_of_range: 'a value outside the metric’s plausible range',
};

function invalid(message: string, details?: unknown): AppError {
  return new AppError('VALIDATION_FAILED', message, { details });
}

/** One hour of a forecast with the US EPA AQI of its medians (each hourly median read as a NowCast). */
function forecastHour(
  origin: number,
  hours: number,
  pm25?: Quantiles,
  pm10?: Quantiles,
): Static<typeof ForecastHour> {
  const aqi = computeAqi('us-epa', {
    ...(pm25 ? { pm25: { nowcast: pm25.p50 } } : {}),
    ...(pm10 ? { pm10: { nowcast: pm10.p50 } } : {}),
  });
  return {
    hours,
    at: iso(origin + hours * HOUR_MS),
    pm25: pm25 ?? null,
    pm10: pm10 ?? null,
    aqi: aqi
      ? {
          value: aqi.value,
          category: { key: aqi.category.key, name: aqi.category.name, colour: aqi.category.colour },
          dominant: aqi.dominant,
        }
      : null,
  };
}
type Quantiles = { p10: number; p50: number; p90: number };

function quantilesAt(row: PredictionRow | undefined, hours: number): Quantiles | undefined {
  if (!row) return undefined;
  const k = row.horizons.indexOf(hours * 60);
  return k < 0
    ? undefined
    : { p10: row.p10[k] as number, p50: row.p50[k] as number, p90: row.p90[k] as number };
}

/** Renames "window 0" in a scorer's message to the window's place in the request. */
function placed(error: unknown, index: number): unknown {
  if (!isAppError(error)) return error;
  return new AppError(error.code, error.message.replace(/^window \d+/, `window ${index}`), {
    details: { ...(error.details as object), window: index },
  });
}

/** Forecasts, on-demand scoring, feedback and fault counts for the predictions routes. */
export function predictionsService(
  ctx: GatewayContext,
  serving: ServingModels,
  now: () => number = Date.now,
) {
  const { store } = ctx;

  /** The sensor's stored window ending at `origin`, filled by the models' gap policy, or a 422 saying why not. */
  async function storedWindow(sensorId: string, origin: number): Promise<number[][]> {
    const from = origin - (WINDOW_HOURS - 1) * HOUR_MS;
    const sums = await hourlySums(store)({
      from,
      to: origin + HOUR_MS,
      metrics: [...CHANNELS],
      sensorIds: [sensorId],
    });
    const raw = new Float32Array(WINDOW_HOURS * CHANNELS.length).fill(Number.NaN);
    for (const s of sums) {
      if (s.count > 0)
        raw[((s.bucket - from) / HOUR_MS) * CHANNELS.length + CHANNELS.indexOf(s.metric)] = s.sum / s.count;
    }
    const filled = fillForward(raw);
    const missing = CHANNELS.filter((_, c) =>
      Array.from({ length: WINDOW_HOURS }, (_, h) => filled[h * CHANNELS.length + c]).some(Number.isNaN),
    );
    if (missing.length > 0) {
      throw invalid(`${sensorId} has no complete ${WINDOW_HOURS}-hour window ending ${iso(origin)}`, {
        reason: 'gaps longer than 6 h, or channels the sensor does not report',
        channels: missing,
      });
    }
    return Array.from({ length: WINDOW_HOURS }, (_, h) =>
      Array.from(filled.subarray(h * CHANNELS.length, (h + 1) * CHANNELS.length)),
    );
  }

  return {
    /** The newest forecast per sensor (origins in the last 48 h), with intervals and AQI per hour. */
    async current(query: { hours?: number; sensor?: string }) {
      const hours = query.hours ?? 24;
      const rows = await latestPredictions(store)({
        since: now() - 2 * DAY_MS,
        ...(query.sensor ? { sensorIds: [query.sensor] } : {}),
      });
      const bySensor = new Map<string, PredictionRow[]>();
      for (const row of rows) bySensor.set(row.sensorId, [...(bySensor.get(row.sensorId) ?? []), row]);
      const sensors: SensorForecast[] = [...bySensor].map(([sensorId, own]) => {
        const origin = Math.max(...own.map((r) => r.ts));
        const at = own.filter((r) => r.ts === origin);
        const pm25 = at.find((r) => r.metric === 'pm25');
        const pm10 = at.find((r) => r.metric === 'pm10');
        return {
          sensorId,
          origin: iso(origin),
          modelVersion: (pm25 ?? pm10 ?? (at[0] as PredictionRow)).modelVersion,
          horizons: Array.from({ length: hours }, (_, i) =>
            forecastHour(origin, i + 1, quantilesAt(pm25, i + 1), quantilesAt(pm10, i + 1)),
          ),
        };
      });
      return { generatedAt: iso(now()), standard: 'us-epa' as const, sensors };
    },

    async history(query: Static<typeof HistoryQuery>) {
      const from = toMs(query.from);
      const to = toMs(query.to);
      if (!(to > from)) throw invalid('`to` must be after `from`', { from: query.from, to: query.to });
      await ctx.sensors.get(query.sensor);
      const rows = await predictionHistory(store)({
        sensorId: query.sensor,
        from,
        to,
        limit: query.limit ?? 500,
        ...(query.metric ? { metric: query.metric } : {}),
        // The active model's unless a shadow candidate's are asked for: never the two mixed.
        role: query.role ?? 'active',
      });
      return {
        sensorId: query.sensor,
        from: iso(from),
        to: iso(to),
        forecasts: rows.map((r) => ({
          id: r.id,
          sensorId: r.sensorId,
          metric: r.metric,
          origin: iso(r.ts),
          model: r.model,
          modelVersion: r.modelVersion,
          role: r.role,
          createdAt: iso(r.createdAt),
          horizons: r.horizons.map((minutes, k) => ({
            minutes,
            p10: r.p10[k] as number,
            p50: r.p50[k] as number,
            p90: r.p90[k] as number,
          })),
        })),
      };
    },

    /** Scores windows with the active models: all forecast windows in one run, all fault windows in another. */
    async predict(windows: readonly PredictWindow[]): Promise<PredictResult[]> {
      const forecasts: { index: number; window: ForecastWindow; sensorId: string | null }[] = [];
      const faults: {
        index: number;
        metric: string;
        values: (number | null)[];
        reference?: (number | null)[];
      }[] = [];
      for (const [index, w] of windows.entries()) {
        if (w.sensorId) await ctx.sensors.get(w.sensorId);
        if ((w.model ?? 'forecast') === 'faults') {
          if (!w.metric || !w.values)
            throw invalid(`window ${index}: the fault model needs \`metric\` and \`values\``);
          if ([...w.values, ...(w.reference ?? [])].some((v) => Array.isArray(v))) {
            throw invalid(`window ${index}: fault values and reference are numbers or null`);
          }
          faults.push({
            index,
            metric: w.metric,
            values: w.values as (number | null)[],
            ...(w.reference ? { reference: w.reference as (number | null)[] } : {}),
          });
          continue;
        }
        const origin =
          w.origin !== undefined ? toMs(w.origin) : Math.floor(now() / HOUR_MS) * HOUR_MS - HOUR_MS;
        let values: number[][];
        if (w.reference?.some((row) => !Array.isArray(row))) {
          throw invalid(
            `window ${index}: a forecast reference is 72 rows of [${REFERENCE_CHANNELS.join(', ')}] (or of [pm25, pm10] alone)`,
          );
        }
        if (w.values) {
          if (w.origin === undefined)
            throw invalid(`window ${index}: \`origin\` (the last row's hour) is required with \`values\``);
          if (w.values.some((row) => !Array.isArray(row))) {
            throw invalid(
              `window ${index}: forecast values are ${WINDOW_HOURS} rows of ${CHANNELS.length} numbers`,
            );
          }
          values = w.values as number[][];
        } else if (w.sensorId) {
          values = await storedWindow(w.sensorId, origin);
        } else {
          throw invalid(`window ${index}: give \`values\` or a \`sensorId\` whose stored hours are scored`);
        }
        const window: ForecastWindow = {
          originTs: origin,
          values,
          ...(w.reference ? { reference: w.reference as (number | null)[][] } : {}),
        };
        try {
          packForecastWindows([window]);
        } catch (error) {
          throw placed(error, index);
        }
        forecasts.push({ index, window, sensorId: w.sensorId ?? null });
      }
      const results = new Array<PredictResult>(windows.length);
      if (forecasts.length > 0) {
        const model = await serving.forecast();
        if (!model) throw new AppError('UNAVAILABLE', 'no active forecast model');
        const scored: Forecast[] = await model.scorer.score(forecasts.map((f) => f.window));
        forecasts.forEach((f, i) => {
          const forecast = scored[i] as Forecast;
          results[f.index] = {
            model: model.name,
            modelVersion: model.version,
            origin: iso(f.window.originTs),
            sensorId: f.sensorId,
            forecast: forecast.pm25.map((_, h) =>
              forecastHour(f.window.originTs, h + 1, forecast.pm25[h], forecast.pm10[h]),
            ),
          };
        });
      }
      if (faults.length > 0) {
        const model = await serving.faults();
        if (!model) throw new AppError('UNAVAILABLE', 'no active fault model');
        for (const f of faults) {
          if (f.values.length !== FAULT_WINDOW) {
            throw invalid(
              `window ${f.index}: values must hold ${FAULT_WINDOW} hourly values, got ${f.values.length}`,
            );
          }
        }
        let verdicts: Awaited<ReturnType<typeof model.scorer.score>>;
        try {
          verdicts = await model.scorer.score(faults);
        } catch (error) {
          const match = isAppError(error) ? /^window (\d+)/.exec(error.message) : null;
          throw match ? placed(error, faults[Number(match[1])]?.index ?? 0) : error;
        }
        faults.forEach((f, i) => {
          results[f.index] = {
            model: model.name,
            modelVersion: model.version,
            origin: null,
            sensorId: windows[f.index]?.sensorId ?? null,
            faults: verdicts[i] as NonNullable<PredictResult['faults']>,
          };
        });
      }
      return results;
    },

    /** Records someone's verdict on a stored prediction or anomaly (404 for an unknown id). */
    async feedback(body: Static<typeof FeedbackBody>, userId: string) {
      if (body.kind && body.target !== 'anomaly')
        throw invalid('`kind` corrects an anomaly, not a prediction');
      const target = await findFeedbackTarget(store)(body.target, body.id);
      if (!target)
        throw new AppError('NOT_FOUND', `no ${body.target} ${body.id}`, { details: { id: body.id } });
      const createdAt = now();
      const row = {
        id: crypto.randomUUID(),
        target: body.target,
        targetId: body.id,
        sensorId: target.sensorId,
        metric: target.metric,
        ts: target.ts,
        verdict: body.verdict,
        kind: body.kind ?? '',
        note: body.note ?? '',
        userId,
        createdAt,
      };
      await insertFeedback(store)([row]);
      return {
        id: row.id,
        target: row.target,
        targetId: row.targetId,
        sensorId: row.sensorId,
        verdict: row.verdict,
        kind: body.kind ?? null,
        createdAt: iso(createdAt),
      };
    },

    /** Fault kinds with their counts over [from, to) and what feedback said of them. */
    async faults(query: Static<typeof FaultsQuery>) {
      const to = query.to !== undefined ? toMs(query.to) : now();
      const from = query.from !== undefined ? toMs(query.from) : to - 7 * DAY_MS;
      if (!(to > from)) throw invalid('`to` must be after `from`');
      if (query.sensor) await ctx.sensors.get(query.sensor);
      const counts = await countAnomalies(store)({
        from,
        to,
        ...(query.sensor ? { sensorIds: [query.sensor] } : {}),
      });
      const verdicts = (await listFeedback(store)({ target: 'anomaly', since: from })).filter(
        (f) => f.ts < to && (!query.sensor || f.sensorId === query.sensor),
      );
      const kinds = Object.entries(FAULT_KINDS).map(([kind, description]) => {
        // Anomaly ids end with their kind (services/predictor: <version>:<sensor>:<metric>:<ts>:<kind>).
        const about = verdicts.filter((f) => f.targetId.endsWith(`:${kind}`));
        return {
          kind,
          description,
          count: counts.byKind[kind] ?? 0,
          confirmed: about.filter((f) => f.verdict === 'right').length,
          rejected: about.filter((f) => f.verdict === 'wrong').length,
        };
      });
      return { from: iso(from), to: iso(to), total: counts.total, kinds, bySensor: counts.bySensor };
    },
  };
}
