import { expect, test } from 'bun:test';
import {
  CHANNELS,
  REFERENCE_CHANNELS,
  REFERENCE_KINDS,
  referenceValues,
  WINDOW_HOURS,
} from '@sensormesh/models';
import { HourCache, KEPT_HOURS } from './cache.ts';
import { MedianTable, medianExcluding, NetworkReference } from './reference.ts';
import { packForecasts } from './score.ts';
import { seededRandom } from './test-support/random.ts';

/** The training code's definition: sort the others and take the middle. */
function naive(values: number[], skipIndex: number): number {
  const others = values.filter((_, i) => i !== skipIndex).sort((a, b) => a - b);
  if (others.length < 2) return Number.NaN;
  const mid = others.length >> 1;
  return others.length % 2
    ? (others[mid] as number)
    : ((others[mid - 1] as number) + (others[mid] as number)) / 2;
}

test('the median without one sensor equals sorting the others, ties and short columns included', () => {
  const random = seededRandom(7);
  for (let trial = 0; trial < 2_000; trial++) {
    const n = 1 + Math.floor(random() * 9);
    // Few distinct values, so ties are common.
    const values = Array.from({ length: n }, () => Math.floor(random() * 5));
    const sorted = Float64Array.from(values).sort();
    const skip = Math.floor(random() * n);
    expect(medianExcluding(sorted, values[skip] as number)).toEqual(naive(values, skip));
    expect(medianExcluding(sorted, Number.NaN)).toEqual(naive(values, -1));
    // The precomputed table is bit-equal to the direct form, for every member and for none.
    const table = MedianTable.ofSorted([sorted]);
    expect(table.get(0, values[skip] as number)).toEqual(naive(values, skip));
    expect(table.get(0, Number.NaN)).toEqual(naive(values, -1));
  }
});

test('a median table from an unsorted column is bit-equal to one from the sorted column', () => {
  const random = seededRandom(13);
  for (let trial = 0; trial < 3_000; trial++) {
    const n = trial % 3 === 0 ? Math.floor(random() * 1_200) : Math.floor(random() * 14);
    // Few distinct values in some trials (ties), real-valued in others.
    const values = Float64Array.from({ length: n }, () =>
      trial % 2 ? Math.floor(random() * 4) : random() * 1_000 - 100,
    );
    const sorted = Float64Array.from(values).sort();
    const want = MedianTable.ofSorted([sorted]);
    const got = MedianTable.ofUnsorted([values]);
    for (const own of [Number.NaN, ...Array.from(values.slice(0, 20))]) {
      expect(Object.is(got.get(0, own), want.get(0, own))).toBe(true);
    }
  }
});

test('the forecast reference: median PM of the others, the network’s mean weather (wind as vectors), unknown under two others', () => {
  const random = seededRandom(11);
  const cache = new HourCache();
  const last = 500_000;
  // Due: `a` (a complete window) and `e` (pressure and wind speed missing some hours, gaps the fill
  // closes). The others often miss a value: hours with fewer than two others reporting are common.
  const due = ['a', 'e'];
  const sensors = ['a', 'e', 'b', 'c', 'd'];
  const rows = new Map<string, number[]>();
  for (const id of sensors) {
    for (let hour = last - WINDOW_HOURS + 1; hour <= last; hour++) {
      const gap = due.includes(id) ? () => false : () => random() < 0.3;
      const row = CHANNELS.map((_, c) => (gap() ? Number.NaN : c === 11 ? random() * 360 : 1000 * random()));
      if (id === 'e' && (hour - last + WINDOW_HOURS - 1) % 7 === 3) {
        row[CHANNELS.indexOf('pressure')] = Number.NaN;
        row[CHANNELS.indexOf('wind_speed')] = Number.NaN;
      }
      cache.put(id, hour, row);
      rows.set(`${id}:${hour}`, Array.from(new Float32Array(row)));
    }
  }
  const packed = packForecasts(
    cache,
    due.map((sensorId) => ({ sensorId, hour: last })),
    new NetworkReference(cache),
  );
  expect(packed.kept.map((k) => k.sensorId)).toEqual(due);
  const R = REFERENCE_CHANNELS.length;
  const own = new Float64Array(R);
  due.forEach((id, i) => {
    for (let h = 0; h < WINDOW_HOURS; h++) {
      const hour = last - WINDOW_HOURS + 1 + h;
      const values = sensors.map((sensor) => {
        referenceValues(rows.get(`${sensor}:${hour}`) as number[], 0, own);
        return { sensor, values: Array.from(own) };
      });
      REFERENCE_CHANNELS.forEach((_, r) => {
        const got = packed.reference?.[(i * WINDOW_HOURS + h) * R + r] as number;
        const present = values.filter((v) => !Number.isNaN(v.values[r] as number));
        const others = present.filter((v) => v.sensor !== id).map((v) => v.values[r] as number);
        if (others.length < 2) {
          expect(got).toBeNaN();
          return;
        }
        const want =
          REFERENCE_KINDS[r] === 'median'
            ? naive(others, -1)
            : present.reduce((a, v) => a + (v.values[r] as number), 0) / present.length;
        expect(got).toBeCloseTo(Math.fround(want), 3);
      });
    }
  });
});

test('a network reference kept across passes follows every change to an hour, as a fresh one would', () => {
  // Windows that wrap around the cache's ring end (the last hour's slot is near the ring's start).
  const last = 7 * KEPT_HOURS + 5;
  const cache = new HourCache();
  const sensors = ['a', 'b', 'c', 'd', 'e'];
  const random = seededRandom(3);
  const row = () =>
    CHANNELS.map((_, c) => (random() < 0.1 ? Number.NaN : c === 11 ? random() * 360 : 500 * random()));
  for (const id of sensors)
    for (let hour = last - WINDOW_HOURS + 1; hour <= last; hour++) cache.put(id, hour, row());
  const due = ['a', 'b'].map((sensorId) => ({ sensorId, hour: last }));
  const kept = new NetworkReference(cache);
  const fresh = () => Array.from(packForecasts(cache, due, new NetworkReference(cache)).reference ?? []);
  const reused = () => Array.from(packForecasts(cache, due, kept).reference ?? []);
  expect(reused()).toEqual(fresh());
  // Another sensor's values change at the window's first, a middle and its last hour; one hour of
  // a due sensor's own values goes missing (its reference then counts it out).
  for (const hour of [last - WINDOW_HOURS + 1, last - 30, last]) cache.put('c', hour, row());
  cache.put(
    'a',
    last - 10,
    CHANNELS.map(() => Number.NaN),
  );
  expect(reused()).toEqual(fresh());
  // The windows of the next hour share 71 hours with these.
  for (const id of sensors) cache.put(id, last + 1, row());
  const next = due.map((item) => ({ ...item, hour: last + 1 }));
  expect(Array.from(packForecasts(cache, next, kept).reference ?? [])).toEqual(
    Array.from(packForecasts(cache, next, new NetworkReference(cache)).reference ?? []),
  );
});
