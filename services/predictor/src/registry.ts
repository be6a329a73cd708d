import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@sensormesh/log';
import { FaultScorer, ForecastScorer, type ModelCard, sha256 } from '@sensormesh/models';
import {
  getModelFile,
  listModelVersions,
  type ModelVersionRow,
  putModelFile,
  putModelVersions,
  type Store,
} from '@sensormesh/store';

/** The repo's trained models, seeded into an empty registry. */
export const DEFAULT_MODELS_DIR = new URL('../../../models', import.meta.url).pathname;

/** A registered version loaded into onnxruntime. */
export interface LoadedModel<S> {
  version: string;
  name: string;
  sha256: string;
  card: ModelCard;
  scorer: S;
}

/** What the predictor scores with: per task the active version and, if any, a shadow beside it. */
export interface ModelSet {
  forecast?: LoadedModel<ForecastScorer>;
  forecastShadow?: LoadedModel<ForecastScorer>;
  faults?: LoadedModel<FaultScorer>;
  faultsShadow?: LoadedModel<FaultScorer>;
}

/** The fault threshold a card carries (details.threshold). */
export function faultThreshold(card: ModelCard): number {
  const threshold = Number((card.details as { threshold?: unknown }).threshold);
  if (!Number.isFinite(threshold) || threshold <= 0 || threshold >= 1) {
    throw new Error(`card ${card.version}: details.threshold must be in (0, 1)`);
  }
  return threshold;
}

/**
 * Registers the models of `dir` (each `*.card.json` beside its ONNX file) that the registry does
 * not know yet: active when their task has no active version, else candidates. The card's hash
 * must match the file's, so a half-updated models/ folder is refused rather than served.
 */
export async function seedRegistry(store: Store, dir: string, logger: Logger): Promise<string[]> {
  const known = await listModelVersions(store)();
  const names = (await readdir(dir)).filter((name) => name.endsWith('.card.json')).sort();
  const added: string[] = [];
  for (const name of names) {
    const card = JSON.parse(await Bun.file(join(dir, name)).text()) as ModelCard;
    if (known.some((row) => row.task === card.task && row.version === card.version)) continue;
    const bytes = new Uint8Array(await Bun.file(join(dir, card.file)).arrayBuffer());
    const hash = sha256(bytes);
    if (hash !== card.sha256) {
      logger.error(
        { card: name, file: card.file, hash, expected: card.sha256 },
        'model file does not match its card; not seeded',
      );
      continue;
    }
    const hasActive = known.some((row) => row.task === card.task && row.status === 'active');
    const now = Date.now();
    await putModelFile(store)(hash, bytes);
    const row: ModelVersionRow = {
      task: card.task,
      version: card.version,
      name: card.name,
      sha256: hash,
      status: hasActive ? 'candidate' : 'active',
      card: JSON.stringify(card),
      metrics: JSON.stringify(card.metrics ?? {}),
      source: 'seed',
      previous: '',
      createdBy: 'system',
      createdAt: now,
      updatedAt: now,
    };
    await putModelVersions(store)([row]);
    known.push(row);
    added.push(`${card.task}:${card.version}`);
  }
  if (added.length > 0) logger.info({ added, dir }, 'model registry seeded');
  return added;
}

/** Loads the registry's active and shadow versions, reusing sessions whose bytes (and threshold) did not change. */
export function modelLoader(store: Store, logger: Logger) {
  const loaded = new Map<string, Promise<LoadedModel<ForecastScorer | FaultScorer>>>();

  async function load(row: ModelVersionRow): Promise<LoadedModel<ForecastScorer | FaultScorer>> {
    const card = JSON.parse(row.card) as ModelCard;
    // The fault threshold lives in the card, not the bytes: the same graph re-registered with another
    // threshold (a re-tuned candidate, e.g. in shadow) is another scorer.
    const threshold = row.task === 'forecast' ? undefined : faultThreshold(card);
    const key = `${row.task}:${row.sha256}:${threshold ?? ''}`;
    let model = loaded.get(key);
    if (!model) {
      model = (async () => {
        const bytes = await getModelFile(store)(row.sha256);
        if (!bytes)
          throw new Error(`model ${row.task} ${row.version}: no file ${row.sha256} in the registry`);
        const scorer =
          threshold === undefined
            ? await ForecastScorer.load(bytes)
            : await FaultScorer.load(bytes, threshold);
        return { version: row.version, name: row.name, sha256: row.sha256, card, scorer };
      })();
      loaded.set(key, model);
      model.catch(() => loaded.delete(key));
    }
    const ready = await model;
    // The same bytes may be registered under another version (a re-upload): report the row's.
    return { ...ready, version: row.version, name: row.name, card };
  }

  return {
    /** The current model set; a version that fails to load is logged and left out. */
    async current(): Promise<ModelSet> {
      const rows = await listModelVersions(store)();
      const set: ModelSet = {};
      for (const row of rows) {
        if (row.status !== 'active' && row.status !== 'shadow') continue;
        const slot =
          `${row.task === 'forecast' ? 'forecast' : 'faults'}${row.status === 'shadow' ? 'Shadow' : ''}` as keyof ModelSet;
        if (set[slot]) continue; // rows are newest first: the newest active (or shadow) wins
        try {
          (set as Record<string, unknown>)[slot] = await load(row);
        } catch (error) {
          logger.error({ err: error, task: row.task, version: row.version }, 'model could not be loaded');
        }
      }
      return set;
    },
    async release(): Promise<void> {
      const models = await Promise.allSettled(loaded.values());
      loaded.clear();
      for (const model of models) if (model.status === 'fulfilled') await model.value.scorer.release();
    },
  };
}
