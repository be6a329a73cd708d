import type { Logger } from '@sensormesh/log';
import type { Registry } from '@sensormesh/metrics';
import { sensorService } from '@sensormesh/registry';
import type { Store } from '@sensormesh/store';
import { Elysia } from 'elysia';
import type Redis from 'ioredis';
import type { IngestContext } from './context.ts';
import type { IngestConfig } from './env.ts';
import { ingestPipeline } from './pipeline.ts';
import { sensorDirectory } from './sensor-directory.ts';

export type { IngestContext } from './context.ts';
export { type IngestConfig, IngestEnv } from './env.ts';

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
  return { ...deps, logger, sensors, directory: sensorDirectory(sensors), pipeline };
}

/** Ingest's HTTP routes under /api/v1; the mesh and a standalone ingest mount it. */
export function ingestPlugin(_ctx: IngestContext) {
  return new Elysia({ name: 'sensormesh.ingest', normalize: false }).group('/api/v1', (api) => api);
}
