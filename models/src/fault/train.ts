import type { Dataset } from '../data/dataset.ts';
import { injectFaults } from '../data/inject.ts';
import { standardiser } from '../nn/linear.ts';
import { type Mlp, mlpForward, trainMlp } from '../nn/mlp.ts';
import { faultFeatures, faultScratch } from './features.ts';
import { type FaultScores, scoreFaults } from './metrics.ts';
import { faultTrainingSet, metricReferences, metricSeries } from './samples.ts';
import { measureScales } from './scales.ts';
import { FAULT_CLASSES, FAULT_FEATURE_NAMES, FAULT_METRICS, FAULT_WINDOW, type MetricScale } from './spec.ts';

export interface FaultTraining {
  net: Mlp;
  scales: MetricScale[];
  /** Flag an hour when p(none) falls below this. */
  threshold: number;
  tune: { model: FaultScores; zscore: FaultScores & { threshold: number } };
}

export interface FaultTrainOptions {
  tuneFromHour: number;
  seed: number;
  hidden: number;
  epochs: number;
  cleanShare: number;
}

/** Decisions (0 = clean, else the FAULT_CLASSES index) from probabilities and a p(none) threshold. */
export function decide(probabilities: ArrayLike<number>, offset: number, threshold: number): number {
  const K = FAULT_CLASSES.length;
  if ((probabilities[offset] as number) >= threshold) return 0;
  let best = 1;
  for (let k = 2; k < K; k++)
    if ((probabilities[offset + k] as number) > (probabilities[offset + best] as number)) best = k;
  return best;
}

/**
 * The rolling z-score baseline: flag an hour whose value is more than `threshold` standard
 * deviations from the mean of the 24 hours before it (it names every flag a spike).
 */
export function zscoreDecisions(dataset: Dataset, threshold: number, fromIndex: number): Int8Array[][] {
  const series = metricSeries(dataset);
  const spike = FAULT_CLASSES.indexOf('spike');
  return series.map((stations) =>
    stations.map((values) => {
      const out = new Int8Array(dataset.hours);
      for (let h = Math.max(fromIndex, 24); h < dataset.hours; h++) {
        const x = values[h] as number;
        if (Number.isNaN(x)) continue;
        let n = 0;
        let sum = 0;
        let sq = 0;
        for (let t = h - 24; t < h; t++) {
          const v = values[t] as number;
          if (Number.isNaN(v)) continue;
          n++;
          sum += v;
          sq += v * v;
        }
        if (n < 12) continue;
        const mean = sum / n;
        const sd = Math.sqrt(Math.max(0, sq / n - mean * mean));
        if (Math.abs(x - mean) > threshold * Math.max(sd, 1e-6)) out[h] = spike;
      }
      return out;
    }),
  );
}

/** Scores every hour from `fromIndex` with the training code's own forward pass. */
export function faultProbabilities(
  net: Mlp,
  scales: readonly MetricScale[],
  dataset: Dataset,
  fromIndex: number,
): Float32Array[][] {
  const series = metricSeries(dataset);
  const references = metricReferences(dataset);
  const K = FAULT_CLASSES.length;
  const x = new Float64Array(FAULT_FEATURE_NAMES.length);
  const hidden = new Float64Array(net.hidden);
  const out = new Float64Array(K);
  const scratch = faultScratch();
  return FAULT_METRICS.map((_, mi) =>
    dataset.stations.map((_, s) => {
      const probs = new Float32Array(dataset.hours * K);
      for (let h = Math.max(fromIndex, FAULT_WINDOW - 1); h < dataset.hours; h++) {
        const start = h - FAULT_WINDOW + 1;
        faultFeatures(
          series[mi]?.[s] as Float32Array,
          start,
          references[mi]?.[s] as Float32Array,
          start,
          mi,
          scales[mi] as MetricScale,
          x,
          0,
          scratch,
        );
        mlpForward(net, x, 0, hidden, out);
        probs.set(out, h * K);
      }
      return probs;
    }),
  );
}

/** Picks the best of a grid by kind-aware F1 among those under the false-alarm goal. */
export const THRESHOLDS = [0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01];
export const ZSCORE_THRESHOLDS = [3, 4, 5, 6, 8];
export const MAX_FALSE_ALARM_RATE = 0.005;

/**
 * Trains the fault classifier on faults injected (seed) into the years before the tune slice,
 * then picks its threshold and the z-score baseline's on a second injection (seed + 1) into the
 * tune slice.
 */
export function trainFaults(dataset: Dataset, options: FaultTrainOptions): FaultTraining {
  const scales = measureScales(dataset, metricReferences(dataset));
  const injection = injectFaults(dataset, scales, { seed: options.seed });
  const set = faultTrainingSet(injection, scales, {
    fromHour: dataset.startHour,
    toHour: options.tuneFromHour - 1,
    cleanShare: options.cleanShare,
    seed: options.seed + 2,
  });
  const F = FAULT_FEATURE_NAMES.length;
  const { mean, std } = standardiser(set.features, set.rows, F);
  const net = trainMlp(set.features, set.labels, set.rows, F, FAULT_CLASSES.length, mean, std, {
    hidden: options.hidden,
    epochs: options.epochs,
    batch: 256,
    learningRate: 3e-3,
    seed: options.seed + 3,
    classWeights: [1, 3, 1, 1, 1, 1],
  });
  const tuneInjection = injectFaults(dataset, scales, { seed: options.seed + 1 });
  const first = options.tuneFromHour - dataset.startHour;
  const probabilities = faultProbabilities(net, scales, tuneInjection.dataset, first);
  const pick = <T extends { threshold: number; scores: FaultScores }>(
    candidates: T[],
    by: (s: FaultScores) => number,
  ): T => {
    const ok = candidates.filter((c) => c.scores.falseAlarmRate < MAX_FALSE_ALARM_RATE);
    return (ok.length > 0 ? ok : candidates).reduce((a, b) => (by(b.scores) > by(a.scores) ? b : a));
  };
  const K = FAULT_CLASSES.length;
  const model = pick(
    THRESHOLDS.map((threshold) => ({
      threshold,
      scores: scoreFaults(
        tuneInjection,
        probabilities.map((stations) =>
          stations.map((probs) => {
            const out = new Int8Array(dataset.hours);
            for (let h = first; h < dataset.hours; h++) out[h] = decide(probs, h * K, threshold);
            return out;
          }),
        ),
        first,
      ),
    })),
    (s) => s.kindF1,
  );
  const zscore = pick(
    ZSCORE_THRESHOLDS.map((threshold) => ({
      threshold,
      scores: scoreFaults(tuneInjection, zscoreDecisions(tuneInjection.dataset, threshold, first), first),
    })),
    (s) => s.f1,
  );
  return {
    net,
    scales,
    threshold: model.threshold,
    tune: { model: model.scores, zscore: { ...zscore.scores, threshold: zscore.threshold } },
  };
}
