import { CHANNELS, networkMean, REFERENCE_CHANNELS, REFERENCE_KINDS, WINDOW_HOURS } from '@sensormesh/models';
import { type HourCache, WIND_U, WIND_V } from './cache.ts';

/**
 * The network reference of both models: per hour and channel, the median of the *other* sensors'
 * values (NaN when fewer than two report), as in training (models/src/data/inject.ts), through a
 * MedianTable that skips a sensor's own value in O(1); and the network's mean weather for the
 * forecast model (REFERENCE_CHANNELS of kind mean: see networkMean in the models). Everything is
 * made per hour on first use and kept until any sensor's value at that hour changes.
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
const M = MEDIAN_CHANNELS.length;
const W = MEAN_CHANNELS.length;
const PRESSURE = CHANNELS.indexOf('pressure');
const DEWPOINT = CHANNELS.indexOf('dewpoint');
const WIND_SPEED = CHANNELS.indexOf('wind_speed');
const WIND_DIR = CHANNELS.indexOf('wind_dir');
if (
  REFERENCE_CHANNELS.join() !== 'pm25,pm10,pressure,dewpoint,wind_u,wind_v' ||
  MEAN_CHANNELS.join() !== '2,3,4,5'
)
  throw new Error('forecastWindow writes the reference channels in this order');
/** The channels the weather means are taken over: pressure, dew point, wind u and v. */
const MEAN_SOURCES = [PRESSURE, DEWPOINT, WIND_U, WIND_V];

interface HourSweep {
  stamp: number;
  /** Per channel (and WIND_U, WIND_V), the values of every sensor that reported, once asked for. */
  columns: (Float64Array | undefined)[];
  /** Per channel, its median table once asked for. */
  tables: (MedianTable | undefined)[];
  /** The forecast reference's parts, once asked for: see `forecastParts`. */
  forecast?: { medians: MedianTable; weather: Float64Array };
}

/** The forecast reference's per-hour parts over one window's hours, while the cache is unchanged. */
interface ForecastHours {
  last: number;
  version: number;
  /** Per window hour, MEDIAN_CHANNELS columns. */
  medians: MedianTable;
  /** Per window hour and MEAN_CHANNELS entry: the mean without and with the sensor's own value. */
  weather: Float64Array;
  /** The reference rows of a window without gaps (own value in every mean), medians left to fill. */
  complete: Float32Array;
}

export class NetworkReference {
  private readonly hours = new Map<number, HourSweep>();
  private forecastHours?: ForecastHours;

  constructor(private readonly cache: HourCache) {}

  /** The hour's derived data, empty until asked for; made again once any sensor's value there changed. */
  private sweep(hour: number): HourSweep {
    const stamp = this.cache.hourStamp(hour);
    const memo = this.hours.get(hour);
    if (memo && memo.stamp === stamp) return memo;
    const sweep: HourSweep = { stamp, columns: [], tables: [] };
    this.hours.set(hour, sweep);
    return sweep;
  }

  /**
   * Every reporting sensor's value of `channel` at `hour` (a CHANNELS index, or WIND_U / WIND_V),
   * read from the cache's network slab on first use: a pass after a fold reads only the columns it
   * needs (the forecast: PM2.5, PM10 and the four weather means) of the hour that changed.
   */
  private column(hour: number, channel: number): { sweep: HourSweep; column: Float64Array } {
    const sweep = this.sweep(hour);
    let column = sweep.columns[channel];
    if (!column) {
      const out = new Float64Array(this.cache.size);
      column = out.subarray(0, this.cache.column(hour, channel, out));
      sweep.columns[channel] = column;
    }
    return { sweep, column };
  }

  /** The median table of `channel` at `hour` (one column), made once per version of the hour. */
  medianTable(hour: number, channel: number): MedianTable {
    const { sweep, column } = this.column(hour, channel);
    let table = sweep.tables[channel];
    if (!table) {
      table = MedianTable.ofUnsorted([column]);
      sweep.tables[channel] = table;
    }
    return table;
  }

  /**
   * The forecast model's reference for the window of WINDOW_HOURS hours ending at `last`, as rows of
   * REFERENCE_CHANNELS into `out` at `at`: per hour, the median PM2.5 and PM10 of the *other*
   * sensors and the network's mean weather (networkMean), each NaN under two other sensors. `own`
   * holds the sensor's window (CHANNELS rows at `ownAt`, NaN where it has no value, i.e. before the
   * gap fill); `complete` says it has none, when the weather needs no look at it.
   */
  forecastWindow(
    last: number,
    own: Float32Array,
    ownAt: number,
    complete: boolean,
    out: Float32Array,
    at: number,
  ): void {
    const hours = this.forecastHoursOf(last);
    const { medians, weather } = hours;
    if (complete) out.set(hours.complete, at);
    for (let h = 0; h < WINDOW_HOURS; h++) {
      const row = ownAt + h * C;
      const o = at + h * R;
      for (let m = 0; m < M; m++)
        out[o + (MEDIAN_CHANNELS[m] as number)] = medians.get(
          h * M + m,
          own[row + (MEDIAN_INDEX[m] as number)] as number,
        );
      if (complete) continue;
      // Each mean as it is when the sensor's own value did not count and when it did: the own
      // value's presence picks one by index.
      const wind = +!(
        Number.isNaN(own[row + WIND_SPEED] as number) || Number.isNaN(own[row + WIND_DIR] as number)
      );
      const t = h * W * 2;
      out[o + 2] = weather[t + +!Number.isNaN(own[row + PRESSURE] as number)] as number;
      out[o + 3] = weather[t + 2 + +!Number.isNaN(own[row + DEWPOINT] as number)] as number;
      out[o + 4] = weather[t + 4 + wind] as number;
      out[o + 5] = weather[t + 6 + wind] as number;
    }
  }

  /** The per-hour parts of the window ending at `last`, made once per pass (while the cache is unchanged). */
  private forecastHoursOf(last: number): ForecastHours {
    const memo = this.forecastHours;
    if (memo && memo.last === last && memo.version === this.cache.version) return memo;
    const first = last - WINDOW_HOURS + 1;
    const tables: MedianTable[] = [];
    const weather = new Float64Array(WINDOW_HOURS * W * 2);
    const complete = new Float32Array(WINDOW_HOURS * R);
    for (let h = 0; h < WINDOW_HOURS; h++) {
      const parts = this.forecastParts(first + h);
      tables.push(parts.medians);
      weather.set(parts.weather, h * W * 2);
      for (let k = 0; k < W; k++)
        complete[h * R + (MEAN_CHANNELS[k] as number)] = parts.weather[k * 2 + 1] as number;
    }
    this.forecastHours = {
      last,
      version: this.cache.version,
      medians: MedianTable.concat(tables),
      weather,
      complete,
    };
    return this.forecastHours;
  }

  /** An hour's median tables (MEDIAN_CHANNELS) and weather means, made once per version of the hour. */
  private forecastParts(hour: number): NonNullable<HourSweep['forecast']> {
    const sweep = this.sweep(hour);
    if (!sweep.forecast) {
      const weather = new Float64Array(W * 2);
      MEAN_SOURCES.forEach((channel, k) => {
        const { column } = this.column(hour, channel);
        let sum = 0;
        for (let i = 0; i < column.length; i++) sum += column[i] as number;
        weather[k * 2] = networkMean(sum, column.length, false);
        weather[k * 2 + 1] = networkMean(sum, column.length, true);
      });
      sweep.forecast = {
        medians: MedianTable.ofUnsorted(MEDIAN_INDEX.map((c) => this.column(hour, c).column)),
        weather,
      };
    }
    return sweep.forecast;
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

  private constructor(slots: Float64Array) {
    this.slots = slots;
  }

  /** From sorted columns. */
  static ofSorted(columns: readonly Float64Array[]): MedianTable {
    const slots = new Float64Array(columns.length * SLOTS);
    columns.forEach((all, i) => {
      const at = i * SLOTS;
      const n = all.length - 1;
      const m = n >> 1;
      slots[at] = medianExcluding(all, Number.NaN);
      slots[at + 1] = n >= 2 ? (all[m - 1] ?? Number.NaN) : Number.NaN;
      slots[at + 2] = n >= 2 ? (all[m] as number) : Number.NaN;
      slots[at + 3] = n >= 2 ? (all[m + 1] as number) : Number.NaN;
      slots[at + 4] = n < 2 ? TOO_FEW : n % 2 ? ODD : EVEN;
    });
    return new MedianTable(slots);
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
    return new MedianTable(slots);
  }

  /** One table of every column of `tables`, in order. */
  static concat(tables: readonly MedianTable[]): MedianTable {
    const slots = new Float64Array(tables.reduce((n, table) => n + table.slots.length, 0));
    let at = 0;
    for (const table of tables) {
      slots.set(table.slots, at);
      at += table.slots.length;
    }
    return new MedianTable(slots);
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
