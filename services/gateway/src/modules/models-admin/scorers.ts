import type { Logger } from '@sensormesh/log';
import { FaultScorer, ForecastScorer, type ModelCard } from '@sensormesh/models';
import { getModelFile, listModelVersions, type ModelVersionRow, type Store } from '@sensormesh/store';

/** A registered version loaded into onnxruntime in the gateway (for POST /predict). */
export interface ServingModel<S> {
  version: string;
  name: string;
  card: ModelCard;
  scorer: S;
}

/** How long the gateway trusts its view of which versions are active (other replicas' changes). */
const FRESH_MS = 10_000;

/**
 * The active versions, loaded once per sha256 (and fault threshold) and re-read from the registry at most every
 * FRESH_MS (or at once after this process changed the registry), so /predict serves what the
 * predictor serves.
 */
export function servingModels(store: Store, logger: Logger) {
  const sessions = new Map<string, Promise<ForecastScorer | FaultScorer>>();
  let view: Promise<ModelVersionRow[]> | undefined;
  let readAt = 0;

  function rows(): Promise<ModelVersionRow[]> {
    if (!view || Date.now() - readAt > FRESH_MS) {
      readAt = Date.now();
      view = listModelVersions(store)();
      view.catch(() => {
        view = undefined;
      });
    }
    return view;
  }

  async function load(row: ModelVersionRow): Promise<ServingModel<ForecastScorer | FaultScorer>> {
    const card = JSON.parse(row.card) as ModelCard;
    const threshold = Number((card.details as { threshold?: number }).threshold);
    // The threshold is the card's, not the bytes': the same graph under another threshold is another scorer.
    const key = row.task === 'forecast' ? row.sha256 : `${row.sha256}:${threshold}`;
    let session = sessions.get(key);
    if (!session) {
      session = (async () => {
        const bytes = await getModelFile(store)(row.sha256);
        if (!bytes) throw new Error(`no file ${row.sha256} for ${row.task} ${row.version}`);
        return row.task === 'forecast' ? ForecastScorer.load(bytes) : FaultScorer.load(bytes, threshold);
      })();
      sessions.set(key, session);
      session.catch((error: unknown) => {
        sessions.delete(key);
        logger.error({ err: error, task: row.task, version: row.version }, 'model could not be loaded');
      });
    }
    return { version: row.version, name: row.name, card, scorer: await session };
  }

  async function active(task: 'forecast' | 'faults') {
    const row = (await rows()).find((r) => r.task === task && r.status === 'active');
    return row ? load(row) : undefined;
  }

  return {
    forecast: () => active('forecast') as Promise<ServingModel<ForecastScorer> | undefined>,
    faults: () => active('faults') as Promise<ServingModel<FaultScorer> | undefined>,
    /** Forget the registry view (after a change made here). */
    invalidate(): void {
      view = undefined;
    },
  };
}

/** The serving models of a gateway process. */
export type ServingModels = ReturnType<typeof servingModels>;

const perStore = new WeakMap<Store, ServingModels>();

/** One serving-model cache per store, shared by the predictions and models-admin modules. */
export function servingModelsOf(store: Store, logger: Logger): ServingModels {
  let models = perStore.get(store);
  if (!models) {
    models = servingModels(store, logger);
    perStore.set(store, models);
  }
  return models;
}
