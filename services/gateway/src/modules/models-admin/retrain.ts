import { tokenLock } from '@sensormesh/bus';
import { AppError } from '@sensormesh/errors';
import type { Logger } from '@sensormesh/log';
import { CHANNELS, type Dataset, type ModelCard, sliceDataset, TARGETS } from '@sensormesh/models';
import { getModelFile, hourlySums, listFeedback, listModelVersions, type Store } from '@sensormesh/store';
import type { Static } from 'elysia';
import type Redis from 'ioredis';
import { newestFeedback, saysFault } from './feedback.ts';
import type { RetrainBody, RetrainJob, Task } from './model.ts';
import type { JudgedComparison, RetrainReply, RetrainRequest } from './retrain-worker.ts';
import type { RegistryService } from './service.ts';

const HOUR_MS = 3_600_000;
const DAY_HOURS = 24;
const C = CHANNELS.length;
/** The forecast window: the recent slice needs this much history before its first origin. */
const HISTORY_HOURS = 72;
/** Most sensor-hours a retrain loads (× 12 channels): a year of ~2,000 sensors. */
const MAX_SENSOR_HOURS = 20_000_000;
const JOB_TTL_S = 7 * 24 * 3_600;
const LOCK_KEY = 'models:retrain:running';
/**
 * The lock is a lease its gateway renews while the job runs, so a gateway that dies mid-retrain
 * frees it within a minute and its job reads as interrupted (not "running" for an hour).
 */
const LEASE_MS = 60_000;
const RENEW_MS = 20_000;
const jobKey = (id: string) => `models:retrain:${id}`;
const iso = (ms: number) => new Date(ms).toISOString();

function invalid(message: string, details?: unknown): AppError {
  return new AppError('VALIDATION_FAILED', message, { details });
}

/** Mean MAE of the median over the reported targets and horizons (lower is better). */
function meanMae(rows: unknown): number {
  const list = (rows as { points: number; mae: { model: number } }[]).filter((r) => r.points > 0);
  return list.length ? list.reduce((sum, r) => sum + r.mae.model, 0) / list.length : Number.NaN;
}

/**
 * Whether the new version beats the active one on the recent slice. Forecast: a lower mean MAE of
 * p50 over PM2.5 and PM10 at 1, 4, 24 and 72 h, and, where people marked forecasts of the recent
 * days wrong, no higher MAE than the active one's on those (a version is not promoted for being
 * better on average and worse where people saw the forecasts fail). Faults: a higher F1 on the
 * generator's faults injected into the recent slice, without more false alarms than
 * max(active's, 0.5%).
 */
export function decide(
  task: Task,
  candidate: unknown,
  active: unknown,
  judged?: JudgedComparison,
): { better: boolean; criterion: string } {
  if (active === null) return { better: true, criterion: 'no active version' };
  if (task === 'forecast') {
    const [a, b] = [meanMae(candidate), meanMae(active)];
    const criterion = `mean MAE of p50 ${a.toFixed(3)} vs active ${b.toFixed(3)} µg/m³`;
    const wrong = judged?.wrong;
    if (!wrong?.active || wrong.candidate.mae === null || wrong.active.mae === null)
      return { better: a < b, criterion };
    return {
      better: a < b && wrong.candidate.mae <= wrong.active.mae,
      criterion: `${criterion}; on the ${wrong.candidate.forecasts} forecasts marked wrong ${wrong.candidate.mae.toFixed(3)} vs active ${wrong.active.mae.toFixed(3)} µg/m³`,
    };
  }
  const c = (candidate as { model: { f1: number; falseAlarmRate: number } }).model;
  const o = (active as { model: { f1: number; falseAlarmRate: number } }).model;
  const better = c.f1 > o.f1 && c.falseAlarmRate <= Math.max(o.falseAlarmRate, 0.005);
  return {
    better,
    criterion: `F1 ${c.f1.toFixed(3)} vs active ${o.f1.toFixed(3)}; false alarms ${(c.falseAlarmRate * 100).toFixed(2)}% vs ${(o.falseAlarmRate * 100).toFixed(2)}%`,
  };
}

/**
 * Forecasts from origins in [fromHour, toHour) that people judged, by their newest verdict per
 * sensor, target and origin (any version's forecast: what was judged is that hour's outlook).
 */
async function judgedForecasts(
  store: Store,
  fromHour: number,
  toHour: number,
): Promise<RetrainRequest['judged']> {
  const judged: RetrainRequest['judged'] = { wrong: [], right: [] };
  for (const f of (
    await newestFeedback(store, 'prediction', fromHour * HOUR_MS, toHour * HOUR_MS)
  ).values()) {
    if (!(TARGETS as readonly string[]).includes(f.metric)) continue;
    const forecast = { station: f.sensorId, target: f.metric, originHour: f.ts / HOUR_MS };
    (f.verdict === 'wrong' ? judged.wrong : judged.right).push(forecast);
  }
  return judged;
}

/** Every sensor's hourly means of [fromHour, toHour) from the rollup, as a models Dataset (NaN = no data). */
async function loadDataset(store: Store, fromHour: number, toHour: number): Promise<Dataset> {
  const hours = toHour - fromHour;
  const sums = await hourlySums(store)({
    from: fromHour * HOUR_MS,
    to: toHour * HOUR_MS,
    metrics: [...CHANNELS],
  });
  const bySensor = new Map<string, Float32Array>();
  for (const s of sums) {
    if (s.count === 0) continue;
    let values = bySensor.get(s.sensorId);
    if (!values) {
      if ((bySensor.size + 1) * hours > MAX_SENSOR_HOURS) {
        throw invalid('too much data for one retrain: pass fewer days', { maxSensorHours: MAX_SENSOR_HOURS });
      }
      values = new Float32Array(hours * C).fill(Number.NaN);
      bySensor.set(s.sensorId, values);
    }
    values[(s.bucket / HOUR_MS - fromHour) * C + CHANNELS.indexOf(s.metric)] = s.sum / s.count;
  }
  const stations = [...bySensor]
    .map(([station, values]) => ({ station, values }))
    .sort((a, b) => a.station.localeCompare(b.station));
  return { startHour: fromHour, hours, stations };
}

/** Retrains a task from ClickHouse data and feedback in a worker thread; promotes only a better version. */
export function retrainService(deps: {
  store: Store;
  redis: Redis;
  logger: Logger;
  registry: RegistryService;
}) {
  const { store, redis } = deps;
  const log = deps.logger.child({ module: 'retrain' });
  const lease = tokenLock(redis, LOCK_KEY);
  const running = new Map<string, Promise<RetrainJob>>();

  async function save(job: RetrainJob): Promise<RetrainJob> {
    await redis.set(jobKey(job.id), JSON.stringify(job), 'EX', JOB_TTL_S);
    return job;
  }

  /** Anomalies people confirmed as faults become missing hours: they are not air to learn from. */
  async function applyFeedback(dataset: Dataset): Promise<number> {
    const index = new Map(dataset.stations.map((s, i) => [s.station, i]));
    let applied = 0;
    for (const f of await listFeedback(store)({ target: 'anomaly', since: dataset.startHour * HOUR_MS })) {
      const fault = saysFault(f);
      const s = index.get(f.sensorId);
      const c = CHANNELS.indexOf(f.metric);
      const h = f.ts / HOUR_MS - dataset.startHour;
      if (!fault || s === undefined || c < 0 || h < 0 || h >= dataset.hours || !Number.isInteger(h)) continue;
      (dataset.stations[s] as Dataset['stations'][number]).values[h * C + c] = Number.NaN;
      applied++;
    }
    return applied;
  }

  function runWorker(request: RetrainRequest): Promise<RetrainReply> {
    return new Promise((resolve) => {
      const worker = new Worker(new URL('./retrain-worker.ts', import.meta.url).href);
      worker.onmessage = (event: MessageEvent<RetrainReply>) => {
        worker.terminate();
        resolve(event.data);
      };
      worker.onerror = (event) => {
        worker.terminate();
        resolve({ ok: false, error: event.message });
      };
      worker.postMessage(request);
    });
  }

  async function finish(job: RetrainJob, request: RetrainRequest, userId: string): Promise<RetrainJob> {
    const renewal = setInterval(() => {
      lease
        .renew(job.id, LEASE_MS)
        .catch((error: unknown) => log.warn({ err: error, id: job.id }, 'retrain lease not renewed'));
    }, RENEW_MS);
    try {
      const reply = await runWorker(request);
      if (!reply.ok) throw new Error(reply.error);
      const stamp = iso(Date.now()).replace(/[-:T]/g, '').slice(0, 12);
      const card: ModelCard = {
        ...reply.card,
        version: `${reply.card.version}-r${stamp}`.slice(0, 64),
        training: { ...reply.card.training, command: `POST /api/v1/admin/models/${job.task}/retrain` },
      };
      const verdict = decide(job.task, reply.candidate, reply.active, reply.judged);
      const metrics = {
        recent: job.data,
        candidate: reply.candidate,
        active: reply.active,
        ...(reply.judged ? { judged: reply.judged } : {}),
        ...verdict,
        tune: card.metrics,
      };
      const view = await deps.registry.upload(reply.bytes, JSON.stringify(card), userId, {
        source: 'retrain',
        metrics,
      });
      if (verdict.better) await deps.registry.activate(job.task, view.version, userId);
      log.info({ task: job.task, version: view.version, ...verdict }, 'retrain finished');
      return await save({
        ...job,
        status: 'done',
        finishedAt: iso(Date.now()),
        version: view.version,
        promoted: verdict.better,
        comparison: {
          candidate: reply.candidate,
          active: reply.active,
          ...(reply.judged ? { judged: reply.judged } : {}),
          ...verdict,
        },
      });
    } catch (error) {
      log.error({ err: error, task: job.task, id: job.id }, 'retrain failed');
      return save({
        ...job,
        status: 'failed',
        finishedAt: iso(Date.now()),
        error: error instanceof Error ? error.message.slice(0, 500) : String(error),
      });
    } finally {
      clearInterval(renewal);
      // After the final state is saved, so a reader never sees the lease gone while it says running.
      await lease.release(job.id);
    }
  }

  return {
    /** Checks the data, takes the one-retrain-at-a-time lock and starts training; resolves to the job. */
    async start(task: Task, body: Static<typeof RetrainBody>, userId: string): Promise<RetrainJob> {
      const days = body.days ?? 365;
      const recentDays = body.recentDays ?? 14;
      const tuneMonths = body.tuneMonths ?? 3;
      const untilHour = Math.floor(
        (body.until !== undefined ? new Date(body.until).getTime() : Date.now()) / HOUR_MS,
      );
      const fromHour = untilHour - days * DAY_HOURS;
      const recentFrom = untilHour - recentDays * DAY_HOURS - HISTORY_HOURS;
      const trainHours = recentFrom + HISTORY_HOURS - fromHour;
      // The trainer keeps its last `tuneMonths` for tuning and needs a few weeks before them.
      if (trainHours < (tuneMonths * 31 + 28) * DAY_HOURS) {
        throw invalid(
          `${days} days leave too little to train on before the last ${recentDays} (need tuneMonths × 31 + 28 days)`,
          {
            days,
            recentDays,
            tuneMonths,
          },
        );
      }
      const all = await loadDataset(store, fromHour, untilHour);
      if (all.stations.length < 2) {
        throw invalid(
          'retraining needs at least two sensors with data in the period (the network reference)',
          {
            sensors: all.stations.length,
            from: iso(fromHour * HOUR_MS),
            to: iso(untilHour * HOUR_MS),
          },
        );
      }
      const feedbackApplied = await applyFeedback(all);
      // The recent slice's origins: its first WINDOW hours are history only.
      const judged =
        task === 'forecast'
          ? await judgedForecasts(store, recentFrom + HISTORY_HOURS - 1, untilHour)
          : { wrong: [], right: [] };
      const id = crypto.randomUUID();
      if (!(await lease.take(id, LEASE_MS))) {
        throw new AppError('CONFLICT', 'a retrain is already running');
      }
      const versions = await listModelVersions(store)();
      const activeRow = versions.find((r) => r.task === task && r.status === 'active');
      const activeBytes = activeRow ? await getModelFile(store)(activeRow.sha256) : undefined;
      const job: RetrainJob = {
        id,
        task,
        status: 'running',
        startedAt: iso(Date.now()),
        requestedBy: userId,
        activeVersion: activeRow?.version ?? null,
        data: {
          sensors: all.stations.length,
          from: iso(fromHour * HOUR_MS),
          to: iso(untilHour * HOUR_MS),
          recentFrom: iso((recentFrom + HISTORY_HOURS) * HOUR_MS),
          feedbackApplied,
          ...(task === 'forecast' ? { judgedForecasts: judged.wrong.length + judged.right.length } : {}),
        },
      };
      await save(job);
      const request: RetrainRequest = {
        task,
        train: sliceDataset(all, fromHour, trainHours),
        recent: sliceDataset(all, recentFrom, untilHour - recentFrom),
        seed: body.seed ?? 1,
        tuneMonths,
        quick: body.quick ?? false,
        judged,
        active:
          activeRow && activeBytes
            ? { bytes: activeBytes, card: JSON.parse(activeRow.card) as ModelCard }
            : null,
      };
      running.set(
        id,
        finish(job, request, userId).finally(() => running.delete(id)),
      );
      log.info({ id, task, ...job.data }, 'retrain started');
      return job;
    },

    /**
     * A job's state (404 when unknown or expired). A job still saved as running whose lease is gone
     * lost its gateway: it is recorded, and answered, as failed.
     */
    async get(id: string): Promise<RetrainJob> {
      const [text, holder] = await redis.mget(jobKey(id), LOCK_KEY);
      if (!text) throw new AppError('NOT_FOUND', `no retrain job ${id}`);
      const job = JSON.parse(text) as RetrainJob;
      if (job.status !== 'running' || holder === id) return job;
      // Read again: the job may have finished (saved, then the lease released) between the two reads.
      const now = JSON.parse((await redis.get(jobKey(id))) ?? text) as RetrainJob;
      if (now.status !== 'running') return now;
      log.warn({ id, task: job.task }, 'retrain job lost its gateway; recorded as failed');
      return save({
        ...now,
        status: 'failed',
        finishedAt: iso(Date.now()),
        error: 'interrupted: the gateway running it stopped before it finished',
      });
    },

    /** Resolves when a job started by this process ends (tests, shutdown). */
    wait(id: string): Promise<RetrainJob | undefined> {
      return running.get(id) ?? Promise.resolve(undefined);
    },
  };
}

/** The retrain jobs of a gateway process. */
export type RetrainService = ReturnType<typeof retrainService>;
