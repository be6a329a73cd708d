import { CHANNELS } from '@sensormesh/models';
import type { HourCache } from './cache.ts';

/**
 * The fault model's network reference: per hour and channel, the median of the *other* sensors'
 * values (NaN when fewer than two report), as in training (models/src/data/inject.ts). Each hour's
 * values are sorted once; a sensor's own value is then skipped by index, so a reference costs
 * O(1) per sensor instead of a sort per sensor.
 */
const C = CHANNELS.length;

export class NetworkReference {
  private readonly sorted = new Map<number, { stamp: number; values: Float64Array }>();

  constructor(private readonly cache: HourCache) {}

  private column(hour: number, channel: number): Float64Array {
    const key = hour * C + channel;
    const stamp = this.cache.hourStamp(hour);
    const memo = this.sorted.get(key);
    if (memo && memo.stamp === stamp) return memo.values;
    // Every channel of the hour in one sweep over the sensors: one lookup per sensor, not per channel.
    const columns = Array.from({ length: C }, () => [] as number[]);
    const row = new Float32Array(C);
    for (const id of this.cache.ids()) {
      if (!this.cache.row(id, hour, row)) continue;
      for (let c = 0; c < C; c++)
        if (!Number.isNaN(row[c] as number)) (columns[c] as number[]).push(row[c] as number);
    }
    for (let c = 0; c < C; c++) {
      this.sorted.set(hour * C + c, { stamp, values: Float64Array.from(columns[c] as number[]).sort() });
    }
    return (this.sorted.get(key) as { values: Float64Array }).values;
  }

  /** Median of the other sensors' values at `hour` on `channel`, given this sensor's own value (NaN = none). */
  median(hour: number, channel: number, own: number): number {
    return medianExcluding(this.column(hour, channel), own);
  }

  /** The sorted values of every sensor at `hour` on `channel` (for medianExcluding in a loop). */
  values(hour: number, channel: number): Float64Array {
    return this.column(hour, channel);
  }

  /** Forgets medians of hours before `hour` (they will not be asked for again). */
  prune(hour: number): void {
    for (const key of this.sorted.keys()) if (key < hour * C) this.sorted.delete(key);
  }
}

/**
 * The median of a sorted column without one copy of `own` (which must be in it; NaN: remove
 * nothing); NaN under two values. O(1): with r the first index of `own`, index i of the column
 * without it is all[i] for i < r and all[i + 1] after, and i < r ⇔ all[i] < own.
 */
export function medianExcluding(all: Float64Array, own: number): number {
  if (Number.isNaN(own)) {
    const n = all.length;
    if (n < 2) return Number.NaN;
    const mid = n >> 1;
    return n % 2 ? (all[mid] as number) : ((all[mid - 1] as number) + (all[mid] as number)) / 2;
  }
  const n = all.length - 1;
  if (n < 2) return Number.NaN;
  // at(i) = all[i] < own ? all[i] : all[i + 1], written out: this runs 144 times per forecast window.
  const mid = n >> 1;
  let upper = all[mid] as number;
  if (!(upper < own)) upper = all[mid + 1] as number;
  if (n % 2) return upper;
  let lower = all[mid - 1] as number;
  if (!(lower < own)) lower = all[mid] as number;
  return (lower + upper) / 2;
}
