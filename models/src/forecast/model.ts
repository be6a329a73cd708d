import { CHANNELS } from '../data/dataset.ts';
import {
  FEATURE_NAMES,
  HORIZONS,
  QUANTILES,
  TARGETS,
  TRANSFORMED,
  WINDOW_FEATURES,
  WINDOW_HOURS,
  windowFeatures,
} from './spec.ts';

/** The trained forecast parameters: a log-space linear model per target and horizon plus interval offsets. */
export interface ForecastParams {
  /** Feature standardisation, FEATURE_NAMES order. */
  mean: Float64Array;
  std: Float64Array;
  /** [FEATURE_NAMES × (TARGETS × HORIZONS)] */
  weights: Float64Array;
  /** [TARGETS × HORIZONS] */
  bias: Float64Array;
  /** [TARGETS × HORIZONS × QUANTILES]: added to the log-space median (0 for the median itself). */
  offsets: Float64Array;
}

/** Values per forecast: TARGETS × HORIZONS × QUANTILES, µg/m³. */
export const FORECAST_SIZE = TARGETS.length * HORIZONS * QUANTILES.length;

/** The log-space medians for already computed features (training and evaluation use this). */
export function medianLog(
  params: ForecastParams,
  features: Float64Array,
  offset: number,
  out: Float64Array,
): void {
  const F = FEATURE_NAMES.length;
  const O = TARGETS.length * HORIZONS;
  out.set(params.bias);
  for (let j = 0; j < F; j++) {
    const z = ((features[offset + j] as number) - (params.mean[j] as number)) / (params.std[j] as number);
    if (z === 0) continue;
    for (let o = 0; o < O; o++) out[o] = (out[o] as number) + z * (params.weights[j * O + o] as number);
  }
}

/** Quantiles in µg/m³ from log-space medians, the same arithmetic as the graph (offset, expm1, ≥ 0). */
export function quantilesFromLog(
  params: ForecastParams,
  median: Float64Array,
  out: Float64Array,
  offset = 0,
): void {
  const Q = QUANTILES.length;
  for (let o = 0; o < median.length; o++) {
    for (let q = 0; q < Q; q++) {
      out[offset + o * Q + q] = Math.max(
        0,
        Math.expm1((median[o] as number) + (params.offsets[o * Q + q] as number)),
      );
    }
  }
}

/**
 * The training code's own forecast for one complete window ([WINDOW_HOURS × CHANNELS], oldest
 * first), the reference the exported graph must reproduce.
 */
export function forecastReference(
  params: ForecastParams,
  window: ArrayLike<number>,
  originHour: number,
): Float64Array {
  if (window.length !== WINDOW_HOURS * CHANNELS.length) throw new Error('window has the wrong size');
  const features = new Float64Array(FEATURE_NAMES.length);
  windowFeatures(window, 0, originHour, features, 0);
  const median = new Float64Array(TARGETS.length * HORIZONS);
  medianLog(params, features, 0, median);
  const out = new Float64Array(FORECAST_SIZE);
  quantilesFromLog(params, median, out);
  return out;
}

/** The selection matrix [WINDOW_HOURS·TRANSFORMED × WINDOW_FEATURES] turning a transformed window into lags and means. */
export function selectionMatrix(): Float32Array {
  const T = TRANSFORMED.length;
  const FW = WINDOW_FEATURES.length;
  const s = new Float32Array(WINDOW_HOURS * T * FW);
  WINDOW_FEATURES.forEach((feature, i) => {
    const share = 1 / (feature.to - feature.from + 1);
    for (let back = feature.from; back <= feature.to; back++) {
      s[((WINDOW_HOURS - 1 - back) * T + feature.channel) * FW + i] = share;
    }
  });
  return s;
}
