import { Elysia, t } from 'elysia';
import type { Predictor } from './worker.ts';

export { HourCache } from './cache.ts';
export { type PredictorConfig, PredictorEnv } from './env.ts';
export { type DueHour, sharedHours } from './hours.ts';
export { medianExcluding, NetworkReference } from './reference.ts';
export {
  DEFAULT_MODELS_DIR,
  faultThreshold,
  type LoadedModel,
  type ModelSet,
  modelLoader,
  seedRegistry,
} from './registry.ts';
export {
  anomalyId,
  faultShadowId,
  forecastable,
  forecastMessages,
  PackScratch,
  packFaults,
  packForecasts,
  predictionId,
  type ScoreResult,
  type SkipReason,
  scoreDue,
} from './score.ts';
export { type Predictor, type PredictorContext, type PredictorOptions, startPredictor } from './worker.ts';

const Status = t.Object({
  consumer: t.String(),
  ready: t.Boolean(),
  sensors: t.Integer({ description: 'sensors with hourly history in this replica’s memory' }),
  models: t.Record(t.String(), t.Union([t.String(), t.Null()]), { description: 'loaded versions by slot' }),
});

/** The predictor's own route: `GET /predictor/status` (this replica's state, no secrets). */
export function predictorPlugin(predictor: Predictor) {
  return new Elysia({ name: 'sensormesh.predictor' }).get(
    '/predictor/status',
    () => ({ consumer: predictor.consumer, ready: predictor.ready(), ...predictor.status() }),
    {
      response: { 200: Status },
      detail: {
        summary: 'This predictor replica: sensors in memory and loaded model versions',
        tags: ['predictor'],
      },
    },
  );
}
