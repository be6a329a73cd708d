import type { Logger } from '@sensormesh/log';
import type { Registry } from '@sensormesh/metrics';
import { sensorService } from '@sensormesh/registry';
import { findSensorsByIds, type Store } from '@sensormesh/store';
import { Elysia } from 'elysia';
import type Redis from 'ioredis';
import type { IngestContext } from './context.ts';
import type { IngestConfig } from './env.ts';
import { vendorPushModule } from './modules/adapters/index.ts';
import { httpIngestModule } from './modules/http/index.ts';
import { ingestPipeline } from './pipeline.ts';
import { sensorDirectory } from './sensor-directory.ts';

export type { IngestContext } from './context.ts';
export { type IngestConfig, IngestEnv } from './env.ts';
export { startPollers } from './modules/adapters/pollers.ts';
export { LEAVE_WRAP_UP_MS, type MqttIngestHandle, startMqtt } from './modules/mqtt/index.ts';

/** Builds ingest's shared services from the process's clients. */
export function ingestContext(deps: {
  config: IngestConfig;
  store: Store;
  redis: Redis;
  logger: Logger;
  registry: Registry;
}): IngestContext {
  const logger = deps.logger.child({ service: 'ingest' });
  const sensors = sensorService({ store: deps.store, redis: deps.redis, logger });
  const pipeline = ingestPipeline(deps.redis, {
    maxBatch: deps.config.INGEST_FLUSH_MAX,
    maxWaitMs: deps.config.INGEST_FLUSH_MS,
    logger,
    registry: deps.registry,
  });
  const directory = sensorDirectory(findSensorsByIds(deps.store), logger);
  return { ...deps, logger, sensors, directory, pipeline };
}

/** Ingest's HTTP routes under /api/v1; the mesh and a standalone ingest mount it. */
export function ingestPlugin(ctx: IngestContext) {
  return new Elysia({ name: 'sensormesh.ingest', normalize: false }).group('/api/v1', (api) =>
    api.use(httpIngestModule(ctx)).use(vendorPushModule(ctx)),
  );
}
