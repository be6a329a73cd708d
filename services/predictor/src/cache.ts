import { CHANNELS, REFERENCE_CHANNELS, referenceValues, WINDOW_HOURS } from '@sensormesh/models';

/** Hours a sensor's ring keeps: the window plus a day of slack for late scoring. */
export const KEPT_HOURS = WINDOW_HOURS + 24;
const C = CHANNELS.length;
/** Column numbers past CHANNELS for the wind's u and v components (see `column`). */
export const WIND_U = C;
export const WIND_V = C + 1;
const U = REFERENCE_CHANNELS.indexOf('wind_u');
const V = REFERENCE_CHANNELS.indexOf('wind_v');

/** One sensor's recent hourly means: a ring of KEPT_HOURS hours × CHANNELS, NaN = no reading. */
interface SensorHours {
  /** Which epoch hour each slot holds (-1: none). */
  tags: Int32Array;
  values: Float32Array;
  /** 1 where the slot's hour has every channel (no NaN): a window of such hours needs no scan. */
  complete: Uint8Array;
  /** The sensor's column in the network slabs. */
  index: number;
  /** The newest hour held (-1: none). */
  newest: number;
  /** Every hour from this one to `newest` is held and complete: a window inside is copied unchecked. */
  completeFrom: number;
}

/**
 * The hourly means of closed hours per sensor, in memory: what windows are cut from. Filled from
 * ClickHouse at start-up and as hours close; hours another replica closed are fetched on demand.
 */
export class HourCache {
  private readonly sensors = new Map<string, SensorHours>();
  /** Bumped whenever an hour changes, so per-hour derived data (network medians) knows it is stale. */
  private readonly stamps = new Map<number, number>();
  private stamp = 0;
  /*
   * The same rows again, network-wide: per ring slot, every sensor's row side by side
   * ([slot][sensor][channel]). A sweep of one hour over the whole network (the reference medians and
   * means, made again on most passes) then reads one block instead of a ring per sensor, which cost
   * ~0.6 ms for 1,000 sensors once onnxruntime had evicted them from the caches.
   */
  private capacity = 0;
  private slabTags = new Int32Array(0);
  private slabValues = new Float32Array(0);
  /** Wind u and v per slot and sensor, made once at `put` (two trigonometric calls per row). */
  private slabWind = new Float64Array(0);
  private readonly referenceRow = new Float64Array(REFERENCE_CHANNELS.length);

  /** A number that changes whenever any hour of any sensor changes. */
  get version(): number {
    return this.stamp;
  }

  /** A number that changes whenever any sensor's value at `hour` changes. */
  hourStamp(hour: number): number {
    return this.stamps.get(hour) ?? 0;
  }

  get size(): number {
    return this.sensors.size;
  }

  private sensor(id: string): SensorHours {
    let hours = this.sensors.get(id);
    if (!hours) {
      if (this.sensors.size === this.capacity) this.grow(Math.max(64, this.capacity * 2));
      hours = {
        tags: new Int32Array(KEPT_HOURS).fill(-1),
        values: new Float32Array(KEPT_HOURS * C),
        complete: new Uint8Array(KEPT_HOURS),
        index: this.sensors.size,
        newest: -1,
        completeFrom: 0,
      };
      this.sensors.set(id, hours);
    }
    return hours;
  }

  private grow(capacity: number): void {
    const n = this.sensors.size;
    /** A slab re-laid for the new capacity: each slot's first n sensors' cells (of `width`) moved. */
    const regrow = <A extends Int32Array | Float32Array | Float64Array>(
      old: A,
      into: A,
      width: number,
    ): A => {
      for (let slot = 0; slot < KEPT_HOURS; slot++)
        into.set(
          old.subarray(slot * this.capacity * width, (slot * this.capacity + n) * width),
          slot * capacity * width,
        );
      return into;
    };
    this.slabTags = regrow(this.slabTags, new Int32Array(KEPT_HOURS * capacity).fill(-1), 1);
    this.slabValues = regrow(this.slabValues, new Float32Array(KEPT_HOURS * capacity * C), C);
    this.slabWind = regrow(this.slabWind, new Float64Array(KEPT_HOURS * capacity * 2), 2);
    this.capacity = capacity;
  }

  /** Stores an hour's means (CHANNELS order, NaN = missing); an older hour never evicts a newer one. */
  put(id: string, hour: number, means: ArrayLike<number>): void {
    const s = this.sensor(id);
    const slot = hour % KEPT_HOURS;
    if ((s.tags[slot] as number) > hour) return;
    s.tags[slot] = hour;
    let complete = 1;
    for (let c = 0; c < C; c++) {
      s.values[slot * C + c] = means[c] as number;
      if (Number.isNaN(s.values[slot * C + c] as number)) complete = 0;
    }
    s.complete[slot] = complete;
    if (hour > s.newest) {
      // The usual put, the next hour: it extends the complete run ending at the newest hour or
      // starts one after itself (what the ring no longer holds drops out of the run).
      const adjacent = hour === s.newest + 1;
      s.newest = hour;
      if (!complete) s.completeFrom = hour + 1;
      else if (!adjacent) s.completeFrom = hour;
      s.completeFrom = Math.max(s.completeFrom, hour - KEPT_HOURS + 1);
    } else {
      // An earlier hour stored (again): the run is counted again, as the put can cut it or mend it.
      let from = s.newest + 1;
      while (from - 1 > s.newest - KEPT_HOURS) {
        const before = (from - 1) % KEPT_HOURS;
        if (s.tags[before] !== from - 1 || s.complete[before] !== 1) break;
        from--;
      }
      s.completeFrom = from;
    }
    const cell = slot * this.capacity + s.index;
    this.slabTags[cell] = hour;
    this.slabValues.set(s.values.subarray(slot * C, slot * C + C), cell * C);
    // From the stored (float32) values, as the reference was always made.
    referenceValues(s.values, slot * C, this.referenceRow);
    this.slabWind[cell * 2] = this.referenceRow[U] as number;
    this.slabWind[cell * 2 + 1] = this.referenceRow[V] as number;
    this.stamps.set(hour, ++this.stamp);
    if (this.stamps.size > KEPT_HOURS * 4) {
      for (const old of this.stamps.keys()) if (old < hour - KEPT_HOURS) this.stamps.delete(old);
    }
  }

  /**
   * Writes every sensor's value of `channel` at `hour` that is known (not NaN) to `out`, in the
   * order sensors were first seen, and returns how many. `channel` is a CHANNELS index, or WIND_U
   * or WIND_V for the wind's components (NaN unless both speed and direction are known).
   */
  column(hour: number, channel: number, out: Float64Array): number {
    const slot = hour % KEPT_HOURS;
    const first = slot * this.capacity;
    const tags = this.slabTags;
    const wind = channel >= C;
    const values = wind ? this.slabWind : this.slabValues;
    const stride = wind ? 2 : C;
    const offset = wind ? channel - C : channel;
    let n = 0;
    for (let cell = first; cell < first + this.sensors.size; cell++) {
      if (tags[cell] !== hour) continue;
      const value = values[cell * stride + offset] as number;
      if (Number.isNaN(value)) continue;
      out[n++] = value;
    }
    return n;
  }

  /** Every sensor with its newest hour held, in the order sensors were first seen. */
  newestHours(): { sensorId: string; hour: number }[] {
    const out: { sensorId: string; hour: number }[] = [];
    for (const [sensorId, s] of this.sensors) if (s.newest >= 0) out.push({ sensorId, hour: s.newest });
    return out;
  }

  /** Whether the hour is held (possibly all NaN: the hour is known to have no data). */
  has(id: string, hour: number): boolean {
    const s = this.sensors.get(id);
    return s !== undefined && s.tags[hour % KEPT_HOURS] === hour;
  }

  /** One channel's mean at an hour, NaN when unknown. */
  value(id: string, hour: number, channel: number): number {
    const s = this.sensors.get(id);
    const slot = hour % KEPT_HOURS;
    if (!s || s.tags[slot] !== hour) return Number.NaN;
    return s.values[slot * C + channel] as number;
  }

  /** Copies one hour's channels into `out`; false when the hour is not held. */
  row(id: string, hour: number, out: Float32Array): boolean {
    const s = this.sensors.get(id);
    const slot = hour % KEPT_HOURS;
    if (!s || s.tags[slot] !== hour) return false;
    out.set(s.values.subarray(slot * C, slot * C + C));
    return true;
  }

  /**
   * Copies hours [last - hours + 1, last] into `out` at `offset` (rows of CHANNELS), NaN where
   * unknown. Returns whether every hour was held with every channel, i.e. `out` got no NaN (kept per
   * hour as it is stored, so a caller need not scan the window for gaps).
   */
  window(id: string, last: number, hours: number, out: Float32Array, offset = 0): boolean {
    const s = this.sensors.get(id);
    const first = last - hours + 1;
    if (s && first >= s.completeFrom && last <= s.newest) {
      // The usual window: one or two runs of the ring (it may wrap around the ring's end).
      const start = first % KEPT_HOURS;
      const head = Math.min(hours, KEPT_HOURS - start);
      out.set(s.values.subarray(start * C, (start + head) * C), offset);
      if (head < hours) out.set(s.values.subarray(0, (hours - head) * C), offset + head * C);
      return true;
    }
    let complete = true;
    // Runs of held hours that are adjacent in the ring are copied in one go (usually one or two).
    let i = 0;
    while (i < hours) {
      const slot = (first + i) % KEPT_HOURS;
      if (!s || s.tags[slot] !== first + i) {
        out.fill(Number.NaN, offset + i * C, offset + (i + 1) * C);
        complete = false;
        i++;
        continue;
      }
      let end = i + 1;
      while (end < hours && slot + (end - i) < KEPT_HOURS && s.tags[slot + (end - i)] === first + end) end++;
      out.set(s.values.subarray(slot * C, (slot + end - i) * C), offset + i * C);
      for (let k = slot; complete && k < slot + (end - i); k++) complete = s.complete[k] === 1;
      i = end;
    }
    return complete;
  }
}
