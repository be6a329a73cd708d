import type { Anomaly, AnomalyKind, FaultShadowVerdict, FaultVerdict, Prediction } from '@sensormesh/bus';
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
  REFERENCE_CHANNELS,
  TARGETS,
  WINDOW_HOURS,
} from '@sensormesh/models';
import type { HourCache } from './cache.ts';
import type { NetworkReference } from './reference.ts';
import type { LoadedModel, ModelSet } from './registry.ts';

const HOUR_MS = 3_600_000;
const C = CHANNELS.length;
const K = FAULT_CLASSES.length;
const R = REFERENCE_CHANNELS.length;

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
  /** While a fault shadow runs: both models' verdicts on every window either of them flagged. */
  shadowFaults: FaultShadowVerdict[];
  skipped: { sensorId: string; hour: number; reason: SkipReason; detail?: string }[];
  /** Sensor-hours with a forecast from the active model. */
  forecasts: number;
}

/** Sensor-hours per slice of forecasts handed to `emit` (about 500 messages). */
const EMIT_SLICE = 250;

/** Deterministic ids: a re-score (redelivery, another replica) replaces, never adds. */
export const predictionId = (version: string, sensorId: string, metric: string, ts: number) =>
  `${version}:${sensorId}:${metric}:${ts}`;
export const anomalyId = (version: string, sensorId: string, metric: string, ts: number, kind: string) =>
  `${version}:${sensorId}:${metric}:${ts}:${kind}`;
export const faultShadowId = (shadowVersion: string, sensorId: string, metric: string, ts: number) =>
  `${shadowVersion}:${sensorId}:${metric}:${ts}`;

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
 * Whether hourly metric values (oldest first) end in a window the forecast model takes: the last
 * WINDOW_HOURS hours pass the one gap policy (fillForward) with every channel present. Lets a
 * producer such as the demo choose data the predictor will forecast from.
 */
export function forecastable(hours: ReadonlyArray<Readonly<Record<string, number>>>): boolean {
  if (hours.length < WINDOW_HOURS) return false;
  const window = new Float32Array(WINDOW_HOURS * C).fill(Number.NaN);
  hours.slice(-WINDOW_HOURS).forEach((metrics, h) => {
    CHANNELS.forEach((name, c) => {
      const value = metrics[name];
      if (value !== undefined && Number.isFinite(value)) window[h * C + c] = value;
    });
  });
  return !fillForward(window).some(Number.isNaN);
}

/**
 * Cuts every due sensor's window from the cache with the models' one gap policy (fillForward:
 * gaps up to 6 h filled, longer ones mean no forecast), packs the complete ones and scores them in
 * one onnxruntime run per model.
 */
export function packForecasts(
  cache: HourCache,
  due: readonly DueWindow[],
  network?: NetworkReference,
  scratch?: PackScratch,
) {
  const size = WINDOW_HOURS * C;
  const buffers = scratch ? scratch.reserve(due.length) : newBuffers(due.length);
  const { window, origin } = buffers;
  const reference = buffers.reference;
  const kept: DueWindow[] = [];
  const skipped: ScoreResult['skipped'] = [];
  for (const item of due) {
    // Cut straight into the packed input; most windows are complete and need no copy.
    const at = kept.length * size;
    // The cache knows which hours are complete, so a window is not scanned value by value for gaps.
    const gaps = !cache.window(item.sensorId, item.hour, WINDOW_HOURS, window, at);
    // Made from the own values before the gap fill touches them, as in training.
    network?.forecastWindow(item.hour, window, at, !gaps, reference, kept.length * WINDOW_HOURS * R);
    if (gaps) {
      const filled = fillForward(window.slice(at, at + size));
      let still = false;
      for (let k = 0; k < size && !still; k++) still = Number.isNaN(filled[k] as number);
      if (still) {
        skipped.push({ ...item, ...whyIncomplete(filled) });
        continue;
      }
      window.set(filled, at);
    }
    origin[kept.length] = item.hour;
    kept.push(item);
  }
  return {
    kept,
    skipped,
    window: window.subarray(0, kept.length * size),
    origin: origin.subarray(0, kept.length),
    reference: network ? reference.subarray(0, kept.length * WINDOW_HOURS * R) : undefined,
  };
}

function newBuffers(windows: number) {
  return {
    window: new Float32Array(windows * WINDOW_HOURS * C),
    origin: new Float32Array(windows),
    reference: new Float32Array(windows * WINDOW_HOURS * R),
  };
}

/**
 * Input buffers reused from pass to pass (a pass of 1,000 windows is 3.5 MB that would otherwise be
 * allocated, zeroed and collected every time). The caller must be done with one pass's inputs (its
 * onnxruntime run resolved) before packing the next: the predictor's passes run one at a time.
 */
export class PackScratch {
  private buffers = newBuffers(0);

  reserve(windows: number) {
    if (this.buffers.origin.length < windows)
      this.buffers = newBuffers(Math.max(windows, this.buffers.origin.length * 2));
    return this.buffers;
  }
}

/** To 0.01 µg/m³: finer is noise, and it halves the messages (72 steps × 3 quantiles each). */
const round2 = (value: number) => Math.round(value * 100) / 100;

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
          p10: round2(raw[at] as number),
          p50: round2(raw[at + 1] as number),
          p90: round2(raw[at + 2] as number),
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
  const M = FAULT_CHANNELS.length;
  const size = FAULT_WINDOW * C;
  const rows = new Float32Array(due.length * size);
  const items: { sensorId: string; hour: number; metric: number; row: number }[] = [];
  due.forEach((item, d) => {
    cache.window(item.sensorId, item.hour, FAULT_WINDOW, rows, d * size);
    for (let m = 0; m < M; m++) {
      const channel = FAULT_CHANNELS[m] as number;
      for (let i = 0; i < FAULT_WINDOW; i++) {
        const v = rows[d * size + i * C + channel] as number;
        // A metric with no value in the whole window is not one this sensor measures.
        if (!Number.isNaN(v)) {
          items.push({ sensorId: item.sensorId, hour: item.hour, metric: m, row: d });
          break;
        }
      }
    }
  });
  const n = items.length;
  const values = new Float32Array(n * FAULT_WINDOW);
  const refs = new Float32Array(n * FAULT_WINDOW);
  const metric = new BigInt64Array(n);
  // Items grouped by hour and metric, so each network column is looked up once per group.
  const groups = new Map<number, number[]>();
  items.forEach((item, k) => {
    metric[k] = BigInt(item.metric);
    const key = item.hour * M + item.metric;
    const group = groups.get(key);
    if (group) group.push(k);
    else groups.set(key, [k]);
  });
  for (const [key, members] of groups) {
    const hour = Math.floor(key / M);
    const channel = FAULT_CHANNELS[key - hour * M] as number;
    for (let i = 0; i < FAULT_WINDOW; i++) {
      const column = reference.medianTable(hour - FAULT_WINDOW + 1 + i, channel);
      for (const k of members) {
        const own = rows[(items[k] as { row: number }).row * size + i * C + channel] as number;
        values[k * FAULT_WINDOW + i] = own;
        refs[k * FAULT_WINDOW + i] = column.get(0, own);
      }
    }
  }
  return { items, values, reference: refs, metric };
}

/**
 * Per window, the class index (in FAULT_CLASSES) of the likeliest fault when p(none) is under the
 * model's threshold, else 0 (none).
 */
export function faultFlags(
  model: LoadedModel<FaultScorer>,
  probabilities: Float32Array,
  n: number,
): Int8Array {
  const threshold = model.scorer.threshold;
  const flags = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    if (!((probabilities[i * K] as number) < threshold)) continue;
    let best = 1;
    for (let k = 2; k < K; k++)
      if ((probabilities[i * K + k] as number) > (probabilities[i * K + best] as number)) best = k;
    flags[i] = best;
  }
  return flags;
}

/** 1 − p(none) of window `i`, in [0, 1]. */
const faultScore = (probabilities: Float32Array, i: number) =>
  Math.min(1, Math.max(0, 1 - (probabilities[i * K] as number)));

/** The window's last hour: its time, metric, observed mean and network reference (when known). */
function lastHourOf(packed: ReturnType<typeof packFaults>, i: number) {
  const item = packed.items[i] as (typeof packed.items)[number];
  const last = (i + 1) * FAULT_WINDOW - 1;
  const value = packed.values[last] as number;
  const expected = packed.reference[last] as number;
  return {
    sensorId: item.sensorId,
    metric: FAULT_METRICS[item.metric] as string,
    ts: item.hour * HOUR_MS,
    ...(Number.isFinite(value) ? { value } : {}),
    ...(Number.isFinite(expected) ? { expected } : {}),
  };
}

/** Flags the windows whose p(none) is under the model's threshold, naming the likeliest fault. */
export function anomalyMessages(
  model: LoadedModel<FaultScorer>,
  packed: ReturnType<typeof packFaults>,
  probabilities: Float32Array,
  detectedAt: number,
  flags = faultFlags(model, probabilities, packed.items.length),
): Anomaly[] {
  const out: Anomaly[] = [];
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] === 0) continue;
    const kind = FAULT_CLASSES[flags[i] as number] as AnomalyKind;
    const { sensorId, metric, ts, ...observed } = lastHourOf(packed, i);
    out.push({
      id: anomalyId(model.version, sensorId, metric, ts, kind),
      sensorId,
      metric,
      ts,
      kind,
      score: faultScore(probabilities, i),
      ...observed,
      modelVersion: model.version,
      threshold: 1 - model.scorer.threshold,
      windowStart: ts - (FAULT_WINDOW - 1) * HOUR_MS,
      detectedAt,
    });
  }
  return out;
}

/**
 * The shadow comparison of one pass: for every window that the active or the shadow model flagged,
 * both verdicts (kind when flagged, score either way). Windows neither flagged are left out.
 */
export function faultShadowMessages(
  shadow: { model: LoadedModel<FaultScorer>; probabilities: Float32Array; flags: Int8Array },
  active: { model: LoadedModel<FaultScorer>; probabilities: Float32Array; flags: Int8Array } | undefined,
  packed: ReturnType<typeof packFaults>,
  detectedAt: number,
): FaultShadowVerdict[] {
  const verdict = (flags: Int8Array, probabilities: Float32Array, i: number): FaultVerdict => ({
    ...(flags[i] ? { kind: FAULT_CLASSES[flags[i] as number] as AnomalyKind } : {}),
    score: faultScore(probabilities, i),
  });
  const out: FaultShadowVerdict[] = [];
  for (let i = 0; i < shadow.flags.length; i++) {
    if (shadow.flags[i] === 0 && (active?.flags[i] ?? 0) === 0) continue;
    const hour = lastHourOf(packed, i);
    out.push({
      id: faultShadowId(shadow.model.version, hour.sensorId, hour.metric, hour.ts),
      ...hour,
      shadowVersion: shadow.model.version,
      shadow: verdict(shadow.flags, shadow.probabilities, i),
      ...(active
        ? {
            activeVersion: active.model.version,
            active: verdict(active.flags, active.probabilities, i),
          }
        : {}),
      detectedAt,
    });
  }
  return out;
}

/** Scores due sensor-hours with the forecast models (active and shadow): one onnxruntime run each. */
export async function scoreForecasts(
  cache: HourCache,
  network: NetworkReference,
  models: ModelSet,
  due: readonly DueWindow[],
  now: number,
  emit?: (messages: Prediction[]) => void,
  scratch?: PackScratch,
): Promise<Pick<ScoreResult, 'predictions' | 'skipped' | 'forecasts'>> {
  const result: Pick<ScoreResult, 'predictions' | 'skipped' | 'forecasts'> = {
    predictions: [],
    skipped: [],
    forecasts: 0,
  };
  if (!models.forecast && !models.forecastShadow) {
    for (const item of due) result.skipped.push({ ...item, reason: 'no_model' });
    return result;
  }
  const packed = packForecasts(cache, due, network, scratch);
  result.skipped = packed.skipped;
  if (packed.kept.length === 0) return result;
  const per = TARGETS.length * HORIZONS * QUANTILES.length;
  for (const [model, role] of [
    [models.forecast, 'active'],
    [models.forecastShadow, 'shadow'],
  ] as const) {
    if (!model) continue;
    const raw = await model.scorer.scorePacked(packed.window, packed.origin, packed.reference);
    // Handed out in slices: the first sensors' forecasts can be on their way while the rest are built.
    for (let a = 0; a < packed.kept.length; a += EMIT_SLICE) {
      const b = Math.min(packed.kept.length, a + EMIT_SLICE);
      const messages = forecastMessages(
        model,
        role,
        packed.kept.slice(a, b),
        raw.subarray(a * per, b * per),
        now,
      );
      emit?.(messages);
      for (const message of messages) result.predictions.push(message);
    }
    if (role === 'active') result.forecasts = packed.kept.length;
  }
  return result;
}

/**
 * Scores every (sensor, metric) window of the due hours with the fault model in one onnxruntime run,
 * and, when a shadow fault version is registered, with it too over the same packed windows.
 */
export async function scoreFaults(
  cache: HourCache,
  reference: NetworkReference,
  models: ModelSet,
  due: readonly DueWindow[],
  now: number,
): Promise<Pick<ScoreResult, 'anomalies' | 'shadowFaults'>> {
  const result: Pick<ScoreResult, 'anomalies' | 'shadowFaults'> = { anomalies: [], shadowFaults: [] };
  if (!models.faults && !models.faultsShadow) return result;
  const packed = packFaults(cache, reference, due);
  const n = packed.items.length;
  if (n === 0) return result;
  const run = async (model: LoadedModel<FaultScorer>) => {
    const probabilities = await model.scorer.scorePacked(packed.values, packed.reference, packed.metric);
    return { model, probabilities, flags: faultFlags(model, probabilities, n) };
  };
  const active = models.faults ? await run(models.faults) : undefined;
  if (active) {
    result.anomalies = anomalyMessages(active.model, packed, active.probabilities, now, active.flags);
  }
  if (models.faultsShadow) {
    result.shadowFaults = faultShadowMessages(await run(models.faultsShadow), active, packed, now);
  }
  return result;
}

/** Both steps; the worker runs them apart so forecasts are published before fault scoring. */
export async function scoreDue(
  cache: HourCache,
  reference: NetworkReference,
  models: ModelSet,
  due: readonly DueWindow[],
  now: number,
): Promise<ScoreResult> {
  const forecasts = await scoreForecasts(cache, reference, models, due, now);
  const faults = await scoreFaults(cache, reference, models, due, now);
  return { ...forecasts, ...faults };
}
