import { CHANNELS, type Dataset } from '../data/dataset.ts';
import {
  FAULT_CHANNELS,
  FAULT_METRICS,
  KNEES,
  LINEAR_KNEE,
  type MetricScale,
  metricRange,
  scaled,
} from './spec.ts';

/**
 * Measures each fault metric's scales on (clean) training data: the typical hourly change and the
 * typical deviation from the network reference, as 1.25 × mean absolute value (≈ σ for normal
 * noise, and never 0 for the quantised metrics whose median change is 0).
 */
export function measureScales(dataset: Dataset, references: Float32Array[][]): MetricScale[] {
  const C = CHANNELS.length;
  return FAULT_METRICS.map((metric, mi) => {
    const c = FAULT_CHANNELS[mi] as number;
    const knee = KNEES[metric];
    const base = { knee, gain: knee === LINEAR_KNEE ? LINEAR_KNEE : 1 };
    let steps = 0;
    let stepCount = 0;
    let devs = 0;
    let devCount = 0;
    let sum = 0;
    let sumSq = 0;
    let count = 0;
    dataset.stations.forEach((series, s) => {
      const reference = references[mi]?.[s] as Float32Array;
      let previous = Number.NaN;
      for (let h = 0; h < dataset.hours; h++) {
        const x = series.values[h * C + c] as number;
        if (Number.isNaN(x)) {
          previous = Number.NaN;
          continue;
        }
        const y = scaled(base, x);
        sum += y;
        sumSq += y * y;
        count++;
        if (!Number.isNaN(previous)) {
          steps += Math.abs(y - previous);
          stepCount++;
        }
        previous = y;
        const ref = reference[h] as number;
        if (!Number.isNaN(ref)) {
          devs += Math.abs(y - scaled(base, ref));
          devCount++;
        }
      }
    });
    const levelMean = sum / count;
    return {
      ...base,
      step: (1.25 * steps) / stepCount,
      deviation: (1.25 * devs) / devCount,
      levelMean,
      levelStd: Math.sqrt(sumSq / count - levelMean * levelMean),
      ...metricRange(metric),
    };
  });
}
