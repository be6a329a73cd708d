import { CHANNELS, REFERENCE_CHANNELS, REFERENCE_KINDS, referenceValues } from '@sensormesh/models';
import type { HourCache } from './cache.ts';

/**
 * The fault model's network reference: per hour and channel, the median of the *other* sensors'
 * values (NaN when fewer than two report), as in training (models/src/data/inject.ts). Each hour's
 * values are sorted once; a sensor's own value is then skipped by index, so a reference costs
 * O(1) per sensor instead of a sort per sensor. The same sweep sums the network's weather for the
 * forecast model's reference (REFERENCE_CHANNELS of kind mean: see networkMean in the models).
 */
const C = CHANNELS.length;
const R = REFERENCE_CHANNELS.length;
/** Reference channels that are network means (weather), as indices into REFERENCE_CHANNELS. */
export const MEAN_CHANNELS: readonly number[] = REFERENCE_CHANNELS.flatMap((_, r) =>
  REFERENCE_KINDS[r] === 'mean' ? [r] : [],
);

interface HourSweep {
  stamp: number;
  /** Per channel, the sorted values of every sensor that reported. */
  columns: Float64Array[];
  /** Per MEAN_CHANNELS entry: sum and count over every sensor that reported. */
  sums: Float64Array;
}

export class NetworkReference {
  private readonly hours = new Map<number, HourSweep>();

  constructor(private readonly cache: HourCache) {}

  private sweep(hour: number): HourSweep {
    const stamp = this.cache.hourStamp(hour);
    const memo = this.hours.get(hour);
    if (memo && memo.stamp === stamp) return memo;
    // Every channel of the hour in one sweep over the sensors: one lookup per sensor, not per channel.
    const columns = Array.from({ length: C }, () => [] as number[]);
    const row = new Float32Array(C);
    const own = new Float64Array(R);
    const sums = new Float64Array(MEAN_CHANNELS.length * 2);
    for (const id of this.cache.ids()) {
      if (!this.cache.row(id, hour, row)) continue;
      for (let c = 0; c < C; c++)
        if (!Number.isNaN(row[c] as number)) (columns[c] as number[]).push(row[c] as number);
      referenceValues(row, 0, own);
      MEAN_CHANNELS.forEach((r, k) => {
        const value = own[r] as number;
        if (Number.isNaN(value)) return;
        sums[k * 2] = (sums[k * 2] as number) + value;
        sums[k * 2 + 1] = (sums[k * 2 + 1] as number) + 1;
      });
    }
    const sweep = { stamp, columns: columns.map((values) => Float64Array.from(values).sort()), sums };
    this.hours.set(hour, sweep);
    return sweep;
  }

  /** Median of the other sensors' values at `hour` on `channel`, given this sensor's own value (NaN = none). */
  median(hour: number, channel: number, own: number): number {
    return medianExcluding(this.values(hour, channel), own);
  }

  /** The sorted values of every sensor at `hour` on `channel` (for medianExcluding in a loop). */
  values(hour: number, channel: number): Float64Array {
    return this.sweep(hour).columns[channel] as Float64Array;
  }

  /** Sum and count over every reporting sensor of MEAN_CHANNELS entry `k` at `hour`. */
  sum(hour: number, k: number): { sum: number; count: number } {
    const sums = this.sweep(hour).sums;
    return { sum: sums[k * 2] as number, count: sums[k * 2 + 1] as number };
  }

  /** Forgets hours before `hour` (they will not be asked for again). */
  prune(hour: number): void {
    for (const key of this.hours.keys()) if (key < hour) this.hours.delete(key);
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

/** Numbers per column in a MedianTable: median of all, all[m-1], all[m], all[m+1], kind. */
const SLOTS = 5;
const TOO_FEW = 0;
const ODD = 1;
const EVEN = 2;

/**
 * medianExcluding for many columns, precomputed: each column keeps only the three values around its
 * middle, and a sensor's own value picks among them by a comparison used as an index rather than a
 * branch, because whether a sensor reads above the network's middle is a coin toss to the CPU
 * (the branchy form spent most of the forecast packing time on mispredictions).
 */
export class MedianTable {
  private readonly slots: Float64Array;

  constructor(columns: readonly Float64Array[]) {
    this.slots = new Float64Array(columns.length * SLOTS);
    columns.forEach((all, i) => {
      const at = i * SLOTS;
      const n = all.length - 1;
      const m = n >> 1;
      this.slots[at] = medianExcluding(all, Number.NaN);
      this.slots[at + 1] = n >= 2 ? (all[m - 1] ?? Number.NaN) : Number.NaN;
      this.slots[at + 2] = n >= 2 ? (all[m] as number) : Number.NaN;
      this.slots[at + 3] = n >= 2 ? (all[m + 1] as number) : Number.NaN;
      this.slots[at + 4] = n < 2 ? TOO_FEW : n % 2 ? ODD : EVEN;
    });
  }

  /** medianExcluding(columns[column], own). */
  get(column: number, own: number): number {
    const t = this.slots;
    const at = column * SLOTS;
    if (Number.isNaN(own)) return t[at] as number;
    const kind = t[at + 4];
    if (kind === TOO_FEW) return Number.NaN;
    // Picked by index, not by arithmetic, so the result is bit-equal to medianExcluding's.
    const upper = t[at + 3 - +(own > (t[at + 2] as number))] as number;
    if (kind === ODD) return upper;
    return ((t[at + 2 - +(own > (t[at + 1] as number))] as number) + upper) / 2;
  }
}
