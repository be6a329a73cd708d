import type { ModelCard } from './card.ts';
import { CHANNELS, type Dataset } from './data/dataset.ts';
import { completeHours, fillForward } from './data/gaps.ts';
import { injectFaults } from './data/inject.ts';
import { type FaultScores, scoreFaults } from './fault/metrics.ts';
import { metricReferences, metricSeries } from './fault/samples.ts';
import { FAULT_CLASSES, FAULT_METRICS, FAULT_WINDOW, type MetricScale } from './fault/spec.ts';
import { decide, zscoreDecisions } from './fault/train.ts';
import { referenceSeries } from './forecast/samples.ts';
import { HORIZONS, QUANTILES, REFERENCE_CHANNELS, TARGETS, WINDOW_HOURS } from './forecast/spec.ts';
import { type Climatology, climatologyAt, REPORT_HORIZONS } from './forecast/train.ts';
import type { FaultScorer, ForecastScorer } from './score.ts';

/** The seed the evaluation's fault injection uses: fixed, so every run injects the same faults. */
export const EVALUATION_SEED = 20_170_301;
const BATCH = 4096;

export interface ForecastRow {
  target: string;
  horizon: number;
  points: number;
  mae: { model: number; persistence: number; climatology: number };
  rmse: { model: number; persistence: number; climatology: number };
  coverage: number;
}

/** The forecast model's raw output at origins (station index, grid hour) with complete windows. */
async function scoreOrigins(
  scorer: ForecastScorer,
  dataset: Dataset,
  filled: readonly Float32Array[],
  references: readonly Float32Array[] | undefined,
  points: readonly { s: number; h: number }[],
): Promise<Float32Array> {
  const C = CHANNELS.length;
  const R = REFERENCE_CHANNELS.length;
  const window = new Float32Array(points.length * WINDOW_HOURS * C);
  const origin = new Float32Array(points.length);
  const reference = new Float32Array(points.length * WINDOW_HOURS * R).fill(Number.NaN);
  points.forEach(({ s, h }, i) => {
    window.set(
      (filled[s] as Float32Array).subarray((h - WINDOW_HOURS + 1) * C, (h + 1) * C),
      i * WINDOW_HOURS * C,
    );
    if (references)
      reference.set(
        (references[s] as Float32Array).subarray((h - WINDOW_HOURS + 1) * R, (h + 1) * R),
        i * WINDOW_HOURS * R,
      );
    origin[i] = dataset.startHour + h;
  });
  return scorer.scorePacked(window, origin, reference);
}

/** A forecast someone judged: one station's target from one origin (epoch hours). */
export interface JudgedForecast {
  station: string;
  target: string;
  originHour: number;
}

/** The model's p50 on judged forecasts: MAE over every observed hour 1–72 h after their origins. */
export interface JudgedScore {
  /** Judged forecasts the dataset holds a complete window and at least one outcome for. */
  forecasts: number;
  points: number;
  /** µg/m³; null when no forecast could be scored. */
  mae: number | null;
}

/**
 * Scores the forecast model again where people judged its forecasts (feedback on predictions), as
 * the predictor would have made them: same window, reference and gap policy. A judged forecast
 * whose window is not complete in `dataset`, or with no outcome in it, is left out.
 */
export async function evaluateJudged(
  scorer: ForecastScorer,
  dataset: Dataset,
  judged: readonly JudgedForecast[],
): Promise<JudgedScore> {
  const C = CHANNELS.length;
  const Q = QUANTILES.length;
  const filled = dataset.stations.map((series) => fillForward(series.values));
  const complete = filled.map((values) => completeHours(values));
  const index = new Map(dataset.stations.map((series, s) => [series.station, s]));
  const points: { s: number; h: number; t: number }[] = [];
  for (const j of judged) {
    const s = index.get(j.station);
    const t = TARGETS.indexOf(j.target as (typeof TARGETS)[number]);
    const h = j.originHour - dataset.startHour;
    if (s === undefined || t < 0 || !Number.isInteger(h) || h < WINDOW_HOURS - 1 || h >= dataset.hours)
      continue;
    const flags = complete[s] as Uint8Array;
    let whole = true;
    for (let k = h - WINDOW_HOURS + 1; k <= h && whole; k++) whole = flags[k] === 1;
    if (whole) points.push({ s, h, t });
  }
  if (points.length === 0) return { forecasts: 0, points: 0, mae: null };
  const references = referenceSeries(dataset);
  let forecasts = 0;
  let n = 0;
  let abs = 0;
  for (let a = 0; a < points.length; a += BATCH) {
    const batch = points.slice(a, a + BATCH);
    const out = await scoreOrigins(scorer, dataset, filled, references, batch);
    batch.forEach(({ s, h, t }, i) => {
      const series = dataset.stations[s] as Dataset['stations'][number];
      const c = CHANNELS.indexOf(TARGETS[t] as string);
      let seen = 0;
      for (let k = 1; k <= HORIZONS && h + k < dataset.hours; k++) {
        const truth = series.values[(h + k) * C + c] as number;
        if (Number.isNaN(truth)) continue;
        abs += Math.abs((out[((i * TARGETS.length + t) * HORIZONS + k - 1) * Q + 1] as number) - truth);
        seen++;
      }
      n += seen;
      if (seen > 0) forecasts++;
    });
  }
  return { forecasts, points: n, mae: n ? Math.round((abs / n) * 1000) / 1000 : null };
}

/**
 * Scores the forecast model over every complete window of a dataset (one origin per hour),
 * beside persistence and the card's hour-of-day climatology, on the same points. The reference
 * input is the median of the other stations (as the predictor supplies it), unless `withoutReference`.
 */
export async function evaluateForecast(
  scorer: ForecastScorer,
  card: ModelCard,
  dataset: Dataset,
  options: { withoutReference?: boolean } = {},
): Promise<ForecastRow[]> {
  const references = options.withoutReference ? undefined : referenceSeries(dataset);
  const clim = card.details.climatology as Climatology;
  const C = CHANNELS.length;
  const Q = QUANTILES.length;
  const acc = TARGETS.flatMap((target) =>
    REPORT_HORIZONS.map((horizon) => ({ target, horizon, n: 0, abs: [0, 0, 0], sq: [0, 0, 0], covered: 0 })),
  );
  const pending: { s: number; h: number }[] = [];
  const filled = dataset.stations.map((series) => fillForward(series.values));
  const flush = async () => {
    if (pending.length === 0) return;
    const out = await scoreOrigins(scorer, dataset, filled, references, pending);
    pending.forEach(({ s, h }, i) => {
      const series = dataset.stations[s] as Dataset['stations'][number];
      for (const a of acc) {
        const t = TARGETS.indexOf(a.target as (typeof TARGETS)[number]);
        const c = CHANNELS.indexOf(a.target);
        if (h + a.horizon >= dataset.hours) continue;
        const truth = series.values[(h + a.horizon) * C + c] as number;
        if (Number.isNaN(truth)) continue;
        const at = ((i * TARGETS.length + t) * HORIZONS + a.horizon - 1) * Q;
        const guesses = [
          out[at + 1] as number,
          (filled[s] as Float32Array)[h * C + c] as number,
          climatologyAt(clim, series.station, a.target, dataset.startHour + h + a.horizon),
        ];
        a.n++;
        guesses.forEach((guess, k) => {
          a.abs[k] = (a.abs[k] as number) + Math.abs(guess - truth);
          a.sq[k] = (a.sq[k] as number) + (guess - truth) ** 2;
        });
        if (truth >= (out[at] as number) && truth <= (out[at + 2] as number)) a.covered++;
      }
    });
    pending.length = 0;
  };
  for (let s = 0; s < dataset.stations.length; s++) {
    const complete = completeHours(filled[s] as Float32Array);
    let run = 0;
    for (let h = 0; h < dataset.hours; h++) {
      run = complete[h] ? run + 1 : 0;
      if (run < WINDOW_HOURS) continue;
      pending.push({ s, h });
      if (pending.length >= BATCH) await flush();
    }
  }
  await flush();
  const r = (value: number) => Math.round(value * 1000) / 1000;
  const triple = (values: number[], f: (v: number) => number) => ({
    model: r(f(values[0] as number)),
    persistence: r(f(values[1] as number)),
    climatology: r(f(values[2] as number)),
  });
  return acc.map((a) => ({
    target: a.target,
    horizon: a.horizon,
    points: a.n,
    mae: triple(a.abs, (sum) => sum / a.n),
    rmse: triple(a.sq, (sum) => Math.sqrt(sum / a.n)),
    coverage: r(a.covered / a.n),
  }));
}

export interface FaultEvaluation {
  seed: number;
  injected: number;
  model: FaultScores & { threshold: number };
  zscore: FaultScores & { threshold: number };
}

/** Injects faults into the dataset with the documented generator and scores the model and the z-score baseline. */
export async function evaluateFaults(
  scorer: FaultScorer,
  card: ModelCard,
  dataset: Dataset,
): Promise<FaultEvaluation> {
  const scales = card.details.scales as MetricScale[];
  const injection = injectFaults(dataset, scales, { seed: EVALUATION_SEED });
  const series = metricSeries(injection.dataset);
  const references = metricReferences(injection.dataset);
  const K = FAULT_CLASSES.length;
  const decisions = FAULT_METRICS.map(() => dataset.stations.map(() => new Int8Array(dataset.hours)));
  const pending: { mi: number; s: number; h: number }[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const values = new Float32Array(pending.length * FAULT_WINDOW);
    const reference = new Float32Array(pending.length * FAULT_WINDOW);
    const metric = new BigInt64Array(pending.length);
    pending.forEach(({ mi, s, h }, i) => {
      const start = h - FAULT_WINDOW + 1;
      values.set(
        ((series[mi] as Float32Array[])[s] as Float32Array).subarray(start, h + 1),
        i * FAULT_WINDOW,
      );
      reference.set(
        ((references[mi] as Float32Array[])[s] as Float32Array).subarray(start, h + 1),
        i * FAULT_WINDOW,
      );
      metric[i] = BigInt(mi);
    });
    const probs = await scorer.scorePacked(values, reference, metric);
    pending.forEach(({ mi, s, h }, i) => {
      (decisions[mi]?.[s] as Int8Array)[h] = decide(probs, i * K, scorer.threshold);
    });
    pending.length = 0;
  };
  for (let mi = 0; mi < FAULT_METRICS.length; mi++) {
    for (let s = 0; s < dataset.stations.length; s++) {
      for (let h = FAULT_WINDOW - 1; h < dataset.hours; h++) {
        pending.push({ mi, s, h });
        if (pending.length >= BATCH) await flush();
      }
    }
  }
  await flush();
  const zThreshold = (card.metrics as { zscore: { threshold: number } }).zscore.threshold;
  return {
    seed: EVALUATION_SEED,
    injected: injection.faults.length,
    model: { ...scoreFaults(injection, decisions), threshold: scorer.threshold },
    zscore: {
      ...scoreFaults(injection, zscoreDecisions(injection.dataset, zThreshold, 0)),
      threshold: zThreshold,
    },
  };
}

/** The goals, checked on an evaluation. */
export function goals(forecast: ForecastRow[], faults: FaultEvaluation) {
  const row = (target: string, horizon: number) =>
    forecast.find((r) => r.target === target && r.horizon === horizon);
  const out: Record<string, { goal: string; value: number; met: boolean }> = {};
  for (const target of TARGETS) {
    const h4 = row(target, 4);
    const h24 = row(target, 24);
    const h72 = row(target, 72);
    if (h4) {
      const value = h4.mae.model / h4.mae.persistence;
      out[`${target}_4h`] = { goal: 'MAE ≤ 0.85 × persistence', value: round(value), met: value <= 0.85 };
    }
    if (h24) {
      const value = h24.mae.model / Math.min(h24.mae.persistence, h24.mae.climatology);
      out[`${target}_24h`] = {
        goal: 'MAE ≤ 0.85 × min(persistence, climatology)',
        value: round(value),
        met: value <= 0.85,
      };
    }
    if (h72) {
      const value = h72.mae.model / h72.mae.climatology;
      out[`${target}_72h`] = { goal: 'MAE ≤ 0.9 × climatology', value: round(value), met: value <= 0.9 };
    }
    const coverage = forecast.filter((r) => r.target === target);
    const worst = coverage.reduce((a, b) =>
      Math.abs(b.coverage - 0.8) > Math.abs(a.coverage - 0.8) ? b : a,
    );
    out[`${target}_coverage`] = {
      goal: 'p10–p90 covers 75–85% (worst reported horizon)',
      value: worst.coverage,
      met: coverage.every((r) => r.coverage >= 0.75 && r.coverage <= 0.85),
    };
  }
  out.faults_f1 = {
    goal: 'kind-aware F1 ≥ 0.9',
    value: round(faults.model.kindF1),
    met: faults.model.kindF1 >= 0.9,
  };
  out.faults_false_alarms = {
    goal: 'false alarms < 0.5% of clean hours',
    value: round(faults.model.falseAlarmRate),
    met: faults.model.falseAlarmRate < 0.005,
  };
  out.faults_vs_zscore = {
    goal: 'F1 above the rolling z-score baseline',
    value: round(faults.model.f1 - faults.zscore.f1),
    met: faults.model.f1 > faults.zscore.f1,
  };
  return out;
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;
