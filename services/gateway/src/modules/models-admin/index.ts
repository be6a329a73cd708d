import { errorResponses } from '@sensormesh/http';
import { Elysia, t } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import { userIdOf } from '../access/model.ts';
import {
  CompareQuery,
  Comparison,
  FaultCompareQuery,
  FaultComparison,
  ModelList,
  ModelView,
  RetrainBody,
  RetrainJob,
  TaskParams,
  UploadBody,
  VersionParams,
} from './model.ts';
import { type RetrainService, retrainService } from './retrain.ts';
import { servingModelsOf } from './scorers.ts';
import { registryService } from './service.ts';

/** /admin/models: the model registry (list, upload, activate, roll back, shadow, compare, retrain). */
export function modelsAdminModule(
  ctx: GatewayContext,
  options: { onRetrain?: (retrain: RetrainService) => void } = {},
) {
  const registry = registryService({
    store: ctx.store,
    logger: ctx.logger,
    serving: servingModelsOf(ctx.store, ctx.logger),
  });
  const retrain = retrainService({ store: ctx.store, redis: ctx.redis, logger: ctx.logger, registry });
  options.onRetrain?.(retrain);
  return new Elysia({
    name: 'sensormesh.gateway.models-admin',
    prefix: '/admin/models',
    detail: { tags: ['models'] },
  })
    .use(ctx.access)
    .get('/', async () => ({ models: await registry.list() }), {
      access: 'admin',
      response: { 200: ModelList, ...errorResponses(401, 403) },
      detail: { summary: 'Every model version with its status, card and metrics, newest first' },
    })
    .post(
      '/',
      async ({ body, principal, set }) => {
        const bytes = new Uint8Array(await body.model.arrayBuffer());
        const view = await registry.upload(bytes, body.card, userIdOf(principal) ?? 'unknown');
        set.status = 201;
        return view;
      },
      {
        access: 'admin',
        body: UploadBody,
        response: { 201: ModelView, ...errorResponses(401, 403, 409, 413, 422) },
        detail: {
          summary: 'Upload an ONNX model with its card (registered as a candidate)',
          description:
            'multipart/form-data with `model` (the .onnx file) and `card` (its JSON card). Before anything is stored: ' +
            'the card must match the schema and the predictor’s contract for its task (input and output names, types, ' +
            'shapes and channel order), the file’s sha256 must be the card’s, onnxruntime must load it, its graph’s ' +
            'inputs and outputs must be the card’s, and a test run must give finite, ordered outputs. Any failure: ' +
            '422 naming it; an existing version: 409. Activate or shadow it afterwards.',
        },
        parse: 'formdata',
      },
    )
    .post(
      '/:task/:version/activate',
      async ({ params, principal }) =>
        registry.activate(params.task, params.version, userIdOf(principal) ?? 'unknown'),
      {
        access: 'admin',
        params: VersionParams,
        response: { 200: ModelView, ...errorResponses(401, 403, 404, 422) },
        detail: {
          summary: 'Make a version the active one (the replaced one is retired and remembered for roll-back)',
          description: 'Predictor replicas pick it up within PREDICTOR_MODEL_POLL_MS.',
        },
      },
    )
    .post(
      '/:task/rollback',
      async ({ params, principal }) => registry.rollback(params.task, userIdOf(principal) ?? 'unknown'),
      {
        access: 'admin',
        params: TaskParams,
        response: { 200: ModelView, ...errorResponses(401, 403, 404, 409, 422) },
        detail: { summary: 'Return to the version that was active before the current one' },
      },
    )
    .post('/:task/:version/shadow', async ({ params }) => registry.shadow(params.task, params.version), {
      access: 'admin',
      params: VersionParams,
      response: { 200: ModelView, ...errorResponses(401, 403, 404, 409, 422) },
      detail: {
        summary: 'Score a candidate in shadow beside the active version',
        description:
          'The predictor scores it on every closed hour too, in the same pass as the active version. Forecasts are ' +
          'published with role "shadow": compare them with GET /admin/models/forecast/compare as outcomes arrive. ' +
          'A fault shadow’s verdicts go to the admin comparison only (GET /admin/models/faults/compare), never to ' +
          'users as anomalies.',
      },
    })
    .delete('/:task/shadow', async ({ params }) => ({ models: await registry.unshadow(params.task) }), {
      access: 'admin',
      params: TaskParams,
      response: { 200: ModelList, ...errorResponses(401, 403, 422) },
      detail: { summary: 'Stop the shadow run (the version becomes a candidate again)' },
    })
    .get('/forecast/compare', async ({ query }) => registry.compare(query.days ?? 7), {
      access: 'admin',
      query: CompareQuery,
      response: { 200: Comparison, ...errorResponses(401, 403, 422) },
      detail: {
        summary: 'Live errors of the active and shadow forecast versions as outcomes arrive',
        description:
          'Every stored forecast of the last `days` whose outcome hour is in the hourly rollup: MAE of p50 and the ' +
          'share inside p10–p90, at 1, 4, 24 and 72 h, per version.',
      },
    })
    .get('/faults/compare', async ({ query }) => registry.compareFaults(query.days ?? 7, query.shadow), {
      access: 'admin',
      query: FaultCompareQuery,
      response: { 200: FaultComparison, ...errorResponses(401, 403, 404, 422) },
      detail: {
        summary: 'The fault shadow beside the active version: flags, agreement, precision against feedback',
        description:
          'Over the hours of the last `days` that both fault versions scored in the same pass: per version the ' +
          'sensor-metric-hours it flagged (by kind) and, where people gave feedback on anomalies, how many of its ' +
          'flags were faults (precision, and with the right kind) and how many confirmed faults it missed; per ' +
          'sensor-metric-hour whether both flagged, only the active or only the shadow; the latest disagreements. ' +
          'The shadow’s flags never reach users (no anomaly, alert or WebSocket event). `shadow` reports an earlier ' +
          'run (404 for an unknown version).',
      },
    })
    .post(
      '/:task/retrain',
      async ({ params, body, principal, set }) => {
        set.status = 202;
        return retrain.start(params.task, body, userIdOf(principal) ?? 'unknown');
      },
      {
        access: 'admin',
        params: TaskParams,
        body: RetrainBody,
        response: { 202: RetrainJob, ...errorResponses(401, 403, 409, 422) },
        detail: {
          summary:
            'Train a new version from ClickHouse data and feedback; promote it only if it beats the active one',
          description:
            'Loads `days` of every sensor’s hourly means ending at `until`; anomalies people confirmed as faults are ' +
            'left out; trains with the models package (in a worker thread) on all but the last `recentDays`, which ' +
            'both the new and the active version are then scored on (forecast: mean MAE of p50 at 1, 4, 24, 72 h; ' +
            'faults: F1 on injected faults, false alarms no higher). The new version is registered either way and ' +
            'activated only when better. 202 with the job; GET /admin/models/retrain/:id follows it. One at a time (409).',
        },
      },
    )
    .get('/retrain/:id', ({ params }) => retrain.get(params.id), {
      access: 'admin',
      params: t.Object({ id: t.String({ minLength: 1, maxLength: 64 }) }),
      response: { 200: RetrainJob, ...errorResponses(401, 403, 404) },
      detail: { summary: 'A retrain job: data used, the comparison with the active version, the outcome' },
    });
}
