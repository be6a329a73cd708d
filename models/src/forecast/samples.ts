import { CHANNELS, type Dataset } from '../data/dataset.ts';
import { completeHours, fillForward } from '../data/gaps.ts';
import { networkReference } from '../data/inject.ts';
import {
  FEATURE_NAMES,
  HORIZONS,
  networkMean,
  REFERENCE_CHANNELS,
  REFERENCE_KINDS,
  referenceValues,
  TARGETS,
  TRANSFORMED,
  WINDOW_HOURS,
  windowFeatures,
} from './spec.ts';

/** Forecast samples: features per origin and the observed targets (log1p), NaN where unobserved. */
export interface ForecastSamples {
  count: number;
  /** [count × FEATURE_NAMES] */
  features: Float64Array;
  /** [count × TARGETS × HORIZONS] observed log1p(target) at origin + h, NaN when missing. */
  targets: Float64Array;
  /** Per sample: station index and origin (epoch hours). */
  station: Int32Array;
  origin: Float64Array;
  /** Per sample and target: the raw value at the origin (persistence forecast). */
  last: Float64Array;
}

export interface SampleOptions {
  /** Origins (epoch hours, inclusive) to take; the window before them may reach earlier. */
  fromHour: number;
  toHour: number;
  /** Take every `stride`-th origin (training subsamples; evaluation takes every hour). */
  stride?: number;
  /** Keep only origins whose whole target span is observed (training); else NaN targets stay. */
  requireTargets?: boolean;
  /** Leave the reference input unknown (every hour NaN), as a caller without neighbours would. */
  withoutReference?: boolean;
}

/**
 * Per station, the reference input over the whole grid ([hours × REFERENCE_CHANNELS]): the median
 * of the other stations' raw PM and the network's mean weather each hour (see networkMean), NaN
 * when fewer than two others report.
 */
export function referenceSeries(dataset: Dataset): Float32Array[] {
  const R = REFERENCE_CHANNELS.length;
  const C = CHANNELS.length;
  const S = dataset.stations.length;
  const out = dataset.stations.map(() => new Float32Array(dataset.hours * R));
  REFERENCE_CHANNELS.forEach((metric, r) => {
    if (REFERENCE_KINDS[r] !== 'median') return;
    const series = networkReference(dataset, CHANNELS.indexOf(metric));
    series.forEach((own, s) => {
      const into = out[s] as Float32Array;
      for (let h = 0; h < dataset.hours; h++) into[h * R + r] = own[h] as number;
    });
  });
  const own = new Float64Array(S * R);
  const sum = new Float64Array(R);
  const count = new Float64Array(R);
  for (let h = 0; h < dataset.hours; h++) {
    sum.fill(0);
    count.fill(0);
    for (let s = 0; s < S; s++) {
      referenceValues((dataset.stations[s] as Dataset['stations'][number]).values, h * C, own, s * R);
      for (let r = 0; r < R; r++) {
        const value = own[s * R + r] as number;
        if (REFERENCE_KINDS[r] !== 'mean' || Number.isNaN(value)) continue;
        sum[r] = (sum[r] as number) + value;
        count[r] = (count[r] as number) + 1;
      }
    }
    for (let s = 0; s < S; s++)
      for (let r = 0; r < R; r++)
        if (REFERENCE_KINDS[r] === 'mean')
          (out[s] as Float32Array)[h * R + r] = networkMean(
            sum[r] as number,
            count[r] as number,
            !Number.isNaN(own[s * R + r] as number),
          );
  }
  return out;
}

const TARGET_CHANNELS = TARGETS.map((target) => CHANNELS.indexOf(target));

/** Builds forecast samples from every station of a dataset at complete windows. */
export function buildSamples(dataset: Dataset, options: SampleOptions): ForecastSamples {
  const C = CHANNELS.length;
  const F = FEATURE_NAMES.length;
  const per = TARGETS.length * HORIZONS;
  const stride = options.stride ?? 1;
  const rows: { station: number; hour: number; origin: number; targets: Float64Array; last: number[] }[] = [];
  const filledByStation = dataset.stations.map((series) => fillForward(series.values));
  dataset.stations.forEach((series, s) => {
    const filled = filledByStation[s] as Float32Array;
    const complete = completeHours(filled);
    let run = 0; // complete hours ending at h
    for (let h = 0; h < dataset.hours; h++) {
      run = complete[h] ? run + 1 : 0;
      const origin = dataset.startHour + h;
      if (origin < options.fromHour || origin > options.toHour || (origin - options.fromHour) % stride !== 0)
        continue;
      if (run < WINDOW_HOURS) continue;
      const targets = new Float64Array(per);
      let observed = 0;
      TARGET_CHANNELS.forEach((c, t) => {
        for (let k = 1; k <= HORIZONS; k++) {
          const value = h + k < dataset.hours ? (series.values[(h + k) * C + c] as number) : Number.NaN;
          targets[t * HORIZONS + k - 1] = Number.isNaN(value) ? Number.NaN : Math.log1p(Math.max(value, 0));
          if (!Number.isNaN(value)) observed++;
        }
      });
      if (observed === 0 || (options.requireTargets && observed < per)) continue;
      rows.push({
        station: s,
        hour: h,
        origin,
        targets,
        last: TARGET_CHANNELS.map((c) => filled[h * C + c] as number),
      });
    }
  });
  const count = rows.length;
  const targets = new Float64Array(count * per);
  const last = new Float64Array(count * TARGETS.length);
  const features = new Float64Array(count * F);
  const scratch = new Float64Array(WINDOW_HOURS * TRANSFORMED.length);
  const R = REFERENCE_CHANNELS.length;
  const references = options.withoutReference ? undefined : referenceSeries(dataset);
  const unknown = new Float32Array(WINDOW_HOURS * R).fill(Number.NaN);
  rows.forEach((row, i) => {
    const filled = filledByStation[row.station] as Float32Array;
    const start = row.hour - WINDOW_HOURS + 1;
    const reference = references ? (references[row.station] as Float32Array) : unknown;
    windowFeatures(
      filled,
      start * C,
      reference,
      references ? start * R : 0,
      row.origin,
      features,
      i * F,
      scratch,
    );
    targets.set(row.targets, i * per);
    last.set(row.last, i * TARGETS.length);
  });
  return {
    count,
    features,
    targets,
    station: Int32Array.from(rows.map((row) => row.station)),
    origin: Float64Array.from(rows.map((row) => row.origin)),
    last,
  };
}
