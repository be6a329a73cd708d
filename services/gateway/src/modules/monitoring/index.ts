import { errorResponses } from '@sensormesh/http';
import { Elysia } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import { registerMonitoringMetrics } from './metrics.ts';
import { MonitoringSnapshot } from './model.ts';
import { monitoringService } from './service.ts';

/** GET /admin/monitoring, and the same figures as gauges on the process's /metrics. */
export function monitoringModule(ctx: GatewayContext) {
  const monitoring = monitoringService({ redis: ctx.redis, store: ctx.store });
  registerMonitoringMetrics(ctx.registry, () => monitoring.snapshot());
  return new Elysia({ name: 'sensormesh.gateway.monitoring', detail: { tags: ['admin'] } })
    .use(ctx.access)
    .get('/admin/monitoring', () => monitoring.snapshot({ fresh: true }), {
      access: 'admin',
      response: { 200: MonitoringSnapshot, ...errorResponses(401, 403) },
      detail: {
        summary: 'Streams, consumer groups, dead letters, ingest rates, table sizes and readiness',
        description:
          'Per stream of the bus catalogue: length, ingest over the last minute, and per group lag and pending. ClickHouse tables of this database with rows and bytes of their active parts. The same figures are Prometheus gauges on /metrics (sensormesh_*).',
      },
    });
}
