import type { Injection } from '../data/inject.ts';
import { FAULT_CLASSES, FAULT_METRICS, FAULT_WINDOW } from './spec.ts';

/** Fault detection scores (README "Evaluation" defines each). */
export interface FaultScores {
  /** Hours flagged / hours that are faults (any kind). */
  flaggedHours: number;
  faultHours: number;
  cleanHours: number;
  falseAlarms: number;
  falseAlarmRate: number;
  /** Flagged hours that are faults of any kind / flagged hours. */
  precision: number;
  /** Injected faults with at least one flagged hour / injected faults. */
  recall: number;
  f1: number;
  /** Same, counting only flags that name the right kind. */
  kindPrecision: number;
  kindRecall: number;
  kindF1: number;
  /** Detected / total injected faults per kind. */
  recallByKind: Record<string, { detected: number; named: number; total: number }>;
  /** Hours the data itself lacked (not scored above), and how many the model called dropout. */
  genuineGaps: number;
  genuineGapsNamedDropout: number;
}

/**
 * Scores per-hour decisions (`decisions[metric][station][hour]`: 0 = clean, else a FAULT_CLASSES
 * index) against an injection's truth. Hours in a fault's aftermath are neither clean nor fault;
 * the first FAULT_WINDOW − 1 hours have no full window and are not scored; hours the source data
 * lacked are genuine dropouts, counted apart so the trivially named gaps do not flatter precision.
 */
export function scoreFaults(injection: Injection, decisions: Int8Array[][], fromHour = 0): FaultScores {
  let flagged = 0;
  let faultHours = 0;
  let clean = 0;
  let falseAlarms = 0;
  let truePositive = 0;
  let kindTruePositive = 0;
  let genuineGaps = 0;
  let genuineGapsNamed = 0;
  const dropout = FAULT_CLASSES.indexOf('dropout');
  const first = Math.max(FAULT_WINDOW - 1, fromHour);
  FAULT_METRICS.forEach((_, mi) => {
    injection.dataset.stations.forEach((_, s) => {
      const labels = injection.labels[s]?.[mi] as Int8Array;
      const aftermath = injection.aftermath[s]?.[mi] as Uint8Array;
      const gap = injection.genuineGap[s]?.[mi] as Uint8Array;
      const decided = decisions[mi]?.[s] as Int8Array;
      for (let h = first; h < injection.dataset.hours; h++) {
        if (aftermath[h]) continue;
        if (gap[h]) {
          genuineGaps++;
          if (decided[h] === dropout) genuineGapsNamed++;
          continue;
        }
        const label = labels[h] as number;
        const decision = decided[h] as number;
        if (label === 0) clean++;
        else faultHours++;
        if (decision === 0) continue;
        flagged++;
        if (label === 0) falseAlarms++;
        else {
          truePositive++;
          if (label === decision) kindTruePositive++;
        }
      }
    });
  });
  const recallByKind: FaultScores['recallByKind'] = {};
  let detected = 0;
  let named = 0;
  let total = 0;
  for (const fault of injection.faults) {
    if (fault.to - 1 < first) continue;
    const mi = FAULT_METRICS.indexOf(fault.metric as (typeof FAULT_METRICS)[number]);
    const s = injection.dataset.stations.findIndex((series) => series.station === fault.station);
    const decided = decisions[mi]?.[s] as Int8Array;
    const kind = FAULT_CLASSES.indexOf(fault.kind);
    let any = false;
    let right = false;
    for (let h = Math.max(fault.from, first); h < fault.to; h++) {
      if (decided[h]) any = true;
      if (decided[h] === kind) right = true;
    }
    recallByKind[fault.kind] ??= { detected: 0, named: 0, total: 0 };
    const entry = recallByKind[fault.kind] as { detected: number; named: number; total: number };
    entry.total++;
    total++;
    if (any) {
      entry.detected++;
      detected++;
    }
    if (right) {
      entry.named++;
      named++;
    }
  }
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const f1 = (p: number, r: number) => (p + r === 0 ? 0 : (2 * p * r) / (p + r));
  const precision = ratio(truePositive, flagged);
  const recall = ratio(detected, total);
  const kindPrecision = ratio(kindTruePositive, flagged);
  const kindRecall = ratio(named, total);
  return {
    flaggedHours: flagged,
    faultHours,
    cleanHours: clean,
    falseAlarms,
    falseAlarmRate: ratio(falseAlarms, clean),
    precision,
    recall,
    f1: f1(precision, recall),
    kindPrecision,
    kindRecall,
    kindF1: f1(kindPrecision, kindRecall),
    recallByKind,
    genuineGaps,
    genuineGapsNamedDropout: genuineGapsNamed,
  };
}
