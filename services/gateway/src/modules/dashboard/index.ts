import type { StandardId } from '@sensormesh/aqi';
import { errorResponses } from '@sensormesh/http';
import { Elysia } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import { LatestParams, RealtimeQuery, RealtimeSnapshot, SensorLatest } from './model.ts';
import { type DashboardService, dashboardService } from './service.ts';

/** Options for tests: a clock, so status boundaries can be hit exactly. */
export interface DashboardOptions {
  now?: () => number;
}

// A snapshot of 1,000 sensors is ~2 MB of JSON and ~50 ms of work: one per second per index and
// replica is shared by every caller in that second, already serialized (so the response schema
// documents it but is not checked again per request; the tests check it).
const SNAPSHOT_REUSE_MS = 1_000;

/** GET /dashboard/realtime and GET /sensors/:id/latest (public), served from Redis. */
export function dashboardModule(ctx: GatewayContext, options: DashboardOptions = {}) {
  const now = options.now ?? Date.now;
  const service: DashboardService = dashboardService({ ...ctx, now });
  const snapshots = new Map<StandardId, { at: number; body: Promise<string> }>();

  function snapshotJson(standard: StandardId): Promise<string> {
    const at = now();
    const kept = snapshots.get(standard);
    if (kept && at >= kept.at && at - kept.at < SNAPSHOT_REUSE_MS) return kept.body;
    const body = service.realtime(standard).then((snapshot) => JSON.stringify(snapshot));
    snapshots.set(standard, { at, body });
    body.catch(() => snapshots.delete(standard));
    return body;
  }

  return new Elysia({ name: 'sensormesh.gateway.dashboard' })
    .use(ctx.access)
    .get(
      '/dashboard/realtime',
      async ({ query, set }) => {
        const body = await snapshotJson(query.standard ?? ctx.config.AQI_STANDARD);
        set.headers['content-type'] = 'application/json';
        return new Response(body, { headers: set.headers as Record<string, string> });
      },
      {
        access: 'public',
        query: RealtimeQuery,
        response: { 200: RealtimeSnapshot, ...errorResponses(422) },
        detail: {
          summary: 'Every active sensor with its latest values, AQI and status',
          description:
            'Latest values come from the writer’s Redis cache (seconds behind the reading); the AQI from hourly ' +
            'means (US EPA: NowCast for PM) read from the hourly rollup at most DASHBOARD_HOURLY_CACHE_S ago; ' +
            'averages the hours do not support yet are taken from the latest values (basis "latest", ' +
            'indicative). Status: online / stale / offline by DASHBOARD_STALE_AFTER_S and ' +
            'DASHBOARD_OFFLINE_AFTER_S. `standard` overrides AQI_STANDARD. The view is computed at most once ' +
            'a second per index and replica.',
          tags: ['dashboard'],
        },
      },
    )
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
