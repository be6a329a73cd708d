import { expect, test } from 'bun:test';
import { encodePrediction } from './prediction-json.ts';
import type { Prediction } from './streams.ts';

/** Deterministic doubles in [0, 1) with all 53 bits drawn. */
function randomDoubles(seed: number) {
  let state = seed;
  const next32 = () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state;
  };
  return () => (Math.floor(next32() / 2 ** 11) * 2 ** 32 + next32()) / 2 ** 53;
}

/**
 * Values a forecast step may hold: hundredths at every magnitude up to 10^20 (both signs, so past
 * the fast path's bound), Float32 outputs rounded as the predictor rounds them, unrounded doubles,
 * and the edges (zeros, the bound itself, the largest and smallest doubles).
 */
function values(count: number, seed: number): number[] {
  const random = randomDoubles(seed);
  const out = [
    0, -0, 0.01, -0.01, 0.1, 0.5, 1, 999_999_999.99, 1_000_000_000, 1_000_000_000.01, -999_999_999.99, 1e21,
    5e-324, 1.7976931348623157e308, 1e-7, 123.456,
  ];
  for (let i = 0; out.length < count; i++) {
    const magnitude = 10 ** Math.floor(random() * 22 - 2);
    const sign = random() < 0.2 ? -1 : 1;
    const x = sign * random() * magnitude;
    if (i % 3 === 0) out.push(Math.round(x * 100) / 100);
    else if (i % 3 === 1) out.push(Math.round(Math.fround(x) * 100) / 100);
    else out.push(x);
  }
  return out;
}

/** A message with the predictor's keys in the predictor's order (forecastMessages). */
function message(p: number[], at: number, options: { id?: boolean; role?: boolean } = {}): Prediction {
  const horizons = Array.from({ length: 72 }, (_, h) => ({
    minutes: (h + 1) * 60,
    p10: p[(at + 3 * h) % p.length] as number,
    p50: p[(at + 3 * h + 1) % p.length] as number,
    p90: p[(at + 3 * h + 2) % p.length] as number,
  }));
  return {
    ...(options.id === false ? {} : { id: `forecast-3:aq-"quoted"\\sensor:pm25:${at}` }),
    sensorId: 'aq-"quoted"\\sensor-ü',
    metric: 'pm25',
    ts: 1_728_000_000_000 + at,
    horizons,
    model: 'pm-forecast',
    modelVersion: 'forecast-3',
    ...(options.role === false ? {} : { role: 'active' as const }),
    createdAt: 1_728_000_000_123,
  };
}

test('gives exactly what JSON.stringify gives for the predictor’s messages, value by value', () => {
  const p = values(10_000, 7);
  let compared = 0;
  for (let at = 0; at < p.length; at += 216) {
    const m = message(p, at, { id: at % 2 === 0, role: at % 3 !== 0 });
    expect(encodePrediction(m)).toBe(JSON.stringify(m));
    compared++;
  }
  expect(compared).toBeGreaterThan(45);
  // Each value on its own too, so a failure names the number.
  const mismatches = p.filter((x) => {
    const m = message([x], 0);
    return encodePrediction(m) !== JSON.stringify(m);
  });
  expect(mismatches).toEqual([]);
});

test('a message with other keys or another key order parses to the same value', () => {
  const p = values(300, 11);
  const base = message(p, 0);
  const extra = { ...base, note: 'not in the schema' } as Prediction;
  expect(encodePrediction(extra)).toBe(JSON.stringify(extra)); // the general path, byte for byte
  const extraStep = { ...base, horizons: [{ ...base.horizons[0], p05: 1.5 }, ...base.horizons.slice(1)] };
  expect(encodePrediction(extraStep as Prediction)).toBe(JSON.stringify(extraStep));
  const reordered = {
    createdAt: base.createdAt,
    horizons: base.horizons,
    metric: base.metric,
    model: base.model,
    modelVersion: base.modelVersion,
    sensorId: base.sensorId,
    ts: base.ts,
  } as Prediction;
  expect(JSON.parse(encodePrediction(reordered))).toEqual(JSON.parse(JSON.stringify(reordered)));
});
