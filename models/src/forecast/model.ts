import { CHANNELS } from '../data/dataset.ts';
import { type ForecastNet, headsToLog, netHeads } from './net.ts';
import {
  FEATURE_NAMES,
  HORIZONS,
  NO_REFERENCE,
  QUANTILES,
  REFERENCE_CHANNELS,
  TARGETS,
  TRANSFORMED,
  WINDOW_FEATURES,
  WINDOW_HOURS,
  windowFeatures,
} from './spec.ts';

/**
 * The trained forecast: a small ensemble of quantile networks (change from the origin in log1p
 * space) and a ridge on log1p targets, over the same standardised features. The median is a
 * per-horizon blend of the two (the networks win the first hours, the ridge's shrinkage the last
 * ones); p10/p90 are the networks' conditional distances below/above their median, scaled per
 * horizon so the tune slice is covered.
 */
export interface ForecastParams {
  /** Feature standardisation, FEATURE_NAMES order. */
  mean: Float64Array;
  std: Float64Array;
  /** [FEATURE_NAMES × (TARGETS × HORIZONS)] */
  ridgeWeights: Float64Array;
  /** [TARGETS × HORIZONS] */
  ridgeBias: Float64Array;
  /** The quantile networks (same settings, different seeds): their log1p quantiles are averaged. */
  nets: ForecastNet[];
  /** [TARGETS × HORIZONS]: weight of the networks' median (1 − it: the ridge's). */
  blend: Float64Array;
  /** [TARGETS × HORIZONS × 2]: multipliers of the network's distances to p10 and to p90. */
  scales: Float64Array;
}

/** Values per forecast: TARGETS × HORIZONS × QUANTILES, µg/m³. */
export const FORECAST_SIZE = TARGETS.length * HORIZONS * QUANTILES.length;
const O = TARGETS.length * HORIZONS;

/** Feature indices of log1p(target) at the origin: the network's changes start from them. */
export const BASE_FEATURES: readonly number[] = TARGETS.map((target) =>
  FEATURE_NAMES.indexOf(`log_${target}_lag0`),
);

/** Scratch buffers for forecastParts, sized for one model. */
export function partsScratch(params: ForecastParams) {
  const first = params.nets[0];
  if (!first) throw new Error('a forecast needs at least one network');
  return {
    z: new Float64Array(first.inputs),
    hidden: new Float64Array(Math.max(...params.nets.map((net) => net.hidden))),
    heads: new Float64Array(first.b2.length),
    base: new Float64Array(TARGETS.length),
    member: new Float64Array(O * 3),
  };
}

/** The two members' log1p outputs for one feature row: network quantiles [O × 3] and ridge [O]. */
export function forecastParts(
  params: ForecastParams,
  features: Float64Array,
  offset: number,
  netOut: Float64Array,
  ridgeOut: Float64Array,
  scratch = partsScratch(params),
): void {
  const F = FEATURE_NAMES.length;
  BASE_FEATURES.forEach((index, t) => {
    scratch.base[t] = features[offset + index] as number;
  });
  netOut.fill(0);
  const share = 1 / params.nets.length;
  for (const net of params.nets) {
    netHeads(net, features, offset, scratch.z, scratch.hidden.subarray(0, net.hidden), scratch.heads);
    headsToLog(net, scratch.heads, scratch.base, 0, HORIZONS, scratch.member);
    for (let k = 0; k < O * 3; k++) netOut[k] = (netOut[k] as number) + share * (scratch.member[k] as number);
  }
  ridgeOut.set(params.ridgeBias);
  for (let j = 0; j < F; j++) {
    const z = scratch.z[j] as number;
    if (z === 0) continue;
    for (let o = 0; o < O; o++)
      ridgeOut[o] = (ridgeOut[o] as number) + z * (params.ridgeWeights[j * O + o] as number);
  }
}

/** log1p quantiles [O × 3] from the members' outputs with the given blend and scales. */
export function combine(
  blend: ArrayLike<number>,
  scales: ArrayLike<number>,
  netOut: ArrayLike<number>,
  ridgeOut: ArrayLike<number>,
  out: Float64Array,
  outOffset = 0,
): void {
  for (let o = 0; o < O; o++) {
    const lo = netOut[o * 3] as number;
    const md = netOut[o * 3 + 1] as number;
    const hi = netOut[o * 3 + 2] as number;
    const b = blend[o] as number;
    const median = b * md + (1 - b) * (ridgeOut[o] as number);
    out[outOffset + o * 3] = median - (scales[o * 2] as number) * (md - lo);
    out[outOffset + o * 3 + 1] = median;
    out[outOffset + o * 3 + 2] = median + (scales[o * 2 + 1] as number) * (hi - md);
  }
}

/** log1p quantiles [O × 3] for already computed features (training and evaluation use this). */
export function forecastLog(
  params: ForecastParams,
  features: Float64Array,
  offset: number,
  out: Float64Array,
  outOffset = 0,
  scratch = partsScratch(params),
): void {
  const netOut = new Float64Array(O * 3);
  const ridgeOut = new Float64Array(O);
  forecastParts(params, features, offset, netOut, ridgeOut, scratch);
  combine(params.blend, params.scales, netOut, ridgeOut, out, outOffset);
}

/**
 * The training code's own forecast for one complete window ([WINDOW_HOURS × CHANNELS], oldest
 * first) and optionally its reference ([WINDOW_HOURS × REFERENCE_CHANNELS], NaN = unknown), in
 * µg/m³ with the graph's arithmetic (expm1, ≥ 0): the reference the exported graph must reproduce.
 */
export function forecastReference(
  params: ForecastParams,
  window: ArrayLike<number>,
  originHour: number,
  reference: ArrayLike<number> = NO_REFERENCE,
): Float64Array {
  if (window.length !== WINDOW_HOURS * CHANNELS.length) throw new Error('window has the wrong size');
  if (reference.length !== WINDOW_HOURS * REFERENCE_CHANNELS.length)
    throw new Error('reference has the wrong size');
  const features = new Float64Array(FEATURE_NAMES.length);
  windowFeatures(window, 0, reference, 0, originHour, features, 0);
  const out = new Float64Array(FORECAST_SIZE);
  forecastLog(params, features, 0, out);
  for (let k = 0; k < out.length; k++) out[k] = Math.max(0, Math.expm1(out[k] as number));
  return out;
}

/**
 * The transformed window in blocks of channels, each with the contiguous run of WINDOW_FEATURES
 * over it: the graph turns each into its lags and means with one MatMul (one selection matrix over
 * every channel and feature would be mostly zeros, and the graph over the gateway's 1 MiB upload).
 */
export const SELECTION_BLOCKS: readonly { channels: [number, number]; features: [number, number] }[] =
  (() => {
    const split = TRANSFORMED.indexOf('ref_pressure');
    const first = WINDOW_FEATURES.findIndex((f) => f.channel >= split);
    if (first < 0 || WINDOW_FEATURES.slice(first).some((f) => f.channel < split))
      throw new Error('the network weather features must come last');
    return [
      { channels: [0, split], features: [0, first] },
      { channels: [split, TRANSFORMED.length], features: [first, WINDOW_FEATURES.length] },
    ];
  })();

/**
 * The selection matrix of a block, [WINDOW_HOURS·(its channels) × (its features)], turning that
 * part of the transformed window (hours × its channels, row-major) into its lags and means.
 */
export function selectionMatrix(block: (typeof SELECTION_BLOCKS)[number]): Float32Array {
  const [c0, c1] = block.channels;
  const [f0, f1] = block.features;
  const T = c1 - c0;
  const FW = f1 - f0;
  const s = new Float32Array(WINDOW_HOURS * T * FW);
  for (let i = f0; i < f1; i++) {
    const feature = WINDOW_FEATURES[i] as (typeof WINDOW_FEATURES)[number];
    const share = 1 / (feature.to - feature.from + 1);
    for (let back = feature.from; back <= feature.to; back++) {
      s[((WINDOW_HOURS - 1 - back) * T + feature.channel - c0) * FW + i - f0] = share;
    }
  }
  return s;
}
