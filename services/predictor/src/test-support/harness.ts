import { createPublisher, type Reading, readings } from '@sensormesh/bus';
import { parseEnv } from '@sensormesh/config';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { CHANNELS } from '@sensormesh/models';
import { insertReadings, MIGRATIONS_DIR, migrate, openStore, type Store } from '@sensormesh/store';
import Redis from 'ioredis';
import { PredictorEnv } from '../env.ts';
import type { DueHour } from '../hours.ts';
import type { ScoreResult } from '../score.ts';
import { type Predictor, startPredictor } from '../worker.ts';

export const HOUR_MS = 3_600_000;
let databases = 0;

/** A fresh database and a flushed Redis for one test file's predictors. */
export async function predictorWorld(servers: { redisUrl: string; clickhouseUrl: string }) {
  const database = `pred_${process.pid}_${++databases}`;
  const store: Store = await openStore({ clickhouseUrl: servers.clickhouseUrl, database });
  await migrate(store, MIGRATIONS_DIR);
  const redis = new Redis(servers.redisUrl);
  await redis.flushall();
  const publisher = createPublisher(redis);
  const running: Predictor[] = [];
  let consumers = 0;

  const passes: { result: ScoreResult; due: readonly DueHour[]; consumer: string }[] = [];
  const failures: { error: unknown; due: readonly DueHour[] }[] = [];
  const waiters: (() => void)[] = [];

  /** Starts a predictor whose passes can be awaited (world.scored); the clock is the test's. */
  async function start(clock: { now: number }, env: Record<string, string> = {}) {
    const consumer = `test-${++consumers}`;
    const predictor = await startPredictor(
      {
        config: parseEnv(PredictorEnv, {
          PREDICTOR_CONSUMER: consumer,
          // Timers stay out of the way: tests sweep by hand.
          PREDICTOR_SWEEP_MS: '600000',
          PREDICTOR_MODEL_POLL_MS: '3600000',
          ...env,
        }),
        store,
        redis,
        logger: silentLogger(),
        registry: createRegistry(),
      },
      {
        now: () => clock.now,
        onScored(result, due) {
          passes.push({ result, due, consumer });
          for (const wake of waiters.splice(0)) wake();
        },
        onFailed(error, due) {
          failures.push({ error, due });
          for (const wake of waiters.splice(0)) wake();
        },
      },
    );
    running.push(predictor);
    return { predictor, consumer };
  }

  /** Resolves, with what they produced, once passes of any predictor have scored every `sensor@hour` wanted. */
  async function scored(wanted: { sensorId: string; hour: number }[]) {
    const key = (s: string, h: number) => `${s}@${h}`;
    const want = new Set(wanted.map((w) => key(w.sensorId, w.hour)));
    for (;;) {
      const seen = passes.filter((p) => p.due.some((d) => want.has(key(d.sensorId, d.hour))));
      const covered = new Set(seen.flatMap((p) => p.due.map((d) => key(d.sensorId, d.hour))));
      if ([...want].every((k) => covered.has(k))) {
        const result: ScoreResult = {
          predictions: seen.flatMap((p) => p.result.predictions),
          anomalies: seen.flatMap((p) => p.result.anomalies),
          shadowFaults: seen.flatMap((p) => p.result.shadowFaults),
          skipped: seen.flatMap((p) => p.result.skipped),
          forecasts: seen.reduce((n, p) => n + p.result.forecasts, 0),
        };
        return { ...result, passes: seen };
      }
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }

  /** Resolves once failed passes cover every `sensor@hour` wanted. */
  async function failed(wanted: { sensorId: string; hour: number }[]) {
    const want = new Set(wanted.map((w) => `${w.sensorId}@${w.hour}`));
    for (;;) {
      const seen = failures.filter((f) => f.due.some((d) => want.has(`${d.sensorId}@${d.hour}`)));
      const covered = new Set(seen.flatMap((f) => f.due.map((d) => `${d.sensorId}@${d.hour}`)));
      if ([...want].every((k) => covered.has(k))) return seen;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }

  /** With `offsets`, each hour is several readings (value + offset each), whose mean is the row. */
  async function publishHours(sensorId: string, firstHour: number, rows: readonly number[][], offsets = [0]) {
    const batch: Reading[] = [];
    rows.forEach((values, h) => {
      offsets.forEach((offset, k) => {
        const ts = (firstHour + h) * HOUR_MS + k * Math.floor(HOUR_MS / offsets.length);
        const shifted = values.map((v) => v + offset);
        batch.push({ sensorId, ts, metrics: metricsOf(shifted), receivedAt: ts, source: 'test' });
      });
    });
    await publisher.publishBatch(readings, batch);
  }

  /** Stores hours as the writer would (the rollups the predictor rebuilds from). */
  async function storeHours(sensorId: string, firstHour: number, rows: readonly number[][]) {
    await insertReadings(store)(
      rows.flatMap((values, h) =>
        CHANNELS.flatMap((metric, c) =>
          Number.isFinite(values[c])
            ? [
                {
                  sensorId,
                  metric,
                  ts: (firstHour + h) * HOUR_MS,
                  value: values[c] as number,
                  receivedAt: 0,
                  source: 'test',
                },
              ]
            : [],
        ),
      ),
    );
  }

  return {
    database,
    store,
    redis,
    publisher,
    start,
    scored,
    failed,
    passes,
    publishHours,
    storeHours,
    async close() {
      for (const p of running.splice(0)) await p.stop();
      await store.close();
      redis.disconnect();
    },
  };
}

/** CHANNELS values as a reading's metrics (non-finite ones left out). */
export function metricsOf(values: readonly number[]): Record<string, number> {
  const metrics: Record<string, number> = {};
  CHANNELS.forEach((metric, c) => {
    const value = values[c] as number;
    if (Number.isFinite(value)) metrics[metric] = value;
  });
  return metrics;
}
