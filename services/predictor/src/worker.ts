import { hostname } from 'node:os';
import {
  anomalies,
  createConsumer,
  createPublisher,
  type Delivery,
  faultShadowVerdicts,
  predictions,
  type Reading,
  readings,
} from '@sensormesh/bus';
import type { ReadinessCheck } from '@sensormesh/http';
import type { Logger } from '@sensormesh/log';
import type { Registry } from '@sensormesh/metrics';
import { CHANNELS, WINDOW_HOURS } from '@sensormesh/models';
import { hourlySums, type Store } from '@sensormesh/store';
import type Redis from 'ioredis';
import { HourCache, KEPT_HOURS } from './cache.ts';
import type { PredictorConfig } from './env.ts';
import { type DueHour, sharedHours } from './hours.ts';
import { predictorMetrics } from './metrics.ts';
import { NetworkReference } from './reference.ts';
import { DEFAULT_MODELS_DIR, type ModelSet, modelLoader, seedRegistry } from './registry.ts';
import { PackScratch, type ScoreResult, scoreFaults, scoreForecasts } from './score.ts';

const HOUR_MS = 3_600_000;
const GROUP = 'predictor';

/** What the predictor needs from the process that runs it. */
export interface PredictorContext {
  config: PredictorConfig;
  store: Store;
  /** Commands, the fold script and publishing; the consumer reads on its own duplicate connection. */
  redis: Redis;
  logger: Logger;
  registry: Registry;
}

/** Overrides for tests and benches. */
export interface PredictorOptions {
  /** The clock for sweeps and the start-up rebuild (default Date.now). */
  now?: () => number;
  /** Called after each scoring pass with what it produced. */
  onScored?: (result: ScoreResult, due: readonly DueHour[]) => void;
  /** Called when a scoring pass fails (its hours stay due and are retried). */
  onFailed?: (error: unknown, due: readonly DueHour[]) => void;
}

/** A running predictor. */
export interface Predictor {
  readonly consumer: string;
  ready(): boolean;
  readonly check: ReadinessCheck;
  /**
   * Closes and scores the hours of sensors that went quiet, and scores again the closed hours whose
   * pass failed PREDICTOR_RETRY_MS ago (the timer does this every PREDICTOR_SWEEP_MS).
   */
  sweep(now?: number): Promise<ScoreResult>;
  /** Reads the registry again (the timer does this every PREDICTOR_MODEL_POLL_MS). */
  reloadModels(): Promise<ModelSet>;
  /** Sensors in memory, and the loaded versions. */
  status(): { sensors: number; models: Record<string, string | null> };
  stop(): Promise<void>;
}

/** Loads the last KEPT_HOURS closed hours of every sensor from the hourly rollup into the cache. */
async function rebuild(store: Store, cache: HourCache, now: number): Promise<number> {
  const current = Math.floor(now / HOUR_MS);
  const rows = await hourlySums(store)({
    from: (current - KEPT_HOURS) * HOUR_MS,
    // The current hour is still open: the shared fold in Redis owns it.
    to: current * HOUR_MS,
    metrics: [...CHANNELS],
  });
  const hours = new Map<string, Float32Array>();
  const index = new Map(CHANNELS.map((name, c) => [name, c]));
  for (const row of rows) {
    const key = `${row.sensorId}\u0000${row.bucket / HOUR_MS}`;
    let means = hours.get(key);
    if (!means) {
      means = new Float32Array(CHANNELS.length).fill(Number.NaN);
      hours.set(key, means);
    }
    if (row.count > 0) means[index.get(row.metric) as number] = row.sum / row.count;
  }
  for (const [key, means] of hours) {
    const [sensorId, hour] = key.split('\u0000') as [string, string];
    cache.put(sensorId, Number(hour), means);
  }
  return hours.size;
}

/**
 * Starts the predictor: seeds the model registry from models/ if it lacks them, rebuilds the
 * hourly windows from ClickHouse, joins the `predictor` group on `readings`, and scores every
 * sensor-hour as it closes (a later reading of that sensor, or PREDICTOR_GRACE_MS after the hour
 * for a quiet one), all the hours of a batch in one onnxruntime run per model.
 */
export async function startPredictor(
  ctx: PredictorContext,
  options: PredictorOptions = {},
): Promise<Predictor> {
  const { config } = ctx;
  const now = options.now ?? Date.now;
  const name = config.PREDICTOR_CONSUMER ?? `predictor-${hostname()}`;
  const log = ctx.logger.child({ module: 'predictor', consumer: name });
  const metrics = predictorMetrics(ctx.registry);
  const cache = new HourCache();
  const reference = new NetworkReference(cache);
  const scratch = new PackScratch();
  const hours = sharedHours(ctx.redis, GROUP);
  const publisher = createPublisher(ctx.redis, { registry: ctx.registry, logger: ctx.logger });
  const loader = modelLoader(ctx.store, log);

  await seedRegistry(ctx.store, config.PREDICTOR_MODELS_DIR ?? DEFAULT_MODELS_DIR, log);
  let models = await loader.current();
  const rebuilt = await rebuild(ctx.store, cache, now());
  metrics.sensors.set(cache.size);
  // A failure here would come again at the first real pass, which reports and retries it.
  await warmUp().catch((error: unknown) => log.warn({ err: error }, 'scoring path warm-up failed'));
  log.info({ sensorHours: rebuilt, sensors: cache.size }, 'hourly windows rebuilt from the store');

  /** Fills the window hours the cache lacks from Redis (hours other replicas closed). */
  async function fillMissing(due: readonly DueHour[]): Promise<void> {
    const wanted: { sensorId: string; hour: number }[] = [];
    for (const item of due) {
      for (let hour = item.hour - WINDOW_HOURS + 1; hour < item.hour; hour++) {
        if (!cache.has(item.sensorId, hour)) wanted.push({ sensorId: item.sensorId, hour });
      }
    }
    if (wanted.length === 0) return;
    const found = await hours.closed(wanted);
    const none = new Float32Array(CHANNELS.length).fill(Number.NaN);
    for (const w of wanted) {
      // Known now to have no data anywhere: remembered, so the next hour does not ask again.
      cache.put(w.sensorId, w.hour, found.get(`${w.sensorId}\u0000${w.hour}`) ?? none);
    }
  }

  /**
   * A pass over every sensor's newest held hour whose outputs are checked, encoded and dropped
   * (nothing is published or marked done): the first hour to close after a start would otherwise
   * pay for compiling the scoring path and sizing onnxruntime's buffers for the whole network.
   */
  async function warmUp(): Promise<void> {
    const due = cache.newestHours();
    if (due.length === 0 || !models.forecast) return;
    const started = performance.now();
    // What the publisher does with each message, short of sending it.
    const encode = (stream: { check: { Check(m: unknown): boolean } }, all: readonly unknown[]) => {
      for (const message of all) if (stream.check.Check(message)) JSON.stringify(message);
    };
    await scoreForecasts(
      cache,
      reference,
      models,
      due,
      now(),
      (messages) => encode(predictions, messages),
      scratch,
    );
    encode(anomalies, (await scoreFaults(cache, reference, models, due, now())).anomalies);
    log.info({ sensors: due.length, ms: Math.round(performance.now() - started) }, 'scoring path warmed up');
  }

  let chain: Promise<unknown> = Promise.resolve();
  /** Scores closed hours; passes run one at a time so each is one onnxruntime run per model. */
  function scorePass(due: DueHour[], trigger: 'reading' | 'sweep' | 'retry'): Promise<ScoreResult> {
    const run = chain.then(async () => {
      const started = performance.now();
      for (const item of due) cache.put(item.sensorId, item.hour, item.means);
      await fillMissing(due);
      metrics.sensors.set(cache.size);
      let result: ScoreResult;
      const sent: Promise<string[]>[] = [];
      try {
        // Forecasts go out before the fault model runs: they do not wait for it.
        // Each slice is encoded and written as soon as it is built; Redis stores one while the next is built.
        const forecasts = await scoreForecasts(
          cache,
          reference,
          models,
          due,
          now(),
          (messages) => {
            sent.push(publisher.publishBatch(predictions, messages));
          },
          scratch,
        );
        await Promise.all(sent);
        const faults = await scoreFaults(cache, reference, models, due, now());
        if (faults.anomalies.length > 0) await publisher.publishBatch(anomalies, faults.anomalies);
        // A shadow's verdicts go to a stream of their own: no user-facing consumer ever reads them.
        if (faults.shadowFaults.length > 0)
          await publisher.publishBatch(faultShadowVerdicts, faults.shadowFaults);
        result = { ...forecasts, ...faults };
        await hours.done(due);
      } catch (error) {
        await Promise.allSettled(sent);
        metrics.failures.inc();
        // Outputs already published are published again by the retry under the same ids, which the
        // writer's ReplacingMergeTree folds into one row.
        log.error(
          { err: error, hours: due.length, first: due[0], retryInMs: config.PREDICTOR_RETRY_MS },
          'scoring or publishing failed; these hours are scored again later',
        );
        options.onFailed?.(error, due);
        return {
          predictions: [],
          anomalies: [],
          shadowFaults: [],
          skipped: [],
          forecasts: 0,
        } satisfies ScoreResult;
      }
      metrics.hoursClosed.inc({ trigger }, due.length);
      metrics.forecasts.inc(result.forecasts);
      for (const skip of result.skipped) metrics.skipped.inc({ reason: skip.reason });
      for (const anomaly of result.anomalies) metrics.anomalies.inc({ kind: anomaly.kind });
      for (const verdict of result.shadowFaults) {
        const outcome = !verdict.active?.kind ? 'shadow_only' : verdict.shadow.kind ? 'both' : 'active_only';
        metrics.faultShadow.inc({ outcome });
      }
      metrics.scoreSeconds.observe((performance.now() - started) / 1_000);
      if (result.skipped.length > 0) {
        log.debug(
          { skipped: result.skipped.slice(0, 20), count: result.skipped.length },
          'hours without a forecast',
        );
      }
      const oldest = Math.min(...due.map((item) => item.hour)) - KEPT_HOURS;
      reference.prune(oldest);
      options.onScored?.(result, due);
      return result;
    });
    chain = run.catch(() => undefined);
    return run;
  }

  /** When an hour closed at `at` may be taken again if its pass has not published by then. */
  const retryAt = (at = now()) => at + config.PREDICTOR_RETRY_MS;

  async function handle(messages: Delivery<Reading>[]): Promise<void> {
    const { due, late } = await hours.fold(messages, retryAt());
    if (late > 0) metrics.late.inc(late);
    // The fold acked the batch with its sums: from here a failure must not make the bus redeliver
    // (that would count the readings twice); the closed hours stay due in Redis and a sweep retries.
    if (due.length > 0)
      await scorePass(due, 'reading').catch((error: unknown) => {
        metrics.failures.inc();
        log.error({ err: error, hours: due.length }, 'publishing outputs failed');
      });
  }

  const consumer = createConsumer(ctx.redis, {
    stream: readings,
    group: GROUP,
    consumer: name,
    batchSize: config.PREDICTOR_BATCH_SIZE,
    visibilityTimeoutMs: config.PREDICTOR_VISIBILITY_TIMEOUT_MS,
    logger: ctx.logger,
    registry: ctx.registry,
    handler: handle,
  });

  async function sweep(at = now()): Promise<ScoreResult> {
    const again = await hours.retry(at, retryAt(at), config.PREDICTOR_MAX_ATTEMPTS);
    if (again.abandoned.length > 0) {
      metrics.abandoned.inc(again.abandoned.length);
      log.error(
        { hours: again.abandoned.length, first: again.abandoned[0], attempts: config.PREDICTOR_MAX_ATTEMPTS },
        'closed hours given up after repeated scoring failures: they get no output',
      );
    }
    const due = await hours.sweep(at, config.PREDICTOR_GRACE_MS, retryAt(at));
    const results: ScoreResult[] = [];
    if (again.due.length > 0) results.push(await scorePass(again.due, 'retry'));
    if (due.length > 0) results.push(await scorePass(due, 'sweep'));
    return {
      predictions: results.flatMap((r) => r.predictions),
      anomalies: results.flatMap((r) => r.anomalies),
      shadowFaults: results.flatMap((r) => r.shadowFaults),
      skipped: results.flatMap((r) => r.skipped),
      forecasts: results.reduce((n, r) => n + r.forecasts, 0),
    };
  }

  async function reloadModels(): Promise<ModelSet> {
    models = await loader.current();
    return models;
  }

  await consumer.start();
  let running = true;
  let stopped: Promise<void> | undefined;
  const timers = [
    setInterval(() => {
      sweep().catch((error: unknown) => log.warn({ err: error }, 'sweep failed'));
    }, config.PREDICTOR_SWEEP_MS),
    setInterval(() => {
      reloadModels().catch((error: unknown) => log.warn({ err: error }, 'model registry not read'));
    }, config.PREDICTOR_MODEL_POLL_MS),
  ];
  const versions = () => ({
    forecast: models.forecast?.version ?? null,
    forecastShadow: models.forecastShadow?.version ?? null,
    faults: models.faults?.version ?? null,
    faultsShadow: models.faultsShadow?.version ?? null,
  });
  log.info({ models: versions(), graceMs: config.PREDICTOR_GRACE_MS }, 'predictor started');

  return {
    consumer: name,
    ready: () => running && models.forecast !== undefined,
    check: async () => running && models.forecast !== undefined,
    sweep,
    reloadModels,
    status: () => ({ sensors: cache.size, models: versions() }),
    stop() {
      stopped ??= (async () => {
        running = false;
        for (const timer of timers) clearInterval(timer);
        await consumer.stop();
        await chain;
        await loader.release();
      })();
      return stopped;
    },
  };
}
