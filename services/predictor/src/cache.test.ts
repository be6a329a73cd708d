import { expect, test } from 'bun:test';
import { CHANNELS, referenceValues } from '@sensormesh/models';
import { HourCache, KEPT_HOURS, WIND_U, WIND_V } from './cache.ts';
import { seededRandom } from './test-support/random.ts';

const C = CHANNELS.length;
const row = (hour: number) => Array.from({ length: C }, (_, c) => hour * 100 + c);

test('a window across the ring’s wrap, with gaps and a newer hour in a slot, reads hour by hour', () => {
  const cache = new HourCache();
  const last = 5 * KEPT_HOURS + 11; // the window wraps around the ring’s end; last % 7 ≠ 0
  for (let hour = last - 80; hour <= last; hour++) if (hour % 7 !== 0) cache.put('s', hour, row(hour));
  const out = new Float32Array(72 * C);
  expect(cache.window('s', last, 72, out)).toBe(false); // every 7th hour is missing
  for (let i = 0; i < 72; i++) {
    const hour = last - 71 + i;
    for (let c = 0; c < C; c++) {
      const value = out[i * C + c] as number;
      if (hour % 7 === 0) expect(value).toBeNaN();
      else expect(value).toBe(Math.fround(hour * 100 + c));
    }
  }
  // An hour a full ring older never overwrites the newer one in its slot.
  cache.put('s', last - KEPT_HOURS, row(1));
  expect(cache.value('s', last, 0)).toBe(last * 100);
  expect(cache.has('s', last - KEPT_HOURS)).toBe(false);
});

test('a window is complete only when every hour is held with every channel', () => {
  const cache = new HourCache();
  for (let hour = 100; hour < 110; hour++) cache.put('s', hour, row(hour));
  const out = new Float32Array(10 * C);
  expect(cache.window('s', 109, 10, out)).toBe(true);
  expect(out.some(Number.isNaN)).toBe(false);
  cache.put(
    's',
    105,
    row(105).map((v, c) => (c === 3 ? Number.NaN : v)),
  );
  expect(cache.window('s', 109, 10, out)).toBe(false);
  expect(cache.window('s', 109, 4, new Float32Array(4 * C))).toBe(true); // 106–109
  cache.put('s', 105, row(105)); // the hour comes again, complete
  expect(cache.window('s', 109, 10, out)).toBe(true);
  expect(cache.window('s', 110, 10, out)).toBe(false); // 110 not held
  expect(cache.window('unknown', 109, 10, out)).toBe(false);
});

test('an hour’s column holds every known value of the sensors holding it, in first-seen order, past the slabs’ growth', () => {
  const cache = new HourCache();
  const hour = 3 * KEPT_HOURS + 2;
  const ids = Array.from({ length: 150 }, (_, s) => `s${s}`);
  // 150 sensors: the network slabs grow twice (64, 128, 256) while hours are already held.
  ids.forEach((id, s) => {
    cache.put(id, hour - 1, row(s));
    if (s % 3 !== 0)
      cache.put(
        id,
        hour,
        row(1_000 + s).map((v, c) => (c === s % C ? Number.NaN : v)),
      );
  });
  cache.put('s4', hour, row(7)); // a sensor's hour stored again
  cache.put('s5', hour - KEPT_HOURS, row(9)); // older than its slot's hour: not stored
  const out = new Float64Array(ids.length);
  const own = new Float32Array(C);
  const wind = new Float64Array(6);
  for (let c = 0; c < C + 2; c++) {
    const want: number[] = [];
    for (const id of ids) {
      if (!cache.row(id, hour, own)) continue;
      referenceValues(own, 0, wind);
      const value = c === WIND_U ? wind[4] : c === WIND_V ? wind[5] : own[c];
      if (!Number.isNaN(value)) want.push(value as number);
    }
    const n = cache.column(hour, c, out);
    expect(Array.from(out.subarray(0, n))).toEqual(want);
    expect(n).toBeGreaterThan(70);
  }
  expect(cache.column(hour - 1, 0, out)).toBe(150);
});

test('windows read as hour-by-hour lookups after random puts: out of order, incomplete, replaced, older than the ring', () => {
  const random = seededRandom(5);
  const cache = new HourCache();
  const base = 9 * KEPT_HOURS;
  const out = new Float32Array(72 * C);
  let completes = 0;
  let newest = base;
  for (let step = 0; step < 3_000; step++) {
    // Half the puts are the next hour after the newest (the usual case), half anywhere.
    newest = random() < 0.5 ? newest + 1 : base + Math.floor(random() * 2.5 * KEPT_HOURS);
    const hour = newest;
    // Mostly complete hours, so windows with every hour complete (the copy without checks) are common.
    const gap = random() < 0.01 ? Math.floor(random() * C) : -1;
    cache.put(
      's',
      hour,
      row(hour).map((v, c) => (c === gap ? Number.NaN : v)),
    );
    const last = base + Math.floor(random() * 2.5 * KEPT_HOURS);
    const complete = cache.window('s', last, 72, out);
    let want = true;
    for (let i = 0; i < 72; i++) {
      for (let c = 0; c < C; c++) {
        const value = cache.value('s', last - 71 + i, c);
        if (Number.isNaN(value)) want = false;
        expect(Object.is(out[i * C + c], Math.fround(value))).toBe(true);
      }
    }
    expect(complete).toBe(want);
    if (complete) completes++;
  }
  expect(completes).toBeGreaterThan(100);
});

test('the complete run ends at a jump past unheld hours, and at the hours the ring no longer holds', () => {
  const cache = new HourCache();
  const out = new Float32Array(72 * C);
  for (let hour = 1_000; hour < 1_100; hour++) cache.put('s', hour, row(hour));
  for (let hour = 1_150; hour < 1_222; hour++) cache.put('s', hour, row(hour));
  expect(cache.window('s', 1_221, 72, out)).toBe(true);
  expect(cache.window('s', 1_160, 72, out)).toBe(false); // 1,100–1,149 were never stored
  expect(out[(1_120 - 1_089) * C]).toBeNaN();
  for (let hour = 1_222; hour <= 1_400; hour++) cache.put('s', hour, row(hour));
  expect(cache.window('s', 1_400, 72, out)).toBe(true);
  // Hours before 1,400 − KEPT_HOURS + 1 have left the ring.
  expect(cache.window('s', 1_400 - KEPT_HOURS + 72, 72, out)).toBe(true);
  expect(cache.window('s', 1_400 - KEPT_HOURS + 71, 72, out)).toBe(false);
  expect(out[0]).toBeNaN();
});
