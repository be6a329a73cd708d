import { CHANNELS } from '@sensormesh/models';
import type { HourCache } from './cache.ts';

/**
 * The fault model's network reference: per hour and channel, the median of the *other* sensors'
 * values (NaN when fewer than two report), as in training (models/src/data/inject.ts). Each hour's
 * values are sorted once; a sensor's own value is then skipped by index, so a reference costs
 * O(1) per sensor instead of a sort per sensor.
 */
export class NetworkReference {
  private readonly sorted = new Map<number, { stamp: number; values: Float64Array }>();

  constructor(private readonly cache: HourCache) {}

  private column(hour: number, channel: number): Float64Array {
    const key = hour * CHANNELS.length + channel;
    const stamp = this.cache.hourStamp(hour);
    const memo = this.sorted.get(key);
    if (memo && memo.stamp === stamp) return memo.values;
    const values: number[] = [];
    for (const id of this.cache.ids()) {
      const value = this.cache.value(id, hour, channel);
      if (!Number.isNaN(value)) values.push(value);
    }
    const sorted = Float64Array.from(values).sort();
    this.sorted.set(key, { stamp, values: sorted });
    return sorted;
  }

  /** Median of the other sensors' values at `hour` on `channel`, given this sensor's own value (NaN = none). */
  median(hour: number, channel: number, own: number): number {
    const all = this.column(hour, channel);
    let skip = -1;
    if (!Number.isNaN(own)) {
      // The own value is in the column (it came from the same cache): find one copy of it.
      let lo = 0;
      let hi = all.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((all[mid] as number) < own) lo = mid + 1;
        else hi = mid;
      }
      if (lo < all.length && all[lo] === own) skip = lo;
    }
    const n = all.length - (skip >= 0 ? 1 : 0);
    if (n < 2) return Number.NaN;
    const at = (i: number) => all[skip >= 0 && i >= skip ? i + 1 : i] as number;
    const mid = n >> 1;
    return n % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
  }

  /** Forgets medians of hours before `hour` (they will not be asked for again). */
  prune(hour: number): void {
    for (const key of this.sorted.keys()) if (key < hour * CHANNELS.length) this.sorted.delete(key);
  }
}
