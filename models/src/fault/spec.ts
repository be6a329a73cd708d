import { METRICS } from '@sensormesh/readings';
import { CHANNELS } from '../data/dataset.ts';

/** Hours of one metric's history the fault model reads; the last is the hour scored. */
export const FAULT_WINDOW = 72;

/** Output classes, in output order. */
export const FAULT_CLASSES = ['none', 'spike', 'stuck', 'drift', 'dropout', 'out_of_range'] as const;
export type FaultClass = (typeof FAULT_CLASSES)[number];
export type FaultKindName = Exclude<FaultClass, 'none'>;

/**
 * The metrics the fault model knows, in `metric` input order. Rain (zero most hours, so "stuck at
 * 0" is the weather) and wind direction (a circular quantity) are left out.
 */
export const FAULT_METRICS = [
  'pm25',
  'pm10',
  'so2',
  'no2',
  'co',
  'o3',
  'temp',
  'pressure',
  'dewpoint',
  'wind_speed',
] as const;

/** Where each fault metric sits in the dataset's channels. */
export const FAULT_CHANNELS: readonly number[] = FAULT_METRICS.map((metric) => CHANNELS.indexOf(metric));

/**
 * Per-metric scaling: y = gain · asinh(x / knee). Concentrations get a knee near their clean-air
 * level, so y is roughly linear below it and logarithmic above (a spike is relative to the level);
 * temperature, pressure and dew point get a huge knee, which makes y linear. `step` is the
 * robust spread of hourly changes of y and `deviation` that of y minus the network reference,
 * both measured on the training data.
 */
export interface MetricScale {
  knee: number;
  gain: number;
  step: number;
  deviation: number;
  /** Mean and spread of y, to centre the level feature. */
  levelMean: number;
  levelStd: number;
  /** Plausible range of a working instrument (the readings catalogue). */
  min: number;
  max: number;
}

/** Knees in the metric's unit; a linear metric gets LINEAR_KNEE (and gain LINEAR_KNEE, so y = x). */
export const LINEAR_KNEE = 10_000;
export const KNEES: Readonly<Record<(typeof FAULT_METRICS)[number], number>> = {
  pm25: 10,
  pm10: 20,
  so2: 5,
  no2: 10,
  co: 300,
  o3: 10,
  temp: LINEAR_KNEE,
  pressure: LINEAR_KNEE,
  dewpoint: LINEAR_KNEE,
  wind_speed: 1,
};

/** y for a raw value (see MetricScale). */
export const scaled = (scale: Pick<MetricScale, 'knee' | 'gain'>, x: number) =>
  scale.gain * Math.asinh(x / scale.knee);
/** The raw value of a y. */
export const unscaled = (scale: Pick<MetricScale, 'knee' | 'gain'>, y: number) =>
  scale.knee * Math.sinh(y / scale.gain);

/** Catalogue range of a fault metric. */
export function metricRange(metric: string): { min: number; max: number } {
  const spec = METRICS[metric];
  if (!spec) throw new Error(`metric ${metric} is not in the catalogue`);
  return { min: spec.min, max: spec.max };
}

/** The engineered features the network sees, in order, before the metric one-hot. */
export const FAULT_FEATURES = [
  'missing_now',
  'missing_share_24h',
  'above_range',
  'below_range',
  'jump',
  'jump_before',
  'z_24h',
  'deviation_now',
  'deviation_jump',
  'deviation_shift',
  'deviation_trend_24h',
  'reference_jump',
  'reference_present',
  'run_length',
  'run_length_log',
  'reference_range_6h',
  'own_range_6h',
  'level',
] as const;

/** Every model input feature: engineered ones, then the metric one-hot. */
export const FAULT_FEATURE_NAMES: readonly string[] = [
  ...FAULT_FEATURES,
  ...FAULT_METRICS.map((metric) => `metric_${metric}`),
];
