import { errorHandler, requestContext } from '@sensormesh/http';
import { silentLogger } from '@sensormesh/log';
import { insertReadings } from '@sensormesh/store';
import { Elysia } from 'elysia';
import type { TestGateway } from '../../test-support/gateway.ts';
import { dashboardModule } from './index.ts';

export const HOUR = 3_600_000;

/** The dashboard routes on a gateway's context with a clock the test moves. */
export function clockedDashboard(gw: TestGateway, clock: { now: number }) {
  const logger = silentLogger();
  const app = new Elysia({ normalize: false })
    .use(requestContext(logger))
    .use(errorHandler(logger))
    .group('/api/v1', (api) => api.use(dashboardModule(gw.ctx, { now: () => clock.now })));
  return async function get(path: string) {
    const response = await app.handle(new Request(`http://localhost${path}`));
    // biome-ignore lint/suspicious/noExplicitAny: assertions read the JSON loosely
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  };
}

/** Registers a sensor with the given status. */
export async function addSensor(gw: TestGateway, id: string, status: 'active' | 'pending' = 'active') {
  await gw.ctx.sensors.create(
    {
      id,
      name: `Sensor ${id}`,
      kind: 'air-quality',
      site: `site-${id}`,
      latitude: 39.9,
      longitude: 116.4,
      tags: ['t'],
    },
    'test',
    { status },
  );
}

/** Writes latest values as the writer does (services/writer/README.md: `latest:sensor:<id>`). */
export async function putLatest(
  gw: TestGateway,
  sensorId: string,
  metrics: Record<string, number>,
  ts: number,
) {
  const fields = Object.entries(metrics).flatMap(([metric, v]) => [metric, JSON.stringify({ v, ts })]);
  await gw.redis.hset(`latest:sensor:${sensorId}`, ...fields);
}

/** Stores one reading per hour (at hh:10) for the given hourly values, oldest first, ending at `lastHour`. */
export async function storeHourly(
  gw: TestGateway,
  sensorId: string,
  metric: string,
  oldestFirst: readonly (number | null)[],
  lastHour: number,
) {
  const rows = oldestFirst.flatMap((value, index) => {
    if (value === null) return [];
    const ts = lastHour - (oldestFirst.length - 1 - index) * HOUR + 600_000;
    return [{ sensorId, metric, ts, value, receivedAt: ts, source: 'test' }];
  });
  await insertReadings(gw.store)(rows);
}
