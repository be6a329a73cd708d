import { type FeedbackRow, listFeedback, type Store } from '@sensormesh/store';

/** The key of one sensor-metric-hour (an anomaly's hour, a forecast's origin). */
export const hourKey = (sensorId: string, metric: string, ts: number) => `${sensorId}|${metric}|${ts}`;

/**
 * The newest feedback per sensor-metric-hour on one kind of target with ts in [from, to) (ms),
 * whoever gave it and whichever version's output it judged.
 */
export async function newestFeedback(
  store: Store,
  target: FeedbackRow['target'],
  from: number,
  to: number,
): Promise<Map<string, FeedbackRow>> {
  const newest = new Map<string, FeedbackRow>();
  for (const f of await listFeedback(store)({ target, since: from })) {
    if (f.ts >= to) continue;
    const key = hourKey(f.sensorId, f.metric, f.ts);
    const seen = newest.get(key);
    if (!seen || f.createdAt > seen.createdAt) newest.set(key, f);
  }
  return newest;
}

/**
 * What anomaly feedback says the hour was: a corrected kind decides (`none`: not a fault);
 * otherwise `right` confirms the anomaly and `wrong` says it was no fault.
 */
export const saysFault = (f: FeedbackRow): boolean =>
  f.kind !== '' ? f.kind !== 'none' : f.verdict === 'right';
