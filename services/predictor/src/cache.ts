import { CHANNELS, WINDOW_HOURS } from '@sensormesh/models';

/** Hours a sensor's ring keeps: the window plus a day of slack for late scoring. */
export const KEPT_HOURS = WINDOW_HOURS + 24;
const C = CHANNELS.length;

/** One sensor's recent hourly means: a ring of KEPT_HOURS hours × CHANNELS, NaN = no reading. */
interface SensorHours {
  /** Which epoch hour each slot holds (-1: none). */
  tags: Int32Array;
  values: Float32Array;
  /** 1 where the slot's hour has every channel (no NaN): a window of such hours needs no scan. */
  complete: Uint8Array;
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

  /** A number that changes whenever any sensor's value at `hour` changes. */
  hourStamp(hour: number): number {
    return this.stamps.get(hour) ?? 0;
  }

  /** Sensors with at least one hour. */
  ids(): IterableIterator<string> {
    return this.sensors.keys();
  }

  get size(): number {
    return this.sensors.size;
  }

  private sensor(id: string): SensorHours {
    let hours = this.sensors.get(id);
    if (!hours) {
      hours = {
        tags: new Int32Array(KEPT_HOURS).fill(-1),
        values: new Float32Array(KEPT_HOURS * C),
        complete: new Uint8Array(KEPT_HOURS),
      };
      this.sensors.set(id, hours);
    }
    return hours;
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
    this.stamps.set(hour, ++this.stamp);
    if (this.stamps.size > KEPT_HOURS * 4) {
      for (const old of this.stamps.keys()) if (old < hour - KEPT_HOURS) this.stamps.delete(old);
    }
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
