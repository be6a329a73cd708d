import { seededRandom } from '@sensormesh/simulator';
import { CHANNELS, type Dataset } from '../data/dataset.ts';
import { type Injection, networkReference } from '../data/inject.ts';
import { faultFeatures, faultScratch } from './features.ts';
import {
  FAULT_CHANNELS,
  FAULT_CLASSES,
  FAULT_FEATURE_NAMES,
  FAULT_METRICS,
  FAULT_WINDOW,
  type MetricScale,
} from './spec.ts';

/** Per fault metric and station, a metric's own series (NaN = missing). */
export function metricSeries(dataset: Dataset): Float32Array[][] {
  const C = CHANNELS.length;
  return FAULT_CHANNELS.map((c) =>
    dataset.stations.map((series) => {
      const out = new Float32Array(dataset.hours);
      for (let h = 0; h < dataset.hours; h++) out[h] = series.values[h * C + c] as number;
      return out;
    }),
  );
}

/** Per fault metric and station, the network reference series. */
export function metricReferences(dataset: Dataset): Float32Array[][] {
  return FAULT_CHANNELS.map((c) => networkReference(dataset, c));
}

/** Hours that the data's README calls fill rather than air: 2013-09-18 04:00–09:00 Beijing on every station. */
export const KNOWN_FILL_HOURS: readonly [number, number][] = [
  [Date.UTC(2013, 8, 17, 19) / 3_600_000, Date.UTC(2013, 8, 18, 3) / 3_600_000],
];

export interface FaultTrainingSet {
  rows: number;
  features: Float64Array;
  labels: Int8Array;
}

/**
 * Training rows from an injection: every detectable fault hour, and a seeded sample of clean and
 * genuinely missing hours. Aftermath hours, the undetectable start of faults and the known fill
 * hours are left out: they teach nothing true.
 */
export function faultTrainingSet(
  injection: Injection,
  scales: readonly MetricScale[],
  options: { fromHour: number; toHour: number; cleanShare: number; seed: number },
): FaultTrainingSet {
  const { dataset } = injection;
  const series = metricSeries(dataset);
  const references = metricReferences(dataset);
  const random = seededRandom(options.seed);
  const dropout = FAULT_CLASSES.indexOf('dropout');
  const picked: [number, number, number][] = [];
  FAULT_METRICS.forEach((_, mi) => {
    dataset.stations.forEach((_, s) => {
      const labels = injection.labels[s]?.[mi] as Int8Array;
      for (let h = FAULT_WINDOW - 1; h < dataset.hours; h++) {
        const hour = dataset.startHour + h;
        if (hour < options.fromHour || hour > options.toHour) continue;
        if (injection.aftermath[s]?.[mi]?.[h] || injection.undetectable[s]?.[mi]?.[h]) continue;
        if (KNOWN_FILL_HOURS.some(([a, b]) => hour >= a && hour <= b + FAULT_WINDOW)) continue;
        const label = labels[h] as number;
        // Genuine gaps are plentiful and all alike: a sample of them is enough.
        const share = label === 0 ? options.cleanShare : label === dropout ? 0.3 : 1;
        const keep = share >= 1 || random() < share;
        if (keep) picked.push([mi, s, h]);
      }
    });
  });
  const F = FAULT_FEATURE_NAMES.length;
  const features = new Float64Array(picked.length * F);
  const labels = new Int8Array(picked.length);
  const scratch = faultScratch();
  picked.forEach(([mi, s, h], i) => {
    const start = h - FAULT_WINDOW + 1;
    faultFeatures(
      series[mi]?.[s] as Float32Array,
      start,
      references[mi]?.[s] as Float32Array,
      start,
      mi,
      scales[mi] as MetricScale,
      features,
      i * F,
      scratch,
    );
    labels[i] = injection.labels[s]?.[mi]?.[h] as number;
  });
  return { rows: picked.length, features, labels };
}
