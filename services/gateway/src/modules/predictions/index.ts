import { errorResponses } from '@sensormesh/http';
import { Elysia } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import { userIdOf } from '../access/model.ts';
import { servingModelsOf } from '../models-admin/scorers.ts';
import {
  CurrentForecasts,
  CurrentQuery,
  FaultCounts,
  FaultsQuery,
  FeedbackAck,
  FeedbackBody,
  History,
  HistoryQuery,
  PredictBatch,
  PredictBatchResult,
  PredictResult,
  PredictWindow,
} from './model.ts';
import { predictionsService } from './service.ts';

/** Forecasts (public and professional), on-demand scoring, feedback and fault counts. */
export function predictionsModule(ctx: GatewayContext, options: { now?: () => number } = {}) {
  const service = predictionsService(ctx, servingModelsOf(ctx.store, ctx.logger), options.now);
  return new Elysia({ name: 'sensormesh.gateway.predictions', detail: { tags: ['predictions'] } })
    .use(ctx.access)
    .get('/predictions/current', ({ query }) => service.current(query), {
      access: 'public',
      query: CurrentQuery,
      response: { 200: CurrentForecasts, ...errorResponses(422) },
      detail: {
        summary: 'The newest forecast of every sensor, with p10–p90 intervals and the AQI category per hour',
        description:
          'From the predictor’s stored forecasts (origins in the last 48 h). Each hour gives PM2.5 and PM10 as ' +
          'p10/p50/p90 µg/m³ and the US EPA AQI of the medians (each hourly median read as a NowCast). `hours` ' +
          '(default 24, up to 72) limits the horizons.',
      },
    })
    .get('/predictions', ({ query }) => service.history(query), {
      access: 'professional',
      query: HistoryQuery,
      response: { 200: History, ...errorResponses(401, 403, 404, 422) },
      detail: {
        summary: 'A sensor’s stored forecasts with origins in [from, to), with the model version of each',
        description: '`role=shadow` lists a shadow candidate’s forecasts instead of the active model’s.',
      },
    })
    .post('/predict', async ({ body }) => (await service.predict([body]))[0] as typeof PredictResult.static, {
      access: 'professional',
      body: PredictWindow,
      response: { 200: PredictResult, ...errorResponses(401, 403, 404, 422, 503) },
      detail: {
        summary: 'Score one window with the active model',
        description:
          'Forecast: `values` (72 hourly rows of the 12 channels, oldest first, no gaps) and `origin` (the last ' +
          'row’s hour), or just `sensorId` (and optionally `origin`) to score that sensor’s stored hours; ' +
          'optionally `reference`, 72 rows of [pm25, pm10, pressure, dewpoint, wind_u, wind_v] or of [pm25, pm10] ' +
          '(null = unknown). Faults: ' +
          '`model: "faults"`, `metric` and 72 `values` (null = no reading), optionally `reference`. A window of the ' +
          'wrong length or with a non-number: 422 naming it; an unknown sensor: 404.',
      },
    })
    .post('/predict-batch', async ({ body }) => ({ results: await service.predict(body.windows) }), {
      access: 'professional',
      body: PredictBatch,
      response: { 200: PredictBatchResult, ...errorResponses(401, 403, 404, 422, 503) },
      detail: {
        summary: 'Score up to 1,024 windows (all forecast windows in one onnxruntime run)',
        description: 'As POST /predict per window; one bad window fails the batch with 422 naming it.',
      },
    })
    .post('/feedback', ({ body, principal }) => service.feedback(body, userIdOf(principal) ?? 'unknown'), {
      access: 'professional',
      body: FeedbackBody,
      response: { 200: FeedbackAck, ...errorResponses(401, 403, 404, 422) },
      detail: {
        summary: 'Mark a stored prediction or anomaly right or wrong, or correct an anomaly’s fault kind',
        description: 'Your newer verdict on the same target replaces your older one. Retraining reads it.',
      },
    })
    .get('/faults', ({ query }) => service.faults(query), {
      access: 'professional',
      query: FaultsQuery,
      response: { 200: FaultCounts, ...errorResponses(401, 403, 404, 422) },
      detail: {
        summary: 'Fault kinds with their counts (default the last 7 days) and what feedback said of them',
      },
    });
}
