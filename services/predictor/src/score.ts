import type { Anomaly, AnomalyKind, Prediction } from '@sensormesh/bus';
import {
  CHANNELS,
  FAULT_CHANNELS,
  FAULT_CLASSES,
  FAULT_METRICS,
  FAULT_WINDOW,
  type FaultScorer,
  type ForecastScorer,
  fillForward,
  HORIZONS,
  QUANTILES,
  TARGETS,
  WINDOW_HOURS,
} from '@sensormesh/models';
import type { HourCache } from './cache.ts';
import type { NetworkReference } from './reference.ts';
import type { LoadedModel, ModelSet } from './registry.ts';

const HOUR_MS = 3_600_000;
const C = CHANNELS.length;
const K = FAULT_CLASSES.length;

/** Why a sensor-hour got no forecast: said, counted and logged, never papered over. */
export type SkipReason = 'short_history' | 'gap' | 'missing_metric' | 'no_model';

/** A sensor-hour to score: the hour that just closed is the window's last row. */
export interface DueWindow {
  sensorId: string;
  hour: number;
}

/** What one scoring pass produced. */
export interface ScoreResult {
  predictions: Prediction[];
  anomalies: Anomaly[];
  skipped: { sensorId: string; hour: number; reason: SkipReason; detail?: string }[];
  /** Sensor-hours with a forecast from the active model. */
  forecasts: number;
}

/** Deterministic ids: a re-score (redelivery, another replica) replaces, never adds. */
export const predictionId = (version: string, sensorId: string, metric: string, ts: number) =>
  `${version}:${sensorId}:${metric}:${ts}`;
export const anomalyId = (version: string, sensorId: string, metric: string, ts: number, kind: string) =>
  `${version}:${sensorId}:${metric}:${ts}:${kind}`;

/** Why a filled window still has holes: no value at all on a channel, history too short, or a long gap. */
function whyIncomplete(window: Float32Array): { reason: SkipReason; detail?: string } {
  for (let c = 0; c < C; c++) {
    let any = false;
    for (let h = 0; h < WINDOW_HOURS && !any; h++) any = !Number.isNaN(window[h * C + c] as number);
    if (!any) return { reason: 'missing_metric', detail: CHANNELS[c] };
  }
  for (let c = 0; c < C; c++) {
    if (Number.isNaN(window[c] as number)) return { reason: 'short_history', detail: CHANNELS[c] };
  }
  for (let c = 0; c < C; c++) {
    for (let h = 0; h < WINDOW_HOURS; h++) {
      if (Number.isNaN(window[h * C + c] as number)) return { reason: 'gap', detail: CHANNELS[c] };
    }
  }
  return { reason: 'gap' };
}

/**
 * Cuts every due sensor's window from the cache with the models' one gap policy (fillForward:
 * gaps up to 6 h filled, longer ones mean no forecast), packs the complete ones and scores them in
 * one onnxruntime run per model.
 */
export function packForecasts(cache: HourCache, due: readonly DueWindow[]) {
  const raw = new Float32Array(WINDOW_HOURS * C);
  const window = new Float32Array(due.length * WINDOW_HOURS * C);
  const origin = new Float32Array(due.length);
  const kept: DueWindow[] = [];
  const skipped: ScoreResult['skipped'] = [];
  for (const item of due) {
    cache.window(item.sensorId, item.hour, WINDOW_HOURS, raw);
    const filled = fillForward(raw);
    if (filled.some(Number.isNaN)) {
      skipped.push({ ...item, ...whyIncomplete(filled) });
      continue;
    }
    window.set(filled, kept.length * WINDOW_HOURS * C);
    origin[kept.length] = item.hour;
    kept.push(item);
  }
  return {
    kept,
    skipped,
    window: window.subarray(0, kept.length * WINDOW_HOURS * C),
    origin: origin.subarray(0, kept.length),
  };
}

/** Turns the forecast model's raw output into one bus Prediction per target and sensor-hour. */
export function forecastMessages(
  model: LoadedModel<ForecastScorer>,
  role: 'active' | 'shadow',
  kept: readonly DueWindow[],
  raw: Float32Array,
  createdAt: number,
): Prediction[] {
  const Q = QUANTILES.length;
  const out: Prediction[] = [];
  kept.forEach((item, i) => {
    const ts = item.hour * HOUR_MS;
    TARGETS.forEach((metric, t) => {
      const horizons = new Array(HORIZONS);
      for (let h = 0; h < HORIZONS; h++) {
        const at = ((i * TARGETS.length + t) * HORIZONS + h) * Q;
        horizons[h] = {
          minutes: (h + 1) * 60,
          p10: raw[at] as number,
          p50: raw[at + 1] as number,
          p90: raw[at + 2] as number,
        };
      }
      out.push({
        id: predictionId(model.version, item.sensorId, metric, ts),
        sensorId: item.sensorId,
        metric,
        ts,
        horizons,
        model: model.name,
        modelVersion: model.version,
        role,
        createdAt,
      });
    });
  });
  return out;
}

/** The fault windows of due sensor-hours: one per metric the sensor reported in its window. */
export function packFaults(cache: HourCache, reference: NetworkReference, due: readonly DueWindow[]) {
  const items: { sensorId: string; hour: number; metric: number }[] = [];
  const values: number[] = [];
  const refs: number[] = [];
  const own = new Float32Array(FAULT_WINDOW);
  for (const item of due) {
    FAULT_CHANNELS.forEach((channel, m) => {
      let any = false;
      for (let i = 0; i < FAULT_WINDOW; i++) {
        own[i] = cache.value(item.sensorId, item.hour - FAULT_WINDOW + 1 + i, channel);
        if (!Number.isNaN(own[i] as number)) any = true;
      }
      if (!any) return; // not a metric this sensor measures
      items.push({ ...item, metric: m });
      for (let i = 0; i < FAULT_WINDOW; i++) {
        values.push(own[i] as number);
        refs.push(reference.median(item.hour - FAULT_WINDOW + 1 + i, channel, own[i] as number));
      }
    });
  }
  return {
    items,
    values: Float32Array.from(values),
    reference: Float32Array.from(refs),
    metric: BigInt64Array.from(items.map((item) => BigInt(item.metric))),
  };
}

/** Flags the windows whose p(none) is under the model's threshold, naming the likeliest fault. */
export function anomalyMessages(
  model: LoadedModel<FaultScorer>,
  packed: ReturnType<typeof packFaults>,
  probabilities: Float32Array,
  detectedAt: number,
): Anomaly[] {
  const threshold = model.scorer.threshold;
  const out: Anomaly[] = [];
  packed.items.forEach((item, i) => {
    const none = probabilities[i * K] as number;
    if (!(none < threshold)) return;
    let best = 1;
    for (let k = 2; k < K; k++)
      if ((probabilities[i * K + k] as number) > (probabilities[i * K + best] as number)) best = k;
    const kind = FAULT_CLASSES[best] as AnomalyKind;
    const metric = FAULT_METRICS[item.metric] as string;
    const ts = item.hour * HOUR_MS;
    const last = (i + 1) * FAULT_WINDOW - 1;
    const value = packed.values[last] as number;
    const expected = packed.reference[last] as number;
    out.push({
      id: anomalyId(model.version, item.sensorId, metric, ts, kind),
      sensorId: item.sensorId,
      metric,
      ts,
      kind,
      score: Math.min(1, Math.max(0, 1 - none)),
      ...(Number.isFinite(value) ? { value } : {}),
      ...(Number.isFinite(expected) ? { expected } : {}),
      modelVersion: model.version,
      threshold: 1 - threshold,
      windowStart: ts - (FAULT_WINDOW - 1) * HOUR_MS,
      detectedAt,
    });
  });
  return out;
}

/** Scores due sensor-hours with every loaded model: one onnxruntime run per model. */
export async function scoreDue(
  cache: HourCache,
  reference: NetworkReference,
  models: ModelSet,
  due: readonly DueWindow[],
  now: number,
): Promise<ScoreResult> {
  const result: ScoreResult = { predictions: [], anomalies: [], skipped: [], forecasts: 0 };
  if (due.length === 0) return result;
  if (models.forecast || models.forecastShadow) {
    const packed = packForecasts(cache, due);
    result.skipped.push(...packed.skipped);
    if (packed.kept.length > 0) {
      for (const [model, role] of [
        [models.forecast, 'active'],
        [models.forecastShadow, 'shadow'],
      ] as const) {
        if (!model) continue;
        const raw = await model.scorer.scorePacked(packed.window, packed.origin);
        result.predictions.push(...forecastMessages(model, role, packed.kept, raw, now));
        if (role === 'active') result.forecasts = packed.kept.length;
      }
    }
  } else {
    for (const item of due) result.skipped.push({ ...item, reason: 'no_model' });
  }
  if (models.faults) {
    const packed = packFaults(cache, reference, due);
    if (packed.items.length > 0) {
      const probabilities = await models.faults.scorer.scorePacked(
        packed.values,
        packed.reference,
        packed.metric,
      );
      result.anomalies.push(...anomalyMessages(models.faults, packed, probabilities, now));
    }
  }
  return result;
}
