import { METRICS } from '@sensormesh/readings';
import { type Clock, systemClock } from './clock.ts';
import type { DeviceReading } from './replay.ts';

/** A synthetic fleet for load tests: N sensors sharing a fixed total message rate. */
export interface FleetOptions {
  sensors: number;
  /** Messages per second, all sensors together. */
  rate: number;
  durationMs: number;
  prefix?: string;
  seed?: number;
  clock?: Clock;
  signal?: AbortSignal;
}

/** Bounds that keep a typo from flooding the machine, and per-sensor timestamps unique. */
export const FLEET_LIMITS = { sensors: 100_000, rate: 500_000, perSensorRate: 1_000, durationMs: 86_400_000 };

const POOL = ['pm25', 'pm10', 'no2', 'o3', 'temp', 'rh', 'pressure', 'co2', 'noise'] as const;
const TICK_MS = 10;

/** A small seeded PRNG (mulberry32): the same seed gives the same fleet, run after run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The fleet's sensor ids: `sim-00001` … */
export function fleetSensorIds(count: number, prefix = 'sim-'): string[] {
  const width = Math.max(5, String(count).length);
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
}

/** Checks a fleet request against FLEET_LIMITS, naming what is wrong. */
export function checkFleet(options: Pick<FleetOptions, 'sensors' | 'rate' | 'durationMs'>): void {
  const { sensors, rate, durationMs } = options;
  if (!Number.isInteger(sensors) || sensors < 1 || sensors > FLEET_LIMITS.sensors)
    throw new Error(`--sensors must be an integer in 1..${FLEET_LIMITS.sensors}`);
  if (!(rate > 0 && rate <= FLEET_LIMITS.rate))
    throw new Error(`--rate must be in (0, ${FLEET_LIMITS.rate}]`);
  if (rate / sensors > FLEET_LIMITS.perSensorRate)
    throw new Error(
      `--rate / --sensors must be at most ${FLEET_LIMITS.perSensorRate} (one reading per ms per sensor)`,
    );
  if (!(durationMs > 0 && durationMs <= FLEET_LIMITS.durationMs))
    throw new Error(`--duration must be in (0, ${FLEET_LIMITS.durationMs / 1_000}] s`);
}

/**
 * Synthetic readings at a fixed total rate: every 10 ms tick sends what the rate owes so far, round
 * robin over the sensors, each with 3–5 catalogue metrics wandering inside their plausible range.
 * Timestamps are the send time, bumped by 1 ms where a sensor would repeat one (one row per ts).
 */
export async function* fleet(options: FleetOptions): AsyncGenerator<DeviceReading[]> {
  checkFleet(options);
  const clock = options.clock ?? systemClock;
  const random = seededRandom(options.seed ?? 1);
  const sensors = fleetSensorIds(options.sensors, options.prefix).map((sensorId) => {
    const count = 3 + Math.floor(random() * 3);
    const offset = Math.floor(random() * POOL.length);
    const metrics = Array.from({ length: count }, (_, i) => POOL[(offset + i) % POOL.length] as string);
    const level = metrics.map((metric) => {
      const spec = METRICS[metric] as { min: number; max: number };
      return spec.min + (spec.max - spec.min) * (0.1 + 0.2 * random());
    });
    return { sensorId, metrics, level, lastTs: 0 };
  });
  const start = clock.now();
  let sent = 0;
  let next = 0;
  for (let tick = 1; ; tick++) {
    const elapsed = Math.min(tick * TICK_MS, options.durationMs);
    await clock.sleep(start + elapsed - clock.now(), options.signal);
    if (options.signal?.aborted) return;
    const owed = Math.floor((options.rate * elapsed) / 1_000) - sent;
    const now = clock.now();
    const batch: DeviceReading[] = [];
    for (let i = 0; i < owed; i++) {
      const sensor = sensors[next] as (typeof sensors)[number];
      next = (next + 1) % sensors.length;
      const ts = Math.max(now, sensor.lastTs + 1);
      sensor.lastTs = ts;
      const metrics: Record<string, number> = {};
      sensor.metrics.forEach((metric, m) => {
        const spec = METRICS[metric] as { min: number; max: number };
        const span = spec.max - spec.min;
        const level = Math.min(
          spec.max,
          Math.max(spec.min, (sensor.level[m] as number) + (random() - 0.5) * span * 0.002),
        );
        sensor.level[m] = level;
        metrics[metric] = Math.round(level * 10) / 10;
      });
      batch.push({ sensorId: sensor.sensorId, ts, metrics });
    }
    sent += owed;
    if (batch.length > 0) yield batch;
    if (elapsed >= options.durationMs) return;
  }
}
