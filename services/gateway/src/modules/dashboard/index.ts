import { errorResponses } from '@sensormesh/http';
import { Elysia } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import { LatestParams, RealtimeQuery, RealtimeSnapshot, SensorLatest } from './model.ts';
import { type DashboardService, dashboardService } from './service.ts';

/** Options for tests: a clock, so status boundaries can be hit exactly. */
export interface DashboardOptions {
  now?: () => number;
}

/** GET /dashboard/realtime and GET /sensors/:id/latest (public), served from Redis. */
export function dashboardModule(ctx: GatewayContext, options: DashboardOptions = {}) {
  const service: DashboardService = dashboardService({
    ...ctx,
    ...(options.now ? { now: options.now } : {}),
  });
  return new Elysia({ name: 'sensormesh.gateway.dashboard' })
    .use(ctx.access)
    .get('/dashboard/realtime', ({ query }) => service.realtime(query.standard), {
      access: 'public',
      query: RealtimeQuery,
      response: { 200: RealtimeSnapshot, ...errorResponses(422) },
      detail: {
        summary: 'Every active sensor with its latest values, AQI and status',
        description:
          'Latest values come from the writer’s Redis cache (seconds behind the reading); the AQI from hourly ' +
          'means (US EPA: NowCast for PM) read from the hourly rollup at most DASHBOARD_HOURLY_CACHE_S ago, or, ' +
          'while those do not support an index yet, from the latest values (basis "latest", indicative). Status: ' +
          'online / stale / offline by DASHBOARD_STALE_AFTER_S and DASHBOARD_OFFLINE_AFTER_S. `standard` ' +
          'overrides AQI_STANDARD.',
        tags: ['dashboard'],
      },
    })
    .get('/sensors/:id/latest', ({ params, query }) => service.latest(params.id, query.standard), {
      access: 'public',
      params: LatestParams,
      query: RealtimeQuery,
      response: { 200: SensorLatest, ...errorResponses(404, 422) },
      detail: {
        summary: 'One active sensor’s latest values, AQI and status',
        description: 'As one entry of /dashboard/realtime; 404 for an unknown or inactive sensor.',
        tags: ['dashboard', 'sensors'],
      },
    });
}
