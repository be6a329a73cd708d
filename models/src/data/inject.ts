import { seededRandom } from '@sensormesh/simulator';
import {
  FAULT_CHANNELS,
  FAULT_CLASSES,
  FAULT_METRICS,
  type FaultKindName,
  type MetricScale,
  scaled,
  unscaled,
} from '../fault/spec.ts';
import { CHANNELS, type Dataset } from './dataset.ts';

/** One injected fault: which station's metric, its kind and its hours (grid indices, end exclusive). */
export interface InjectedFault {
  station: string;
  metric: string;
  kind: FaultKindName;
  from: number;
  to: number;
  /** Spike: added y; drift: y offset reached at the end; out_of_range: the value written. */
  magnitude: number;
}

/** What the generator did: the faulty data, the truth per hour and the list of faults. */
export interface Injection {
  dataset: Dataset;
  faults: InjectedFault[];
  /**
   * Per station, metric (FAULT_METRICS order) and hour: the class index (FAULT_CLASSES) the hour
   * truly has. A missing hour of the original data is a dropout too: the instrument did not report.
   */
  labels: Int8Array[][];
  /** 1 where an injected fault's early hours cannot be told from clean data yet (stuck: the first two; drift: under 40% of its offset). */
  undetectable: Uint8Array[][];
  /** 1 for the few hours after a fault, where the return to normal looks odd by design. */
  aftermath: Uint8Array[][];
  /** 1 where the source data itself was missing (a genuine gap, labelled dropout). */
  genuineGap: Uint8Array[][];
}

export interface InjectOptions {
  seed: number;
  /** Mean clean hours between faults on one station's metric. */
  meanGapHours?: number;
}

/** Hours after a fault ends that count neither as fault nor as clean. */
export const AFTERMATH_HOURS = 3;
const KINDS: readonly FaultKindName[] = ['spike', 'stuck', 'drift', 'dropout', 'out_of_range'];
const classIndex = (kind: FaultKindName) => FAULT_CLASSES.indexOf(kind);

/**
 * The documented fault generator (README "Fault generator"). Walks every station's fault
 * metrics with one seeded PRNG and places non-overlapping faults of the five kinds, each
 * followed by at least three days clean:
 * - spike: one hour, y + k·step with k in [8, 20] (upwards 3 times in 4);
 * - stuck: 6–48 h holding the last value before the window (as the simulator's stuck does);
 * - drift: 24–72 h, an offset growing linearly to ±[4, 10]·deviation in y;
 * - dropout: 3–24 h missing;
 * - out_of_range: 1–6 h beyond the catalogue's plausible range.
 * Spikes and drifts stay inside the plausible range (clamped), so they are not out-of-range faults.
 */
export function injectFaults(
  source: Dataset,
  scales: readonly MetricScale[],
  options: InjectOptions,
): Injection {
  const random = seededRandom(options.seed);
  const uniform = (a: number, b: number) => a + (b - a) * random();
  const integer = (a: number, b: number) => a + Math.floor(random() * (b - a + 1));
  const meanGap = options.meanGapHours ?? 400;
  const C = CHANNELS.length;
  const faults: InjectedFault[] = [];
  const stations = source.stations.map((series) => ({
    station: series.station,
    values: new Float32Array(series.values),
  }));
  const labels = stations.map(() => FAULT_METRICS.map(() => new Int8Array(source.hours)));
  const undetectable = stations.map(() => FAULT_METRICS.map(() => new Uint8Array(source.hours)));
  const aftermath = stations.map(() => FAULT_METRICS.map(() => new Uint8Array(source.hours)));
  const genuineGap = stations.map(() => FAULT_METRICS.map(() => new Uint8Array(source.hours)));

  stations.forEach((series, s) => {
    FAULT_METRICS.forEach((metric, mi) => {
      const c = FAULT_CHANNELS[mi] as number;
      const scale = scales[mi] as MetricScale;
      const get = (h: number) => series.values[h * C + c] as number;
      const set = (h: number, value: number) => {
        series.values[h * C + c] = value;
      };
      const clampInRange = (value: number) => Math.min(scale.max, Math.max(scale.min, value));
      let h = 72 + Math.floor(random() * meanGap);
      while (h < source.hours - 1) {
        const kind = KINDS[integer(0, KINDS.length - 1)] as FaultKindName;
        const length = {
          spike: 1,
          stuck: integer(6, 48),
          drift: integer(24, 72),
          dropout: integer(3, 24),
          out_of_range: integer(1, 6),
        }[kind];
        const to = Math.min(source.hours, h + length);
        // A fault needs a reading to act on (stuck: the hour before too); else try a little later.
        if (Number.isNaN(get(h)) || (kind === 'stuck' && Number.isNaN(get(h - 1)))) {
          h += 1 + integer(0, 24);
          continue;
        }
        let magnitude = 0;
        if (kind === 'spike') {
          magnitude = (random() < 0.75 ? 1 : -1) * uniform(8, 20) * scale.step;
          set(h, clampInRange(unscaled(scale, scaled(scale, get(h)) + magnitude)));
        } else if (kind === 'stuck') {
          magnitude = get(h - 1);
          for (let t = h; t < to; t++) if (!Number.isNaN(get(t))) set(t, magnitude);
        } else if (kind === 'drift') {
          magnitude = (random() < 0.5 ? 1 : -1) * uniform(4, 10) * scale.deviation;
          for (let t = h; t < to; t++) {
            const value = get(t);
            const share = (t - h + 1) / (to - h);
            if (!Number.isNaN(value))
              set(t, clampInRange(unscaled(scale, scaled(scale, value) + magnitude * share)));
            if (share < 0.4) (undetectable[s]?.[mi] as Uint8Array)[t] = 1;
          }
        } else if (kind === 'dropout') {
          for (let t = h; t < to; t++) set(t, Number.NaN);
        } else {
          const span = scale.max - scale.min;
          magnitude =
            random() < 0.5 ? scale.max + uniform(0.05, 1) * span : scale.min - uniform(0.01, 0.5) * span;
          for (let t = h; t < to; t++) set(t, magnitude);
        }
        const label = labels[s]?.[mi] as Int8Array;
        for (let t = h; t < to; t++) label[t] = classIndex(kind);
        if (kind === 'stuck')
          for (let t = h; t < Math.min(to, h + 2); t++) (undetectable[s]?.[mi] as Uint8Array)[t] = 1;
        for (let t = to; t < Math.min(source.hours, to + AFTERMATH_HOURS); t++)
          (aftermath[s]?.[mi] as Uint8Array)[t] = 1;
        faults.push({ station: series.station, metric, kind, from: h, to, magnitude });
        h = to + 72 + Math.floor(-Math.log(1 - random()) * meanGap);
      }
      // Hours the instrument itself did not report are dropouts as well (see labels).
      const label = labels[s]?.[mi] as Int8Array;
      const gap = genuineGap[s]?.[mi] as Uint8Array;
      for (let t = 0; t < source.hours; t++) {
        if (Number.isNaN(get(t)) && label[t] === 0) {
          label[t] = classIndex('dropout');
          gap[t] = 1;
        }
      }
    });
  });
  return {
    dataset: { startHour: source.startHour, hours: source.hours, stations },
    faults,
    labels,
    undetectable,
    aftermath,
    genuineGap,
  };
}

/**
 * The network reference of one channel: per station and hour, the median of the other stations'
 * values that hour (NaN when fewer than two report). Neighbours tell weather and regional smog
 * apart from a faulty instrument: a jump every station sees is air, not a fault.
 */
export function networkReference(dataset: Dataset, channel: number): Float32Array[] {
  const C = CHANNELS.length;
  const S = dataset.stations.length;
  const out = dataset.stations.map(() => new Float32Array(dataset.hours).fill(Number.NaN));
  const others: number[] = [];
  for (let h = 0; h < dataset.hours; h++) {
    for (let s = 0; s < S; s++) {
      others.length = 0;
      for (let o = 0; o < S; o++) {
        if (o === s) continue;
        const value = dataset.stations[o]?.values[h * C + channel] as number;
        if (!Number.isNaN(value)) others.push(value);
      }
      if (others.length < 2) continue;
      others.sort((a, b) => a - b);
      const mid = others.length >> 1;
      (out[s] as Float32Array)[h] =
        others.length % 2
          ? (others[mid] as number)
          : ((others[mid - 1] as number) + (others[mid] as number)) / 2;
    }
  }
  return out;
}
