import { AppError } from '@sensormesh/errors';
import type { Logger } from '@sensormesh/log';
import {
  hourlySums,
  listModelVersions,
  type ModelVersionRow,
  predictionsOfVersions,
  putModelFile,
  putModelVersions,
  type Store,
} from '@sensormesh/store';
import { faultComparison } from './fault-compare.ts';
import type { Comparison, FaultComparison, ModelView, Task } from './model.ts';
import type { ServingModels } from './scorers.ts';
import { validateUpload } from './validate.ts';

const HOUR_MS = 3_600_000;
/** Horizons the live comparison reports, as the evaluation does. */
const CHECKED_HOURS = [1, 4, 24, 72];

const iso = (ms: number) => new Date(ms).toISOString();

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A registry row as the API shows it. */
export function modelView(row: ModelVersionRow): ModelView {
  return {
    task: row.task,
    version: row.version,
    name: row.name,
    sha256: row.sha256,
    status: row.status,
    source: row.source,
    previous: row.previous || null,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    metrics: parsed(row.metrics),
    card: parsed(row.card),
  };
}

/**
 * The model registry's operations. ClickHouse is the record (tables `models`, `model_files`);
 * a status change writes the version's row again with a later `updatedAt`. The predictor reads
 * the active and shadow versions every PREDICTOR_MODEL_POLL_MS.
 */
export function registryService(deps: { store: Store; logger: Logger; serving: ServingModels }) {
  const { store } = deps;
  const log = deps.logger.child({ module: 'models-admin' });
  let clock = 0;
  /** Strictly increasing, so two changes in one millisecond still order. */
  const stamp = () => {
    clock = Math.max(Date.now(), clock + 1);
    return clock;
  };

  async function rows(task?: Task): Promise<ModelVersionRow[]> {
    const all = await listModelVersions(store)();
    return task ? all.filter((row) => row.task === task) : all;
  }

  async function find(task: Task, version: string): Promise<ModelVersionRow> {
    const row = (await rows(task)).find((r) => r.version === version);
    if (!row)
      throw new AppError('NOT_FOUND', `no ${task} model version ${version}`, { details: { task, version } });
    return row;
  }

  async function write(changes: ModelVersionRow[]): Promise<void> {
    if (changes.length === 0) return;
    await putModelVersions(store)(changes);
    deps.serving.invalidate();
  }

  /** Makes `target` the active version of its task; the one it replaces becomes retired. */
  async function activateRow(
    target: ModelVersionRow,
    userId: string,
    previous?: string,
  ): Promise<ModelVersionRow> {
    const current = (await rows(target.task)).filter(
      (r) => r.status === 'active' && r.version !== target.version,
    );
    const at = stamp();
    const activated: ModelVersionRow = {
      ...target,
      status: 'active',
      previous: previous ?? current[0]?.version ?? target.previous,
      updatedAt: at,
    };
    await write([...current.map((r) => ({ ...r, status: 'retired' as const, updatedAt: at })), activated]);
    log.info(
      { task: target.task, version: target.version, replaced: current.map((r) => r.version), userId },
      'model activated',
    );
    return activated;
  }

  return {
    async list(): Promise<ModelView[]> {
      return (await rows()).map(modelView);
    },

    /** Validates and registers an uploaded model as a candidate; nothing is stored unless all checks pass. */
    async upload(
      bytes: Uint8Array,
      cardText: string,
      userId: string,
      origin: { source: 'upload' | 'retrain'; metrics?: unknown } = { source: 'upload' },
    ): Promise<ModelView> {
      const { card, hash } = await validateUpload(bytes, cardText);
      if ((await rows(card.task)).some((r) => r.version === card.version)) {
        throw new AppError('CONFLICT', `${card.task} version ${card.version} is already registered`, {
          details: { task: card.task, version: card.version },
        });
      }
      await putModelFile(store)(hash, bytes);
      const at = stamp();
      const row: ModelVersionRow = {
        task: card.task,
        version: card.version,
        name: card.name,
        sha256: hash,
        status: 'candidate',
        card: JSON.stringify(card),
        metrics: JSON.stringify(origin.metrics ?? card.metrics ?? {}),
        source: origin.source,
        previous: '',
        createdBy: userId,
        createdAt: at,
        updatedAt: at,
      };
      await write([row]);
      log.info(
        { task: card.task, version: card.version, sha256: hash, bytes: bytes.length, userId },
        'model uploaded',
      );
      return modelView(row);
    },

    async activate(task: Task, version: string, userId: string): Promise<ModelView> {
      const target = await find(task, version);
      if (target.status === 'active') return modelView(target);
      return modelView(await activateRow(target, userId));
    },

    /** Returns to the version that was active before the current one. */
    async rollback(task: Task, userId: string): Promise<ModelView> {
      const current = (await rows(task)).find((r) => r.status === 'active');
      if (!current?.previous) {
        throw new AppError('CONFLICT', `the active ${task} model has no earlier version to roll back to`);
      }
      const target = await find(task, current.previous);
      // Keep the target's own history, so a second roll-back goes further back rather than forth.
      return modelView(await activateRow(target, userId, target.previous));
    },

    /** Runs `version` in shadow beside the active one (any earlier shadow becomes a candidate). */
    async shadow(task: Task, version: string): Promise<ModelView> {
      const target = await find(task, version);
      if (target.status === 'active')
        throw new AppError('CONFLICT', `${version} is the active ${task} model`);
      const others = (await rows(task)).filter((r) => r.status === 'shadow' && r.version !== version);
      const at = stamp();
      const shadowed: ModelVersionRow = { ...target, status: 'shadow', updatedAt: at };
      await write([...others.map((r) => ({ ...r, status: 'candidate' as const, updatedAt: at })), shadowed]);
      return modelView(shadowed);
    },

    /** Stops the shadow run of `task`. */
    async unshadow(task: Task): Promise<ModelView[]> {
      const shadows = (await rows(task)).filter((r) => r.status === 'shadow');
      const at = stamp();
      const changed = shadows.map((r) => ({ ...r, status: 'candidate' as const, updatedAt: at }));
      await write(changed);
      return changed.map(modelView);
    },

    /**
     * Live errors of the active and shadow forecast versions over the last `days`: every forecast
     * whose outcome hour has arrived in the hourly rollup, at 1, 4, 24 and 72 h.
     */
    async compare(days: number, now = Date.now()): Promise<Comparison> {
      const versions = (await rows('forecast')).filter((r) => r.status === 'active' || r.status === 'shadow');
      const to = Math.floor(now / HOUR_MS) * HOUR_MS;
      const from = to - days * 24 * HOUR_MS;
      const result: Comparison = { task: 'forecast', from: iso(from), to: iso(to), versions: [] };
      if (versions.length === 0) return result;
      const forecasts = await predictionsOfVersions(store)({
        versions: versions.map((v) => v.version),
        from,
        to,
        limit: 200_000,
      });
      const sensors = [...new Set(forecasts.map((f) => f.sensorId))];
      const outcomes = new Map<string, number>();
      for (let i = 0; i < sensors.length; i += 1_000) {
        const sums = await hourlySums(store)({
          from,
          to: to + 73 * HOUR_MS,
          metrics: ['pm25', 'pm10'],
          sensorIds: sensors.slice(i, i + 1_000),
        });
        for (const s of sums)
          if (s.count > 0) outcomes.set(`${s.sensorId}|${s.metric}|${s.bucket}`, s.sum / s.count);
      }
      for (const v of versions) {
        const own = forecasts.filter((f) => f.modelVersion === v.version);
        const errors = ['pm25', 'pm10'].flatMap((metric) =>
          CHECKED_HOURS.map((hours) => {
            let points = 0;
            let abs = 0;
            let inside = 0;
            for (const f of own) {
              if (f.metric !== metric) continue;
              const k = f.horizons.indexOf(hours * 60);
              const outcome = outcomes.get(`${f.sensorId}|${metric}|${f.ts + hours * HOUR_MS}`);
              if (k < 0 || outcome === undefined) continue;
              points++;
              abs += Math.abs((f.p50[k] as number) - outcome);
              if (outcome >= (f.p10[k] as number) && outcome <= (f.p90[k] as number)) inside++;
            }
            return {
              metric,
              hours,
              points,
              mae: points ? abs / points : null,
              coverage: points ? inside / points : null,
            };
          }),
        );
        result.versions.push({ version: v.version, role: v.status, errors });
      }
      return result;
    },

    /**
     * The fault shadow's run over the last `days` (see faultComparison): the current shadow version,
     * or `shadow`, an earlier one.
     */
    async compareFaults(days: number, shadow?: string, now = Date.now()): Promise<FaultComparison> {
      const version = shadow
        ? (await find('faults', shadow)).version
        : ((await rows('faults')).find((r) => r.status === 'shadow')?.version ?? null);
      return faultComparison(store)(version, days, now);
    },
  };
}

/** The registry's operations. */
export type RegistryService = ReturnType<typeof registryService>;
