import {
  CHANNELS,
  networkMean,
  REFERENCE_CHANNELS,
  REFERENCE_KINDS,
  referenceValues,
  WINDOW_HOURS,
} from '@sensormesh/models';
import { type HourCache, KEPT_HOURS } from './cache.ts';

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

/** The reference channels that are medians of the other sensors (PM2.5, PM10) and where they sit in CHANNELS. */
const MEDIAN_CHANNELS = REFERENCE_CHANNELS.flatMap((_, r) => (REFERENCE_KINDS[r] === 'median' ? [r] : []));
const MEDIAN_INDEX = MEDIAN_CHANNELS.map((r) => CHANNELS.indexOf(REFERENCE_CHANNELS[r] as string));
const PRESSURE = CHANNELS.indexOf('pressure');
const DEWPOINT = CHANNELS.indexOf('dewpoint');
const WIND_SPEED = CHANNELS.indexOf('wind_speed');
const WIND_DIR = CHANNELS.indexOf('wind_dir');
if (
  REFERENCE_CHANNELS.join() !== 'pm25,pm10,pressure,dewpoint,wind_u,wind_v' ||
  MEAN_CHANNELS.join() !== '2,3,4,5'
)
  throw new Error('referenceRow writes the reference channels in this order');

interface HourSweep {
  stamp: number;
  /** Per channel, the values of every sensor that reported; sorted once `sorted[channel]` is 1. */
  columns: Float64Array[];
  sorted: Uint8Array;
  /** Per channel, its median table once asked for. */
  tables: (MedianTable | undefined)[];
  /** Per MEAN_CHANNELS entry: sum and count over every sensor that reported. */
  sums: Float64Array;
  /** The forecast reference's parts, made on first use: see `referenceRow`. */
  forecast?: { medians: MedianTable; weather: Float64Array };
}

/**
 * One sensor's forecast reference rows (REFERENCE_CHANNELS) per hour, in a ring like the hour
 * cache's, each with the hour's stamp when it was made: an hour's row stays right until any
 * sensor's value at that hour changes, so a pass makes only the rows of the hours that changed
 * (usually the one that just closed) and copies the other 71.
 */
interface ReferenceRing {
  tags: Int32Array;
  stamps: Float64Array;
  values: Float32Array;
  /** Every row of the window ending at hour `madeFor` was right when the cache's version was `madeAt`. */
  madeFor: number;
  madeAt: number;
}

/** The stamps of one window's hours while the cache is unchanged, and which changed since a version. */
interface WindowStamps {
  last: number;
  version: number;
  stamps: Float64Array;
  changed: Map<number, Int32Array>;
}
export class NetworkReference {
  private readonly hours = new Map<number, HourSweep>();
  private readonly rings = new Map<string, ReferenceRing>();
  private windowStamps: WindowStamps = {
    last: Number.NaN,
    version: -1,
    stamps: new Float64Array(WINDOW_HOURS),
    changed: new Map(),
  };
  private readonly own = new Float32Array(C);
  private readonly weatherOwn = new Float64Array(R);

  constructor(private readonly cache: HourCache) {}

  private sweep(hour: number): HourSweep {
    const stamp = this.cache.hourStamp(hour);
    const memo = this.hours.get(hour);
    if (memo && memo.stamp === stamp) return memo;
    // Every channel of the hour in one sweep over the sensors' rings, without a lookup or a copy per
    // sensor: this runs whenever any sensor's hour changes, i.e. on most passes.
    const capacity = this.cache.size;
    const columns = Array.from({ length: C }, () => new Float64Array(capacity));
    const counts = new Int32Array(C);
    const own = this.weatherOwn;
    const sums = new Float64Array(MEAN_CHANNELS.length * 2);
    this.cache.eachRow(hour, (values, at) => {
      for (let c = 0; c < C; c++) {
        const value = values[at + c] as number;
        if (Number.isNaN(value)) continue;
        (columns[c] as Float64Array)[counts[c] as number] = value;
        counts[c] = (counts[c] as number) + 1;
      }
      referenceValues(values, at, own);
      for (let k = 0; k < MEAN_CHANNELS.length; k++) {
        const value = own[MEAN_CHANNELS[k] as number] as number;
        if (Number.isNaN(value)) continue;
        sums[k * 2] = (sums[k * 2] as number) + value;
        sums[k * 2 + 1] = (sums[k * 2 + 1] as number) + 1;
      }
    });
    const sweep: HourSweep = {
      stamp,
      columns: columns.map((column, c) => column.subarray(0, counts[c])),
      sorted: new Uint8Array(C),
      tables: [],
      sums,
    };
    this.hours.set(hour, sweep);
    return sweep;
  }

  /** Median of the other sensors' values at `hour` on `channel`, given this sensor's own value (NaN = none). */
  median(hour: number, channel: number, own: number): number {
    return medianExcluding(this.values(hour, channel), own);
  }

  /** The sorted values of every sensor at `hour` on `channel` (for medianExcluding in a loop). */
  values(hour: number, channel: number): Float64Array {
    const sweep = this.sweep(hour);
    const column = sweep.columns[channel] as Float64Array;
    // Sorted on first use: the forecast asks for two channels of an hour, the fault model for its own.
    if (!sweep.sorted[channel]) {
      column.sort();
      sweep.sorted[channel] = 1;
    }
    return column;
  }

  /** The median table of `channel` at `hour` (one column), made once per version of the hour. */
  medianTable(hour: number, channel: number): MedianTable {
    const sweep = this.sweep(hour);
    let table = sweep.tables[channel];
    if (!table) {
      table = MedianTable.ofUnsorted([sweep.columns[channel] as Float64Array]);
      sweep.tables[channel] = table;
    }
    return table;
  }

  /** Sum and count over every reporting sensor of MEAN_CHANNELS entry `k` at `hour`. */
  sum(hour: number, k: number): { sum: number; count: number } {
    const sums = this.sweep(hour).sums;
    return { sum: sums[k * 2] as number, count: sums[k * 2 + 1] as number };
  }

  /**
   * The forecast model's reference for the window of WINDOW_HOURS hours ending at `last`, as rows of
   * REFERENCE_CHANNELS into `out` at `offset`: per hour, the median PM2.5 and PM10 of the *other*
   * sensors and the network's mean weather (networkMean), each NaN under two other sensors.
   */
  forecastWindow(id: string, last: number, out: Float32Array, offset: number): void {
    const first = last - WINDOW_HOURS + 1;
    const memo = this.windowStampsOf(last);
    let ring = this.rings.get(id);
    if (!ring) {
      ring = {
        tags: new Int32Array(KEPT_HOURS).fill(-1),
        stamps: new Float64Array(KEPT_HOURS),
        values: new Float32Array(KEPT_HOURS * R),
        madeFor: Number.NEGATIVE_INFINITY,
        madeAt: -1,
      };
      this.rings.set(id, ring);
    }
    const ahead = last - ring.madeFor;
    if (ahead >= 0 && ahead < WINDOW_HOURS) {
      // Rows of the window the ring was last made for were right as of `madeAt`: only the hours
      // changed since then and the hours after that window can be stale, not all 72.
      for (const h of this.changedSince(memo, ring.madeAt))
        this.keep(ring, id, first + h, memo.stamps[h] as number);
      for (let h = WINDOW_HOURS - ahead; h < WINDOW_HOURS; h++)
        this.keep(ring, id, first + h, memo.stamps[h] as number);
    } else {
      for (let h = 0; h < WINDOW_HOURS; h++) this.keep(ring, id, first + h, memo.stamps[h] as number);
    }
    ring.madeFor = last;
    ring.madeAt = memo.version;
    // The window is at most two runs of the ring (it may wrap around the ring's end).
    const start = first % KEPT_HOURS;
    const head = Math.min(WINDOW_HOURS, KEPT_HOURS - start);
    out.set(ring.values.subarray(start * R, (start + head) * R), offset);
    if (head < WINDOW_HOURS) out.set(ring.values.subarray(0, (WINDOW_HOURS - head) * R), offset + head * R);
  }

  /** Makes the ring's row of `hour` again unless it holds that hour as of `stamp`. */
  private keep(ring: ReferenceRing, id: string, hour: number, stamp: number): void {
    const slot = hour % KEPT_HOURS;
    if (ring.tags[slot] === hour && ring.stamps[slot] === stamp) return;
    this.referenceRow(id, hour, ring.values, slot * R);
    ring.tags[slot] = hour;
    ring.stamps[slot] = stamp;
  }

  private windowStampsOf(last: number): WindowStamps {
    const memo = this.windowStamps;
    if (memo.last === last && memo.version === this.cache.version) return memo;
    const first = last - WINDOW_HOURS + 1;
    const stamps = new Float64Array(WINDOW_HOURS);
    for (let h = 0; h < WINDOW_HOURS; h++) stamps[h] = this.cache.hourStamp(first + h);
    this.windowStamps = { last, version: this.cache.version, stamps, changed: new Map() };
    return this.windowStamps;
  }

  /** The window's hours (as offsets) whose values changed after the cache's version `version`. */
  private changedSince(memo: WindowStamps, version: number): Int32Array {
    let changed = memo.changed.get(version);
    if (!changed) {
      const offsets: number[] = [];
      memo.stamps.forEach((stamp, h) => {
        if (stamp > version) offsets.push(h);
      });
      changed = Int32Array.from(offsets);
      memo.changed.set(version, changed);
    }
    return changed;
  }

  /** Forecast reference row of sensor `id` at `hour`, given its own values there (which it leaves out). */
  private referenceRow(id: string, hour: number, out: Float32Array, at: number): void {
    const sweep = this.sweep(hour);
    let parts = sweep.forecast;
    if (!parts) {
      // The weather per MEAN_CHANNELS entry as it is when the sensor's own value did not count and
      // when it did: the own value's presence picks one by index.
      const weather = new Float64Array(MEAN_CHANNELS.length * 2);
      MEAN_CHANNELS.forEach((_, k) => {
        const sum = sweep.sums[k * 2] as number;
        const count = sweep.sums[k * 2 + 1] as number;
        weather[k * 2] = networkMean(sum, count, false);
        weather[k * 2 + 1] = networkMean(sum, count, true);
      });
      parts = {
        medians: MedianTable.ofUnsorted(MEDIAN_INDEX.map((c) => sweep.columns[c] as Float64Array)),
        weather,
      };
      sweep.forecast = parts;
    }
    const own = this.own;
    if (!this.cache.row(id, hour, own)) own.fill(Number.NaN);
    MEDIAN_CHANNELS.forEach((r, m) => {
      out[at + r] = parts.medians.get(m, own[MEDIAN_INDEX[m] as number] as number);
    });
    const { weather } = parts;
    const wind = +!(Number.isNaN(own[WIND_SPEED] as number) || Number.isNaN(own[WIND_DIR] as number));
    out[at + 2] = weather[+!Number.isNaN(own[PRESSURE] as number)] as number;
    out[at + 3] = weather[2 + +!Number.isNaN(own[DEWPOINT] as number)] as number;
    out[at + 4] = weather[4 + wind] as number;
    out[at + 5] = weather[6 + wind] as number;
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

  /** From sorted columns. */
  constructor(columns: readonly Float64Array[]);
  constructor(columns: readonly Float64Array[], slots: Float64Array);
  constructor(columns: readonly Float64Array[], slots?: Float64Array) {
    if (slots) {
      this.slots = slots;
      return;
    }
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

  /**
   * The same table from columns in any order, without sorting them: only the three values around
   * the middle are needed, and selection finds them in O(n) (sorting a column of 1,000 sensors took
   * ~50 µs, and every pass after a fold sorts an hour's columns again).
   */
  static ofUnsorted(columns: readonly Float64Array[]): MedianTable {
    const slots = new Float64Array(columns.length * SLOTS);
    columns.forEach((column, i) => {
      const at = i * SLOTS;
      const size = column.length;
      slots.fill(Number.NaN, at, at + 4);
      slots[at + 4] = TOO_FEW;
      if (size === 2) slots[at] = ((column[0] as number) + (column[1] as number)) / 2;
      if (size < 3) return;
      // Sorted positions m - 1, m and m + 1 of the column, m the middle of the column without one.
      const m = (size - 1) >> 1;
      const [below, middle, above] = middleThree(Float64Array.from(column), m - 1);
      slots[at] = size % 2 ? middle : (middle + above) / 2;
      slots[at + 1] = below;
      slots[at + 2] = middle;
      slots[at + 3] = above;
      slots[at + 4] = (size - 1) % 2 ? ODD : EVEN;
    });
    return new MedianTable(columns, slots);
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

/**
 * The values at sorted positions k, k + 1 and k + 2 of `a` (k + 2 < a.length), in O(n): selection
 * (Hoare's FIND) puts the k-th smallest at a[k] with none smaller after it, then the next two are
 * the two smallest of the rest. Reorders `a`.
 */
function middleThree(a: Float64Array, k: number): [number, number, number] {
  let left = 0;
  let right = a.length - 1;
  while (left < right) {
    const pivot = a[k] as number;
    let i = left;
    let j = right;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while (pivot < (a[j] as number)) j--;
      if (i <= j) {
        const swap = a[i] as number;
        a[i] = a[j] as number;
        a[j] = swap;
        i++;
        j--;
      }
    }
    if (j < k) left = i;
    if (k < i) right = j;
  }
  let first = Number.POSITIVE_INFINITY;
  let second = Number.POSITIVE_INFINITY;
  for (let i = k + 1; i < a.length; i++) {
    const value = a[i] as number;
    if (value < first) {
      second = first;
      first = value;
    } else if (value < second) second = value;
  }
  return [a[k] as number, first, second];
}
