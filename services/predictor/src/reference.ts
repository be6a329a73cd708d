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
